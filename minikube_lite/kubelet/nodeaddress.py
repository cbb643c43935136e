"""A node's own address (its ``InternalIP``), for the nodes that share this machine with others.

In Kubernetes (and kind, where each node is a container on the ``kind`` network) every node is a
machine with an address of its own: the kubelet reports it as the Node's ``InternalIP``, listens
there (port 10250) for the API server's logs/exec/attach/port-forward, and kube-proxy answers every
NodePort on it. Here all nodes share one host and one bridge, so the control plane keeps the
bridge's gateway and every other node takes the first address of the pod range the node IPAM
controller gave it (``10.244.1.0/24`` -> ``10.244.1.1``, kubelet/podnet.py), put on the bridge as a
/32 while its agent runs (proxy/hostnet.py) and taken off when it stops.

A new node has no range until kube-controller-manager gives it one, so it is first registered as
a kubelet with no pod network is: ``Ready=False``, ``KubeletNotReady``, "container runtime network
not ready ... cni plugin not initialized", and becomes Ready with its address a moment later.
Without a range (no node IPAM) or without the right to add addresses the node keeps the gateway,
as before, with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ..api.errors import AlreadyExists, NotFound

log = logging.getLogger(__name__)

NETWORK_NOT_READY = ("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                     "message:Network plugin returns error: cni plugin not initialized")
CIDR_TIMEOUT = 10.0


def not_ready(node: dict[str, Any], node_name: str) -> dict[str, Any]:
    """``node`` (a full Node from node.py) as registered before its pod network exists."""
    status = node.setdefault("status", {})
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            cond.update({"status": "False", "reason": "KubeletNotReady", "message": NETWORK_NOT_READY})
    status["addresses"] = [{"type": "Hostname", "address": node_name}]
    return node


async def pod_cidr(client: Any, node_name: str, registration: dict[str, Any],
                   timeout: float | None = None) -> str:
    """The Node's ``spec.podCIDR``; registers ``registration`` first when the Node does not exist.
    "" when none was given within ``timeout`` (default :data:`CIDR_TIMEOUT`)."""
    try:
        node = await client.get("nodes", node_name)
    except NotFound:
        try:
            node = await client.create("nodes", registration)
            with contextlib.suppress(Exception):  # the status a create may not keep
                node["status"] = registration["status"]
                node = await client.update_status("nodes", node)
        except AlreadyExists:
            node = await client.get("nodes", node_name)
    deadline, pause = time.monotonic() + (CIDR_TIMEOUT if timeout is None else timeout), 0.02
    while not (cidr := str((node.get("spec") or {}).get("podCIDR") or "")):
        if time.monotonic() > deadline:
            return ""
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)
        node = await client.get("nodes", node_name)
    return cidr


async def claim(client: Any, node_name: str, registration: dict[str, Any], *, bridge: str,
                gateway: str) -> tuple[str, str] | None:
    """(address, pod range) of this node, its address now on ``bridge``; None: keep the gateway."""
    from ..proxy.hostnet import add_node_address
    from .podnet import node_address

    cidr = await pod_cidr(client, node_name, registration)
    if not cidr:
        log.warning("node %s has no pod range (spec.podCIDR) after %.0fs: it keeps the bridge's address %s",
                    node_name, CIDR_TIMEOUT, gateway)
        return None
    ip = node_address(cidr)
    if ip == gateway or not bridge:
        return None
    try:
        await asyncio.to_thread(add_node_address, bridge, ip)
    except OSError as exc:
        log.warning("cannot give node %s its address %s (%s): it keeps the bridge's address %s",
                    node_name, ip, exc, gateway)
        return None
    log.info("node %s: address %s on %s (pod range %s)", node_name, ip, bridge, cidr)
    return ip, cidr


async def release(bridge: str, ip: str) -> None:
    from ..proxy.hostnet import remove_node_address

    await asyncio.to_thread(remove_node_address, bridge, ip)
