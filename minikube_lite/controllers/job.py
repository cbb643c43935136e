"""The Job controller: runs a Job's pods to completion (Kubernetes' ``pkg/controller/job``).

Informers on Jobs and pods feed a work queue of Job keys; one idempotent ``sync(key)`` reads
the caches and, in Kubernetes' order:

* a finished Job (``Complete`` or ``Failed``) only waits for ``ttlSecondsAfterFinished`` and is
  then deleted with foreground propagation, as the TTL-after-finished controller does;
* counts the Job's pods (by controller reference): active, ready, terminating, succeeded and
  failed, failed pods matching an ``Ignore`` rule of ``podFailurePolicy`` not counted;
* fails the Job on a ``FailJob`` rule (reason ``PodFailurePolicy``), on more failures than
  ``backoffLimit`` (with ``OnFailure``: container restarts; reason ``BackoffLimitExceeded``) or
  past ``activeDeadlineSeconds`` (``DeadlineExceeded``): ``FailureTarget`` first, active pods
  deleted, ``Failed`` once none is left;
* completes it when ``completions`` pods (Indexed: every index) succeeded;
* ``suspend`` deletes the active pods (condition ``Suspended``), resuming restarts the clock;
* otherwise creates the missing pods (``<job>-<random>``, Indexed ``<job>-<index>-<random>``
  with ``JOB_COMPLETION_INDEX``, the index annotation and label and hostname ``<job>-<index>``),
  waiting out the exponential backoff after failures (controllers/job_policy.py).

Counts are taken from the pods that exist and never go down in ``status`` (Kubernetes' tracking
with pod finalizers also survives pod deletion; here a deleted pod is simply not counted again).
Creations are recorded as expectations, as the ReplicaSet controller does, so a pass never acts
on a cache that has not seen the previous pass's pods.
"""

from __future__ import annotations

import copy
import functools
import logging
from typing import Any

from ..api.conditions import is_true as condition_true
from ..api.errors import NotFound
from ..api.job import COMPLETION_INDEX_ANNOTATION
from ..client.base import Client
from ..client.controller import run_controller, write_status
from ..client.events import record_event
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue
from . import job_policy as jp
from . import rollout as ro
from .expectations import Expectations
from .podcontrol import PodControl

log = logging.getLogger(__name__)

COMPONENT = "job-controller"
RESYNC_SECONDS = 30.0
Obj = dict[str, Any]

BACKOFF_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE = "Job was active longer than specified deadline"
COMPLETE_MESSAGE = "Reached expected number of succeeded pods"


def finished(job: Obj) -> bool:
    return condition_true(job, "Complete") or condition_true(job, "Failed")


def _set_condition(status: Obj, ctype: str, cstatus: str, reason: str, message: str, at: str) -> None:
    """Job conditions carry lastProbeTime and lastTransitionTime (not lastUpdateTime)."""
    current = ro.get_condition(status, ctype)
    if current and current.get("status") == cstatus and current.get("reason") == reason:
        return
    cond = {"type": ctype, "status": cstatus, "lastProbeTime": at, "lastTransitionTime": at,
            "reason": reason, "message": message}
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != ctype] + [cond]


