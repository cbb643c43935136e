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


def test_the_daemon_enables_the_overlay_only_on_an_engine_that_lost_it(monkeypatch: Any, tmp_path: Any) -> None:
    """start --multi-host enables it (cli/main.py) before the daemon starts: the daemon's
    master_component does not do it again, unless the overlay network is gone."""
    import asyncio
    import types

    import docker

    from minikube_lite.node import overlay
    from minikube_lite.proxy import hostnet

    have: list[dict[str, Any]] = []

    class Api:
        def networks(self, names: list[str]) -> list[dict[str, Any]]:
            return have

        def inspect_network(self, name: str) -> dict[str, Any]:
            return {"IPAM": {"Config": [{"Subnet": "10.244.0.0/20"}]}}

    engine = types.SimpleNamespace(api=Api(), info=lambda: {"Swarm": {"NodeAddr": "192.0.2.1"}},
                                   swarm=types.SimpleNamespace(reload=lambda: None, attrs={}))
    enabled: list[str] = []
    monkeypatch.setattr(docker, "from_env", lambda **kw: engine)
    monkeypatch.setattr(overlay, "enable", lambda *a: enabled.append(a[2]) or "")
    monkeypatch.setattr(hostnet, "find_bridge", lambda name: "br-test")
    settings = types.SimpleNamespace(state_dir=tmp_path, cluster_id="abc", host="192.0.2.1",
                                     network_name="net", node_name="minikube-lite")
    have.append({"Name": overlay.overlay_name("abc")})
    asyncio.run(overlay.master_component(None, settings, "10.244.0.1"))
    assert enabled == []
    have.clear()
    asyncio.run(overlay.master_component(None, settings, "10.244.0.1"))
    assert enabled == ["abc"]
