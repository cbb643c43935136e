"""kube-controller-manager's pod garbage collector (PodGC), the part that concerns nodes.

A pod bound to a node that no longer exists (``kubectl delete node``, ``minikube-lite node
delete``) has no kubelet left to stop it or confirm its deletion: after a quarantine of 40 s
(the node may be re-registering) it gets the condition ``DisruptionTarget``
(``DeletionByPodGC``) and is deleted at once (grace period 0), as Kubernetes'
``gcOrphaned`` does. A pod being deleted that was never scheduled is removed at once too
(``gcUnscheduledTerminating``). Either way its controller makes a replacement that the
scheduler places on a node that exists.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..api.errors import NotFound
from ..api.times import now_rfc3339
from ..client.base import Client
from ..client.controller import run_periodically
from ..client.informer import Informer, object_key

log = logging.getLogger(__name__)
QUARANTINE_SECONDS = 40.0
PERIOD_SECONDS = 20.0


class PodGC:
    def __init__(self, client: Client, *, quarantine: float = QUARANTINE_SECONDS,
                 period: float = PERIOD_SECONDS) -> None:
        self.client = client
        self.quarantine, self.period = quarantine, period
        self.pods = Informer(client, "pods")
        self.nodes = Informer(client, "nodes")
        self._missing_since: dict[str, float] = {}  # node name -> first seen missing

    async def run(self) -> None:
        await run_periodically((self.pods, self.nodes), self.collect, period=lambda: self.period, what="pod GC")

    async def collect(self) -> int:
        now = time.monotonic()
        existing = {str(n["metadata"]["name"]) for n in self.nodes.list()}
        gone = 0
        missing_now: set[str] = set()
        for pod in self.pods.list():
            spec, meta = pod.get("spec") or {}, pod["metadata"]
            node = spec.get("nodeName")
            if not node:
                if meta.get("deletionTimestamp"):
                    gone += await self._delete(pod, None)
                continue
            if node in existing:
                continue
            missing_now.add(node)
            since = self._missing_since.setdefault(node, now)
            if now - since >= self.quarantine:
                gone += await self._delete(pod, "PodGC: node no longer exists")
        self._missing_since = {n: t for n, t in self._missing_since.items() if n in missing_now}
        return gone

    async def _delete(self, pod: dict[str, Any], message: str | None) -> int:
        meta = pod["metadata"]
        try:
            if message:
                await self.client.patch("pods", meta["name"], {"status": {"conditions": [
                    {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC", "message": message,
                     "lastTransitionTime": now_rfc3339()}]}},
                    namespace=meta["namespace"], patch_type="strategic", subresource="status")
            await self.client.delete("pods", meta["name"], namespace=meta["namespace"], grace_period_seconds=0)
        except NotFound:
            return 0
        log.info("pod GC: deleted %s (%s)", object_key(pod), message or "unscheduled and terminating")
        return 1
