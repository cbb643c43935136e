"""int32/int64 ranges from the models' field types (api/intrange.py), as Kubernetes' Go types."""

from __future__ import annotations

from typing import Any

import pytest

from minikube_lite.api.errors import Invalid
from minikube_lite.api.register import by_kind, validate


def _pod(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


@pytest.mark.parametrize("spec,field,bits", [
    ({"terminationGracePeriodSeconds": 2**63}, "spec.terminationGracePeriodSeconds", "int64"),
    ({"activeDeadlineSeconds": -(2**63) - 1}, "spec.activeDeadlineSeconds", "int64"),
    ({"priority": 2**31}, "spec.priority", "int32"),
    ({"securityContext": {"runAsUser": 2**64}}, "spec.securityContext.runAsUser", "int64"),
    ({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 2**31}]}]},
     "spec.containers[0].ports[0].containerPort", "int32"),
    ({"containers": [{"name": "c", "image": "x", "readinessProbe": {"periodSeconds": -(2**31) - 1,
                                                                    "tcpSocket": {"port": 80}}}]},
     "spec.containers[0].readinessProbe.periodSeconds", "int32"),
])
def test_out_of_range_is_422_in_kubernetes_words(spec: dict[str, Any], field: str, bits: str) -> None:
    res = by_kind("v1", "Pod")
    assert res is not None
    with pytest.raises(Invalid) as err:
        validate(res, _pod(**spec))
    cause = err.value.causes[0]
    assert cause["field"] == field and cause["reason"] == "FieldValueTypeInvalid"
    assert f"{field} in body must be of type {bits}" in cause["message"]
    assert err.value.code == 422


def test_in_range_edges_are_accepted() -> None:
    res = by_kind("v1", "Pod")
    assert res is not None
    validate(res, _pod(terminationGracePeriodSeconds=2**63 - 1, priority=2**31 - 1,
                       securityContext={"supplementalGroups": [2**40]}))


def test_deployment_replicas_int32() -> None:
    res = by_kind("apps/v1", "Deployment")
    assert res is not None
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"replicas": 2**31, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    with pytest.raises(Invalid, match=r'spec.replicas in body must be of type int32: "2147483648"'):
        validate(res, dep)
