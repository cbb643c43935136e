"""kube-scheduler's job in one small loop: bind each new pod to a node.

It watches pods that have no ``spec.nodeName`` and nodes; for each pod it picks a Ready,
schedulable node whose labels satisfy the pod's ``nodeSelector`` (with one node there is
little to choose, but the pod never bypasses this step, as on a real cluster), posts the
binding and records a ``Scheduled`` event. A pod that fits nowhere stays Pending with a
``FailedScheduling`` event and is retried when nodes change.

Before binding, the volume binding step: an unbound claim of the pod whose class binds
``WaitForFirstConsumer`` is annotated with the chosen node
(``volume.kubernetes.io/selected-node``), which lets the storage controller provision it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..api.errors import ApiError, Conflict, NotFound
from ..api.storage import SELECTED_NODE_ANNOTATION, claim_class, claims_used_by, waits_for_consumer
from ..client.base import Client
from ..client.events import record_event
from ..client.informer import Informer
from ..client.workqueue import WorkQueue

log = logging.getLogger(__name__)
SCHEDULER_NAME = "default-scheduler"


def node_is_ready(node: dict[str, Any]) -> bool:
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def fits(pod: dict[str, Any], node: dict[str, Any]) -> bool:
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


class Scheduler:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.pods = Informer(client, "pods", field_selector="spec.nodeName=")
        self.nodes = Informer(client, "nodes")
        self.queue = WorkQueue("scheduler")
        self._failed: set[str] = set()
        self.pods.add_handler(lambda t, o: self._on_pod(t, o))
        self.nodes.add_handler(lambda t, o: self._retry_failed())

    def _on_pod(self, etype: str, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        key = f"{meta.get('namespace')}/{meta['name']}"
        if etype == "DELETED":
            self._failed.discard(key)
            return
        self.queue.add(key)

    def _retry_failed(self) -> None:
        for key in list(self._failed):
            self.queue.add(key)

    async def run(self) -> None:
        await asyncio.gather(self.pods.run(), self.nodes.run(), self._work())

    async def _work(self) -> None:
        await self.pods.synced.wait()
        await self.nodes.synced.wait()
        await self.queue.run(self.schedule_one, workers=2)

    async def schedule_one(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            self._failed.discard(key)
            return
        spec, meta = pod.get("spec") or {}, pod["metadata"]
        if spec.get("nodeName") or meta.get("deletionTimestamp"):
            return
        if spec.get("schedulerName", SCHEDULER_NAME) != SCHEDULER_NAME:
            return  # another scheduler's pod, as on a real cluster
        candidates = [n for n in self.nodes.list() if node_is_ready(n) and fits(pod, n)]
        if not candidates:
            if key not in self._failed:
                self._failed.add(key)
                total = len(self.nodes.list())
                await record_event(self.client, pod, "FailedScheduling",
                                   f"0/{total} nodes are available: no Ready node matches the pod.",
                                   type_="Warning", component=SCHEDULER_NAME)
            return
        node = min(candidates, key=lambda n: n["metadata"]["name"])
        node_name = node["metadata"]["name"]
        await self._select_node_for_claims(pod, node_name)
        try:
            await self.client.bind(meta["name"], node_name, namespace=meta["namespace"])  # type: ignore[attr-defined]
        except (NotFound, Conflict):
            return
        except ApiError as exc:
            log.warning("scheduler: binding %s failed: %s", key, exc)
            raise
        self._failed.discard(key)
        await record_event(self.client, pod, "Scheduled",
                           f"Successfully assigned {meta['namespace']}/{meta['name']} to {node_name}",
                           component=SCHEDULER_NAME)

    async def _select_node_for_claims(self, pod: dict[str, Any], node_name: str) -> None:
        ns = pod["metadata"]["namespace"]
        for name in claims_used_by(pod):
            try:
                claim = await self.client.get("persistentvolumeclaims", name, namespace=ns)
                if (claim.get("spec") or {}).get("volumeName"):
                    continue
                annotations = claim["metadata"].get("annotations") or {}
                if annotations.get(SELECTED_NODE_ANNOTATION) == node_name or not claim_class(claim):
                    continue
                if not waits_for_consumer(await self.client.get("storageclasses", claim_class(claim))):
                    continue
            except NotFound:
                continue  # the kubelet reports a missing claim or class when it mounts
            await self.client.patch("persistentvolumeclaims", name,
                                    {"metadata": {"annotations": {SELECTED_NODE_ANNOTATION: node_name}}},
                                    namespace=ns)
