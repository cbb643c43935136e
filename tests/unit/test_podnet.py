"""Pod ranges: the bridge's subnet choice, the per-node /24s and the address pick (kubelet/podnet.py),
and the node IPAM controller's allocation (controllers/nodeipam.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from minikube_lite.controllers.nodeipam import NodeIPAM
from minikube_lite.kubelet import podnet


class FakeDockerAPI:
    def __init__(self, subnets: list[str]) -> None:
        self.subnets = subnets

    def networks(self) -> list[dict[str, Any]]:
        return [{"IPAM": {"Config": [{"Subnet": s}]}} for s in self.subnets]


class FakeDocker:
    def __init__(self, subnets: list[str]) -> None:
        self.api = FakeDockerAPI(subnets)


def test_candidate_subnets_skip_taken_ones(monkeypatch: Any) -> None:
    monkeypatch.setattr(podnet, "_host_routes", list)
    got = podnet.candidate_subnets(FakeDocker(["10.244.0.0/20", "172.17.0.0/16", "10.244.20.0/24"]))
    assert [str(s) for s in got[:2]] == ["10.244.32.0/20", "10.244.48.0/20"]  # .16/20 holds 10.244.20.0/24


def test_node_ranges_and_pick_address() -> None:
    ranges = podnet.node_ranges("10.244.0.0/20")
    assert len(ranges) == 16 and ranges[:2] == ["10.244.0.0/24", "10.244.1.0/24"]
    assert podnet.node_ranges("10.1.2.0/26") == ["10.1.2.0/26"]
    assert podnet.pick_address("10.244.0.0/24", {"10.244.0.2"}, "10.244.0.1") == "10.244.0.3"
    # the first address of a node's range is the node's own (its InternalIP), never a pod's
    assert podnet.node_address("10.244.1.0/24") == "10.244.1.1"
    assert podnet.pick_address("10.244.1.0/24", set(), "10.244.0.1") == "10.244.1.2"
    full = {f"10.9.9.{i}" for i in range(1, 3)}
    assert podnet.pick_address("10.9.9.0/30", full, "") is None


class FakeClient:
    def __init__(self) -> None:
        self.patches: list[tuple[str, Any]] = []

    async def patch(self, resource: str, name: str, patch: Any, **_: Any) -> dict[str, Any]:
        self.patches.append((name, patch))
        return {}


def _node(name: str, created: str, cidr: str | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "creationTimestamp": created}, "spec": {"podCIDR": cidr} if cidr else {}}


def test_ipam_gives_each_node_the_next_free_range_in_creation_order() -> None:
    client = FakeClient()
    ipam = NodeIPAM(client, cluster_cidr="10.244.0.0/22")  # type: ignore[arg-type]
    ipam.nodes.cache = {"b": _node("b", "2026-01-01T00:00:02Z"), "a": _node("a", "2026-01-01T00:00:01Z"),
                        "c": _node("c", "2026-01-01T00:00:00Z", "10.244.0.0/24")}
    assert asyncio.run(ipam.allocate()) == 2
    assert client.patches == [("a", {"spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}}),
                              ("b", {"spec": {"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24"]}})]


def test_ipam_keeps_the_gateways_range_for_the_control_plane() -> None:
    # a worker registered before the control plane (agents start beside the daemon) must not get
    # the first range: its first address is the bridge's gateway, the control plane's address
    client = FakeClient()
    ipam = NodeIPAM(client, cluster_cidr="10.244.0.0/22")  # type: ignore[arg-type]
    worker = _node("m02", "2026-01-01T00:00:00Z")
    plane = _node("cp", "2026-01-01T00:00:01Z")
    plane["metadata"]["labels"] = {"node-role.kubernetes.io/control-plane": ""}
    ipam.nodes.cache = {"m02": worker, "cp": plane}
    assert asyncio.run(ipam.allocate()) == 2
    assert client.patches == [("m02", {"spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}}),
                              ("cp", {"spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]}})]
