"""kubelet/nodeaddress.py: a node agent's own address from its pod range (decisions only; the
bridge address itself is exercised by tests/e2e/test_node_agents.py)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from minikube_lite.api.errors import NotFound
from minikube_lite.kubelet import nodeaddress
from minikube_lite.kubelet.node import node_object


class FakeNodes:
    """A Node that the node IPAM controller gives a range after ``cidr_after`` reads."""

    def __init__(self, *, exists: bool, cidr_after: int | None) -> None:
        self.node: dict[str, Any] | None = {"metadata": {"name": "n2"}, "spec": {}} if exists else None
        self.cidr_after, self.reads, self.created, self.status_writes = cidr_after, 0, 0, 0

    async def get(self, resource: str, name: str) -> dict[str, Any]:
        if self.node is None:
            raise NotFound("nodes", name)
        self.reads += 1
        if self.cidr_after is not None and self.reads > self.cidr_after:
            self.node["spec"]["podCIDR"] = "10.244.2.0/24"
        return copy.deepcopy(self.node)

    async def create(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.created += 1
        self.node = {"metadata": obj["metadata"], "spec": {}}
        return copy.deepcopy(self.node)

    async def update_status(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.status_writes += 1
        assert self.node is not None
        self.node["status"] = obj["status"]
        return copy.deepcopy(self.node)


def registration() -> dict[str, Any]:
    node = node_object("n2", internal_ip="", runtime_version="x", now="2026-01-01T00:00:00Z", control_plane=False)
    return nodeaddress.not_ready(node, "n2")


def test_registered_not_ready_without_an_address_until_it_has_a_range() -> None:
    reg = registration()
    ready = next(c for c in reg["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "KubeletNotReady"
    assert "cni plugin not initialized" in ready["message"]
    assert reg["status"]["addresses"] == [{"type": "Hostname", "address": "n2"}]
    nodes = FakeNodes(exists=False, cidr_after=2)
    assert asyncio.run(nodeaddress.pod_cidr(nodes, "n2", reg, timeout=5)) == "10.244.2.0/24"
    assert nodes.created == 1 and nodes.status_writes == 1
    assert nodes.node and nodes.node["status"]["conditions"] == reg["status"]["conditions"]


def test_an_existing_node_keeps_its_range_and_is_not_registered_again() -> None:
    nodes = FakeNodes(exists=True, cidr_after=0)
    assert asyncio.run(nodeaddress.pod_cidr(nodes, "n2", registration(), timeout=5)) == "10.244.2.0/24"
    assert nodes.created == 0 and nodes.reads == 1


def test_no_range_in_time_keeps_the_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nodeaddress, "CIDR_TIMEOUT", 0.1)
    nodes = FakeNodes(exists=True, cidr_after=None)
    assert asyncio.run(nodeaddress.pod_cidr(nodes, "n2", registration(), timeout=0.1)) == ""
    got = asyncio.run(nodeaddress.claim(FakeNodes(exists=True, cidr_after=None), "n2", registration(),
                                        bridge="br-x", gateway="10.244.0.1"))
    assert got is None


def test_claim_adds_the_first_address_of_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    from minikube_lite.proxy import hostnet

    added: list[tuple[str, str]] = []
    monkeypatch.setattr(hostnet, "add_node_address", lambda bridge, ip: added.append((bridge, ip)))
    got = asyncio.run(nodeaddress.claim(FakeNodes(exists=True, cidr_after=0), "n2", registration(),
                                        bridge="br-x", gateway="10.244.0.1"))
    assert got == ("10.244.2.1", "10.244.2.0/24") and added == [("br-x", "10.244.2.1")]

    def refuse(bridge: str, ip: str) -> None:
        raise OSError("Operation not permitted")
    monkeypatch.setattr(hostnet, "add_node_address", refuse)  # no right to add it: the gateway, as before
    assert asyncio.run(nodeaddress.claim(FakeNodes(exists=True, cidr_after=0), "n2", registration(),
                                         bridge="br-x", gateway="10.244.0.1")) is None


def test_only_our_node_addresses_are_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    from minikube_lite.proxy import hostnet

    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(hostnet, "_ip_sync", lambda *a: (calls.append(a), (0, ""))[1])
    assert hostnet.remove_node_address("br-x", "10.96.0.10") is False and calls == []  # a Service IP
    assert hostnet.remove_node_address("br-x", "10.244.2.1") is True
    assert calls == [("addr", "del", "10.244.2.1/32", "dev", "br-x")]


def test_the_kubelets_node_events_tell_what_changed() -> None:
    from minikube_lite.kubelet.node import conditions, status_events

    now = "2026-01-01T00:00:00Z"
    fresh = status_events("n2", [], conditions(now), starting=True)
    assert [r for r, _ in fresh] == ["Starting", "NodeHasSufficientMemory", "NodeHasNoDiskPressure",
                                     "NodeHasSufficientPID", "NodeAllocatableEnforced", "NodeReady"]
    assert fresh[0][1] == "Starting kubelet." and fresh[-1][1] == "Node n2 status is now: NodeReady"
    # a restarted kubelet of a node still Ready: only its start
    assert [r for r, _ in status_events("n2", conditions(now), conditions(now), starting=True)] == [
        "Starting", "NodeAllocatableEnforced"]
    # back after the node controller set every condition Unknown: each is reported again
    unknown = [{**c, "status": "Unknown"} for c in conditions(now)]
    assert len(status_events("n2", unknown, conditions(now), starting=False)) == 4
