"""A joined machine's side of the overlay (``minikube-lite agent`` when the master has ``--multi-host``).

What a kubelet node of another machine needs beyond the kubelet, in the order it happens:

1. the overlay's Secret (node/overlay.py), read with the node's own credentials: none means the
   master runs without ``--multi-host`` and the agent runs as before (its pods reach no other machine);
2. ``docker swarm join`` with the worker token, advertising the node's address;
3. the Node's pod range (``spec.podCIDR``, the node IPAM controller's): the node registers
   NotReady first, as a kubelet without a pod network does (kubelet/nodeaddress.py), and its bridge
   is made exactly that range, its gateway the range's first address (the node's own address on the
   pod network, as flannel gives ``cni0``), so every other range is off-link and routed;
4. the router and the routes (node/overlay.py :class:`OverlayRoutes`), and a kube-proxy of the
   machine's own (proxy/proxier.py: the DNAT of ClusterIPs and node ports must happen on the client
   pod's machine; the NodePorts answer on the node's InternalIP and localhost, to endpoints on any
   machine, ``externalTrafficPolicy: Local`` to this one's only), with the node's credentials (kube-proxy's read rights are bound to
   ``system:nodes`` in auth/policy.yaml, as k3s' agent runs its kube-proxy with what the server gave
   it). The DNS the pods get is the master's (its bridge address, reached over the overlay).

``stop`` removes the router and leaves the swarm if this agent joined it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from ..config import CLUSTER_LABEL
from . import overlay

log = logging.getLogger(__name__)


class AgentOverlay:
    def __init__(self, client: Any, *, name: str, node_ip: str, cluster_id: str, network_name: str,
                 data_dir: Path) -> None:
        self.client = client
        self.name, self.node_ip, self.cluster_id, self.network_name = name, node_ip, cluster_id, network_name
        self.data_dir = data_dir
        self.data: dict[str, str] = {}
        self.engine: Any = None

    async def prepare(self) -> bool:
        """Steps 1-3; False when the cluster has no overlay."""
        from ..api.errors import ApiError

        try:
            secret = await self.client.get("secrets", overlay.SECRET_NAME, namespace=overlay.SECRET_NAMESPACE)
        except ApiError as exc:
            log.info("no overlay for this cluster (%s): pods of this node reach this machine only", exc)
            return False
        self.data = overlay.read_secret(secret)
        import docker

        self.engine = docker.from_env(timeout=60)
        joined = await asyncio.to_thread(overlay.join, self.engine, self.data_dir, self.data["token"],
                                         self.data["manager"], self.node_ip)
        log.info("%s the swarm of %s", "joined" if joined else "already in", self.data["manager"])
        cidr = await self._pod_cidr()
        await asyncio.to_thread(self._bridge, cidr)
        return True

    @property
    def dns(self) -> str:
        return self.data.get("dns", "")

    async def _pod_cidr(self) -> str:
        from ..api.times import now_rfc3339
        from ..kubelet.node import node_object
        from ..kubelet.nodeaddress import not_ready, pod_cidr

        version = str(await asyncio.to_thread(lambda: self.engine.version().get("Version", "")))
        registration = not_ready(node_object(self.name, internal_ip=self.node_ip, runtime_version=version,
                                             now=now_rfc3339(), control_plane=False), self.name)
        cidr = await pod_cidr(self.client, self.name, registration, timeout=30)
        if not cidr:
            raise RuntimeError(f"node {self.name} got no pod range (spec.podCIDR) from the cluster")
        return cidr

    def _bridge(self, cidr: str) -> None:
        """The pods' bridge of this node sized to its range (one of an earlier start is kept)."""
        import docker.errors

        from ..kubelet.podnet import create_network

        if self.engine.api.networks(names=[self.network_name]):
            return
        try:
            create_network(self.engine, self.network_name, {CLUSTER_LABEL: self.cluster_id}, subnet=cidr)
        except docker.errors.APIError as exc:
            log.warning("could not make the pods' bridge %s: %s", cidr, exc)

    def components(self) -> list[tuple[str, Any]]:
        """The router's routes and the machine's kube-proxy (step 4), once the kubelet has its bridge."""
        from ..kubelet.pause import PAUSE_IMAGE
        from ..kubelet.podnet import network_subnet, node_address
        from ..proxy.proxier import ServiceProxy

        own = network_subnet(self.engine.api.inspect_network(self.network_name))
        routes = overlay.OverlayRoutes(self.client, docker_client=self.engine, cluster_id=self.cluster_id,
                                       overlay=self.data["overlay"], node_name=self.name, image=PAUSE_IMAGE,
                                       node_address=node_address(own), cluster_cidr=self.data["podCIDR"],
                                       hub_router=self.data.get("router", ""))
        # NodePorts answer on the node's InternalIP from the network too, as every node's kube-proxy's do
        proxy = ServiceProxy(self.client, cluster_id=self.cluster_id, network_name=self.network_name,
                             network_label=CLUSTER_LABEL, node_addresses=(self.node_ip,),
                             cluster_cidr=self.data["podCIDR"], dns_ip=None, report=False)
        return [("overlay routes", routes), ("kube-proxy", proxy)]

    def stop(self) -> None:
        if self.engine is None:
            return
        for what in overlay.disable(self.engine, self.data_dir, self.cluster_id):
            log.info("removed %s", what)
        self.engine.close()
