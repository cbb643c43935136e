"""healthCheckNodePort, as kube-apiserver allocates and keeps it (api/allocation.py)."""

from __future__ import annotations

import copy

import pytest

from minikube_lite.api.allocation import NODE_PORT_RANGE, allocate
from minikube_lite.api.errors import Invalid


def _svc(name: str = "lb", *, type_: str = "LoadBalancer", policy: str | None = "Local", **spec: object) -> dict:
    s: dict = {"type": type_, "ports": [{"port": 80, "protocol": "TCP"}], **spec}
    if policy:
        s["externalTrafficPolicy"] = policy
    return {"metadata": {"name": name, "uid": f"uid-{name}"}, "spec": s}


def _causes(svc: dict, existing: list[dict], old: dict | None = None) -> dict[str, str]:
    with pytest.raises(Invalid) as exc:
        allocate(svc, existing, old)
    return {c["field"]: c["message"] for c in exc.value.causes}


def test_a_local_load_balancer_gets_one_kept_on_update_and_dropped_with_the_policy() -> None:
    svc = _svc()
    allocate(svc, [])
    hc = svc["spec"]["healthCheckNodePort"]
    assert hc in NODE_PORT_RANGE and hc != svc["spec"]["ports"][0]["nodePort"]
    again = copy.deepcopy(svc)
    del again["spec"]["healthCheckNodePort"]  # an apply without it keeps the one it has
    allocate(again, [], svc)
    assert again["spec"]["healthCheckNodePort"] == hc
    cluster = copy.deepcopy(svc)
    cluster["spec"]["externalTrafficPolicy"] = "Cluster"  # a patch of the policy leaves the port as it was
    allocate(cluster, [], svc)
    assert "healthCheckNodePort" not in cluster["spec"]
    for other in (_svc("np", type_="NodePort"), _svc("c", policy="Cluster")):
        allocate(other, [])
        assert "healthCheckNodePort" not in other["spec"]


def test_it_is_not_handed_out_twice_nor_changed_nor_set_where_not_needed() -> None:
    first = _svc("a")
    allocate(first, [])
    hc = first["spec"]["healthCheckNodePort"]
    assert "provided port is already allocated" in _causes(_svc("b", healthCheckNodePort=hc), [first])[
        "spec.healthCheckNodePort"]
    taken = _svc("c", ports=[{"port": 80, "protocol": "TCP", "nodePort": hc}])  # nor as another's nodePort
    assert "already allocated" in _causes(taken, [first])["spec.ports[0].nodePort"]
    changed = copy.deepcopy(first)
    changed["spec"]["healthCheckNodePort"] = hc + 1 if hc + 1 in NODE_PORT_RANGE else hc - 1
    assert _causes(changed, [], first) == {"spec.healthCheckNodePort": "Forbidden: field is immutable"}
    assert _causes(_svc("d", policy="Cluster", healthCheckNodePort=31999), []) == {
        "spec.healthCheckNodePort": "Invalid value: 31999: may only be set when `type` is 'LoadBalancer' and "
                                    "`externalTrafficPolicy` is 'Local'"}
    free = next(p for p in NODE_PORT_RANGE if p not in (hc, first["spec"]["ports"][0]["nodePort"]))
    chosen = _svc("e", healthCheckNodePort=free)
    allocate(chosen, [first])
    assert chosen["spec"]["healthCheckNodePort"] == free
