"""kube-controller-manager's node lifecycle controller: is each node still alive?

A node proves it is alive by renewing its Lease in ``kube-node-lease`` (or by posting its
status). Every ``node-monitor-period`` (1 s here, 5 s in Kubernetes: a detection 4 s sooner, for a
few node reads a second) the controller looks at each node: when neither
moved for ``node-monitor-grace-period`` (50 s, the default of the Kubernetes version announced),
or for ``node-startup-grace-period`` (60 s) if the node never posted a Ready condition, its
conditions become ``Unknown`` ("Kubelet stopped posting node status." / "Kubelet never posted
node status."), its pods are marked not Ready (so Services stop sending them traffic) and a
``NodeNotReady`` event is recorded.

It also keeps the node's taints in step with its state, as ``TaintNodesByCondition`` and the
taint-based eviction pass do:

- ``NoSchedule``: ``node.kubernetes.io/not-ready`` (Ready=False), ``unreachable``
  (Ready=Unknown), ``memory-pressure``, ``disk-pressure``, ``pid-pressure``,
  ``network-unavailable`` from the conditions, and ``unschedulable`` for a cordoned node;
- ``NoExecute``: ``not-ready`` or ``unreachable`` (with ``timeAdded``), which the taint eviction
  controller (``controllers/tainteviction.py``) turns into evictions after each pod's
  ``tolerationSeconds``.

The periods can be shortened (tests, demos) with ``MINIKUBE_LITE_NODE_MONITOR_GRACE_PERIOD``,
``MINIKUBE_LITE_NODE_STARTUP_GRACE_PERIOD`` and ``MINIKUBE_LITE_NODE_MONITOR_PERIOD`` (seconds),
the daemon's stand-ins for kube-controller-manager's flags of those names.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from ..api.conditions import condition
from ..api.errors import ApiError, Conflict, NotFound
from ..api.scheduling import (
    TAINT_DISK_PRESSURE,
    TAINT_MEMORY_PRESSURE,
    TAINT_NETWORK_UNAVAILABLE,
    TAINT_NOT_READY,
    TAINT_PID_PRESSURE,
    TAINT_UNREACHABLE,
    TAINT_UNSCHEDULABLE,
)
from ..api.times import now_rfc3339
from ..client.base import Client
from ..client.events import record_event
from ..client.informer import Informer
from ..config import NODE_LEASE_NAMESPACE

log = logging.getLogger(__name__)
COMPONENT = "node-controller"

NODE_MONITOR_GRACE_PERIOD = 50.0
NODE_STARTUP_GRACE_PERIOD = 60.0
NODE_MONITOR_PERIOD = 1.0  # kube-controller-manager looks every 5 s; a small cluster can afford 1 s
CONDITION_TYPES = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
MANAGED_NO_SCHEDULE = (TAINT_NOT_READY, TAINT_UNREACHABLE, TAINT_MEMORY_PRESSURE, TAINT_DISK_PRESSURE,
                       TAINT_PID_PRESSURE, TAINT_NETWORK_UNAVAILABLE, TAINT_UNSCHEDULABLE)
MANAGED_NO_EXECUTE = (TAINT_NOT_READY, TAINT_UNREACHABLE)


def _env_seconds(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def ready_status(node: dict[str, Any]) -> str:
    """``True``, ``False`` or ``Unknown`` (no Ready condition counts as Unknown)."""
    c = condition(node, "Ready")
    return str(c.get("status")) if c else "Unknown"


def conditions_unknown(node: dict[str, Any], now: str) -> list[dict[str, Any]] | None:
    """The node's conditions once its kubelet is presumed gone, or None when nothing changes."""
    created = (node.get("metadata") or {}).get("creationTimestamp")
    current = [dict(c) for c in (node.get("status") or {}).get("conditions") or []]
    by_type = {c.get("type"): c for c in current}
    changed = False
    for kind in CONDITION_TYPES:
        c = by_type.get(kind)
        if c is None:
            current.append({"type": kind, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                            "message": "Kubelet never posted node status.", "lastHeartbeatTime": created,
                            "lastTransitionTime": now})
            changed = True
        elif c.get("status") != "Unknown":
            c.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.",
                     lastTransitionTime=now)
            changed = True
    return current if changed else None


def desired_taints(node: dict[str, Any], now: str) -> list[dict[str, Any]]:
    """The node's taints with the controller's own set to match its conditions and cordon."""
    spec = node.get("spec") or {}
    current = list(spec.get("taints") or [])
    # only a Ready condition there says not-ready or unreachable: a node that never posted one is
    # left alone until its startup grace period makes its conditions Unknown (as Kubernetes maps
    # only the conditions a node has to taints)
    ready = condition(node, "Ready")
    want: list[dict[str, Any]] = []
    no_schedule = {"False": TAINT_NOT_READY, "Unknown": TAINT_UNREACHABLE}.get(ready.get("status")) if ready else None
    if no_schedule:
        want.append({"key": no_schedule, "effect": "NoSchedule"})
    for kind, key in (("MemoryPressure", TAINT_MEMORY_PRESSURE), ("DiskPressure", TAINT_DISK_PRESSURE),
                      ("PIDPressure", TAINT_PID_PRESSURE), ("NetworkUnavailable", TAINT_NETWORK_UNAVAILABLE)):
        c = condition(node, kind)
        if c and c.get("status") == "True":
            want.append({"key": key, "effect": "NoSchedule"})
    if spec.get("unschedulable"):
        want.append({"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"})
    if no_schedule:  # the NoExecute twin of not-ready / unreachable
        want.append({"key": no_schedule, "effect": "NoExecute"})

    def managed(t: dict[str, Any]) -> bool:
        return ((t.get("effect") == "NoSchedule" and t.get("key") in MANAGED_NO_SCHEDULE)
                or (t.get("effect") == "NoExecute" and t.get("key") in MANAGED_NO_EXECUTE))

    def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")

    out = [t for t in current if not managed(t) or any(same(t, w) for w in want)]
    for w in want:
        if not any(same(t, w) for t in out):
            out.append({**w, "timeAdded": now})
    return out


