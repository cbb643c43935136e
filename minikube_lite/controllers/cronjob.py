"""The CronJob controller: creates a Job at each scheduled time (Kubernetes' ``cronjob_controllerv2.go``).

Informers on CronJobs and Jobs feed a work queue of CronJob keys. ``sync(key)``:

1. brings ``status.active`` in line with the Jobs the CronJob owns (finished Jobs leave it, with a
   ``SawCompletedJob`` event and ``lastSuccessfulTime``; a Job it owns that runs joins it);
2. deletes finished Jobs beyond ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit``;
3. unless suspended, finds the most recent scheduled time not yet run (controllers/cron_schedule.py):
   none → wait for the next; older than ``startingDeadlineSeconds`` → ``MissSchedule`` event;
   ``Forbid`` with a Job still active → ``JobAlreadyActive``; ``Replace`` → the active Jobs are
   deleted first; then the Job ``<cronjob>-<minutes>`` is created from ``jobTemplate`` and
   ``lastScheduleTime`` set;
4. queues itself again for the next scheduled time (a timer of the work queue, so a Job is
   created within milliseconds of its minute).

The Job's name comes from its scheduled time, so a schedule runs at most once: after a daemon
restart the same pass finds the same time, its create answers AlreadyExists, nothing runs twice.
"""

from __future__ import annotations

import copy
import logging
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from ..api.errors import AlreadyExists, NotFound
from ..client.base import Client
from ..client.controller import run_controller, write_status
from ..client.events import record_event
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue
from . import cron_schedule as cs
from . import rollout as ro

log = logging.getLogger(__name__)

COMPONENT = "cronjob-controller"
RESYNC_SECONDS = 30.0
SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
Obj = dict[str, Any]


