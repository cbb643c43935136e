"""Server-side apply and managedFields in the registry (FieldsV1 sets, conflicts, force, removal)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from minikube_lite.api.errors import ApiError, BadRequest
from minikube_lite.api.register import by_plural
from minikube_lite.apiserver import ssa
from minikube_lite.apiserver.registry import Registry
from minikube_lite.config import Settings
from minikube_lite.daemon import bootstrap
from minikube_lite.store.sqlite import SQLiteStore

PODS = by_plural("pods")
SVCS = by_plural("services")
assert PODS is not None and SVCS is not None
APPLY = "application/apply-patch+yaml"


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(SQLiteStore(tmp_path / "db"))
    bootstrap(reg, Settings(state_dir=tmp_path))
    return reg


def _pod(image: str = "busybox", labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p"}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "c", "image": image}]}}


def _apply(reg: Registry, obj: dict[str, Any], manager: str, force: bool = False) -> tuple[dict[str, Any], bool]:
    out, created, _ = reg.patch(PODS, "default", "p", json.dumps(obj).encode(), APPLY, field_manager=manager,
                                force=force)
    return out, created


def _managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"].get("managedFields", [])}


def test_fields_v1_round_trip() -> None:
    pod = _pod(labels={"app": "web"})
    fields = ssa.fields_of(pod, "Pod")
    tree = ssa.to_fields_v1(fields)
    assert tree["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
    assert tree["f:spec"]["f:containers"]['k:{"name":"c"}'] == {".": {}, "f:image": {}, "f:name": {}}
    assert ssa.from_fields_v1(tree) == fields
    assert ssa.readable(("f:spec", "f:containers", 'k:{"name":"c"}', "f:image")) == '.spec.containers[name="c"].image'


def test_apply_creates_then_merges_and_records_managers(registry: Registry) -> None:
    obj, created = _apply(registry, _pod(labels={"app": "web"}), "kubectl")
    assert created and _managers(obj)[("kubectl", "Apply")]["f:metadata"]["f:labels"]["f:app"] == {}
    # an Update by another manager is recorded as such
    registry.patch(PODS, "default", "p", b'{"metadata":{"labels":{"team":"a"}}}',
                   "application/merge-patch+json", field_manager="kubectl-label")
    obj = registry.get(PODS, "default", "p")
    assert _managers(obj)[("kubectl-label", "Update")] == {"f:metadata": {"f:labels": {"f:team": {}}}}
    # re-applying without the label removes it (only kubectl owned it); team stays (owned by another)
    obj, created = _apply(registry, _pod(labels={}), "kubectl")
    assert not created and obj["metadata"]["labels"] == {"team": "a"}


def test_conflict_then_force(registry: Registry) -> None:
    _apply(registry, _pod(), "kubectl")
    with pytest.raises(ApiError) as err:
        _apply(registry, _pod(image="nginx"), "other")
    assert err.value.code == 409 and err.value.reason == "Conflict"
    assert err.value.message == ('Apply failed with 1 conflict: conflict with "kubectl" using v1: '
                                 '.spec.containers[name="c"].image')
    causes = err.value.details["causes"]
    assert causes == [{"reason": "FieldManagerConflict", "message": 'conflict with "kubectl"',
                       "field": '.spec.containers[name="c"].image'}]
    # the same value is no conflict: the field becomes shared
    _apply(registry, _pod(), "other")
    obj, _ = _apply(registry, _pod(image="nginx"), "other", force=True)
    assert obj["spec"]["containers"][0]["image"] == "nginx"
    kubectl_fields = _managers(obj)[("kubectl", "Apply")]
    assert "f:image" not in kubectl_fields["f:spec"]["f:containers"]['k:{"name":"c"}']


def test_apply_needs_a_field_manager(registry: Registry) -> None:
    with pytest.raises(BadRequest, match="fieldManager is required"):
        registry.patch(PODS, "default", "p", json.dumps(_pod()).encode(), APPLY)


def test_updates_take_ownership_of_changed_fields(registry: Registry) -> None:
    obj, _ = registry.create(PODS, "default", _pod(), field_manager="kubectl-create")
    assert ("kubectl-create", "Update") in _managers(obj)
    obj["spec"]["containers"][0]["image"] = "other"
    obj, _ = registry.update(PODS, "default", "p", obj, field_manager="kubectl-edit")
    m = _managers(obj)
    assert m[("kubectl-edit", "Update")] == {"f:spec": {"f:containers": {'k:{"name":"c"}': {"f:image": {}}}}}
    assert "f:image" not in m[("kubectl-create", "Update")]["f:spec"]["f:containers"]['k:{"name":"c"}']
    # a no-op update changes nothing, not even managedFields
    again, _ = registry.update(PODS, "default", "p", obj, field_manager="someone")
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
    # [] clears managedFields
    obj["metadata"]["managedFields"] = []
    obj["metadata"]["labels"] = {"x": "y"}
    cleared, _ = registry.update(PODS, "default", "p", obj, field_manager="m")
    assert list(_managers(cleared)) == [("m", "Update")]


def test_service_ports_by_key(registry: Registry) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"selector": {"app": "x"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    registry.patch(SVCS, "default", "s", json.dumps(svc).encode(), APPLY, field_manager="kubectl")
    svc["spec"]["ports"] = [{"port": 81}]
    obj, _, _ = registry.patch(SVCS, "default", "s", json.dumps(svc).encode(), APPLY, field_manager="kubectl")
    assert [p["port"] for p in obj["spec"]["ports"]] == [81]


def test_service_ports_are_keyed_by_port_and_protocol(registry: Registry) -> None:
    """53/UDP and 53/TCP are two elements (x-kubernetes-list-map-keys: port, protocol): re-applying
    changes nothing, dropping one removes only it, and managedFields name both keys."""
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"},
           "spec": {"selector": {"app": "dns"}, "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                                          {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}}
    body = json.dumps(svc).encode()
    first, created, _ = registry.patch(SVCS, "default", "dns", body, APPLY, field_manager="kubectl")
    again, created_again, _ = registry.patch(SVCS, "default", "dns", body, APPLY, field_manager="kubectl")
    assert created and not created_again
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]  # a no-op
    ports = _managers(again)[("kubectl", "Apply")]["f:spec"]["f:ports"]
    assert set(ports) == {'k:{"port":53,"protocol":"TCP"}', 'k:{"port":53,"protocol":"UDP"}'}
    svc["spec"]["ports"] = [{"name": "dns", "port": 53, "protocol": "UDP"}]
    obj, _, _ = registry.patch(SVCS, "default", "dns", json.dumps(svc).encode(), APPLY, field_manager="kubectl")
    assert [(p["port"], p["protocol"]) for p in obj["spec"]["ports"]] == [(53, "UDP")]


def test_container_ports_are_keyed_by_port_and_protocol(registry: Registry) -> None:
    pod = _pod()
    pod["spec"]["containers"][0]["ports"] = [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 53}]
    _apply(registry, pod, "kubectl")
    obj, _ = _apply(registry, pod, "kubectl")
    assert [(p["containerPort"], p["protocol"]) for p in obj["spec"]["containers"][0]["ports"]] == \
        [(53, "UDP"), (53, "TCP")]
    fields = _managers(obj)[("kubectl", "Apply")]["f:spec"]["f:containers"]['k:{"name":"c"}']["f:ports"]
    assert set(fields) == {'k:{"containerPort":53,"protocol":"TCP"}', 'k:{"containerPort":53,"protocol":"UDP"}'}
