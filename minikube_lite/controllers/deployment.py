"""The Deployment controller: rolls a Deployment's pod template out through ReplicaSets.

Shaped as Kubernetes' ``pkg/controller/deployment``. A Deployment owns one ReplicaSet per
distinct template, named ``<deployment>-<pod-template-hash>``; the newest is the "new" one,
the others are "old". ``sync(key)`` (idempotent, level-triggered) does, in order:

* claim ReplicaSets by selector (adopt orphans, release strays) with controller owner refs;
* find or create the new ReplicaSet and give it the next ``deployment.kubernetes.io/revision``
  (an old template coming back, as after ``rollout undo``, keeps its ReplicaSet and takes the
  new number; the old numbers go to ``revision-history``);
* paused, or only ``replicas`` changed: scale the active ReplicaSets proportionally;
* ``Recreate``: old ReplicaSets to zero, wait until their pods are gone, then the new one up;
* ``RollingUpdate``: scale the new ReplicaSet up within ``replicas + maxSurge`` pods and old
  ones down while at least ``replicas - maxUnavailable`` pods stay available;
* when complete, delete old ReplicaSets beyond ``revisionHistoryLimit``;
* write status (counts, ``observedGeneration``, conditions ``Available`` and ``Progressing`` with
  Kubernetes' reasons, ``ProgressDeadlineExceeded`` after ``progressDeadlineSeconds``) and
  record ``ScalingReplicaSet`` events for ``kubectl describe``.

Each pass takes one step and returns; the ReplicaSet and pod events that step causes queue
the Deployment again. Nothing is remembered between passes, so a daemon killed mid-rollout
carries on where the stored objects say it is.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from ..api.errors import AlreadyExists, Conflict, NotFound
from ..api.labels import matches_selector
from ..client.base import Client
from ..client.controller import run_controller
from ..client.events import record_event
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue
from . import rollout as ro

log = logging.getLogger(__name__)

COMPONENT = "deployment-controller"
RESYNC_SECONDS = 30.0
Obj = dict[str, Any]


class DeploymentController:
    def __init__(self, client: Client, *, workers: int = 4) -> None:
        self.client = client
        self.workers = workers
        self.deployments = Informer(client, "deployments")
        self.replicasets = Informer(client, "replicasets")
        self.pods = Informer(client, "pods")
        self.queue = WorkQueue("deployment")
        self.deployments.add_handler(lambda t, d: self.queue.add(object_key(d)))
        self.replicasets.add_handler(self._on_rs)
        self.pods.add_handler(self._on_pod)

    # event handlers

    def _deployments_for(self, obj: Obj) -> list[str]:
        """Keys of the Deployments that own ``obj`` (a ReplicaSet) or could adopt it."""
        ns = obj["metadata"].get("namespace")
        ref = ro.controller_ref(obj)
        if ref is not None:
            if ref.get("kind") != "Deployment":
                return []
            return [f"{ns}/{ref.get('name')}"]
        labels = obj["metadata"].get("labels") or {}
        return [object_key(d) for d in self.deployments.list()
                if d["metadata"].get("namespace") == ns
                and matches_selector((d.get("spec") or {}).get("selector"), labels)]

    def _on_rs(self, etype: str, rs: Obj) -> None:
        for key in self._deployments_for(rs):
            self.queue.add(key)

    def _on_pod(self, etype: str, pod: Obj) -> None:
        # Only Recreate waits on pods themselves (old pods must be gone before new ones start).
        if etype != "DELETED":
            return
        ref = ro.controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get(f"{pod['metadata'].get('namespace')}/{ref.get('name')}")
        if rs is not None:
            for key in self._deployments_for(rs):
                d = self.deployments.get(key)
                if d is not None and ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
                    self.queue.add(key)

    # running

    async def run(self) -> None:
        await run_controller((self.deployments, self.replicasets, self.pods), self.queue, self.sync,
                             workers=self.workers, resync_keys=lambda: map(object_key, self.deployments.list()),
                             resync_seconds=RESYNC_SECONDS)

    # the reconcile

    async def sync(self, key: str) -> None:
        cached = self.deployments.get(key)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        spec = d.get("spec") or {}
        if not (spec.get("selector") or {}).get("matchLabels") and not (spec.get("selector") or {}).get(
                "matchExpressions"):
            await record_event(self.client, d, "SelectingAll", "This deployment is selecting all pods. A non-empty "
                               "selector is required.", type_="Warning", component=COMPONENT)
            return
        rs_list = await self._claim_replicasets(d)
        if d["metadata"].get("deletionTimestamp"):
            await self._sync_status(d, rs_list, None)
            return
        await self._check_paused_conditions(d)
        if spec.get("paused") or self._is_scaling_event(d, rs_list):
            await self._scale_only(d, rs_list)
            return
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            await self._rollout_recreate(d, rs_list)
        else:
            await self._rollout_rolling(d, rs_list)

    async def _claim_replicasets(self, d: Obj) -> list[Obj]:
        meta = d["metadata"]
        ns, uid = meta.get("namespace"), meta.get("uid")
        selector = (d.get("spec") or {}).get("selector")
        owned: list[Obj] = []
        for rs in self.replicasets.list():
            rmeta = rs["metadata"]
            if rmeta.get("namespace") != ns:
                continue
            ref = ro.controller_ref(rs)
            matches = matches_selector(selector, rmeta.get("labels") or {})
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches:
                    owned.append(copy.deepcopy(rs))
                elif not rmeta.get("deletionTimestamp"):
                    refs = [r for r in rmeta.get("ownerReferences") or [] if r.get("uid") != uid]
                    await self._patch_refs(rs, refs)
                continue
            if not matches or meta.get("deletionTimestamp") or rmeta.get("deletionTimestamp"):
                continue
            adopted = await self._patch_refs(rs, list(rmeta.get("ownerReferences") or []) + [ro.owner_reference(d)])
            if adopted is not None:
                owned.append(adopted)
        return owned

    async def _patch_refs(self, rs: Obj, refs: list[Obj]) -> Obj | None:
        patch = {"metadata": {"ownerReferences": refs or None, "resourceVersion": rs["metadata"]["resourceVersion"]}}
        try:
            return await self.client.patch("replicasets", rs["metadata"]["name"], patch,
                                           namespace=rs["metadata"]["namespace"])
        except (NotFound, Conflict):
            return None

    # new and old ReplicaSets, revisions

    @staticmethod
    def _find_new(d: Obj, rs_list: list[Obj]) -> Obj | None:
        template = (d.get("spec") or {}).get("template")
        same = [rs for rs in rs_list if ro.equal_ignore_hash((rs.get("spec") or {}).get("template"), template)]
        same.sort(key=lambda rs: (rs["metadata"].get("creationTimestamp") or "", rs["metadata"]["name"]))
        return same[0] if same else None

    async def _get_all(self, d: Obj, rs_list: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        """(new ReplicaSet, old ReplicaSets), syncing the revision annotations; the new one is
        created when missing and ``create`` is set."""
        new = self._find_new(d, rs_list)
        old = [rs for rs in rs_list if new is None or rs["metadata"]["uid"] != new["metadata"]["uid"]]
        max_old = max((ro.revision(rs) for rs in old), default=0)
        new_revision = max_old + 1
        if new is not None:
            new = await self._sync_new_revision(d, new, new_revision)
        elif create:
            new = await self._create_new(d, old, new_revision)
        if new is not None:
            await self._set_deployment_revision(d, ro.revision(new))
        return new, old

    async def _sync_new_revision(self, d: Obj, rs: Obj, new_revision: int) -> Obj:
        updated = copy.deepcopy(rs)
        ann = updated["metadata"].setdefault("annotations", {})
        changed = ro.copy_annotations(d, updated)
        current = ro.revision(rs)
        if current < new_revision:
            if current > 0:
                history = [h for h in (ann.get(ro.REVISION_HISTORY) or "").split(",") if h]
                history.append(str(current))
                ann[ro.REVISION_HISTORY] = ",".join(history)
            ann[ro.REVISION] = str(new_revision)
            changed = True
        min_ready = (d.get("spec") or {}).get("minReadySeconds", 0)
        if (updated.get("spec") or {}).get("minReadySeconds", 0) != min_ready:
            updated["spec"]["minReadySeconds"] = min_ready
            changed = True
        if changed:
            updated = await self.client.update("replicasets", updated, namespace=rs["metadata"]["namespace"])
        status = d.setdefault("status", {})
        if ro.get_condition(status, "Progressing") is None:
            ro.set_condition(status, "Progressing", "True", "FoundNewReplicaSet",
                             f'Found new replica set "{rs["metadata"]["name"]}"', ro.now())
        return updated

    async def _create_new(self, d: Obj, old: list[Obj], new_revision: int) -> Obj | None:
        spec, meta = d["spec"], d["metadata"]
        ns = meta["namespace"]
        collision = int((d.get("status") or {}).get("collisionCount", 0) or 0)
        template = copy.deepcopy(spec.get("template") or {})
        pod_hash = ro.template_hash(template, collision)
        template.setdefault("metadata", {}).setdefault("labels", {})[ro.HASH_LABEL] = pod_hash
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[ro.HASH_LABEL] = pod_hash
        replicas = self._new_rs_replicas(d, old, None)
        surge = ro.max_surge(d)
        rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{meta['name']}-{pod_hash}", "namespace": ns,
                         "labels": dict(template["metadata"]["labels"]),
                         "annotations": {ro.DESIRED_REPLICAS: str(spec.get("replicas", 1)),
                                         ro.MAX_REPLICAS: str(int(spec.get("replicas", 1)) + surge),
                                         ro.REVISION: str(new_revision)},
                         "ownerReferences": [ro.owner_reference(d)]},
            "spec": {"replicas": replicas, "minReadySeconds": spec.get("minReadySeconds", 0),
                     "selector": selector, "template": template},
        }
        ro.copy_annotations(d, rs)
        try:
            created = await self.client.create("replicasets", rs, namespace=ns)
        except AlreadyExists:
            try:
                existing = await self.client.get("replicasets", rs["metadata"]["name"], namespace=ns)
            except NotFound:
                raise Conflict("replicasets", rs["metadata"]["name"], "replica set vanished; retrying") from None
            ref = ro.controller_ref(existing)
            if ref and ref.get("uid") == meta["uid"] and ro.equal_ignore_hash(
                    existing["spec"].get("template"), spec.get("template")):
                return existing  # our own, from a pass whose result the cache has not seen yet
            # A hash collision: bump collisionCount so the next pass computes another name.
            status = d.setdefault("status", {})
            status["collisionCount"] = collision + 1
            await self.client.update_status("deployments", d, namespace=ns)
            raise Conflict("deployments", meta["name"], "pod-template-hash collision; retrying") from None
        if replicas > 0:
            await self._scaled_event(d, created, "up", 0, replicas)
        status = d.setdefault("status", {})
        ro.set_condition(status, "Progressing", "True", "NewReplicaSetCreated",
                         f'Created new replica set "{created["metadata"]["name"]}"', ro.now())
        return created

    async def _set_deployment_revision(self, d: Obj, revision: int) -> None:
        ann = d["metadata"].setdefault("annotations", {})
        if ann.get(ro.REVISION) == str(revision):
            return
        ann[ro.REVISION] = str(revision)
        updated = await self.client.update("deployments", d, namespace=d["metadata"]["namespace"])
        d["metadata"] = updated["metadata"]

    # scaling

    async def _scaled_event(self, d: Obj, rs: Obj, direction: str, old: int, new: int) -> None:
        await record_event(self.client, d, "ScalingReplicaSet",
                           f"Scaled {direction} replica set {rs['metadata']['name']} to {new} from {old}",
                           component=COMPONENT)

    async def _scale_rs(self, d: Obj, rs: Obj, replicas: int) -> tuple[bool, Obj]:
        spec = d["spec"]
        old = ro.spec_replicas(rs)
        desired = str(spec.get("replicas", 1))
        max_replicas = str(int(spec.get("replicas", 1)) + ro.max_surge(d))
        ann = rs["metadata"].get("annotations") or {}
        if old == replicas and ann.get(ro.DESIRED_REPLICAS) == desired and ann.get(ro.MAX_REPLICAS) == max_replicas:
            return False, rs
        updated = copy.deepcopy(rs)
        updated["spec"]["replicas"] = replicas
        updated["metadata"].setdefault("annotations", {}).update(
            {ro.DESIRED_REPLICAS: desired, ro.MAX_REPLICAS: max_replicas})
        updated = await self.client.update("replicasets", updated, namespace=rs["metadata"]["namespace"])
        if old != replicas:
            await self._scaled_event(d, updated, "up" if replicas > old else "down", old, replicas)
        return old != replicas, updated

    def _is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        want = str((d.get("spec") or {}).get("replicas", 1))
        for rs in rs_list:
            if ro.spec_replicas(rs) > 0:
                got = (rs["metadata"].get("annotations") or {}).get(ro.DESIRED_REPLICAS)
                if got is not None and got != want:
                    return True
        return False

    async def _scale_only(self, d: Obj, rs_list: list[Obj]) -> None:
        new, old = await self._get_all(d, rs_list, create=False)
        await self._scale(d, new, old)
        if (d.get("spec") or {}).get("paused"):
            await self._cleanup(d, old)
        await self._sync_status(d, [x for x in [new, *old] if x is not None], new)

    async def _scale(self, d: Obj, new: Obj | None, old: list[Obj]) -> None:
        """Kubernetes' proportional scaling: with one active ReplicaSet it takes all the replicas;
        with several (a rollout in progress), the change is shared in proportion to their sizes."""
        want = int(d["spec"].get("replicas", 1))
        all_rs = [x for x in [new, *old] if x is not None]
        active = [rs for rs in all_rs if ro.spec_replicas(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else (new or (max(old, key=ro.revision) if old else None))
            if target is not None:
                await self._scale_rs(d, target, want)
            return
        if new is not None and ro.spec_replicas(new) == want and ro.status_field(new, "availableReplicas") >= want:
            for rs in old:
                await self._scale_rs(d, rs, 0)
            return
        allowed = want + ro.max_surge(d)
        total = sum(ro.spec_replicas(rs) for rs in all_rs)
        to_add = allowed - total
        if to_add == 0:
            return
        active.sort(key=lambda rs: (-ro.spec_replicas(rs), rs["metadata"].get("creationTimestamp", "")),
                    reverse=to_add < 0)
        sizes = {rs["metadata"]["uid"]: ro.spec_replicas(rs) for rs in active}
        added = 0
        for rs in active:
            share = round(to_add * ro.spec_replicas(rs) / total) if total else 0
            share = max(share, -sizes[rs["metadata"]["uid"]]) if to_add < 0 else min(share, to_add - added)
            if to_add < 0:
                share = max(share, to_add - added)
            sizes[rs["metadata"]["uid"]] += share
            added += share
        if added != to_add and active:
            first = active[0]["metadata"]["uid"]
            sizes[first] = max(0, sizes[first] + to_add - added)
        for rs in active:
            await self._scale_rs(d, rs, sizes[rs["metadata"]["uid"]])

    # strategies

    def _new_rs_replicas(self, d: Obj, old: list[Obj], new: Obj | None) -> int:
        want = int(d["spec"].get("replicas", 1))
        if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            return want
        current_new = ro.spec_replicas(new)
        total = sum(ro.spec_replicas(rs) for rs in old) + current_new
        max_total = want + ro.max_surge(d)
        if total >= max_total:
            return current_new
        return current_new + max(0, min(max_total - total, want - current_new))

    async def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        new, old = await self._get_all(d, rs_list, create=True)
        all_rs = [x for x in [new, *old] if x is not None]
        if new is not None:
            want = int(d["spec"].get("replicas", 1))
            target = want if ro.spec_replicas(new) > want else self._new_rs_replicas(d, old, new)
            scaled, new = await self._scale_rs(d, new, target)
            if scaled:
                await self._sync_status(d, [new, *old], new)
                return
        if await self._reconcile_old(d, new, old):
            await self._sync_status(d, all_rs, new)
            return
        if self._complete(d, self._calculate_status(d, all_rs, new)):
            await self._cleanup(d, old)
        await self._sync_status(d, all_rs, new)

    async def _reconcile_old(self, d: Obj, new: Obj | None, old: list[Obj]) -> bool:
        """Scale old ReplicaSets down as far as maxUnavailable allows (unhealthy pods first)."""
        old_count = sum(ro.spec_replicas(rs) for rs in old)
        if old_count == 0:
            return False
        all_rs = [x for x in [new, *old] if x is not None]
        all_count = sum(ro.spec_replicas(rs) for rs in all_rs)
        min_available = int(d["spec"].get("replicas", 1)) - ro.max_unavailable(d)
        new_unavailable = ro.spec_replicas(new) - ro.status_field(new, "availableReplicas")
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old.sort(key=lambda rs: (rs["metadata"].get("creationTimestamp") or "", rs["metadata"]["name"]))
        # 1. ReplicaSets' unhealthy replicas go first: they do not count as available anyway.
        cleaned = 0
        for i, rs in enumerate(old):
            if cleaned >= max_scaled_down:
                break
            replicas = ro.spec_replicas(rs)
            unhealthy = replicas - ro.status_field(rs, "availableReplicas")
            if replicas == 0 or unhealthy <= 0:
                continue
            down = min(max_scaled_down - cleaned, unhealthy)
            _, old[i] = await self._scale_rs(d, rs, replicas - down)
            cleaned += down
        # 2. Then available ones, while at least minAvailable pods stay available.
        available = sum(ro.counted_available(rs) for rs in [new, *old] if rs is not None)
        scaled = 0
        if available > min_available:
            total_down = available - min_available
            for i, rs in enumerate(old):
                if scaled >= total_down:
                    break
                replicas = ro.spec_replicas(old[i])
                if replicas == 0:
                    continue
                down = min(replicas, total_down - scaled)
                _, old[i] = await self._scale_rs(d, old[i], replicas - down)
                scaled += down
        return cleaned + scaled > 0

    async def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        new, old = await self._get_all(d, rs_list, create=False)
        all_rs = [x for x in [new, *old] if x is not None]
        scaled = False
        for i, rs in enumerate(old):
            if ro.spec_replicas(rs) > 0:
                changed, old[i] = await self._scale_rs(d, rs, 0)
                scaled = scaled or changed
        if scaled:
            await self._sync_status(d, all_rs, new)
            return
        old_uids = {rs["metadata"]["uid"] for rs in old}
        for pod in self.pods.list():
            ref = ro.controller_ref(pod)
            if ref is not None and ref.get("uid") in old_uids and \
                    (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                await self._sync_status(d, all_rs, new)  # wait until the old pods are gone
                return
        if new is None:
            new, old = await self._get_all(d, rs_list, create=True)
        if new is not None:
            _, new = await self._scale_rs(d, new, int(d["spec"].get("replicas", 1)))
        all_rs = [x for x in [new, *old] if x is not None]
        if self._complete(d, self._calculate_status(d, all_rs, new)):
            await self._cleanup(d, old)
        await self._sync_status(d, all_rs, new)

    async def _cleanup(self, d: Obj, old: list[Obj]) -> None:
        """Delete old, empty ReplicaSets beyond revisionHistoryLimit (oldest revisions first)."""
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        candidates = [rs for rs in old if not rs["metadata"].get("deletionTimestamp")]
        excess = len(candidates) - int(limit)
        if excess <= 0:
            return
        candidates.sort(key=lambda rs: (ro.revision(rs), rs["metadata"].get("creationTimestamp") or ""))
        for rs in candidates:
            if excess <= 0:
                break
            if ro.spec_replicas(rs) != 0 or ro.status_field(rs, "replicas") != 0:
                continue
            try:
                await self.client.delete("replicasets", rs["metadata"]["name"], namespace=rs["metadata"]["namespace"])
            except NotFound:
                pass
            excess -= 1

    # status

    @staticmethod
    def _calculate_status(d: Obj, all_rs: list[Obj], new: Obj | None) -> Obj:
        available = sum(ro.status_field(rs, "availableReplicas") for rs in all_rs)
        want = int(d["spec"].get("replicas", 1))
        status = dict(d.get("status") or {})
        status.update({
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": sum(ro.status_field(rs, "replicas") for rs in all_rs),
            "updatedReplicas": ro.status_field(new, "replicas"),
            "readyReplicas": sum(ro.status_field(rs, "readyReplicas") for rs in all_rs),
            "availableReplicas": available,
            "unavailableReplicas": max(0, want - available),
        })
        return status

    @staticmethod
    def _complete(d: Obj, status: Obj) -> bool:
        want = int(d["spec"].get("replicas", 1))
        return (status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
                and status.get("availableReplicas", 0) == want
                and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1))

    async def _check_paused_conditions(self, d: Obj) -> None:
        spec, status = d.get("spec") or {}, d.setdefault("status", {})
        cond = ro.get_condition(status, "Progressing")
        if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
            return
        paused = bool(spec.get("paused"))
        was_paused = cond is not None and cond.get("reason") == "DeploymentPaused"
        if paused and not was_paused:
            ro.set_condition(status, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", ro.now())
        elif not paused and was_paused:
            ro.set_condition(status, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed",
                             ro.now())
        else:
            return
        await self._write_status(d, status)

    async def _sync_status(self, d: Obj, all_rs: list[Obj], new: Obj | None) -> None:
        status = self._calculate_status(d, all_rs, new)
        spec = d.get("spec") or {}
        at = ro.now()
        want = int(spec.get("replicas", 1))
        if status["availableReplicas"] >= want - ro.max_unavailable(d):
            ro.set_condition(status, "Available", "True", "MinimumReplicasAvailable",
                             "Deployment has minimum availability.", at)
        else:
            ro.set_condition(status, "Available", "False", "MinimumReplicasUnavailable",
                             "Deployment does not have minimum availability.", at)
        deadline = spec.get("progressDeadlineSeconds")
        cond = ro.get_condition(status, "Progressing")
        paused = bool(spec.get("paused"))
        if deadline is not None and not paused and new is not None:
            name = new["metadata"]["name"]
            old_status = d.get("status") or {}
            if self._complete(d, status):
                ro.set_condition(status, "Progressing", "True", "NewReplicaSetAvailable",
                                 f'ReplicaSet "{name}" has successfully progressed.', at)
            elif self._progressing(old_status, status):
                if cond is not None and cond.get("reason") == "ReplicaSetUpdated" and cond.get("status") == "True":
                    cond["lastUpdateTime"] = ro.iso(at)
                else:
                    ro.set_condition(status, "Progressing", "True", "ReplicaSetUpdated",
                                     f'ReplicaSet "{name}" is progressing.', at, keep_transition=True)
            elif self._timed_out(cond, int(deadline), at):
                ro.set_condition(status, "Progressing", "False", "ProgressDeadlineExceeded",
                                 f'ReplicaSet "{name}" has timed out progressing.', at)
                await record_event(self.client, d, "ProgressDeadlineExceeded",
                                   f'ReplicaSet "{name}" has timed out progressing.', type_="Warning",
                                   component=COMPONENT)
            cond = ro.get_condition(status, "Progressing")
            if not self._complete(d, status) and cond is not None and cond.get("status") == "True":
                # Look again when the deadline would pass, in case nothing else happens.
                since = ro.parse_time(cond.get("lastUpdateTime"))
                left = int(deadline) - ((at - since).total_seconds() if since else 0)
                self.queue.add_after(object_key(d), max(1.0, left + 1))
        await self._write_status(d, status)

    @staticmethod
    def _progressing(old: Obj, new: Obj) -> bool:
        old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
        new_old = new.get("replicas", 0) - new.get("updatedReplicas", 0)
        return (new.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_old < old_old
                or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
                or new.get("availableReplicas", 0) > old.get("availableReplicas", 0))

    @staticmethod
    def _timed_out(cond: Obj | None, deadline: int, at: Any) -> bool:
        if cond is None:
            return False
        if cond.get("reason") == "NewReplicaSetAvailable":
            return False
        if cond.get("reason") == "ProgressDeadlineExceeded":
            return True
        since = ro.parse_time(cond.get("lastUpdateTime"))
        return since is not None and (at - since).total_seconds() > deadline

    async def _write_status(self, d: Obj, status: Obj) -> None:
        compact = ro.compact_status(status)
        cached = self.deployments.get(object_key(d))
        if cached is not None and cached["metadata"].get("uid") == d["metadata"].get("uid") and \
                (cached.get("status") or {}) == compact:
            d["status"] = compact
            return
        d["status"] = compact
        try:
            updated = await self.client.update_status("deployments", d, namespace=d["metadata"]["namespace"])
        except NotFound:
            return
        d["metadata"] = updated["metadata"]
