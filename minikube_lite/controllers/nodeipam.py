"""kube-controller-manager's node IPAM controller (``--allocate-node-cidrs``): a pod range per node.

Each Node without ``spec.podCIDR`` gets the next free /24 of the cluster's pod CIDR
(``spec.podCIDR`` and ``spec.podCIDRs``), as the range allocator does; a range is never moved
once given, and a deleted node's range is free again. The cluster CIDR is the pods' bridge's
subnet (kubelet/podnet.py says why the nodes share one bridge); the kubelets take their pods'
addresses from their node's range.

The first range holds the bridge's gateway, which is the control-plane node's address
(kubelet/nodeaddress.py), so only a control-plane node gets it: a worker that registers first
(agents start beside the daemon) must not end up with the gateway as its own address.
"""

from __future__ import annotations

import asyncio
import logging

from ..api.errors import ApiError, NotFound
from ..client.base import Client
from ..client.informer import Informer
from ..kubelet.podnet import node_ranges

log = logging.getLogger(__name__)
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


class NodeIPAM:
    def __init__(self, client: Client, *, cluster_cidr: str) -> None:
        self.client = client
        self.ranges = node_ranges(cluster_cidr) if cluster_cidr else []
        self.nodes = Informer(client, "nodes")
        self._wake = asyncio.Event()
        self.nodes.add_handler(lambda _type, _obj: self._wake.set())

    async def run(self) -> None:
        if not self.ranges:
            log.info("no cluster CIDR known: node pod ranges are not allocated")
            return
        await asyncio.gather(self.nodes.run(), self._loop())

    async def _loop(self) -> None:
        await self.nodes.synced.wait()
        while True:
            self._wake.clear()
            try:
                await self.allocate()
            except ApiError as exc:
                log.warning("node IPAM: %s", exc)
            await self._wake.wait()

    async def allocate(self) -> int:
        nodes = sorted(self.nodes.list(), key=lambda n: n["metadata"].get("creationTimestamp") or "")
        taken = {(n.get("spec") or {}).get("podCIDR") for n in nodes}
        given = 0
        for node in nodes:
            if (node.get("spec") or {}).get("podCIDR"):
                continue
            labels = node["metadata"].get("labels") or {}
            ranges = self.ranges if CONTROL_PLANE in labels else self.ranges[1:]
            free = next((r for r in ranges if r not in taken), None)
            if free is None:
                log.warning("node %s: no pod range left in the cluster CIDR", node["metadata"]["name"])
                continue
            try:
                await self.client.patch("nodes", node["metadata"]["name"],
                                        {"spec": {"podCIDR": free, "podCIDRs": [free]}}, patch_type="merge")
            except NotFound:
                continue
            taken.add(free)
            given += 1
            log.info("node %s: pod range %s", node["metadata"]["name"], free)
        return given
