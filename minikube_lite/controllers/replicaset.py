"""The ReplicaSet controller: keeps ``spec.replicas`` pods matching a ReplicaSet's selector.

Shaped as Kubernetes' ``pkg/controller/replicaset``: informers on ReplicaSets and pods feed a
work queue of ReplicaSet keys; one idempotent ``sync(key)`` reads the caches, claims the pods
(adopts orphans its selector matches, releases pods it owns that no longer match), creates or
deletes the difference and writes the status. Creations and deletions in flight are recorded
as expectations (controllers/expectations.py) so a second pass never acts on a cache that has
not yet seen the first pass's writes: the count never overshoots. Pods are created from the
template with ``generateName: <rs>-`` and a controller owner reference
(``blockOwnerDeletion``); the scheduler binds them like any pod.

Everything is level-triggered: an event only queues a key, and every ReplicaSet is queued
again on a slow resync, so a lost event or a daemon restart costs latency, never correctness.
"""

from __future__ import annotations

import copy
import functools
import logging
from typing import Any

from ..api.errors import Conflict, NotFound
from ..api.labels import matches_selector
from ..client.base import Client
from ..client.controller import run_controller
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue
from . import rollout as ro
from .expectations import Expectations
from .podcontrol import PodControl

log = logging.getLogger(__name__)

COMPONENT = "replicaset-controller"
BURST_REPLICAS = 500  # at most this many creations or deletions per sync, as Kubernetes
RESYNC_SECONDS = 30.0


