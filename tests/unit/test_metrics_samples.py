"""The kubelet's resource-metric arithmetic (kubelet/metrics.py) and the APIService rules."""

from __future__ import annotations

import pytest

from minikube_lite.api.apiregistration import apiservice_cells, apiservice_name, apiservice_object
from minikube_lite.api.errors import Invalid
from minikube_lite.api.register import by_plural, validate
from minikube_lite.kubelet.metrics import (
    Sample,
    cpu_quantity,
    memory_quantity,
    rate,
    sample_of,
    window,
    working_set,
)


def test_working_set_is_usage_minus_inactive_file() -> None:
    v1 = {"usage": 10 * 2**20, "stats": {"inactive_file": 1, "total_inactive_file": 4 * 2**20}}
    assert working_set(v1) == 6 * 2**20  # cgroup v1: the hierarchical figure
    v2 = {"usage": 10 * 2**20, "stats": {"inactive_file": 2 * 2**20}}
    assert working_set(v2) == 8 * 2**20
    assert working_set({"usage": 5, "stats": {"inactive_file": 9}}) == 0


def test_rate_in_nanocores_over_the_window() -> None:
    before, now = Sample(1_000_000_000, 0, 100.0), Sample(1_500_000_000, 0, 102.0)
    assert rate(before, now) == 250_000_000  # half a second of CPU in two seconds: 250m
    assert cpu_quantity(250_000_000) == "250000000n"
    assert window(before, now) == "2s"
    assert rate(now, before) is None and rate(before, before) is None


def test_sample_of_docker_stats() -> None:
    stats = {"cpu_stats": {"cpu_usage": {"total_usage": 42}}, "memory_stats": {"usage": 4096, "stats": {}}}
    assert sample_of(stats, 1.0) == Sample(42, 4096, 1.0)
    assert sample_of({"cpu_stats": {}, "memory_stats": {}}, 1.0) is None  # a container without a cgroup
    assert memory_quantity(4096) == "4Ki" and memory_quantity(1000) == "1000"


def test_apiservice_name_and_columns() -> None:
    assert apiservice_name("v1.") == [] and apiservice_name("v1beta1.metrics.k8s.io") == []
    assert apiservice_name("nodot") and apiservice_name("1v.apps")
    obj = apiservice_object("metrics.k8s.io", "v1beta1", service={"namespace": "kube-system", "name": "metrics-server"},
                            now="2026-01-01T00:00:00Z")
    obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    from datetime import UTC, datetime
    cells = apiservice_cells(obj, datetime(2026, 1, 1, 0, 5, tzinfo=UTC))
    assert cells == ["v1beta1.metrics.k8s.io", "kube-system/metrics-server", "True", "5m"]
    obj["status"]["conditions"][0].update(status="False", reason="ServiceNotFound")
    assert apiservice_cells(obj, datetime(2026, 1, 1, 0, 5, tzinfo=UTC))[2] == "False (ServiceNotFound)"


def test_apiservice_validation() -> None:
    res = by_plural("apiservices", "apiregistration.k8s.io")
    assert res is not None
    good = apiservice_object("example.com", "v1", now="2026-01-01T00:00:00Z")
    validate(res, good)
    bad = apiservice_object("example.com", "v1", now="2026-01-01T00:00:00Z")
    bad["metadata"]["name"] = "v2.example.com"
    bad["spec"]["groupPriorityMinimum"] = 0
    with pytest.raises(Invalid) as e:
        validate(res, bad)
    text = str(e.value)
    assert "metadata.name" in text and "spec.groupPriorityMinimum" in text
