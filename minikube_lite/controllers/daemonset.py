"""The DaemonSet controller: one pod on every eligible node (Kubernetes' ``pkg/controller/daemon``).

Informers on DaemonSets, nodes, pods and ControllerRevisions feed a work queue of DaemonSet keys;
a node joining or changing queues every DaemonSet. ``sync(key)``:

* makes the template a ControllerRevision (controllers/history.py); its hash labels the pods
  (``controller-revision-hash``, with ``pod-template-generation``);
* per node (controllers/daemonset_policy.py): a node that should run the pod and has none gets
  one (``<ds>-<random>``, the default daemon tolerations, pinned to the node by node affinity and
  bound by the scheduler, as Kubernetes does); a node that should not run it loses it unless the
  pod may continue running there (an unreachable node keeps its pod: only NoExecute taints the
  pod does not tolerate remove it); extra pods and finished ones are deleted;
* ``RollingUpdate``: old-revision pods are replaced within ``maxUnavailable`` (or, with
  ``maxSurge``, the new pod starts next to the old one, which goes once the new is available);
  ``OnDelete`` replaces only pods deleted by hand;
* writes the status counters ``kubectl get ds`` and ``kubectl rollout status`` read; prunes
  revisions past ``revisionHistoryLimit``.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from ..api.errors import NotFound
from ..client.base import Client
from ..client.controller import run_controller, write_status
from ..client.events import record_event
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue
from . import daemonset_policy as dp
from . import history
from . import rollout as ro
from .expectations import Expectations

log = logging.getLogger(__name__)

COMPONENT = "daemonset-controller"
RESYNC_SECONDS = 30.0
GENERATION_LABEL = "pod-template-generation"
Obj = dict[str, Any]


class DaemonSetController:
    def __init__(self, client: Client, *, workers: int = 2) -> None:
        self.client = client
        self.workers = workers
        self.sets = Informer(client, "daemonsets")
        self.nodes = Informer(client, "nodes")
        self.pods = Informer(client, "pods")
        self.revisions = Informer(client, "controllerrevisions")
        self.queue = WorkQueue("daemonset")
        self.expectations = Expectations()
        self.sets.add_handler(lambda t, d: self.queue.add(object_key(d)))
        self.nodes.add_handler(self._on_node)
        self.pods.add_handler(self._on_owned)
        self.revisions.add_handler(self._on_owned)

    def _on_node(self, etype: str, node: Obj) -> None:
        for ds in self.sets.list():
            self.queue.add(object_key(ds))

    def _on_owned(self, etype: str, obj: Obj) -> None:
        ref = ro.controller_ref(obj)
        if ref is not None and ref.get("kind") == "DaemonSet":
            key = f"{obj['metadata'].get('namespace')}/{ref.get('name')}"
            if obj.get("kind") == "Pod":
                if etype == "ADDED":
                    self.expectations.creation_observed(key)
                if etype == "DELETED" or obj["metadata"].get("deletionTimestamp"):
                    self.expectations.deletion_observed(key, object_key(obj))
            self.queue.add(key)

    async def run(self) -> None:
        await run_controller((self.sets, self.nodes, self.pods, self.revisions), self.queue, self.sync,
                             workers=self.workers, resync_keys=lambda: map(object_key, self.sets.list()),
                             resync_seconds=RESYNC_SECONDS)

    # the reconcile

    async def sync(self, key: str) -> None:
        cached = self.sets.get(key)
        if cached is None:
            return
        ds = copy.deepcopy(cached)
        if ds["metadata"].get("deletionTimestamp"):
            return
        spec = ds.get("spec") or {}
        update_rev, owned_revs = await history.sync_revisions(self.client, ds, self.revisions.list())
        update_hash = (update_rev["metadata"].get("labels") or {}).get(history.HASH_LABEL, "")
        min_ready = int(spec.get("minReadySeconds", 0) or 0)
        at = ro.now()

        pod_spec = (spec.get("template") or {}).get("spec") or {}
        nodes = self.nodes.list()
        eligible = {n["metadata"]["name"]: n for n in nodes if dp.should_run(pod_spec, n)}
        # a node that should not get a new pod may keep the one it has (unreachable: NoSchedule only)
        kept = set(eligible) | {n["metadata"]["name"] for n in nodes
                                if n["metadata"]["name"] not in eligible and dp.should_continue_running(pod_spec, n)}
        by_node: dict[str, list[Obj]] = {}
        for pod in self._owned_pods(ds):
            node = dp.pod_node(pod)
            if node is not None:
                by_node.setdefault(node, []).append(pod)
        to_delete: list[Obj] = []
        to_create: list[str] = []
        old_on_node: dict[str, Obj] = {}
        new_on_node: dict[str, Obj] = {}
        for node, pods in by_node.items():
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            if node not in kept:
                to_delete += live
                continue
            finished = [p for p in live if (p.get("status") or {}).get("phase") in ("Failed", "Succeeded")]
            to_delete += finished
            live = [p for p in live if p not in finished]
            live.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "")
            new = [p for p in live if _hash(p) == update_hash]
            old = [p for p in live if _hash(p) != update_hash]
            if new:
                new_on_node[node] = new[0]
                to_delete += new[1:]
            if old:
                old_on_node[node] = old[0]
                to_delete += old[1:]
        for node in eligible:
            if node not in new_on_node and node not in old_on_node and \
                    not any(p["metadata"].get("deletionTimestamp") for p in by_node.get(node, [])):
                to_create.append(node)
        if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            old_nodes, surge_nodes = dp.rolling_plan(spec, len(eligible), old_on_node, new_on_node,
                                                     lambda p: p is not None and _available(p, min_ready, at))
            to_delete += [old_on_node[n] for n in old_nodes]
            to_create += [n for n in surge_nodes if n in eligible]
        if self.expectations.satisfied(key):
            # (the pods cache may not show the last pass's creations yet: act only once it does)
            if to_delete:
                self.expectations.expect_deletions(key, [object_key(p) for p in to_delete])
            for pod in to_delete:
                await self._delete(ds, pod)
            if to_create:
                self.expectations.expect_creations(key, len(to_create))
            for node in to_create:
                try:
                    await self._create(ds, node, update_hash)
                except Exception:
                    self.expectations.lower_creations(key, 1)
                    raise
        status = self._status(ds, eligible, by_node, update_hash, min_ready)
        await self._write_status(ds, status)
        await history.prune(self.client, ds, owned_revs, {update_rev["metadata"]["name"]} | {
            r["metadata"]["name"] for r in owned_revs
            if (r["metadata"].get("labels") or {}).get(history.HASH_LABEL) in {_hash(p) for ps in by_node.values()
                                                                               for p in ps}})
        if min_ready and status["numberAvailable"] != status["numberReady"]:
            self.queue.add_after(key, float(min_ready))

    def _owned_pods(self, ds: Obj) -> list[Obj]:
        ns, uid = ds["metadata"].get("namespace"), ds["metadata"].get("uid")
        return [p for p in self.pods.list() if p["metadata"].get("namespace") == ns
                and (ro.controller_ref(p) or {}).get("uid") == uid]

    def _pod_for(self, ds: Obj, node: str, update_hash: str) -> Obj:
        template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
        tmeta = template.get("metadata") or {}
        spec = template.get("spec") or {}
        labels = dict(tmeta.get("labels") or {})
        labels[history.HASH_LABEL] = update_hash
        labels[GENERATION_LABEL] = str(ds["metadata"].get("generation", 1))
        meta: Obj = {"generateName": f"{ds['metadata']['name']}-", "namespace": ds["metadata"]["namespace"],
                     "labels": labels, "ownerReferences": [ro.owner_reference(ds)]}
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        spec["tolerations"] = dp.default_tolerations(spec)
        spec["affinity"] = dp.node_affinity_for(spec.get("affinity"), node)
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}

    async def _create(self, ds: Obj, node: str, update_hash: str) -> None:
        try:
            pod = await self.client.create("pods", self._pod_for(ds, node, update_hash),
                                           namespace=ds["metadata"]["namespace"])
        except Exception as exc:  # reported as Kubernetes does, retried on the next pass
            await record_event(self.client, ds, "FailedCreate", f"Error creating: {exc}", type_="Warning",
                               component=COMPONENT)
            raise
        await record_event(self.client, ds, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                           component=COMPONENT)

    async def _delete(self, ds: Obj, pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            return
        name = pod["metadata"]["name"]
        try:
            await self.client.delete("pods", name, namespace=pod["metadata"]["namespace"])
        except NotFound:
            return
        await record_event(self.client, ds, "SuccessfulDelete", f"Deleted pod: {name}", component=COMPONENT)

    @staticmethod
    def _status(ds: Obj, eligible: dict[str, Obj], by_node: dict[str, list[Obj]], update_hash: str,
                min_ready: int) -> Obj:
        at = ro.now()
        current = ready = updated = avail = misscheduled = 0
        for node, pods in by_node.items():
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            if not live:
                continue
            if node not in eligible:
                misscheduled += 1
                continue
            current += 1
            if any(ro.pod_ready(p) for p in live):
                ready += 1
            if any(_hash(p) == update_hash for p in live):
                updated += 1
            if any(_available(p, min_ready, at) for p in live):
                avail += 1
        desired = len(eligible)
        status: Obj = {"currentNumberScheduled": current, "numberMisscheduled": misscheduled,
                       "desiredNumberScheduled": desired, "numberReady": ready,
                       "observedGeneration": ds["metadata"].get("generation", 1),
                       "updatedNumberScheduled": updated, "numberAvailable": avail,
                       "numberUnavailable": desired - avail}
        return {k: v for k, v in status.items() if v or k in ("currentNumberScheduled", "numberMisscheduled",
                                                               "desiredNumberScheduled", "numberReady")}

    async def _write_status(self, ds: Obj, status: Obj) -> None:
        old = ds.get("status") or {}
        if "conditions" in old:  # not the controller's to set: kept as they are
            status["conditions"] = old["conditions"]
        await write_status(self.client, self.queue, "daemonsets", ds, status)


def _hash(pod: Obj) -> str | None:
    return (pod["metadata"].get("labels") or {}).get(history.HASH_LABEL)


def _available(pod: Obj, min_ready: int, at: Any) -> bool:
    if pod["metadata"].get("deletionTimestamp") or (pod.get("status") or {}).get("phase") != "Running":
        return False
    return ro.pod_available(pod, min_ready, at)
