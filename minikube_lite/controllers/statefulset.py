"""The StatefulSet controller: pods with stable names, hostnames and claims (Kubernetes' ``pkg/controller/statefulset``).

Informers on StatefulSets, pods, claims and ControllerRevisions feed a work queue of
StatefulSet keys. ``sync(key)``:

* makes the current template a ControllerRevision (controllers/history.py): the *update*
  revision; ``status.currentRevision`` is the revision the set was at before;
* adopts orphan pods named ``<set>-<ordinal>`` that its selector matches;
* follows ``statefulset_policy.plan``: creates ``<set>-<ordinal>`` (hostname = its name,
  ``subdomain`` = ``serviceName`` so the headless Service's DNS has ``web-0.<svc>``; labels
  ``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index`` and
  ``controller-revision-hash``) after its claims ``<template>-<set>-<ordinal>`` exist, deletes in
  reverse order, rolls updates from the highest ordinal down to the partition;
* ``persistentVolumeClaimRetentionPolicy``: claims are kept by default; ``whenDeleted: Delete``
  gives them an owner reference to the set (the garbage collector deletes them with it),
  ``whenScaled: Delete`` deletes the claims of a pod removed by a scale down;
* writes the status (replicas, ready, current/updated counts and revisions, available), and
  when every pod runs the update revision, current = update (``kubectl rollout status`` waits for
  that); prunes revisions past ``revisionHistoryLimit``.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from ..api.errors import AlreadyExists, Conflict, NotFound
from ..api.labels import matches_selector
from ..api.statefulset import POD_INDEX_LABEL, POD_NAME_LABEL, REVISION_HASH_LABEL
from ..client.base import Client
from ..client.controller import run_controller, write_status
from ..client.events import record_event
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue
from . import history
from . import rollout as ro
from . import statefulset_policy as sp

log = logging.getLogger(__name__)

COMPONENT = "statefulset-controller"
RESYNC_SECONDS = 30.0
Obj = dict[str, Any]


class StatefulSetController:
    def __init__(self, client: Client, *, workers: int = 2) -> None:
        self.client = client
        self.workers = workers
        self.sets = Informer(client, "statefulsets")
        self.pods = Informer(client, "pods")
        self.claims = Informer(client, "persistentvolumeclaims")
        self.revisions = Informer(client, "controllerrevisions")
        self.queue = WorkQueue("statefulset")
        self.sets.add_handler(lambda t, s: self.queue.add(object_key(s)))
        self.pods.add_handler(self._on_pod)
        self.revisions.add_handler(self._on_owned)

    def _on_owned(self, etype: str, obj: Obj) -> None:
        ref = ro.controller_ref(obj)
        if ref is not None and ref.get("kind") == "StatefulSet":
            self.queue.add(f"{obj['metadata'].get('namespace')}/{ref.get('name')}")

    def _on_pod(self, etype: str, pod: Obj) -> None:
        ref = ro.controller_ref(pod)
        if ref is not None:
            self._on_owned(etype, pod)
            return
        if etype == "DELETED":
            return
        ns, labels = pod["metadata"].get("namespace"), pod["metadata"].get("labels") or {}
        for s in self.sets.list():
            if s["metadata"].get("namespace") == ns and matches_selector((s.get("spec") or {}).get("selector"),
                                                                         labels):
                self.queue.add(object_key(s))

    async def run(self) -> None:
        await run_controller((self.sets, self.pods, self.claims, self.revisions), self.queue, self.sync,
                             workers=self.workers, resync_keys=lambda: map(object_key, self.sets.list()),
                             resync_seconds=RESYNC_SECONDS)

    # the reconcile

    async def sync(self, key: str) -> None:
        cached = self.sets.get(key)
        if cached is None:
            return
        sts = copy.deepcopy(cached)
        if sts["metadata"].get("deletionTimestamp"):
            return
        spec = sts.get("spec") or {}
        update_rev, owned_revs = await history.sync_revisions(self.client, sts, self.revisions.list())
        update = update_rev["metadata"]["name"]
        current = (sts.get("status") or {}).get("currentRevision") or update
        pods = await self._claim_pods(sts)
        steps = sp.plan(spec, pods, update)
        for ordinal in steps.delete:
            await self._delete_pod(sts, pods[ordinal], scaled=ordinal in steps.condemned)
        for ordinal in steps.create:
            revision = sp.revision_for(spec, ordinal, current, update)
            rev_obj = next((r for r in owned_revs if r["metadata"]["name"] == revision), update_rev)
            await self._create_pod(sts, ordinal, rev_obj)
        await self._sync_claim_owners(sts)
        status = self._status(sts, pods, current, update)
        await self._write_status(sts, status)
        await history.prune(self.client, sts, owned_revs, {status["currentRevision"], status["updateRevision"]})
        min_ready = int(spec.get("minReadySeconds", 0) or 0)
        if min_ready and status.get("availableReplicas", 0) != status.get("readyReplicas", 0):
            self.queue.add_after(key, float(min_ready))

    async def _claim_pods(self, sts: Obj) -> dict[int, Obj]:
        meta = sts["metadata"]
        ns, uid, name = meta["namespace"], meta["uid"], meta["name"]
        selector = (sts.get("spec") or {}).get("selector")
        out: dict[int, Obj] = {}
        for pod in self.pods.list():
            pmeta = pod["metadata"]
            if pmeta.get("namespace") != ns:
                continue
            ordinal = sp.ordinal_of(pmeta["name"], name)
            ref = ro.controller_ref(pod)
            if ref is not None:
                if ref.get("uid") == uid and ordinal is not None:
                    out[ordinal] = pod
                continue
            if ordinal is None or pmeta.get("deletionTimestamp") or \
                    not matches_selector(selector, pmeta.get("labels") or {}):
                continue
            refs = list(pmeta.get("ownerReferences") or []) + [ro.owner_reference(sts)]
            try:
                out[ordinal] = await self.client.patch(
                    "pods", pmeta["name"], {"metadata": {"ownerReferences": refs,
                                                         "resourceVersion": pmeta["resourceVersion"]}},
                    namespace=ns)
            except (NotFound, Conflict):
                continue
        return out

    def _pod_for(self, sts: Obj, ordinal: int, revision: Obj) -> Obj:
        name = sp.pod_name(sts["metadata"]["name"], ordinal)
        template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template")
                                 or (sts.get("spec") or {}).get("template") or {})
        template.pop("$patch", None)
        tmeta = template.get("metadata") or {}
        spec = template.get("spec") or {}
        labels = dict(tmeta.get("labels") or {})
        labels.update({POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal),
                       REVISION_HASH_LABEL: revision["metadata"]["name"]})
        meta: Obj = {"name": name, "namespace": sts["metadata"]["namespace"], "labels": labels,
                     "ownerReferences": [ro.owner_reference(sts)]}
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        spec["hostname"] = name
        service = (sts.get("spec") or {}).get("serviceName")
        if service:
            spec["subdomain"] = service
        volumes = [v for v in spec.get("volumes") or []]
        for claim in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            cname = claim["metadata"]["name"]
            volumes = [v for v in volumes if v.get("name") != cname]
            volumes.append({"name": cname, "persistentVolumeClaim": {
                "claimName": sp.claim_name(cname, sts["metadata"]["name"], ordinal)}})
        if volumes:
            spec["volumes"] = volumes
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}

    def _claim_for(self, sts: Obj, template: Obj, ordinal: int) -> Obj:
        claim = copy.deepcopy(template)
        claim.pop("status", None)
        meta = claim.setdefault("metadata", {})
        meta["name"] = sp.claim_name(meta["name"], sts["metadata"]["name"], ordinal)
        meta["namespace"] = sts["metadata"]["namespace"]
        labels = dict(meta.get("labels") or {})
        labels.update(((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
        meta["labels"] = labels
        policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
        if policy.get("whenDeleted") == "Delete":
            meta["ownerReferences"] = [{**ro.owner_reference(sts), "controller": True}]
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        return claim

    async def _create_pod(self, sts: Obj, ordinal: int, revision: Obj) -> None:
        ns, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        pod_name = sp.pod_name(name, ordinal)
        for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            claim = self._claim_for(sts, template, ordinal)
            cname = claim["metadata"]["name"]
            if self.claims.get(f"{ns}/{cname}") is not None:
                continue
            try:
                await self.client.create("persistentvolumeclaims", claim, namespace=ns)
            except AlreadyExists:
                continue
            await record_event(self.client, sts, "SuccessfulCreate",
                               f"create Claim {cname} Pod {pod_name} in StatefulSet {name} success",
                               component=COMPONENT)
        try:
            await self.client.create("pods", self._pod_for(sts, ordinal, revision), namespace=ns)
        except AlreadyExists:
            return
        await record_event(self.client, sts, "SuccessfulCreate",
                           f"create Pod {pod_name} in StatefulSet {name} successful", component=COMPONENT)

    async def _delete_pod(self, sts: Obj, pod: Obj, *, scaled: bool) -> None:
        ns, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        pname = pod["metadata"]["name"]
        try:
            await self.client.delete("pods", pname, namespace=ns)
        except NotFound:
            return
        await record_event(self.client, sts, "SuccessfulDelete",
                           f"delete Pod {pname} in StatefulSet {name} successful", component=COMPONENT)
        policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
        if scaled and policy.get("whenScaled") == "Delete":
            ordinal = sp.ordinal_of(pname, name)
            for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
                cname = sp.claim_name(template["metadata"]["name"], name, ordinal or 0)
                try:
                    await self.client.delete("persistentvolumeclaims", cname, namespace=ns)
                except NotFound:
                    pass

    async def _sync_claim_owners(self, sts: Obj) -> None:
        """Keep the claims' owner reference to the set in line with ``whenDeleted``."""
        spec = sts.get("spec") or {}
        templates = spec.get("volumeClaimTemplates") or []
        if not templates:
            return
        delete = (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted") == "Delete"
        ns, name, uid = sts["metadata"]["namespace"], sts["metadata"]["name"], sts["metadata"]["uid"]
        prefixes = tuple(f"{t['metadata']['name']}-{name}-" for t in templates)
        for claim in self.claims.list():
            cmeta = claim["metadata"]
            if cmeta.get("namespace") != ns or not cmeta["name"].startswith(prefixes):
                continue
            refs = list(cmeta.get("ownerReferences") or [])
            has = any(r.get("uid") == uid for r in refs)
            if has == delete:
                continue
            refs = refs + [{**ro.owner_reference(sts), "controller": True}] if delete else \
                [r for r in refs if r.get("uid") != uid]
            try:
                await self.client.patch("persistentvolumeclaims", cmeta["name"],
                                        {"metadata": {"ownerReferences": refs or None}}, namespace=ns)
            except (NotFound, Conflict):
                continue

    @staticmethod
    def _status(sts: Obj, pods: dict[int, Obj], current: str, update: str) -> Obj:
        spec = sts.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds", 0) or 0)
        at = ro.now()
        live = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]
        rev = [(p["metadata"].get("labels") or {}).get(REVISION_HASH_LABEL) for p in live]
        status: Obj = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "readyReplicas": sum(1 for p in live if ro.pod_ready(p)),
            "currentReplicas": sum(1 for r in rev if r == current),
            "updatedReplicas": sum(1 for r in rev if r == update),
            "availableReplicas": sum(1 for p in live if ro.pod_available(p, min_ready, at)),
            "currentRevision": current,
            "updateRevision": update,
            "collisionCount": int((sts.get("status") or {}).get("collisionCount", 0) or 0),
        }
        replicas = int(spec.get("replicas", 1) or 0)
        if status["updatedReplicas"] >= replicas and status["replicas"] == replicas \
                and status["readyReplicas"] >= replicas:
            status["currentRevision"] = update
            status["currentReplicas"] = status["updatedReplicas"]
        return status

    async def _write_status(self, sts: Obj, status: Obj) -> None:
        old = sts.get("status") or {}
        if "conditions" in old:  # not the controller's to set: kept as they are
            status["conditions"] = old["conditions"]
        await write_status(self.client, self.queue, "statefulsets", sts, status)
