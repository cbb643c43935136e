"""kube-controller-manager's taint eviction controller: pods leave a node tainted ``NoExecute``.

For each pod bound to a node with ``NoExecute`` taints: a pod that does not tolerate one of them
is evicted at once; a pod that tolerates them all stays for the shortest ``tolerationSeconds``
among the tolerations it uses (forever when none sets it), counted from when the controller saw
the taints. If the taints go before that (the node came back), the eviction is cancelled.

Every pod gets ``not-ready`` and ``unreachable`` tolerations of 300 s from the
DefaultTolerationSeconds admission (``apiserver/admission.py``), which is why a Deployment's
pods move off a dead node five minutes after it went ``NotReady``.

Eviction is what the Kubernetes controller does: the condition ``DisruptionTarget``
(``DeletionByTaintManager``), a ``TaintManagerEviction`` event, then a normal (graceful) delete;
the pod's controller sees it terminating and makes a replacement, which the scheduler keeps off
the tainted node.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..api.errors import NotFound
from ..api.scheduling import node_taints, pod_tolerations, toleration_tolerates
from ..api.times import now_rfc3339
from ..client.base import Client
from ..client.controller import run_periodically
from ..client.events import record_event
from ..client.informer import Informer, object_key

log = logging.getLogger(__name__)
COMPONENT = "taint-eviction-controller"
TICK_SECONDS = 0.5


def eviction_delay(tolerations: list[dict[str, Any]], taints: list[dict[str, Any]]) -> float | None:
    """Seconds a pod may stay on a node with these ``NoExecute`` taints; None = forever."""
    taints = [t for t in taints if t.get("effect") == "NoExecute"]
    if not taints:
        return None
    used = []
    for taint in taints:
        matching = [t for t in tolerations if toleration_tolerates(t, taint)]
        if not matching:
            return 0.0
        used += matching
    seconds = [t.get("tolerationSeconds") for t in used if t.get("tolerationSeconds") is not None]
    if not seconds:
        return None
    return max(0.0, float(min(seconds)))


class TaintEvictionController:
    def __init__(self, client: Client, *, tick: float = TICK_SECONDS) -> None:
        self.client = client
        self.tick = tick
        self.pods = Informer(client, "pods")
        self.nodes = Informer(client, "nodes")
        # pod key -> (uid, monotonic time first seen under the taints, deadline)
        self.scheduled: dict[str, tuple[str, float, float]] = {}
        self._wake = asyncio.Event()
        # a node's taints changed: look now (the toleration counts from when the taint is seen), as
        # Kubernetes' taint manager handles each node update
        self.nodes.add_handler(lambda etype, obj: self._wake.set())

    async def run(self) -> None:
        await run_periodically((self.pods, self.nodes), self.reconcile, period=self._next_pass,
                               what="taint eviction", wake=self._wake)

    def _next_pass(self) -> float:
        """A tick, or sooner when an eviction falls due: it fires at its deadline, as the taint
        manager's timed workers do, not up to a tick later."""
        due = min((deadline for _, _, deadline in self.scheduled.values()), default=None)
        if due is None:
            return self.tick
        return max(0.01, min(self.tick, due - time.monotonic()))

    async def reconcile(self) -> None:
        now = time.monotonic()
        tainted = {str(n["metadata"]["name"]): [t for t in node_taints(n) if t.get("effect") == "NoExecute"]
                   for n in self.nodes.list()}
        if not self.scheduled and not any(tainted.values()):
            return  # the usual case: nothing to look at
        live = set()
        for pod in self.pods.list():
            node = (pod.get("spec") or {}).get("nodeName")
            taints = tainted.get(node or "")
            if not taints or pod["metadata"].get("deletionTimestamp"):
                continue
            key, uid = object_key(pod), str(pod["metadata"].get("uid"))
            delay = eviction_delay(pod_tolerations(pod), taints)
            if delay is None:
                continue
            live.add(key)
            seen = self.scheduled.get(key)
            start = seen[1] if seen and seen[0] == uid else now
            self.scheduled[key] = (uid, start, start + delay)
            if now >= start + delay:
                await self._evict(pod)
        for key in set(self.scheduled) - live:
            uid, _, _ = self.scheduled.pop(key)
            pod = self.pods.get(key)
            if pod is not None and str(pod["metadata"].get("uid")) == uid and not pod["metadata"].get(
                    "deletionTimestamp"):
                await record_event(self.client, pod, "TaintManagerEviction", f"Cancelling deletion of Pod {key}",
                                   component=COMPONENT)

    async def _evict(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        key = object_key(pod)
        await record_event(self.client, pod, "TaintManagerEviction", f"Marking for deletion Pod {key}",
                           component=COMPONENT)
        try:
            await self.client.patch("pods", meta["name"], {"status": {"conditions": [
                {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                 "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": now_rfc3339()}]}},
                namespace=meta["namespace"], patch_type="strategic", subresource="status")
            await self.client.delete("pods", meta["name"], namespace=meta["namespace"])
        except NotFound:
            pass
        self.scheduled.pop(key, None)
