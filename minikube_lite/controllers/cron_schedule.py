"""The CronJob controller's decisions about time, as pure functions (Kubernetes' ``cronjob/utils.go``).

* ``most_recent_schedule``: the latest scheduled time in ``(earliest, now]`` and how many were
  missed. ``earliest`` is the last schedule time (or the CronJob's creation), moved up to
  ``now - startingDeadlineSeconds`` when a deadline is set. Only the most recent missed time
  is ever run (at most one catch-up), and more than 100 missed times is reported;
* ``next_schedule``: when to look again;
* ``job_name``: ``<cronjob>-<minutes since the epoch of the scheduled time>``, the name that makes
  a schedule run at most once even across a daemon restart (the second create is refused);
* ``too_late``: a schedule older than ``startingDeadlineSeconds`` is not started;
* ``jobs_to_prune``: finished Jobs beyond the history limits, oldest first.

Schedules are evaluated in the CronJob's ``timeZone`` (UTC when unset, the daemon's own zone)
with ``croniter``, a maintained cron library that handles daylight-saving transitions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from croniter.croniter import CroniterBadDateError

from ..api.cronjob import standard_schedule
from ..api.times import parse_time

Obj = dict[str, Any]
MAX_MISSED = 100


def zone(name: str | None) -> tzinfo:
    return ZoneInfo(name) if name else UTC


def _iter(schedule: str, start: datetime, tz: tzinfo) -> croniter:
    return croniter(standard_schedule(schedule), start.astimezone(tz))


def next_schedule(schedule: str, tz: tzinfo, after: datetime) -> datetime | None:
    """The first scheduled time strictly after ``after`` (None for a schedule that never fires)."""
    try:
        return _iter(schedule, after, tz).get_next(datetime).astimezone(UTC)
    except CroniterBadDateError:
        return None


def most_recent_schedule(schedule: str, tz: tzinfo, earliest: datetime, now: datetime) -> tuple[datetime | None, int]:
    """(the latest scheduled time in ``(earliest, now]``, how many times fell in that window).

    The count stops at ``MAX_MISSED + 1``: beyond that only "too many" matters.
    """
    try:
        it = _iter(schedule, earliest, tz)
        missed = 0
        while missed <= MAX_MISSED:
            t = it.get_next(datetime).astimezone(UTC)
            if t > now:
                break
            missed += 1
        if missed == 0:
            return None, 0
        # the latest time not after now: step back from just past now
        latest = _iter(schedule, now + timedelta(microseconds=1), tz).get_prev(datetime).astimezone(UTC)
        return latest, missed
    except CroniterBadDateError:
        return None, 0


def earliest_time(cronjob: Obj, now: datetime) -> datetime:
    """Where the search for missed schedules starts (Kubernetes' ``mostRecentScheduleTime`` start)."""
    meta, spec, status = cronjob.get("metadata") or {}, cronjob.get("spec") or {}, cronjob.get("status") or {}
    earliest = parse_time(status.get("lastScheduleTime")) or parse_time(meta.get("creationTimestamp")) or now
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        floor = now - timedelta(seconds=int(deadline))
        earliest = max(earliest, floor)
    return earliest


def too_late(scheduled: datetime, now: datetime, starting_deadline: int | None) -> bool:
    return starting_deadline is not None and scheduled + timedelta(seconds=int(starting_deadline)) < now


def job_name(cronjob_name: str, scheduled: datetime) -> str:
    return f"{cronjob_name}-{int(scheduled.timestamp()) // 60}"


def scheduled_time_of(job_name_: str, cronjob_name: str) -> datetime | None:
    """The scheduled time a Job's name encodes (None for a Job not named by this CronJob)."""
    prefix = cronjob_name + "-"
    if not job_name_.startswith(prefix):
        return None
    try:
        return datetime.fromtimestamp(int(job_name_[len(prefix):]) * 60, UTC)
    except ValueError:
        return None


def jobs_to_prune(jobs: list[Obj], successful_limit: int | None, failed_limit: int | None) -> list[Obj]:
    """Finished Jobs past the history limits, the oldest (by start time) first."""
    def finished_as(job: Obj) -> str | None:
        for c in (job.get("status") or {}).get("conditions") or []:
            if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
                return c["type"]
        return None

    def started(job: Obj) -> str:
        status = job.get("status") or {}
        return status.get("startTime") or (job.get("metadata") or {}).get("creationTimestamp") or ""

    out: list[Obj] = []
    for kind, limit in (("Complete", successful_limit), ("Failed", failed_limit)):
        if limit is None:
            continue
        done = sorted((j for j in jobs if finished_as(j) == kind), key=started)
        if len(done) > limit:
            out += done[:len(done) - limit]
    return out


def rfc3339(t: datetime, tz: tzinfo) -> str:
    """The ``batch.kubernetes.io/cronjob-scheduled-timestamp`` value: RFC 3339 in the schedule's zone."""
    local = t.astimezone(tz)
    text = local.isoformat(timespec="seconds")
    return text.replace("+00:00", "Z") if local.utcoffset() == timedelta(0) else text
