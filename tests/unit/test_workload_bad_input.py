"""Bad Job/CronJob/StatefulSet/DaemonSet/ReplicationController specs get a Kubernetes Status (4xx),
never a 500: hypothesis mutates valid manifests field by field through the real app and registry."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from minikube_lite.apiserver.app import create_app
from minikube_lite.apiserver.registry import Registry
from minikube_lite.config import Settings
from minikube_lite.daemon import bootstrap
from minikube_lite.store.sqlite import SQLiteStore

POD = {"metadata": {"labels": {"app": "x"}},
       "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}
ALWAYS = copy.deepcopy(POD)
ALWAYS["spec"]["restartPolicy"] = "Always"
VALID: dict[str, dict[str, Any]] = {
    "/apis/batch/v1/namespaces/default/jobs": {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"completions": 2, "completionMode": "Indexed", "backoffLimit": 1, "template": POD,
                 "podFailurePolicy": {"rules": [{"action": "FailJob",
                                                 "onExitCodes": {"operator": "In", "values": [3]}}]}}},
    "/apis/batch/v1/namespaces/default/cronjobs": {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
        "spec": {"schedule": "*/5 * * * *", "timeZone": "Europe/Paris", "jobTemplate": {"spec": {"template": POD}}}},
    "/apis/apps/v1/namespaces/default/statefulsets": {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "serviceName": "s", "template": ALWAYS,
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
                 "volumeClaimTemplates": [{"metadata": {"name": "d"}, "spec": {
                     "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}},
    "/apis/apps/v1/namespaces/default/daemonsets": {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": ALWAYS}},
    "/api/v1/namespaces/default/replicationcontrollers": {
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "r"},
        "spec": {"replicas": 1, "template": ALWAYS}},
}

JUNK = st.one_of(st.none(), st.booleans(), st.integers(-5, 300), st.text(max_size=12),
                 st.lists(st.integers(-1, 3), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                                          max_size=2))


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("bad-input")
    reg = Registry(SQLiteStore(tmp / "db"))
    bootstrap(reg, Settings(state_dir=tmp))
    with TestClient(create_app(reg)) as c:
        yield c


def test_the_valid_manifests_are_accepted(client: TestClient) -> None:
    for url, obj in VALID.items():
        r = client.post(url, json=obj, params={"dryRun": "All"})
        assert r.status_code == 201, (url, r.json())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_manifests_never_give_a_500(client: TestClient, data: st.DataObject) -> None:
    url = data.draw(st.sampled_from(sorted(VALID)))
    obj = copy.deepcopy(VALID[url])
    paths = [p for p in _paths(obj) if p[0] == "spec"]
    for path in data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
        target: Any = obj
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = data.draw(JUNK)
        except (KeyError, IndexError, TypeError):
            continue
    r = client.post(url, json=obj, params={"dryRun": "All"})
    assert r.status_code < 500, (url, obj, r.text)
    if r.status_code >= 400:
        assert r.json()["kind"] == "Status"