class JobController:
    def __init__(self, client: Client, *, workers: int = 4) -> None:
        self.client = client
        self.workers = workers
        self.jobs = Informer(client, "jobs")
        self.pods = Informer(client, "pods")
        self.queue = WorkQueue("job")
        self.expectations = Expectations()
        self.pod_control = PodControl(client, self.expectations, COMPONENT)
        self.jobs.add_handler(self._on_job)
        self.pods.add_handler(self._on_pod)

    # event handlers

    def _on_job(self, etype: str, job: Obj) -> None:
        key = object_key(job)
        if etype == "DELETED":
            self.expectations.forget(key)
        self.queue.add(key)

    def _on_pod(self, etype: str, pod: Obj) -> None:
        ref = ro.controller_ref(pod)
        if ref is None or ref.get("kind") != "Job":
            return
        key = f"{pod['metadata'].get('namespace')}/{ref.get('name')}"
        if etype == "ADDED":
            self.expectations.creation_observed(key)
        if etype == "DELETED" or pod["metadata"].get("deletionTimestamp"):
            self.expectations.deletion_observed(key, object_key(pod))
        self.queue.add(key)

    # running

    async def run(self) -> None:
        await run_controller((self.jobs, self.pods), self.queue, self.sync, workers=self.workers,
                             resync_keys=lambda: map(object_key, self.jobs.list()), resync_seconds=RESYNC_SECONDS)

    # the reconcile

    def _owned_pods(self, job: Obj) -> list[Obj]:
        ns, uid = job["metadata"].get("namespace"), job["metadata"].get("uid")
        out = []
        for pod in self.pods.list():
            if pod["metadata"].get("namespace") != ns:
                continue
            ref = ro.controller_ref(pod)
            if ref is not None and ref.get("uid") == uid:
                out.append(pod)
        return out

    async def sync(self, key: str) -> None:
        cached = self.jobs.get(key)
        if cached is None:
            self.expectations.forget(key)
            return
        job = copy.deepcopy(cached)
        if job["metadata"].get("deletionTimestamp"):
            return
        if finished(job):
            await self._after_finished(key, job)
            return
        spec = job.get("spec") or {}
        now = ro.now()
        stamp = ro.iso(now)
        status: Obj = copy.deepcopy(job.get("status") or {})
        pods = self._owned_pods(job)
        phase = {object_key(p): (p.get("status") or {}).get("phase") for p in pods}
        active = [p for p in pods if ro.pod_active(p)]
        terminating = [p for p in pods if p["metadata"].get("deletionTimestamp")
                       and phase[object_key(p)] not in ("Succeeded", "Failed")]
        succeeded_pods = [p for p in pods if phase[object_key(p)] == "Succeeded"]
        failed_pods = [p for p in pods if phase[object_key(p)] == "Failed"]
        policy = spec.get("podFailurePolicy")
        fail_job: str | None = None
        counted_failures: list[Obj] = []
        for pod in failed_pods:
            match = jp.match_failure_policy(policy, pod) if policy else None
            if match is None or match[0] in ("Count", "FailIndex"):
                counted_failures.append(pod)
            elif match[0] == "FailJob":
                counted_failures.append(pod)
                fail_job = fail_job or match[1]
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        succeeded_indexes: set[int] = set()
        if indexed:
            succeeded_indexes = jp.parse_indexes(status.get("completedIndexes"), completions)
            for pod in succeeded_pods:
                index = jp.pod_index(pod, completions)
                if index is not None:
                    succeeded_indexes.add(index)
            succeeded = len(succeeded_indexes)
        else:
            succeeded = max(int(status.get("succeeded", 0) or 0), len(succeeded_pods))
        failed = max(int(status.get("failed", 0) or 0), len(counted_failures))
        suspended = bool(spec.get("suspend"))
        if not suspended and not status.get("startTime"):
            status["startTime"] = stamp

        # failure
        reason = message = None
        if condition_true(job, "FailureTarget"):
            target = ro.get_condition(status, "FailureTarget") or {}
            reason, message = target.get("reason"), target.get("message")
        elif fail_job is not None:
            reason, message = "PodFailurePolicy", fail_job
        elif failed > int(spec.get("backoffLimit", 6)) or (
                (spec.get("template") or {}).get("spec", {}).get("restartPolicy") == "OnFailure"
                and jp.restarts_past_limit(active, int(spec.get("backoffLimit", 6)))):
            reason, message = "BackoffLimitExceeded", BACKOFF_MESSAGE
        elif not suspended and spec.get("activeDeadlineSeconds") is not None and status.get("startTime"):
            started = ro.parse_time(status["startTime"])
            if started is not None:
                left = started.timestamp() + int(spec["activeDeadlineSeconds"]) - now.timestamp()
                if left <= 0:
                    reason, message = "DeadlineExceeded", DEADLINE_MESSAGE
                else:
                    self.queue.add_after(key, left)
        complete = False
        if reason is None:
            if indexed:
                complete = completions is not None and succeeded >= int(completions)
            elif completions is not None:
                complete = succeeded >= int(completions)
            else:
                complete = succeeded > 0 and not active

        if reason is not None:
            first = not condition_true(job, "FailureTarget")
            _set_condition(status, "FailureTarget", "True", reason, message or "", stamp)
            await self._delete_pods(key, job, active)
            if first:
                await record_event(self.client, job, reason, message or "", type_="Warning", component=COMPONENT)
            if not active and not terminating:
                _set_condition(status, "Failed", "True", reason, message or "", stamp)
        elif complete:
            await self._delete_pods(key, job, active)
            # 1.31+: SuccessCriteriaMet, then Complete, both "CompletionsReached"
            _set_condition(status, "SuccessCriteriaMet", "True", "CompletionsReached", COMPLETE_MESSAGE, stamp)
            _set_condition(status, "Complete", "True", "CompletionsReached", COMPLETE_MESSAGE, stamp)
            status["completionTime"] = stamp
            await record_event(self.client, job, "Completed", "Job completed", component=COMPONENT)
        elif suspended:
            await self._delete_pods(key, job, active)
            if not condition_true(job, "Suspended"):
                _set_condition(status, "Suspended", "True", "JobSuspended", "Job suspended", stamp)
                await record_event(self.client, job, "Suspended", "Job suspended", component=COMPONENT)
        else:
            if condition_true(job, "Suspended"):
                _set_condition(status, "Suspended", "False", "JobResumed", "Job resumed", stamp)
                status["startTime"] = stamp
                await record_event(self.client, job, "Resumed", "Job resumed", component=COMPONENT)
            if self.expectations.satisfied(key):
                await self._manage(key, job, active, failed_pods, succeeded, succeeded_indexes)

        live = [p for p in active if not p["metadata"].get("deletionTimestamp")] if reason is None and \
            not complete and not suspended else []
        status.update({
            "active": len(live),
            "ready": sum(1 for p in live if ro.pod_ready(p)),
            "succeeded": succeeded,
            "failed": failed,
            "terminating": len(terminating),
            "uncountedTerminatedPods": status.get("uncountedTerminatedPods") or {},
        })
        for counter in ("active", "succeeded", "failed"):  # omitempty in Kubernetes' JobStatus (ready is a pointer)
            if not status[counter]:
                del status[counter]
        if indexed:
            status["completedIndexes"] = jp.format_indexes(succeeded_indexes)
        await self._write_status(job, status)
        if finished({"status": status}):
            await self._after_finished(key, {**job, "status": status})

    async def _manage(self, key: str, job: Obj, active: list[Obj], failed_pods: list[Obj], succeeded: int,
                      succeeded_indexes: set[int]) -> None:
        spec = job.get("spec") or {}
        parallelism = int(spec.get("parallelism", 1) or 0)
        if spec.get("completionMode") == "Indexed":
            active_indexes: set[int] = set()
            extra: list[Obj] = []
            for pod in active:
                index = jp.pod_index(pod, spec.get("completions"))
                if index is None or index in active_indexes or index in succeeded_indexes:
                    extra.append(pod)
                else:
                    active_indexes.add(index)
            room = max(0, parallelism - len(active_indexes))
            todo: list[int | None] = list(jp.pending_indexes(int(spec.get("completions") or 0), succeeded_indexes,
                                                             active_indexes, room))
            surplus = max(0, len(active_indexes) - parallelism)
            if surplus:
                ranked = sorted((p for p in active if p not in extra),
                                key=lambda p: -(jp.pod_index(p) or 0))
                extra += ranked[:surplus]
            if extra:
                await self._delete_pods(key, job, extra)
        else:
            want = jp.wanted_active(spec, succeeded, len(active))
            diff = want - len(active)
            if diff < 0:
                await self._delete_pods(key, job, sorted(active, key=ro.deletion_rank)[:-diff])
                return
            todo = [None] * diff
        if not todo:
            return
        wait = jp.backoff_remaining(failed_pods, ro.now()) if failed_pods else 0.0
        if wait > 0:
            self.queue.add_after(key, wait)
            return
        await self._create_pods(key, job, todo)

    def _pod_from_template(self, job: Obj, index: int | None) -> Obj:
        template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
        tmeta = template.get("metadata") or {}
        name = job["metadata"]["name"]
        meta: Obj = {"generateName": f"{name}-" if index is None else f"{name}-{index}-",
                     "namespace": job["metadata"]["namespace"],
                     "ownerReferences": [ro.owner_reference(job)]}
        for k in ("labels", "annotations", "finalizers"):
            if tmeta.get(k):
                meta[k] = dict(tmeta[k]) if isinstance(tmeta[k], dict) else list(tmeta[k])
        spec = template.get("spec") or {}
        if index is not None:
            meta.setdefault("annotations", {})[COMPLETION_INDEX_ANNOTATION] = str(index)
            meta.setdefault("labels", {})[COMPLETION_INDEX_ANNOTATION] = str(index)
            spec.setdefault("hostname", f"{name}-{index}")
            ref = {"fieldRef": {"apiVersion": "v1",
                                "fieldPath": f"metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"}}
            for key in ("initContainers", "containers"):
                for c in spec.get(key) or []:
                    env = [e for e in c.get("env") or [] if e.get("name") != "JOB_COMPLETION_INDEX"]
                    c["env"] = [*env, {"name": "JOB_COMPLETION_INDEX", "valueFrom": ref}]
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}

    async def _create_pods(self, key: str, job: Obj, indexes: list[int | None]) -> None:
        await self.pod_control.create_pods(key, job, [functools.partial(self._pod_from_template, job, i)
                                                      for i in indexes])

    async def _delete_pods(self, key: str, job: Obj, pods: list[Obj]) -> None:
        await self.pod_control.delete_pods(key, job, pods)

    async def _write_status(self, job: Obj, status: Obj) -> None:
        await write_status(self.client, self.queue, "jobs", job, status)

    async def _after_finished(self, key: str, job: Obj) -> None:
        """ttlSecondsAfterFinished: delete the finished Job (and, in the foreground, its pods)."""
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        status = job.get("status") or {}
        done = ro.get_condition(status, "Complete") or ro.get_condition(status, "Failed") or {}
        at = ro.parse_time(status.get("completionTime")) or ro.parse_time(done.get("lastTransitionTime"))
        if at is None:
            return
        left = at.timestamp() + int(ttl) - ro.now().timestamp()
        if left > 0:
            self.queue.add_after(key, left)
            return
        try:
            await self.client.delete("jobs", job["metadata"]["name"], namespace=job["metadata"]["namespace"],
                                     propagation_policy="Foreground")
        except NotFound:
            pass
