"""batch/v1 Job: schema, the generated selector, validation, defaults and ``kubectl get`` columns.

The rules follow Kubernetes' ``pkg/apis/batch/validation``, ``pkg/apis/batch/v1/defaults.go`` and
the Job registry strategy (``pkg/registry/batch/job/strategy.go``):

* unless ``manualSelector: true``, the API server generates the selector from the Job's uid and
  labels the template with ``batch.kubernetes.io/controller-uid`` / ``job-name`` (and the legacy
  ``controller-uid`` / ``job-name``); a selector written by hand is refused with
  "`selector` not auto-generated";
* the template's ``restartPolicy`` must be ``OnFailure`` or ``Never`` (``Always``, the pod
  default, is refused with kube-apiserver's "Required value: valid values" wording);
* ``completionMode: Indexed`` needs ``completions``; ``podFailurePolicy`` needs ``Never``;
* ``selector``, ``completionMode`` and (unless the Job is suspended) ``template`` are immutable.

The columns are the server's Table for the version announced in ``/version`` (1.32): ``NAME
STATUS COMPLETIONS DURATION AGE`` (+ ``CONTAINERS IMAGES SELECTOR`` with ``-o wide``).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from . import mergekeys, tables
from .apps import LabelSelector, PodTemplateSpec, _default_template, _selector_string
from .conditions import find
from .kind import Kind, StoreView, Strategy
from .labels import matches_selector
from .models import K8sModel, Time, TypedObject
from .podspec import validate_pod_spec
from .resources import ALL_VERBS, Resource
from .validation import ErrorList, normalized, validate_labels

CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
MAX_INDEXED_COMPLETIONS = 100_000
MAX_POD_FAILURE_POLICY_RULES = 20
MAX_EXIT_CODE_VALUES = 255

def dict_at(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """``parent[key]`` as a map, made empty when missing or null (``setdefault`` keeps a null)."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value


# --- models ------------------------------------------------------------------------------------


class PodFailurePolicyOnExitCodesRequirement(K8sModel):
    containerName: str | None = None
    operator: str | None = None
    values: list[int] | None = None


class PodFailurePolicyOnPodConditionsPattern(K8sModel):
    type: str | None = None
    status: str | None = None


class PodFailurePolicyRule(K8sModel):
    action: str | None = None
    onExitCodes: PodFailurePolicyOnExitCodesRequirement | None = None
    onPodConditions: list[PodFailurePolicyOnPodConditionsPattern] | None = None


class PodFailurePolicy(K8sModel):
    rules: list[PodFailurePolicyRule] | None = None


class SuccessPolicyRule(K8sModel):
    succeededIndexes: str | None = None
    succeededCount: int | None = None


class SuccessPolicy(K8sModel):
    rules: list[SuccessPolicyRule] | None = None


class JobSpec(K8sModel):
    parallelism: int | None = None
    completions: int | None = None
    activeDeadlineSeconds: int | None = None
    podFailurePolicy: PodFailurePolicy | None = None
    successPolicy: SuccessPolicy | None = None
    backoffLimit: int | None = None
    backoffLimitPerIndex: int | None = None
    maxFailedIndexes: int | None = None
    selector: LabelSelector | None = None
    manualSelector: bool | None = None
    template: PodTemplateSpec | None = None
    ttlSecondsAfterFinished: int | None = None
    completionMode: str | None = None
    suspend: bool | None = None
    podReplacementPolicy: str | None = None
    managedBy: str | None = None


class JobCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    lastProbeTime: Time | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class UncountedTerminatedPods(K8sModel):
    succeeded: list[str] | None = None
    failed: list[str] | None = None


class JobStatus(K8sModel):
    conditions: list[JobCondition] | None = None
    startTime: Time | None = None
    completionTime: Time | None = None
    active: int | None = None
    succeeded: int | None = None
    failed: int | None = None
    terminating: int | None = None
    completedIndexes: str | None = None
    failedIndexes: str | None = None
    uncountedTerminatedPods: UncountedTerminatedPods | None = None
    ready: int | None = None


class Job(TypedObject):
    spec: JobSpec | None = None
    status: JobStatus | None = None


# --- the generated selector (the registry strategy, before validation) ---------------------------


