"""Which pod ranges a machine routes through the overlay (node/overlay.py), and the NAT rules' text."""

from __future__ import annotations

from typing import Any

from minikube_lite.node.overlay import ROUTER_ANNOTATION, read_secret, wanted_routes


def _node(name: str, cidr: str, router: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if router:
        meta["annotations"] = {ROUTER_ANNOTATION: router}
    return {"metadata": meta, "spec": {"podCIDR": cidr}}


NODES = [_node("minikube-lite", "10.244.0.0/24", "10.0.1.2"), _node("minikube-lite-m02", "10.244.2.0/24"),
         _node("far", "10.244.1.0/24", "10.0.1.4"), _node("farther", "10.244.3.0/24", "10.0.1.6"),
         _node("joining", "", "10.0.1.8")]


def test_the_master_routes_each_joined_machines_range_to_its_router() -> None:
    # its own range and m02's (same bridge, no router) stay local; a node without a range is skipped
    assert wanted_routes(NODES, "minikube-lite", "10.0.1.2", "10.244.0.0/20", "") == {
        "10.244.1.0/24": "10.0.1.4", "10.244.3.0/24": "10.0.1.6"}


def test_a_joined_machine_routes_the_pod_cidr_to_the_master_and_other_machines_directly() -> None:
    assert wanted_routes(NODES, "far", "10.0.1.4", "10.244.0.0/20", "10.0.1.2") == {
        "10.244.0.0/20": "10.0.1.2", "10.244.0.0/24": "10.0.1.2", "10.244.3.0/24": "10.0.1.6"}


def test_the_secret_is_decoded() -> None:
    assert read_secret({"data": {"token": "U1dNVEtO"}}) == {"token": "SWMTKN"}
