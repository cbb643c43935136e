"""apps/v1 DaemonSet: schema, validation, defaults and ``kubectl get`` columns.

Rules from Kubernetes' ``pkg/apis/apps/validation`` (``ValidateDaemonSetSpec``) and
``pkg/apis/apps/v1/defaults.go``: a non-empty selector selecting the template's labels, the
template's ``restartPolicy`` only ``Always``, ``updateStrategy`` RollingUpdate (``maxUnavailable``
and ``maxSurge`` ints or percentages, not both zero; defaults 1 and 0) or OnDelete; the selector
is immutable.

``kubectl get ds`` prints ``NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import mergekeys, tables
from .apps import (
    LabelSelector,
    PodTemplateSpec,
    _default_template,
    _is_zero,
    _template_cells,
    _validate_int_or_percent,
    validate_selector,
    validate_template,
)
from .job import dict_at
from .kind import Kind
from .models import IntOrString, K8sModel, Time, TypedObject
from .resources import ALL_VERBS, Resource
from .statefulset import StatusResetStrategy
from .validation import ErrorList, normalized


class RollingUpdateDaemonSet(K8sModel):
    maxUnavailable: IntOrString | None = None
    maxSurge: IntOrString | None = None


class DaemonSetUpdateStrategy(K8sModel):
    type: str | None = None
    rollingUpdate: RollingUpdateDaemonSet | None = None


class DaemonSetSpec(K8sModel):
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    updateStrategy: DaemonSetUpdateStrategy | None = None
    minReadySeconds: int | None = None
    revisionHistoryLimit: int | None = None


class DaemonSetCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class DaemonSetStatus(K8sModel):
    currentNumberScheduled: int | None = None
    numberMisscheduled: int | None = None
    desiredNumberScheduled: int | None = None
    numberReady: int | None = None
    observedGeneration: int | None = None
    updatedNumberScheduled: int | None = None
    numberAvailable: int | None = None
    numberUnavailable: int | None = None
    collisionCount: int | None = None
    conditions: list[DaemonSetCondition] | None = None


class DaemonSet(TypedObject):
    spec: DaemonSetSpec | None = None
    status: DaemonSetStatus | None = None



def validate_daemonset(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    for key in ("minReadySeconds", "revisionHistoryLimit"):
        value = spec.get(key)
        if value is not None and value < 0:
            errs.invalid(f"spec.{key}", value, "must be greater than or equal to 0")
    selector = spec.get("selector")
    if selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errs.invalid("spec.selector", selector, "empty selector is invalid for daemonset")
    else:
        validate_selector(errs, selector, spec.get("template"))
    validate_template(errs, spec.get("template"))
    strategy = spec.get("updateStrategy") or {}
    stype = strategy.get("type")
    errs.enum("spec.updateStrategy.type", stype, ["OnDelete", "RollingUpdate"])
    rolling = strategy.get("rollingUpdate")
    if rolling is not None and stype in (None, "RollingUpdate"):
        surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
        _validate_int_or_percent(errs, unavailable, "spec.updateStrategy.rollingUpdate.maxUnavailable")
        _validate_int_or_percent(errs, surge, "spec.updateStrategy.rollingUpdate.maxSurge")
        if _is_zero(surge) and _is_zero(unavailable):
            errs.invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", unavailable if unavailable is not None
                         else 0, "may not be 0 when `maxSurge` is 0")
        elif not _is_zero(surge) and not _is_zero(unavailable):
            errs.invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", unavailable,
                         "may not be set when maxSurge is set")


def validate_daemonset_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:

    if normalized((old.get("spec") or {}).get("selector")) != normalized((new.get("spec") or {}).get("selector")):
        errs.invalid("spec.selector", (new.get("spec") or {}).get("selector"), "field is immutable")



def default_daemonset(obj: dict[str, Any]) -> None:

    spec = dict_at(obj, "spec")
    strategy = dict_at(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = dict_at(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _default_template(spec)



COLUMNS = [
        tables.NAME_COLUMN,
        tables.column("Desired", "The total number of nodes that should be running the daemon pod (including nodes "
                        "correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/"
                        "workloads/controllers/daemonset/", type_="integer"),
        tables.column("Current", "The number of nodes that are running at least 1 daemon pod and are supposed to run the "
                        "daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/"
                        "daemonset/", type_="integer"),
        tables.column("Ready", "numberReady is the number of nodes that should be running the daemon pod and have one or "
                      "more of the daemon pod running with a Ready Condition.", type_="integer"),
        tables.column("Up-to-date", "The total number of nodes that are running updated daemon pod", type_="integer"),
        tables.column("Available", "The number of nodes that should be running the daemon pod and have one or more of the "
                          "daemon pod running and available (ready for at least spec.minReadySeconds)",
             type_="integer"),
        tables.column("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on a node. "
                              "Selector which must match a node's labels for the pod to be scheduled on that node. "
                              "More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
        tables.AGE_COLUMN,
        tables.CONTAINERS_COLUMN,
        tables.IMAGES_COLUMN,
        tables.column("Selector", "A label query over pods that are managed by the daemon set. Must match in order to be "
                         "controlled. It must match the pod template's labels. More info: https://kubernetes.io/"
                         "docs/concepts/overview/working-with-objects/labels/#label-selectors", priority=1),
]


def daemonset_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
    return [tables.name(obj), status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0), status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            tables.format_selector(node_selector), tables.age(obj, now), *_template_cells(spec)]




DAEMONSET = Kind(
    Resource("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True, ("ds",), ("all",), tuple(ALL_VERBS),
             ("status",)),
    model=DaemonSet, validate=validate_daemonset, validate_update=validate_daemonset_update,
    default=default_daemonset, columns=COLUMNS, cells=daemonset_cells,
    merge_keys=mergekeys.merge_keys(mergekeys.pod_spec_at("spec.template.spec"), mergekeys.CONDITIONS),
    strategy=StatusResetStrategy(),
)
KINDS = [DAEMONSET]