def generate_selector(obj: dict[str, Any]) -> None:
    """Label the template with the Job's identity and select on it, as the Job strategy does.

    Needs ``metadata.uid`` (the API server assigns it before validating). Labels the user already
    set are kept (validation then reports them); a selector already present is left alone.
    """
    spec = obj.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    meta = obj.get("metadata") or {}
    uid, name = meta.get("uid") or "", meta.get("name") or ""
    template = dict_at(spec, "template")
    if not isinstance(template, dict):
        return
    tmeta = dict_at(template, "metadata")
    labels = dict_at(tmeta, "labels")
    for key, value in ((CONTROLLER_UID_LABEL, uid), (JOB_NAME_LABEL, name),
                       (LEGACY_CONTROLLER_UID_LABEL, uid), (LEGACY_JOB_NAME_LABEL, name)):
        labels.setdefault(key, value)
    if spec.get("selector") is None:
        spec["selector"] = {"matchLabels": {CONTROLLER_UID_LABEL: uid}}


# --- validation ----------------------------------------------------------------------------------


def validate_pod_template(errs: ErrorList, template: dict[str, Any] | None, path: str) -> None:
    """A pod template's labels and pod spec (the restart policy is each kind's own rule)."""

    if template is None:
        errs.required(path)
        return
    validate_labels(errs, (template.get("metadata") or {}).get("labels"), f"{path}.metadata.labels")
    validate_pod_spec(errs, template.get("spec"), f"{path}.spec")


def _non_negative(errs: ErrorList, spec: dict[str, Any], key: str, path: str) -> None:
    value = spec.get(key)
    if value is not None and value < 0:
        errs.invalid(f"{path}.{key}", value, "must be greater than or equal to 0")


def _validate_generated_selector(errs: ErrorList, obj: dict[str, Any], path: str) -> None:
    spec = obj.get("spec") or {}
    if spec.get("manualSelector") is True:
        return
    uid = (obj.get("metadata") or {}).get("uid") or ""
    if not uid:
        # a create: the uid (and so the selector) is assigned after validation (JobStrategy.begin_create)
        if spec.get("selector") is not None:
            errs.invalid(f"{path}.selector", spec["selector"], "`selector` not auto-generated")
        return
    labels = (((spec.get("template") or {}).get("metadata") or {}).get("labels")) or {}
    lpath = f"{path}.template.metadata.labels"
    for key in (LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL):
        if key in labels and labels[key] != uid:
            errs.invalid(lpath, labels, f"`{key}` must be '{uid}'")
    selector = spec.get("selector")
    if selector is None:
        errs.required(f"{path}.selector")
    elif selector != {"matchLabels": {CONTROLLER_UID_LABEL: uid}}:
        errs.invalid(f"{path}.selector", selector, "`selector` not auto-generated")


def _validate_exit_codes(errs: ErrorList, req: dict[str, Any], path: str) -> None:
    op = req.get("operator")
    if op is None:
        errs.required(f"{path}.operator")
    else:
        errs.enum(f"{path}.operator", op, ["In", "NotIn"])
    values = req.get("values") or []
    if not values:
        errs.required(f"{path}.values", "at least one value is required")
    if len(values) > MAX_EXIT_CODE_VALUES:
        errs.add(f"{path}.values", "FieldValueTooMany",
                 f"Too many: {len(values)}: must have at most {MAX_EXIT_CODE_VALUES} items")
    seen: set[int] = set()
    previous: int | None = None
    for i, value in enumerate(values):
        if value in seen:
            errs.duplicate(f"{path}.values[{i}]", value)
        elif previous is not None and value < previous:
            errs.invalid(f"{path}.values[{i}]", value, "must be ordered")
        if op == "In" and value == 0:
            errs.invalid(f"{path}.values[{i}]", value, "must not be 0 for the In operator")
        seen.add(value)
        previous = value


def _validate_pod_failure_policy(errs: ErrorList, spec: dict[str, Any], path: str) -> None:
    policy = spec.get("podFailurePolicy")
    if policy is None:
        return
    restart = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    if restart != "Never":
        errs.invalid(f"{path}.template.spec.restartPolicy", restart or "",
                     'only "Never" is supported when podFailurePolicy is specified')
    rules = policy.get("rules") or []
    ppath = f"{path}.podFailurePolicy.rules"
    if len(rules) > MAX_POD_FAILURE_POLICY_RULES:
        errs.invalid(ppath, len(rules), f"must have at most {MAX_POD_FAILURE_POLICY_RULES} items")
    indexed = spec.get("completionMode") == "Indexed"
    for i, rule in enumerate(rules):
        rpath = f"{ppath}[{i}]"
        action = rule.get("action")
        actions = ["Count", "FailIndex", "FailJob", "Ignore"]
        if action is None:
            errs.required(f"{rpath}.action")
        else:
            errs.enum(f"{rpath}.action", action, actions)
        if action == "FailIndex" and not (indexed and spec.get("backoffLimitPerIndex") is not None):
            errs.forbidden(f"{rpath}.action", "the 'FailIndex' action can only be used when backoffLimitPerIndex "
                                              "is set")
        on_codes, on_conditions = rule.get("onExitCodes"), rule.get("onPodConditions")
        if on_codes is None and on_conditions is None:
            errs.invalid(rpath, rule, "specifying one of OnExitCodes and OnPodConditions is required")
        elif on_codes is not None and on_conditions is not None:
            errs.invalid(rpath, rule, "specifying both OnExitCodes and OnPodConditions is not supported")
        if on_codes is not None:
            _validate_exit_codes(errs, on_codes, f"{rpath}.onExitCodes")
        for j, pattern in enumerate(on_conditions or []):
            cpath = f"{rpath}.onPodConditions[{j}]"
            if not pattern.get("type"):
                errs.required(f"{cpath}.type")
            errs.enum(f"{cpath}.status", pattern.get("status"), ["False", "True", "Unknown"])


