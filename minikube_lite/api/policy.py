"""policy/v1 PodDisruptionBudget: schema, validation and ``kubectl get`` columns.

A budget says how many of the pods its selector picks must stay up (``minAvailable``) or may
be down (``maxUnavailable``), as an integer or a percentage. The Eviction API
(``apiserver/eviction.py``, the ``pods/eviction`` subresource whose kind is policy/v1
``Eviction``) refuses an eviction that would break it; the disruption controller
(``controllers/disruption.py``) keeps its ``status`` (currentHealthy, desiredHealthy,
disruptionsAllowed, expectedPods). Rules follow Kubernetes' ``pkg/apis/policy/validation``:
not both fields, a non-negative integer or a percentage of at most 100%, a valid selector and
``unhealthyPodEvictionPolicy`` IfHealthyBudget or AlwaysAllow.

``kubectl get pdb`` prints ``NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from minikube_lite.api.apps import LabelSelector
from minikube_lite.api.kind import Kind
from minikube_lite.api.models import IntOrString, K8sModel, Time, TypedObject
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, name
from minikube_lite.api.validation import ErrorList, validate_label_selector

UNHEALTHY_POD_EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]
_PERCENT = re.compile(r"^[0-9]+%$")


class PodDisruptionBudgetSpec(K8sModel):
    minAvailable: IntOrString | None = None
    maxUnavailable: IntOrString | None = None
    selector: LabelSelector | None = None
    unhealthyPodEvictionPolicy: str | None = None


class Condition(K8sModel):
    type: str | None = None
    status: str | None = None
    observedGeneration: int | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class PodDisruptionBudgetStatus(K8sModel):
    observedGeneration: int | None = None
    disruptedPods: dict[str, Any] | None = None
    disruptionsAllowed: int | None = None
    currentHealthy: int | None = None
    desiredHealthy: int | None = None
    expectedPods: int | None = None
    conditions: list[Condition] | None = None


class PodDisruptionBudget(TypedObject):
    spec: PodDisruptionBudgetSpec | None = None
    status: PodDisruptionBudgetStatus | None = None


def _int_or_percent(errs: ErrorList, value: Any, path: str) -> None:
    """``ValidatePositiveIntOrPercent`` and ``IsNotMoreThan100Percent``."""
    if isinstance(value, str):
        if not _PERCENT.match(value):
            errs.invalid(path, value, "must be an integer or percentage (e.g '5%')")
        elif int(value[:-1]) > 100:
            errs.invalid(path, value, "must not be greater than 100%")
    elif isinstance(value, int) and value < 0:
        errs.invalid(path, value, "must be greater than or equal to 0")


def validate_pdb(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set")
    for key in ("minAvailable", "maxUnavailable"):
        if spec.get(key) is not None:
            _int_or_percent(errs, spec[key], f"spec.{key}")
    if spec.get("selector") is not None:
        validate_label_selector(errs, spec["selector"], "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None:
        errs.enum("spec.unhealthyPodEvictionPolicy", policy, UNHEALTHY_POD_EVICTION_POLICIES)


COLUMNS = [NAME_COLUMN,
           column("Min Available", "The minimum number of pods that must be available."),
           column("Max Unavailable", "The maximum number of pods that may be unavailable."),
           column("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time.",
                  type_="integer"),
           AGE_COLUMN]


def pdb_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}

    def shown(v: Any) -> str:
        return "N/A" if v is None else str(v)
    return [name(obj), shown(spec.get("minAvailable")), shown(spec.get("maxUnavailable")),
            int(status.get("disruptionsAllowed") or 0), age(obj, now)]


PDB = Kind(
    Resource("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", True,
             ("pdb",), (), tuple(ALL_VERBS), ("status",)),
    model=PodDisruptionBudget, validate=validate_pdb, columns=COLUMNS, cells=pdb_cells,
)
KINDS = [PDB]