@dataclass
class Health:
    probe: float  # monotonic time the node was last seen alive
    signature: Any


class NodeLifecycleController:
    def __init__(self, client: Client, *, grace_period: float | None = None, startup_grace_period: float | None = None,
                 monitor_period: float | None = None) -> None:
        self.client = client
        self.grace = grace_period if grace_period is not None else _env_seconds(
            "MINIKUBE_LITE_NODE_MONITOR_GRACE_PERIOD", NODE_MONITOR_GRACE_PERIOD)
        self.startup_grace = startup_grace_period if startup_grace_period is not None else _env_seconds(
            "MINIKUBE_LITE_NODE_STARTUP_GRACE_PERIOD", NODE_STARTUP_GRACE_PERIOD)
        self.period = monitor_period if monitor_period is not None else _env_seconds(
            "MINIKUBE_LITE_NODE_MONITOR_PERIOD", NODE_MONITOR_PERIOD)
        self.nodes = Informer(client, "nodes")
        self.leases = Informer(client, "leases", namespace=NODE_LEASE_NAMESPACE)
        self.pods = Informer(client, "pods")
        self.health: dict[str, Health] = {}
        self._wake = asyncio.Event()
        self.nodes.add_handler(lambda t, o: self._wake.set())

    async def run(self) -> None:
        await asyncio.gather(self.nodes.run(), self.leases.run(), self.pods.run(), self._loop())

    async def _loop(self) -> None:
        for informer in (self.nodes, self.leases, self.pods):
            await informer.synced.wait()
        while True:
            try:
                await self.monitor()
            except ApiError as exc:
                log.warning("node lifecycle: %s", exc)
            self._wake.clear()
            # a node change (cordon, a condition) retaints at once; health is looked at every period
            try:
                await asyncio.wait_for(self._wake.wait(), self.period)
            except TimeoutError:
                pass

    def _signature(self, node: dict[str, Any]) -> Any:
        name = node["metadata"]["name"]
        lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{name}") or {}
        beats = tuple((c.get("type"), c.get("status"), c.get("lastHeartbeatTime"))
                      for c in (node.get("status") or {}).get("conditions") or [])
        return ((lease.get("spec") or {}).get("renewTime"), beats)

    async def monitor(self) -> None:
        now = time.monotonic()
        names = set()
        for node in self.nodes.list():
            name = str(node["metadata"]["name"])
            names.add(name)
            sig = self._signature(node)
            seen = self.health.get(name)
            new = seen is None
            if seen is None or seen.signature != sig:
                self.health[name] = seen = Health(now, sig)
            grace = self.grace if condition(node, "Ready") else self.startup_grace
            if now - seen.probe > grace:
                node = await self._mark_unknown(node) or node
            await self._retaint(node)
            if new:  # a node this controller had not seen (it joined, or the controller started)
                await record_event(self.client, node, "RegisteredNode",
                                   f"Node {name} event: Registered Node {name} in Controller", component=COMPONENT)
        for gone in set(self.health) - names:
            del self.health[gone]

    async def _mark_unknown(self, node: dict[str, Any]) -> dict[str, Any] | None:
        was_ready = ready_status(node) == "True"
        conditions = conditions_unknown(node, now_rfc3339())
        if conditions is None:
            return None
        updated = {**node, "status": {**(node.get("status") or {}), "conditions": conditions}}
        try:
            updated = await self.client.update_status("nodes", updated)
        except (Conflict, NotFound):
            return None  # the kubelet just wrote: it is alive after all, or the node went
        name = node["metadata"]["name"]
        self.health[name] = Health(self.health[name].probe, self._signature(updated))
        if was_ready:
            await record_event(self.client, updated, "NodeNotReady", f"Node {name} status is now: NodeNotReady",
                               component=COMPONENT)
            await self._mark_pods_not_ready(name)
        return updated

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        """``MarkPodsNotReady``: the node's pods are no longer Ready (endpoints drop them)."""
        for pod in self.pods.list():
            if (pod.get("spec") or {}).get("nodeName") != node_name:
                continue
            conditions = (pod.get("status") or {}).get("conditions") or []
            ready = next((c for c in conditions if c.get("type") == "Ready"), None)
            if ready is None or ready.get("status") == "False":
                continue
            meta = pod["metadata"]
            try:
                await self.client.patch("pods", meta["name"], {"status": {"conditions": [
                    {"type": "Ready", "status": "False", "lastTransitionTime": now_rfc3339()}]}},
                    namespace=meta["namespace"], patch_type="strategic", subresource="status")
            except ApiError:
                continue
            await record_event(self.client, pod, "NodeNotReady", "Node is not ready", type_="Warning",
                               component=COMPONENT)

    async def _retaint(self, node: dict[str, Any]) -> None:
        taints = desired_taints(node, now_rfc3339())
        if taints == list((node.get("spec") or {}).get("taints") or []):
            return
        updated = {**node, "spec": {**(node.get("spec") or {}), "taints": taints}}
        try:
            await self.client.update("nodes", updated)
        except (Conflict, NotFound):
            self._wake.set()  # written meanwhile: look again with the fresh object