def validate_job_spec(errs: ErrorList, spec: dict[str, Any], path: str = "spec") -> None:
    """The rules of a JobSpec (shared with a CronJob's ``jobTemplate.spec``)."""
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
                "backoffLimitPerIndex", "maxFailedIndexes"):
        _non_negative(errs, spec, key, path)
    mode = spec.get("completionMode")
    errs.enum(f"{path}.completionMode", mode, ["Indexed", "NonIndexed"])
    if mode == "Indexed":
        completions = spec.get("completions")
        if completions is None:
            errs.required(f"{path}.completions", "when completion mode is Indexed")
        elif completions > MAX_INDEXED_COMPLETIONS:
            errs.invalid(f"{path}.completions", completions,
                         f"must be less than or equal to {MAX_INDEXED_COMPLETIONS} when completion mode is Indexed")
        parallelism = spec.get("parallelism")
        if parallelism is not None and parallelism > MAX_INDEXED_COMPLETIONS:
            errs.invalid(f"{path}.parallelism", parallelism,
                         f"must be less than or equal to {MAX_INDEXED_COMPLETIONS} when completion mode is Indexed")
    elif spec.get("backoffLimitPerIndex") is not None:
        errs.forbidden(f"{path}.backoffLimitPerIndex", "requires indexed completion mode")
    errs.enum(f"{path}.podReplacementPolicy", spec.get("podReplacementPolicy"), ["Failed", "TerminatingOrFailed"])
    if spec.get("podFailurePolicy") is not None and spec.get("podReplacementPolicy") not in (None, "Failed"):
        errs.not_supported(f"{path}.podReplacementPolicy", spec["podReplacementPolicy"], ["Failed"])
    template = spec.get("template")
    validate_pod_template(errs, template, f"{path}.template")
    restart = ((template or {}).get("spec") or {}).get("restartPolicy")
    if template is not None and restart not in ("OnFailure", "Never"):
        errs.required(f"{path}.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"')
    _validate_pod_failure_policy(errs, spec, path)
    selector = spec.get("selector")
    if selector is not None and template is not None:

        labels = ((template.get("metadata") or {}).get("labels")) or {}
        if not matches_selector(selector, labels):
            errs.invalid(f"{path}.template.metadata.labels", labels, "`selector` does not match template `labels`")


def validate_job(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    _validate_generated_selector(errs, obj, "spec")
    validate_job_spec(errs, spec)


def validate_job_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:

    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if normalized(old_spec.get("selector")) != normalized(new_spec.get("selector")):
        errs.invalid("spec.selector", new_spec.get("selector"), "field is immutable")
    if (old_spec.get("completionMode") or "NonIndexed") != (new_spec.get("completionMode") or "NonIndexed"):
        errs.invalid("spec.completionMode", new_spec.get("completionMode"), "field is immutable")
    if old_spec.get("completions") != new_spec.get("completions") and not (
            new_spec.get("completionMode") == "Indexed" and new_spec.get("completions") == new_spec.get("parallelism")):
        errs.invalid("spec.completions", new_spec.get("completions"), "field is immutable")
    if normalized(old_spec.get("podFailurePolicy")) != normalized(new_spec.get("podFailurePolicy")):
        errs.invalid("spec.podFailurePolicy", new_spec.get("podFailurePolicy"), "field is immutable")
    if normalized(old_spec.get("template")) != normalized(new_spec.get("template")):
        # A suspended Job that never started may change its scheduling directives (Kubernetes'
        # mutable scheduling directives); anything else in the template is immutable.
        old_t, new_t = _without_scheduling(old_spec.get("template")), _without_scheduling(new_spec.get("template"))
        never_started = not (old.get("status") or {}).get("startTime")
        if not (old_spec.get("suspend") and never_started and normalized(old_t) == normalized(new_t)):
            errs.invalid("spec.template", new_spec.get("template"), "field is immutable")


def _without_scheduling(template: dict[str, Any] | None) -> dict[str, Any]:

    out = copy.deepcopy(template or {})
    spec = out.get("spec") or {}
    for key in ("nodeSelector", "tolerations", "affinity", "schedulingGates"):
        spec.pop(key, None)
    meta = out.get("metadata") or {}
    for key in ("labels", "annotations"):
        meta.pop(key, None)
    return out


# --- defaults ------------------------------------------------------------------------------------


def default_job_spec(spec: dict[str, Any]) -> None:

    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2**31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed"
    for rule in (spec.get("podFailurePolicy") or {}).get("rules") or []:
        for pattern in rule.get("onPodConditions") or []:
            pattern.setdefault("status", "True")
    if spec.get("manualSelector") is None and "selector" in spec:
        spec["manualSelector"] = False
    _default_template(spec)


def default_job(obj: dict[str, Any]) -> None:
    spec = dict_at(obj, "spec")
    default_job_spec(spec)
    meta = dict_at(obj, "metadata")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if labels and not meta.get("labels"):
        meta["labels"] = dict(labels)


# --- tables --------------------------------------------------------------------------------------


COLUMNS = [
        tables.NAME_COLUMN,
        tables.column("Status", "Status of the job."),
        tables.column("Completions", "The number of pods which reached phase Succeeded. The value increases monotonically "
                            "for a given spec. However, it may decrease in reaction to scale down of elastic "
                            "indexed jobs."),
        tables.column("Duration", "Time required to complete the job."),
        tables.AGE_COLUMN,
        tables.CONTAINERS_COLUMN,
        tables.IMAGES_COLUMN,
        tables.column("Selector", "A label query over pods that should match the pod count. Normally, the system sets "
                         "this field for you. More info: https://kubernetes.io/docs/concepts/overview/"
                         "working-with-objects/labels/#label-selectors", priority=1),
]


def _condition_true(status: dict[str, Any], ctype: str) -> bool:
    return (find(status.get("conditions"), ctype) or {}).get("status") == "True"


def job_status_word(obj: dict[str, Any]) -> str:
    """The STATUS cell, in the printer's order of precedence."""
    status = obj.get("status") or {}
    if _condition_true(status, "Complete"):
        return "Complete"
    if _condition_true(status, "Failed"):
        return "Failed"
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    if _condition_true(status, "Suspended"):
        return "Suspended"
    if _condition_true(status, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def job_completions(obj: dict[str, Any]) -> str:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    succeeded = status.get("succeeded", 0) or 0
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism") or 0
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def job_duration(obj: dict[str, Any], now: datetime) -> str:

    status = obj.get("status") or {}
    start = tables.parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = tables.parse_time(status.get("completionTime")) or now
    return tables.human_duration((end - start).total_seconds())


def template_cells(template: dict[str, Any] | None, selector: dict[str, Any] | None) -> list[str]:
    containers = ((template or {}).get("spec") or {}).get("containers") or []
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers),
            _selector_string(selector)]


def job_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    spec = obj.get("spec") or {}
    return [tables.name(obj), job_status_word(obj), job_completions(obj), job_duration(obj, now), tables.age(obj, now),
            *template_cells(spec.get("template"), spec.get("selector"))]




class JobStrategy(Strategy):
    """The Job registry strategy: status starts empty; the selector and the template's labels are
    generated from the uid (assigned after validation here, so they are added just before the store)."""

    def prepare_create(self, obj: dict[str, Any], store: StoreView) -> None:
        obj["status"] = {}

    def begin_create(self, obj: dict[str, Any], store: StoreView) -> None:
        generate_selector(obj)
        meta = dict_at(obj, "metadata")
        labels = (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
        if labels and not meta.get("labels"):
            meta["labels"] = dict(labels)


JOB = Kind(
    Resource("batch", "v1", "jobs", "job", "Job", True, (), ("all",), tuple(ALL_VERBS), ("status",)),
    model=Job, validate=validate_job, validate_update=validate_job_update, default=default_job,
    columns=COLUMNS, cells=job_cells,
    merge_keys=mergekeys.merge_keys(mergekeys.pod_spec_at("spec.template.spec"), mergekeys.CONDITIONS),
    strategy=JobStrategy(),
)
KINDS = [JOB]
