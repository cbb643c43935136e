"""batch/v1 CronJob: schema, validation, defaults and ``kubectl get`` columns.

Rules from Kubernetes' ``pkg/apis/batch/validation`` (``validateCronJobSpec``): the schedule is
standard cron (five fields, or a ``@hourly``-style descriptor), parsed here with ``croniter``
and refused with the wording of the Go parser Kubernetes uses (robfig/cron), ``TZ=`` inside the
schedule is refused in favour of ``timeZone``, which must name a zone of the IANA database;
``concurrencyPolicy`` is Allow / Forbid / Replace; the counters are non-negative; the name is at
most 52 characters (11 are left for the ``-<minutes>`` suffix of its Jobs); ``jobTemplate.spec``
is checked as a Job's spec.

``kubectl get cronjobs`` prints ``NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import mergekeys, tables
from .apps import _default_template
from .job import JobSpec, dict_at, template_cells, validate_job_spec
from .kind import Kind, StoreView, Strategy
from .models import K8sModel, ObjectMeta, ObjectReference, Time, TypedObject
from .resources import ALL_VERBS, Resource
from .validation import ErrorList, validate_labels

MAX_NAME_LENGTH = 52
DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
               "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_NAMES = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
          "sun", "mon", "tue", "wed", "thu", "fri", "sat"}

# --- models ------------------------------------------------------------------------------------


class JobTemplateSpec(K8sModel):
    metadata: ObjectMeta | None = None
    spec: JobSpec | None = None


class CronJobSpec(K8sModel):
    schedule: str | None = None
    timeZone: str | None = None
    startingDeadlineSeconds: int | None = None
    concurrencyPolicy: str | None = None
    suspend: bool | None = None
    jobTemplate: JobTemplateSpec | None = None
    successfulJobsHistoryLimit: int | None = None
    failedJobsHistoryLimit: int | None = None


class CronJobStatus(K8sModel):
    active: list[ObjectReference] | None = None
    lastScheduleTime: Time | None = None
    lastSuccessfulTime: Time | None = None


class CronJob(TypedObject):
    spec: CronJobSpec | None = None
    status: CronJobStatus | None = None


# --- the schedule --------------------------------------------------------------------------------


def standard_schedule(schedule: str) -> str:
    """A descriptor (``@daily``) as its five fields; anything else unchanged."""
    return DESCRIPTORS.get(schedule.strip().lower(), schedule)


def _field_range_error(field: str, lo: int, hi: int) -> str | None:
    for part in field.split(","):
        rng = part.split("/", 1)[0]
        if rng in ("*", "?"):
            continue
        bounds = rng.split("-", 1)
        try:
            start = int(bounds[0])
            end = int(bounds[-1])
        except ValueError:
            continue
        if start < lo:
            return f"beginning of range ({start}) below minimum ({lo}): {part}"
        if end > hi:
            return f"end of range ({end}) above maximum ({hi}): {part}"
        if start > end:
            return f"beginning of range ({start}) beyond end of range ({end}): {part}"
    return None


def schedule_error(schedule: str) -> str | None:
    """Why ``schedule`` is not a standard cron schedule (robfig/cron's wording), or None."""
    text = standard_schedule(schedule)
    if text.startswith("@"):
        return f"unrecognized descriptor: {text}"
    fields = text.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for field, (lo, hi) in zip(fields, _BOUNDS):
        if re.search(r"[a-zA-Z]", field) and not all(w.lower() in _NAMES for w in re.findall(r"[a-zA-Z]+", field)):
            return f"failed to parse int from {field}: strconv.Atoi: parsing \"{field}\": invalid syntax"
        err = _field_range_error(field, lo, hi)
        if err:
            return err
    from croniter import croniter  # here: its import is ~10 ms of the API server's start

    if not croniter.is_valid(text):
        return f"failed to parse schedule: {text}"
    return None


def time_zone_error(tz: str) -> str | None:
    if tz == "" or tz.lower() == "local":
        return "unknown time zone " + tz
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {tz}"
    return None


# --- validation ----------------------------------------------------------------------------------


def validate_cronjob(errs: ErrorList, obj: dict[str, Any]) -> None:
    name = (obj.get("metadata") or {}).get("name") or ""
    if len(name) > MAX_NAME_LENGTH:
        errs.invalid("metadata.name", name, f"must be no more than {MAX_NAME_LENGTH} characters")
    spec = obj.get("spec") or {}
    schedule = spec.get("schedule")
    if not schedule:
        errs.required("spec.schedule")
    elif re.search(r"(^|\s)(CRON_)?TZ=", schedule):
        errs.invalid("spec.schedule", schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    else:
        err = schedule_error(schedule)
        if err:
            errs.invalid("spec.schedule", schedule, err)
    tz = spec.get("timeZone")
    if tz is not None:
        err = time_zone_error(tz)
        if err:
            errs.invalid("spec.timeZone", tz, err)
    for key in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        value = spec.get(key)
        if value is not None and value < 0:
            errs.invalid(f"spec.{key}", value, "must be greater than or equal to 0")
    policy = spec.get("concurrencyPolicy")
    errs.enum("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"])
    template = spec.get("jobTemplate")
    if template is None:
        errs.required("spec.jobTemplate")
        return

    tmeta = template.get("metadata") or {}
    validate_labels(errs, tmeta.get("labels"), "spec.jobTemplate.metadata.labels")
    jspec = template.get("spec") or {}
    if jspec.get("selector") is not None:
        errs.invalid("spec.jobTemplate.spec.selector", jspec["selector"], "`selector` will be auto-generated")
    if jspec.get("manualSelector") is True:
        errs.not_supported("spec.jobTemplate.spec.manualSelector", True, ["nil", "false"])
    validate_job_spec(errs, jspec, "spec.jobTemplate.spec")


def validate_cronjob_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Every field of a CronJob's spec may change (its Jobs keep the template they were made from)."""


# --- defaults ------------------------------------------------------------------------------------


def default_cronjob(obj: dict[str, Any]) -> None:

    spec = dict_at(obj, "spec")
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    template = dict_at(spec, "jobTemplate")
    if isinstance(template, dict):
        jspec = dict_at(template, "spec")
        if isinstance(jspec, dict):
            _default_template(jspec)


# --- tables --------------------------------------------------------------------------------------


COLUMNS = [
        tables.NAME_COLUMN,
        tables.column("Schedule", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
        tables.column("Timezone", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/"
                         "List_of_tz_database_time_zones. If not specified, this will default to the time zone "
                         "of the kube-controller-manager process. The set of valid time zone names and the time "
                         "zone offset is loaded from the system-wide time zone database by the API server during "
                         "CronJob validation and the controller manager during execution. If no system-wide time "
                         "zone database can be found a bundled version of the database is used instead. If the "
                         "time zone name becomes invalid during the lifetime of a CronJob or due to a change in "
                         "host configuration, the controller will stop creating new new Jobs and will create a "
                         "system event with the reason UnknownTimeZone. More information can be found in "
                         "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"),
        tables.column("Suspend", "This flag tells the controller to suspend subsequent executions, it does not apply to "
                        "already started executions.  Defaults to false.", type_="boolean"),
        tables.column("Active", "A list of pointers to currently running jobs.", type_="integer"),
        tables.column("Last Schedule", "Information when was the last time the job was successfully scheduled."),
        tables.AGE_COLUMN,
        tables.CONTAINERS_COLUMN,
        tables.IMAGES_COLUMN,
        tables.column("Selector", "A label query over pods that should match the pod count. Normally, the system sets "
                         "this field for you. More info: https://kubernetes.io/docs/concepts/overview/"
                         "working-with-objects/labels/#label-selectors", priority=1),
]


def cronjob_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    suspend = spec.get("suspend")
    last = status.get("lastScheduleTime")
    jspec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return [tables.name(obj), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "<unset>" if suspend is None else ("True" if suspend else "False"),
            len(status.get("active") or []), tables.since(last, now) if last else "<none>", tables.age(obj, now),
            *template_cells(jspec.get("template"), jspec.get("selector"))]




class CronJobStrategy(Strategy):
    def prepare_create(self, obj: dict[str, Any], store: StoreView) -> None:
        obj["status"] = {}


CRONJOB = Kind(
    Resource("batch", "v1", "cronjobs", "cronjob", "CronJob", True, ("cj",), ("all",), tuple(ALL_VERBS), ("status",)),
    model=CronJob, validate=validate_cronjob, validate_update=validate_cronjob_update, default=default_cronjob,
    columns=COLUMNS, cells=cronjob_cells,
    merge_keys=mergekeys.merge_keys(mergekeys.pod_spec_at("spec.jobTemplate.spec.template.spec")),
    strategy=CronJobStrategy(),
)
KINDS = [CRONJOB]
