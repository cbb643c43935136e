"""kube-scheduler's loop: bind each pending pod to the node the default plugins choose.

It watches all pods (the bound ones are what nodes already carry), nodes, namespaces (for
``namespaceSelector``) and the Services and ReplicaSets that select pods (default spreading).
Each pod without ``spec.nodeName`` goes through one scheduling cycle (``framework.schedule``
with ``plugins.default_plugins()``), one pod at a time as kube-scheduler's cycle is. On success
the pod's claims that wait for their first consumer are marked with the node, the binding is
posted and a ``Scheduled`` event recorded. A pod that fits nowhere gets a ``FailedScheduling``
event with Kubernetes' summary (``0/3 nodes are available: ...``) and the condition
``PodScheduled=False`` (reason ``Unschedulable``), and is tried again when the cluster changes
in a way that could help: a node added or changed (labels, taints, allocatable, conditions,
cordon), a pod removed or moved off a node.

A pod just bound is *assumed* on its node until the watch shows the binding, so the next cycle
already counts it (kube-scheduler's assume cache), which keeps 30 replicas from all landing on
the node that looked emptiest a moment ago.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..api.errors import ApiError, Conflict, NotFound
from ..api.labels import matches_selector
from ..api.storage import SELECTED_NODE_ANNOTATION, claim_class, claims_used_by, waits_for_consumer
from ..client.base import Client
from ..client.events import record_event
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue
from .framework import Snapshot, pod_key, schedule
from .plugins import default_plugins

log = logging.getLogger(__name__)
SCHEDULER_NAME = "default-scheduler"
NO_NODES = "no nodes available to schedule pods"
UNSCHEDULABLE_MAX_SECONDS = 300


def _pod_signature(pod: dict[str, Any]) -> str:
    return repr(((pod.get("metadata") or {}).get("labels"), pod.get("spec")))


def _node_signature(node: dict[str, Any]) -> Any:
    """What of a node can change a scheduling decision (not its heartbeats)."""
    status = node.get("status") or {}
    return (repr((node.get("metadata") or {}).get("labels")), repr(node.get("spec")),
            repr(status.get("allocatable")),
            repr(sorted((c.get("type"), c.get("status")) for c in status.get("conditions") or [])))


class Scheduler:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.plugins = default_plugins()
        self.pods = Informer(client, "pods")
        self.nodes = Informer(client, "nodes")
        self.namespaces = Informer(client, "namespaces")
        self.services = Informer(client, "services")
        self.replicasets = Informer(client, "replicasets")
        self.queue = WorkQueue("scheduler")
        self._failed: dict[str, str] = {}  # pod key -> the last FailedScheduling message
        self._failed_at: dict[str, float] = {}
        self._failed_sigs: dict[str, str] = {}  # pod key -> its spec and labels when it failed
        self._assumed: dict[str, str] = {}  # pod key -> node, until the watch shows the binding
        self._node_sigs: dict[str, Any] = {}
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node)

    def _on_pod(self, etype: str, pod: dict[str, Any]) -> None:
        key = object_key(pod)
        node = (pod.get("spec") or {}).get("nodeName")
        if etype == "DELETED":
            self._forget(key)
            self._assumed.pop(key, None)
            if node:
                self._retry_failed()  # its node has room again
            return
        if node:
            self._assumed.pop(key, None)
            if pod["metadata"].get("deletionTimestamp"):
                self._retry_failed()
            return
        if key in self._failed and self._failed_sigs.get(key) == _pod_signature(pod):
            return  # only its status moved (our own PodScheduled condition): nothing new to try
        self.queue.add(key)

    def _forget(self, key: str) -> None:
        self._failed.pop(key, None)
        self._failed_at.pop(key, None)
        self._failed_sigs.pop(key, None)

    def _on_node(self, etype: str, node: dict[str, Any]) -> None:
        name = str(node["metadata"]["name"])
        if etype == "DELETED":
            self._node_sigs.pop(name, None)
            return
        sig = _node_signature(node)
        if self._node_sigs.get(name) != sig:
            self._node_sigs[name] = sig
            self._retry_failed()

    def _retry_failed(self) -> None:
        for key in list(self._failed):
            self.queue.add(key)

    async def run(self) -> None:
        informers = (self.pods, self.nodes, self.namespaces, self.services, self.replicasets)
        await asyncio.gather(*(i.run() for i in informers), self._work(informers), self._flush_leftovers())

    async def _flush_leftovers(self) -> None:
        """A pod unschedulable for 5 minutes is tried again even if nothing seemed to change
        (``flushUnschedulablePodsLeftover``, ``podMaxInUnschedulablePodsDuration``)."""
        while True:
            await asyncio.sleep(30)
            now = time.monotonic()
            for key, at in list(self._failed_at.items()):
                if now - at >= UNSCHEDULABLE_MAX_SECONDS:
                    self._failed_at[key] = now
                    self.queue.add(key)

    async def _work(self, informers: tuple[Informer, ...]) -> None:
        for informer in informers:
            await informer.synced.wait()
        await self.queue.run(self.schedule_one, workers=1)

    def snapshot(self, pod: dict[str, Any]) -> Snapshot:
        pods = []
        for p in self.pods.list():
            node = self._assumed.get(object_key(p))
            if node and not (p.get("spec") or {}).get("nodeName"):
                p = {**p, "spec": {**(p.get("spec") or {}), "nodeName": node}}
            pods.append(p)
        snap = Snapshot.build(self.nodes.list(), pods, namespaces=self.namespaces.list())
        snap.default_selectors[pod_key(pod)] = self.default_selectors(pod)
        return snap

    def default_selectors(self, pod: dict[str, Any]) -> list[dict[str, Any]]:
        """``helper.DefaultSelector``: the selectors of the Services and ReplicaSets selecting the pod."""
        meta = pod["metadata"]
        labels, ns = meta.get("labels") or {}, meta.get("namespace")
        out: list[dict[str, Any]] = []
        if not labels:
            return out
        for svc in self.services.list():
            selector = (svc.get("spec") or {}).get("selector")
            if svc["metadata"].get("namespace") == ns and selector and all(labels.get(k) == v
                                                                         for k, v in selector.items()):
                out.append({"matchLabels": dict(selector)})
        for rs in self.replicasets.list():
            selector = (rs.get("spec") or {}).get("selector")
            if rs["metadata"].get("namespace") == ns and selector and matches_selector(selector, labels):
                out.append(selector)
        return out

    async def schedule_one(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            self._forget(key)
            return
        spec, meta = pod.get("spec") or {}, pod["metadata"]
        if spec.get("nodeName") or meta.get("deletionTimestamp") or key in self._assumed:
            return
        if spec.get("schedulerName", SCHEDULER_NAME) != SCHEDULER_NAME:
            return  # another scheduler's pod, as on a real cluster
        snap = self.snapshot(pod)
        started = time.monotonic()
        result = schedule(self.plugins, pod, snap) if snap.nodes else None
        if result is None or result.node is None:
            await self._unschedulable(pod, key, result.message if result else NO_NODES)
            return
        log.debug("scheduler: %s -> %s in %.1f ms (scores %s)", key, result.node,
                  (time.monotonic() - started) * 1000, result.scores)
        await self._select_node_for_claims(pod, result.node)
        self._assumed[key] = result.node
        try:
            await self.client.bind(meta["name"], result.node, namespace=meta["namespace"])  # type: ignore[attr-defined]
        except (NotFound, Conflict):
            self._assumed.pop(key, None)
            return
        except ApiError as exc:
            self._assumed.pop(key, None)
            log.warning("scheduler: binding %s failed: %s", key, exc)
            raise
        self._forget(key)
        await record_event(self.client, pod, "Scheduled",
                           f"Successfully assigned {meta['namespace']}/{meta['name']} to {result.node}",
                           component=SCHEDULER_NAME)

    async def _unschedulable(self, pod: dict[str, Any], key: str, message: str) -> None:
        self._failed[key] = message
        self._failed_at[key] = time.monotonic()
        self._failed_sigs[key] = _pod_signature(pod)
        await record_event(self.client, pod, "FailedScheduling", message, type_="Warning",
                           component=SCHEDULER_NAME)
        conditions = (pod.get("status") or {}).get("conditions") or []
        current = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
        if current and current.get("status") == "False" and current.get("message") == message:
            return
        condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                     "lastProbeTime": None,
                     "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if current and current.get("status") == "False" and current.get("lastTransitionTime"):
            condition["lastTransitionTime"] = current["lastTransitionTime"]
        try:
            await self.client.patch("pods", pod["metadata"]["name"], {"status": {"conditions": [condition]}},
                                    namespace=pod["metadata"]["namespace"], patch_type="strategic",
                                    subresource="status")
        except (NotFound, Conflict):
            pass

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