def _finished(job: Obj) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def _reference(job: Obj) -> Obj:
    meta = job["metadata"]
    return {"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "namespace": meta.get("namespace"),
            "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}


class CronJobController:
    def __init__(self, client: Client, *, workers: int = 2) -> None:
        self.client = client
        self.workers = workers
        self.cronjobs = Informer(client, "cronjobs")
        self.jobs = Informer(client, "jobs")
        self.queue = WorkQueue("cronjob")
        self.cronjobs.add_handler(lambda t, cj: self.queue.add(object_key(cj)))
        self.jobs.add_handler(self._on_job)

    def _on_job(self, etype: str, job: Obj) -> None:
        ref = ro.controller_ref(job)
        if ref is not None and ref.get("kind") == "CronJob":
            self.queue.add(f"{job['metadata'].get('namespace')}/{ref.get('name')}")

    async def run(self) -> None:
        await run_controller((self.cronjobs, self.jobs), self.queue, self.sync, workers=self.workers,
                             resync_keys=lambda: map(object_key, self.cronjobs.list()), resync_seconds=RESYNC_SECONDS)

    def _owned_jobs(self, cj: Obj) -> list[Obj]:
        ns, uid = cj["metadata"].get("namespace"), cj["metadata"].get("uid")
        return [j for j in self.jobs.list() if j["metadata"].get("namespace") == ns
                and (ro.controller_ref(j) or {}).get("uid") == uid]

    # the reconcile

    async def sync(self, key: str) -> None:
        cached = self.cronjobs.get(key)
        if cached is None:
            return
        cj = copy.deepcopy(cached)
        status: Obj = copy.deepcopy(cj.get("status") or {})
        jobs = self._owned_jobs(cj)
        await self._sync_active(cj, status, jobs)
        if cj["metadata"].get("deletionTimestamp"):
            await self._write_status(cj, status)
            return
        await self._prune(cj, jobs)
        spec = cj.get("spec") or {}
        try:
            tz = cs.zone(spec.get("timeZone"))
        except (ZoneInfoNotFoundError, ValueError, OSError):
            await record_event(self.client, cj, "UnknownTimeZone", f"invalid timeZone: {spec.get('timeZone')!r}",
                               type_="Warning", component=COMPONENT)
            await self._write_status(cj, status)
            return
        if not spec.get("suspend"):
            await self._schedule(key, cj, status, jobs, tz)
        await self._write_status(cj, status)
        nxt = cs.next_schedule(spec.get("schedule", ""), tz, ro.now())
        if nxt is not None and not spec.get("suspend"):
            self.queue.add_after(key, max(0.0, (nxt - ro.now()).total_seconds()) + 0.001)

    async def _sync_active(self, cj: Obj, status: Obj, jobs: list[Obj]) -> None:
        by_uid = {j["metadata"].get("uid"): j for j in jobs}
        active: list[Obj] = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid"))
            if job is None:
                if self.jobs.get(f"{ref.get('namespace')}/{ref.get('name')}") is None:
                    continue  # gone: drop the reference
                active.append(ref)
                continue
            result = _finished(job)
            if result is None:
                active.append(ref)
                continue
            await record_event(self.client, cj, "SawCompletedJob",
                               f"Saw completed job: {job['metadata']['name']}, status: {result}",
                               component=COMPONENT)
            if result == "Complete":
                done = (job.get("status") or {}).get("completionTime")
                if done and (not status.get("lastSuccessfulTime") or done > status["lastSuccessfulTime"]):
                    status["lastSuccessfulTime"] = done
        known = {r.get("uid") for r in active}
        for job in jobs:
            if _finished(job) is None and job["metadata"].get("uid") not in known \
                    and not job["metadata"].get("deletionTimestamp"):
                active.append(_reference(job))
        if active:
            status["active"] = active
        else:
            status.pop("active", None)

    async def _prune(self, cj: Obj, jobs: list[Obj]) -> None:
        spec = cj.get("spec") or {}
        for job in cs.jobs_to_prune(jobs, spec.get("successfulJobsHistoryLimit"), spec.get("failedJobsHistoryLimit")):
            if job["metadata"].get("deletionTimestamp"):
                continue
            try:
                await self.client.delete("jobs", job["metadata"]["name"], namespace=job["metadata"]["namespace"],
                                         propagation_policy="Background")
            except NotFound:
                continue
            await record_event(self.client, cj, "SuccessfulDelete", f"Deleted job {job['metadata']['name']}",
                               component=COMPONENT)

    async def _schedule(self, key: str, cj: Obj, status: Obj, jobs: list[Obj], tz: Any) -> None:
        spec = cj.get("spec") or {}
        now = ro.now()
        earliest = cs.earliest_time({**cj, "status": status}, now)
        scheduled, missed = cs.most_recent_schedule(spec.get("schedule", ""), tz, earliest, now)
        if scheduled is None:
            return
        if missed > cs.MAX_MISSED:
            await record_event(self.client, cj, "TooManyMissedTimes",
                               f"too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds "
                               "or check clock skew", type_="Warning", component=COMPONENT)
        if cs.too_late(scheduled, now, spec.get("startingDeadlineSeconds")):
            await record_event(self.client, cj, "MissSchedule", "Missed scheduled time to start a job: "
                               + scheduled.strftime("%a, %d %b %Y %H:%M:%S +0000"), type_="Warning",
                               component=COMPONENT)
            return
        name = cs.job_name(cj["metadata"]["name"], scheduled)
        if any(j["metadata"]["name"] == name for j in jobs):
            self._ran(status, scheduled)  # this schedule already ran
            return
        running = [r for r in status.get("active") or []]
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and running:
            await record_event(self.client, cj, "JobAlreadyActive", "Not starting job because prior execution is "
                               "running and concurrency policy is Forbid", component=COMPONENT)
            return
        if policy == "Replace":
            for ref in running:
                try:
                    await self.client.delete("jobs", ref["name"], namespace=ref.get("namespace"),
                                             propagation_policy="Background")
                except NotFound:
                    pass
                await record_event(self.client, cj, "SuccessfulDelete", f"Deleted job {ref['name']}",
                                   component=COMPONENT)
            status.pop("active", None)
        job = self._job_from_template(cj, name, scheduled, tz)
        try:
            created = await self.client.create("jobs", job, namespace=cj["metadata"]["namespace"])
        except AlreadyExists:
            self._ran(status, scheduled)  # created by an earlier pass (before a restart)
            return
        await record_event(self.client, cj, "SuccessfulCreate", f"Created job {name}", component=COMPONENT)
        status["active"] = [*(status.get("active") or []), _reference(created)]
        status["lastScheduleTime"] = ro.iso(scheduled)

    @staticmethod
    def _ran(status: Obj, scheduled: Any) -> None:
        stamp = ro.iso(scheduled)
        if not status.get("lastScheduleTime") or status["lastScheduleTime"] < stamp:
            status["lastScheduleTime"] = stamp

    @staticmethod
    def _job_from_template(cj: Obj, name: str, scheduled: Any, tz: Any) -> Obj:
        template = copy.deepcopy((cj.get("spec") or {}).get("jobTemplate") or {})
        tmeta = template.get("metadata") or {}
        meta: Obj = {"name": name, "namespace": cj["metadata"]["namespace"],
                     "labels": dict(tmeta.get("labels") or {}),
                     "annotations": {**(tmeta.get("annotations") or {}),
                                     SCHEDULED_TIMESTAMP_ANNOTATION: cs.rfc3339(scheduled, tz)},
                     "ownerReferences": [ro.owner_reference(cj)]}
        if not meta["labels"]:
            del meta["labels"]
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": template.get("spec") or {}}

    async def _write_status(self, cj: Obj, status: Obj) -> None:
        await write_status(self.client, self.queue, "cronjobs", cj, status)
