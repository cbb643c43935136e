"""Unit tests of the ConfigMap/Secret/Endpoints/EndpointSlice/PVC/PV/StorageClass rules and columns,
through the registry (validation, defaults and update rules as the API server applies them)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from minikube_lite.api.endpoints import format_endpoints, format_slice_endpoints, format_slice_ports
from minikube_lite.api.errors import ApiError
from minikube_lite.api.register import by_plural, to_table
from minikube_lite.apiserver.registry import Registry
from minikube_lite.controllers.storage import volume_fits
from minikube_lite.store.sqlite import SQLiteStore


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    r = Registry(SQLiteStore(tmp_path / "store.db"))
    r.ensure(by_plural("namespaces"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    return r


def create(registry: Registry, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    res = by_plural(plural)
    assert res is not None
    return registry.create(res, "default" if res.namespaced else None, obj)[0]


def invalid(registry: Registry, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ApiError) as exc:
        create(registry, plural, obj)
    status = exc.value.status()
    assert status["code"] == 422, status
    return status


def fields(status: dict[str, Any]) -> list[str]:
    return [c["field"] for c in status["details"]["causes"]]


def cells(plural: str, obj: dict[str, Any]) -> list[Any]:
    res = by_plural(plural)
    assert res is not None
    return to_table(res, [obj], now=datetime.now(UTC))["rows"][0]["cells"]


# --- ConfigMap / Secret ------------------------------------------------------------------------


def test_secret_string_data_folds_into_base64_data(registry: Registry) -> None:
    s = create(registry, "secrets", {"metadata": {"name": "pg"}, "data": {"A": base64.b64encode(b"x").decode()},
                                     "stringData": {"PGPASSWORD": "hunter2", "A": "wins"}})
    assert "stringData" not in s
    assert s["type"] == "Opaque"
    assert base64.b64decode(s["data"]["PGPASSWORD"]) == b"hunter2"
    assert base64.b64decode(s["data"]["A"]) == b"wins"
    assert cells("secrets", s)[:3] == ["pg", "Opaque", 2]


def test_secret_invalid_base64_names_the_key(registry: Registry) -> None:
    status = invalid(registry, "secrets", {"metadata": {"name": "bad"}, "data": {"token": "not base64!"}})
    assert fields(status) == ["data[token]"]
    assert "illegal base64 data at input byte 3" in status["message"]
    assert "not base64" not in status["message"]  # secret values are never echoed


def test_config_keys_and_size(registry: Registry) -> None:
    status = invalid(registry, "configmaps", {"metadata": {"name": "c"}, "data": {"a/b": "x", "..x": "y"}})
    assert sorted(fields(status)) == ["data[..x]", "data[a/b]"]
    assert "a valid config key must consist of alphanumeric characters" in status["message"]
    big = invalid(registry, "configmaps", {"metadata": {"name": "big"}, "data": {"a": "x" * (1024 * 1024 + 1)}})
    assert "Too long" in big["message"]
    dup = invalid(registry, "configmaps", {"metadata": {"name": "d"}, "data": {"k": "v"},
                                           "binaryData": {"k": "AA=="}})
    assert fields(dup) == ["binaryData[k]"]


def test_wrong_type_in_data_is_reported_with_the_key(registry: Registry) -> None:
    status = invalid(registry, "configmaps", {"metadata": {"name": "c"}, "data": {"n": 5}})
    assert fields(status) == ["data[n]"]


def test_immutable_configmap_and_secret(registry: Registry) -> None:
    cm_res, sec_res = by_plural("configmaps"), by_plural("secrets")
    assert cm_res and sec_res
    cm = create(registry, "configmaps", {"metadata": {"name": "c"}, "data": {"a": "b"}, "immutable": True})
    cm["data"]["a"] = "changed"
    with pytest.raises(ApiError) as exc:
        registry.update(cm_res, "default", "c", cm)
    assert exc.value.status()["details"]["causes"][0] == {
        "reason": "FieldValueForbidden", "message": "Forbidden: field is immutable when `immutable` is set",
        "field": "data"}
    s = create(registry, "secrets", {"metadata": {"name": "s"}, "stringData": {"a": "b"}})
    s["type"] = "example.com/custom"
    with pytest.raises(ApiError) as exc:
        registry.update(sec_res, "default", "s", s)
    assert fields(exc.value.status()) == ["type"]
    # labels may still change on an immutable object
    cm = registry.get(cm_res, "default", "c")
    cm["metadata"]["labels"] = {"x": "y"}
    registry.update(cm_res, "default", "c", cm)


def test_secret_types_require_their_keys(registry: Registry) -> None:
    status = invalid(registry, "secrets", {"metadata": {"name": "t"}, "type": "kubernetes.io/tls",
                                           "stringData": {"tls.crt": "c"}})
    assert fields(status) == ["data[tls.key]"]


def test_configmap_columns(registry: Registry) -> None:
    cm = create(registry, "configmaps", {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"},
                                         "binaryData": {"c": "AA=="}})
    assert cells("configmaps", cm)[:2] == ["c", 3]


# --- Endpoints / EndpointSlice -----------------------------------------------------------------


def test_endpoints_formatting() -> None:
    ep = {"subsets": [{"addresses": [{"ip": f"172.18.0.{i}"} for i in (3, 4, 5, 6)], "ports": [{"port": 3000}]}]}
    assert format_endpoints(ep) == "172.18.0.3:3000,172.18.0.4:3000,172.18.0.5:3000 + 1 more..."
    assert format_endpoints({}) == "<none>"
    assert format_endpoints({"subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]}) == "10.0.0.1"
    es = {"ports": [{"port": 80}, {"name": "x"}], "endpoints": [{"addresses": ["10.0.0.1"]}]}
    assert format_slice_ports(es) == "80,x"
    assert format_slice_endpoints(es) == "10.0.0.1"
    assert format_slice_endpoints({}) == "<unset>"


def test_endpoints_validation(registry: Registry) -> None:
    status = invalid(registry, "endpoints", {"metadata": {"name": "e"}, "subsets": [
        {"addresses": [{"ip": "nope"}], "ports": [{"port": 70000}, {"port": 80}]}]})
    assert set(fields(status)) >= {"subsets[0].addresses[0].ip", "subsets[0].ports[0].port",
                                   "subsets[0].ports[0].name"}
    ep = create(registry, "endpoints", {"metadata": {"name": "e"}, "subsets": [
        {"addresses": [{"ip": "172.18.0.3"}], "ports": [{"port": 3000}]}]})
    assert ep["subsets"][0]["ports"][0]["protocol"] == "TCP"
    assert cells("endpoints", ep)[:2] == ["e", "172.18.0.3:3000"]


def test_endpointslice_validation(registry: Registry) -> None:
    status = invalid(registry, "endpointslices", {"metadata": {"name": "s"}, "endpoints": [{"addresses": []}]})
    assert set(fields(status)) == {"addressType", "endpoints[0].addresses"}
    es = create(registry, "endpointslices", {
        "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}}, "addressType": "IPv4",
        "endpoints": [{"addresses": ["172.18.0.3"], "conditions": {"ready": True, "serving": True,
                                                                    "terminating": False}}],
        "ports": [{"name": "http", "port": 3000, "protocol": "TCP"}]})
    assert cells("endpointslices", es)[:4] == ["web-abc", "IPv4", "3000", "172.18.0.3"]


# --- storage ------------------------------------------------------------------------------------

PVC = {"metadata": {"name": "data"},
       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def test_pvc_defaults_and_columns(registry: Registry) -> None:
    pvc = create(registry, "persistentvolumeclaims", PVC)
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    assert pvc["status"] == {"phase": "Pending"}
    assert cells("persistentvolumeclaims", pvc) == ["data", "Pending", "", "", "", "", "<unset>", "0s",
                                                    "Filesystem"]


def test_pvc_validation(registry: Registry) -> None:
    status = invalid(registry, "persistentvolumeclaims", {"metadata": {"name": "p"}, "spec": {}})
    assert set(fields(status)) == {"spec.accessModes", "spec.resources[storage]"}
    status = invalid(registry, "persistentvolumeclaims", {"metadata": {"name": "p"}, "spec": {
        "accessModes": ["RWO"], "resources": {"requests": {"storage": "0"}}, "volumeMode": "Disk"}})
    assert set(fields(status)) == {"spec.accessModes", "spec.resources[storage]", "spec.volumeMode"}
    bad_quantity = invalid(registry, "persistentvolumeclaims", {"metadata": {"name": "p"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "lots"}}}})
    assert fields(bad_quantity) == ["spec.resources.requests[storage]"]


def test_pvc_spec_immutable_except_binding(registry: Registry) -> None:
    res = by_plural("persistentvolumeclaims")
    assert res is not None
    pvc = create(registry, "persistentvolumeclaims", PVC)
    pvc["spec"].update(storageClassName="standard", volumeName="pvc-1")
    pvc = registry.update(res, "default", "data", pvc)[0]
    pvc["spec"]["accessModes"] = ["ReadWriteMany"]
    with pytest.raises(ApiError) as exc:
        registry.update(res, "default", "data", pvc)
    assert fields(exc.value.status()) == ["spec"]


def test_pv_validation_and_columns(registry: Registry) -> None:
    status = invalid(registry, "persistentvolumes", {"metadata": {"name": "v"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}})
    assert fields(status) == ["spec"]
    status = invalid(registry, "persistentvolumes", {"metadata": {"name": "v"}, "spec": {
        "capacity": {"cpu": "1"}, "hostPath": {"path": "/tmp/x"}, "persistentVolumeReclaimPolicy": "Keep"}})
    assert set(fields(status)) == {"spec.accessModes", "spec.capacity", "spec.persistentVolumeReclaimPolicy"}
    pv = create(registry, "persistentvolumes", {"metadata": {"name": "v"}, "spec": {
        "accessModes": ["ReadWriteOnce", "ReadOnlyMany"], "capacity": {"storage": "5Gi"},
        "hostPath": {"path": "/tmp/x"}, "claimRef": {"namespace": "default", "name": "data"}}})
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"  # a hand-written volume is kept
    assert cells("persistentvolumes", pv) == ["v", "5Gi", "RWO,ROX", "Retain", "Pending", "default/data", "",
                                              "<unset>", "", "0s", "Filesystem"]


def test_storageclass_defaults_validation_and_columns(registry: Registry) -> None:
    status = invalid(registry, "storageclasses", {"metadata": {"name": "x"}, "reclaimPolicy": "Recycle"})
    assert set(fields(status)) == {"provisioner", "reclaimPolicy"}
    sc = create(registry, "storageclasses", {"metadata": {"name": "standard", "annotations": {
        "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "k8s.io/minikube-hostpath"})
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    assert cells("storageclasses", sc)[:5] == ["standard (default)", "k8s.io/minikube-hostpath", "Delete",
                                               "Immediate", False]
    res = by_plural("storageclasses")
    assert res is not None
    sc["reclaimPolicy"] = "Retain"
    with pytest.raises(ApiError) as exc:
        registry.update(res, None, "standard", sc)
    assert fields(exc.value.status()) == ["reclaimPolicy"]


def test_volume_fits() -> None:
    claim = {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                      "storageClassName": ""}}
    pv = {"spec": {"accessModes": ["ReadWriteOnce", "ReadWriteMany"], "capacity": {"storage": "2Gi"}}}
    assert volume_fits(pv, claim)
    assert not volume_fits({"spec": {**pv["spec"], "capacity": {"storage": "512Mi"}}}, claim)
    assert not volume_fits({"spec": {**pv["spec"], "accessModes": ["ReadOnlyMany"]}}, claim)
    assert not volume_fits({"spec": {**pv["spec"], "storageClassName": "fast"}}, claim)