class ReplicaSetController:
    #: the kind kept (controllers/replicationcontroller.py reuses this loop for ReplicationControllers)
    RESOURCE = "replicasets"
    KIND = "ReplicaSet"

    def __init__(self, client: Client, *, workers: int = 4) -> None:
        self.client = client
        self.workers = workers
        self.replicasets = Informer(client, self.RESOURCE)
        self.pods = Informer(client, "pods")
        self.queue = WorkQueue(self.KIND.lower())
        self.expectations = Expectations()
        self.pod_control = PodControl(client, self.expectations, COMPONENT)
        self.replicasets.add_handler(self._on_rs)
        self.pods.add_handler(self._on_pod)

    # event handlers: note work, never do it

    def _on_rs(self, etype: str, rs: dict[str, Any]) -> None:
        key = object_key(rs)
        if etype == "DELETED":
            self.expectations.forget(key)
        self.queue.add(key)

    def _owner_key(self, pod: dict[str, Any]) -> str | None:
        ref = ro.controller_ref(pod)
        if ref is None or ref.get("kind") != self.KIND:
            return None
        key = f"{pod['metadata'].get('namespace')}/{ref.get('name')}"
        rs = self.replicasets.get(key)
        if rs is None or rs["metadata"].get("uid") != ref.get("uid"):
            return None
        return key

    def _on_pod(self, etype: str, pod: dict[str, Any]) -> None:
        owner = self._owner_key(pod)
        pod_key = object_key(pod)
        if owner is not None:
            if etype == "ADDED" and not pod["metadata"].get("deletionTimestamp"):
                self.expectations.creation_observed(owner)
            if etype == "DELETED" or pod["metadata"].get("deletionTimestamp"):
                self.expectations.deletion_observed(owner, pod_key)
            self.queue.add(owner)
            return
        if ro.controller_ref(pod) is not None or etype == "DELETED":
            return
        # An orphan: every ReplicaSet that could adopt it takes a look.
        ns = pod["metadata"].get("namespace")
        labels = pod["metadata"].get("labels") or {}
        for rs in self.replicasets.list():
            if rs["metadata"].get("namespace") == ns and \
                    matches_selector(self.selector(rs), labels):
                self.queue.add(object_key(rs))

    @staticmethod
    def selector(rs: dict[str, Any]) -> dict[str, Any] | None:
        """The owner's selector as a LabelSelector object."""
        return (rs.get("spec") or {}).get("selector")

    # running

    async def run(self) -> None:
        await run_controller((self.replicasets, self.pods), self.queue, self.sync, workers=self.workers,
                             resync_keys=lambda: map(object_key, self.replicasets.list()),
                             resync_seconds=RESYNC_SECONDS)

    # the reconcile

    async def sync(self, key: str) -> None:
        cached = self.replicasets.get(key)
        if cached is None:
            self.expectations.forget(key)
            return
        rs = copy.deepcopy(cached)
        needs_sync = self.expectations.satisfied(key)
        pods = await self._claim_pods(rs)
        active = [p for p in pods if ro.pod_active(p)]
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            await self._manage_replicas(key, rs, active)
        await self._update_status(rs, active)

    async def _claim_pods(self, rs: dict[str, Any]) -> list[dict[str, Any]]:
        """The pods this ReplicaSet owns, adopting matching orphans and releasing strays."""
        meta = rs["metadata"]
        ns, uid = meta.get("namespace"), meta.get("uid")
        selector = self.selector(rs)
        owned: list[dict[str, Any]] = []
        fresh_checked = False
        for pod in self.pods.list():
            pmeta = pod["metadata"]
            if pmeta.get("namespace") != ns:
                continue
            labels = pmeta.get("labels") or {}
            ref = ro.controller_ref(pod)
            matches = matches_selector(selector, labels)
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches:
                    owned.append(pod)
                elif not pmeta.get("deletionTimestamp"):
                    await self._release(pod, uid)
                continue
            if not matches or meta.get("deletionTimestamp") or pmeta.get("deletionTimestamp"):
                continue
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            if not fresh_checked:
                # Adopt only if the ReplicaSet is still the one we cached (not deleted and re-made).
                try:
                    current = await self.client.get(self.RESOURCE, meta["name"], namespace=ns)
                except NotFound:
                    return owned
                if current["metadata"].get("uid") != uid or current["metadata"].get("deletionTimestamp"):
                    return owned
                fresh_checked = True
            adopted = await self._adopt(pod, rs)
            if adopted is not None:
                owned.append(adopted)
        return owned

    async def _adopt(self, pod: dict[str, Any], rs: dict[str, Any]) -> dict[str, Any] | None:
        refs = list(pod["metadata"].get("ownerReferences") or []) + [ro.owner_reference(rs)]
        patch = {"metadata": {"ownerReferences": refs, "resourceVersion": pod["metadata"]["resourceVersion"]}}
        try:
            return await self.client.patch("pods", pod["metadata"]["name"], patch,
                                           namespace=pod["metadata"]["namespace"])
        except (NotFound, Conflict):
            return None

    async def _release(self, pod: dict[str, Any], uid: str | None) -> None:
        refs = [r for r in pod["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        patch = {"metadata": {"ownerReferences": refs or None,
                              "resourceVersion": pod["metadata"]["resourceVersion"]}}
        try:
            await self.client.patch("pods", pod["metadata"]["name"], patch, namespace=pod["metadata"]["namespace"])
        except (NotFound, Conflict):
            pass

    async def _manage_replicas(self, key: str, rs: dict[str, Any], active: list[dict[str, Any]]) -> None:
        diff = len(active) - ro.spec_replicas(rs)
        if diff < 0:
            await self._create_pods(key, rs, min(-diff, BURST_REPLICAS))
        elif diff > 0:
            await self._delete_pods(key, rs, active, min(diff, BURST_REPLICAS))

    def _pod_from_template(self, rs: dict[str, Any]) -> dict[str, Any]:
        template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
        tmeta = template.get("metadata") or {}
        meta: dict[str, Any] = {"generateName": f"{rs['metadata']['name']}-",
                                "namespace": rs["metadata"]["namespace"],
                                "ownerReferences": [ro.owner_reference(rs)]}
        for k in ("labels", "annotations", "finalizers"):
            if tmeta.get(k):
                meta[k] = tmeta[k]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template.get("spec") or {}}

    async def _create_pods(self, key: str, rs: dict[str, Any], n: int) -> None:
        await self.pod_control.create_pods(key, rs, [functools.partial(self._pod_from_template, rs)] * n)

    async def _delete_pods(self, key: str, rs: dict[str, Any], active: list[dict[str, Any]], n: int) -> None:
        await self.pod_control.delete_pods(key, rs, sorted(active, key=ro.deletion_rank)[:n])

    def calculate_status(self, rs: dict[str, Any], active: list[dict[str, Any]]) -> dict[str, Any]:
        spec = rs.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds", 0) or 0)
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        at = ro.now()
        status: dict[str, Any] = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1 for p in active
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items())),
            "readyReplicas": sum(1 for p in active if ro.pod_ready(p)),
            "availableReplicas": sum(1 for p in active if ro.pod_available(p, min_ready, at)),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        compact = ro.compact_status(status)
        compact["replicas"] = status["replicas"]  # ReplicaSetStatus.replicas is always written
        conditions = (rs.get("status") or {}).get("conditions")
        if conditions:
            compact["conditions"] = conditions
        return compact

    async def _update_status(self, rs: dict[str, Any], active: list[dict[str, Any]]) -> None:
        status = self.calculate_status(rs, active)
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds", 0) or 0)
        if min_ready > 0 and status.get("readyReplicas", 0) != status.get("availableReplicas", 0):
            self.queue.add_after(object_key(rs), float(min_ready))
        if status == (rs.get("status") or {}):
            return
        rs["status"] = status
        try:
            await self.client.update_status(self.RESOURCE, rs, namespace=rs["metadata"]["namespace"])
        except NotFound:
            return
        except Conflict:
            fresh = await self.client.get(self.RESOURCE, rs["metadata"]["name"], namespace=rs["metadata"]["namespace"])
            if fresh["metadata"].get("uid") != rs["metadata"].get("uid"):
                return
            fresh["status"] = self.calculate_status(fresh, active)
            await self.client.update_status(self.RESOURCE, fresh, namespace=rs["metadata"]["namespace"])
