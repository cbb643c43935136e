"""apps/v1 Deployment and ReplicaSet: schemas, validation, defaults and ``kubectl get`` columns.

Everything the API server needs to know about the two workload kinds lives here, declared as
two ``Kind`` values (``KINDS``) that ``api/register.py`` registers. ``validate_selector`` and
``validate_template`` are public for the other workload kinds. The rules follow ``pkg/apis/apps/validation`` and
``pkg/apis/apps/v1/defaults.go``: a selector is required, must be non-empty and must select the
template's labels; it may not change after creation (apps/v1); replicas are non-negative;
maxSurge and maxUnavailable are ints or percentages and may not both be zero; the template's pod
spec is checked like a pod's (with ``restartPolicy: Always`` only).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from minikube_lite.api import mergekeys
from minikube_lite.api.defaults import apply_defaults_to_pod_spec
from minikube_lite.api.intrange import Int64
from minikube_lite.api.kind import Kind
from minikube_lite.api.labels import matches_selector
from minikube_lite.api.models import IntOrString, K8sModel, ObjectMeta, PodSpec, StrMap, Time, TypedObject
from minikube_lite.api.podspec import validate_pod_spec
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import (
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    NAME_COLUMN,
    age,
    column,
    name,
)
from minikube_lite.api.validation import ErrorList, normalized, validate_label_selector, validate_labels

#: the Go package of this module's types, for their OpenAPI definition names (apiserver/schemas.py)
OPENAPI_PACKAGE = "io.k8s.api.apps.v1"

# --- models ------------------------------------------------------------------------------------


class LabelSelectorRequirement(K8sModel):
    __openapi_name__ = "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement"
    __openapi_required__ = ("key", "operator")
    key: str | None = None
    operator: str | None = None
    values: list[str] | None = None


class LabelSelector(K8sModel):
    """A label selector is a label query over a set of resources. The result of matchLabels and matchExpressions are ANDed. An empty label selector matches all objects."""

    __openapi_name__ = "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"
    matchLabels: StrMap | None = None
    """matchLabels is a map of {key,value} pairs; each is equivalent to an element of matchExpressions whose key field is "key", the operator is "In", and the values array contains only "value"."""
    matchExpressions: list[LabelSelectorRequirement] | None = None
    """matchExpressions is a list of label selector requirements. The requirements are ANDed."""


class PodTemplateSpec(K8sModel):
    """PodTemplateSpec describes the data a pod should have when created from a template."""

    __openapi_name__ = "io.k8s.api.core.v1.PodTemplateSpec"
    metadata: ObjectMeta | None = None
    """Standard object's metadata."""
    spec: PodSpec | None = None
    """Specification of the desired behavior of the pod."""


class RollingUpdateDeployment(K8sModel):
    """Spec to control the desired behavior of rolling update."""

    maxUnavailable: IntOrString | None = None
    """The maximum number of pods that can be unavailable during the update: an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Defaults to 25%."""
    maxSurge: IntOrString | None = None
    """The maximum number of pods that can be scheduled above the desired number of pods: an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Defaults to 25%."""


class DeploymentStrategy(K8sModel):
    """DeploymentStrategy describes how to replace existing pods with new ones."""

    type: str | None = None
    """Type of deployment. Can be "Recreate" or "RollingUpdate". Default is RollingUpdate."""
    rollingUpdate: RollingUpdateDeployment | None = None
    """Rolling update config params. Present only if type = RollingUpdate."""


class DeploymentSpec(K8sModel):
    """DeploymentSpec is the specification of the desired behavior of the Deployment."""

    __openapi_required__ = ("selector", "template")
    replicas: int | None = None
    """Number of desired pods. Defaults to 1."""
    selector: LabelSelector | None = None
    """Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels."""
    template: PodTemplateSpec | None = None
    """Template describes the pods that will be created."""
    strategy: DeploymentStrategy | None = None
    """The deployment strategy to use to replace existing pods with new ones."""
    minReadySeconds: int | None = None
    """Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available. Defaults to 0."""
    revisionHistoryLimit: int | None = None
    """The number of old ReplicaSets to retain to allow rollback. Defaults to 10."""
    paused: bool | None = None
    """Indicates that the deployment is paused."""
    progressDeadlineSeconds: int | None = None
    """The maximum time in seconds for a deployment to make progress before it is considered to be failed. Defaults to 600s."""


class DeploymentCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    lastUpdateTime: Time | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class DeploymentStatus(K8sModel):
    observedGeneration: Int64 | None = None
    replicas: int | None = None
    updatedReplicas: int | None = None
    readyReplicas: int | None = None
    availableReplicas: int | None = None
    unavailableReplicas: int | None = None
    terminatingReplicas: int | None = None
    conditions: list[DeploymentCondition] | None = None
    collisionCount: int | None = None


class Deployment(TypedObject):
    """Deployment enables declarative updates for Pods and ReplicaSets."""

    spec: DeploymentSpec | None = None
    """Specification of the desired behavior of the Deployment."""
    status: DeploymentStatus | None = None
    """Most recently observed status of the Deployment."""


class ReplicaSetSpec(K8sModel):
    """ReplicaSetSpec is the specification of a ReplicaSet."""

    __openapi_required__ = ("selector",)
    replicas: int | None = None
    """Replicas is the number of desired pods. Defaults to 1."""
    minReadySeconds: int | None = None
    """Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available."""
    selector: LabelSelector | None = None
    """Selector is a label query over pods that should match the replica count. It must match the pod template's labels."""
    template: PodTemplateSpec | None = None
    """Template is the object that describes the pod that will be created if insufficient replicas are detected."""


class ReplicaSetCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class ReplicaSetStatus(K8sModel):
    replicas: int | None = None
    fullyLabeledReplicas: int | None = None
    readyReplicas: int | None = None
    availableReplicas: int | None = None
    terminatingReplicas: int | None = None
    observedGeneration: Int64 | None = None
    conditions: list[ReplicaSetCondition] | None = None


class ReplicaSet(TypedObject):
    """ReplicaSet ensures that a specified number of pod replicas are running at any given time."""

    spec: ReplicaSetSpec | None = None
    """Spec defines the specification of the desired behavior of the ReplicaSet."""
    status: ReplicaSetStatus | None = None
    """Status is the most recently observed status of the ReplicaSet."""


# --- validation ----------------------------------------------------------------------------------

_PERCENT_RE = re.compile(r"^[0-9]+%$")


def _validate_int_or_percent(errs: ErrorList, value: Any, path: str) -> None:
    if isinstance(value, str):
        if not _PERCENT_RE.match(value):
            errs.invalid(path, value, "a valid percent string must be a numeric string followed by an ending '%' "
                                      "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")
        elif int(value[:-1]) > 100:
            errs.invalid(path, value, "must not be greater than 100%")
    elif isinstance(value, int) and value < 0:
        errs.invalid(path, value, "must be greater than or equal to 0")


def _is_zero(value: Any) -> bool:
    return value is None or value == 0 or (isinstance(value, str) and value.rstrip("%") in ("0", ""))


def validate_selector(errs: ErrorList, selector: dict[str, Any] | None, template: dict[str, Any] | None,
                       path: str = "spec") -> None:
    if not selector:
        errs.required(f"{path}.selector")
        return
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errs.invalid(f"{path}.selector", selector, "empty selector is invalid for deployment")
    validate_label_selector(errs, selector, f"{path}.selector")
    labels = ((template or {}).get("metadata") or {}).get("labels") or {}
    if template is not None and not matches_selector(selector, labels):
        errs.invalid(f"{path}.template.metadata.labels", labels,
                     "`selector` does not match template `labels`")


def validate_template(errs: ErrorList, template: dict[str, Any] | None, path: str = "spec.template") -> None:
    if template is None:
        errs.required(path)
        return
    meta = template.get("metadata") or {}
    validate_labels(errs, meta.get("labels"), f"{path}.metadata.labels")
    validate_pod_spec(errs, template.get("spec"), f"{path}.spec")
    policy = (template.get("spec") or {}).get("restartPolicy")
    if policy not in (None, "Always"):
        errs.not_supported(f"{path}.spec.restartPolicy", policy, ["Always"])
    if (template.get("spec") or {}).get("activeDeadlineSeconds") is not None:
        errs.forbidden(f"{path}.spec.activeDeadlineSeconds", "activeDeadlineSeconds in ReplicaSet is not Supported")


def _non_negative(errs: ErrorList, spec: dict[str, Any], key: str, path: str = "spec") -> None:
    value = spec.get(key)
    if value is not None and value < 0:
        errs.invalid(f"{path}.{key}", value, "must be greater than or equal to 0")


def validate_deployment(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    for key in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
        _non_negative(errs, spec, key)
    validate_selector(errs, spec.get("selector"), spec.get("template"))
    validate_template(errs, spec.get("template"))
    strategy = spec.get("strategy") or {}
    stype = strategy.get("type")
    errs.enum("spec.strategy.type", stype, ["Recreate", "RollingUpdate"])
    rolling = strategy.get("rollingUpdate")
    if stype == "Recreate" and rolling is not None:
        errs.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")
    if rolling is not None and stype != "Recreate":
        surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
        _validate_int_or_percent(errs, unavailable, "spec.strategy.rollingUpdate.maxUnavailable")
        _validate_int_or_percent(errs, surge, "spec.strategy.rollingUpdate.maxSurge")
        if "maxSurge" in rolling and "maxUnavailable" in rolling and _is_zero(surge) and _is_zero(unavailable):
            errs.invalid("spec.strategy.rollingUpdate.maxUnavailable", unavailable,
                         "may not be 0 when `maxSurge` is 0")
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        if deadline < 0:
            errs.invalid("spec.progressDeadlineSeconds", deadline, "must be greater than or equal to 0")
        elif deadline <= (spec.get("minReadySeconds") or 0):
            errs.invalid("spec.progressDeadlineSeconds", deadline,
                         "must be greater than minReadySeconds")


def validate_replicaset(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    for key in ("replicas", "minReadySeconds"):
        _non_negative(errs, spec, key)
    validate_selector(errs, spec.get("selector"), spec.get("template"))
    validate_template(errs, spec.get("template"))


def validate_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    """apps/v1: the selector is immutable."""
    old_sel = normalized((old.get("spec") or {}).get("selector"))
    new_sel = normalized((new.get("spec") or {}).get("selector"))
    if old_sel != new_sel:
        errs.invalid("spec.selector", (new.get("spec") or {}).get("selector"), "field is immutable")


# --- defaults ------------------------------------------------------------------------------------


def _default_template(spec: dict[str, Any]) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        if isinstance(template.get("spec"), dict):
            apply_defaults_to_pod_spec(template["spec"])


def default_deployment(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _default_template(spec)


def default_replicaset(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _default_template(spec)


# --- tables --------------------------------------------------------------------------------------


def _columns() -> dict[str, list[dict[str, Any]]]:
    containers, images = CONTAINERS_COLUMN, IMAGES_COLUMN
    selector = column("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this "
                                "will be the ones affected by this deployment.", priority=1)
    return {
        "Deployment": [
            NAME_COLUMN,
            column("Ready", "Number of the pod with ready state"),
            column("Up-to-date", "Total number of non-terminated pods targeted by this deployment that have the "
                               "desired template spec.", type_="integer"),
            column("Available", "Total number of available pods (ready for at least minReadySeconds) targeted by "
                              "this deployment.", type_="integer"),
            AGE_COLUMN, containers, images, selector,
        ],
        "ReplicaSet": [
            NAME_COLUMN,
            column("Desired", "Replicas is the number of desired replicas.", type_="integer"),
            column("Current", "Replicas is the most recently observed number of replicas.", type_="integer"),
            column("Ready", "The number of ready replicas for this replica set.", type_="integer"),
            AGE_COLUMN, containers, images, selector,
        ],
    }


def _selector_string(selector: dict[str, Any] | None) -> str:
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        op, key, values = e.get("operator"), e.get("key"), ",".join(sorted(e.get("values") or []))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key,
                      "DoesNotExist": f"!{key}"}.get(op, key))
    return ",".join(parts) or "<none>"


def _template_cells(spec: dict[str, Any]) -> list[str]:
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers),
            _selector_string(spec.get("selector"))]


def deployment_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [name(obj), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), age(obj, now),
            *_template_cells(spec)]


def replicaset_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [name(obj), spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0),
            age(obj, now), *_template_cells(spec)]


# --- the kinds -----------------------------------------------------------------------------------

_SCALE = {"scale": ("Scale", "autoscaling", "v1")}
_MERGE_KEYS = mergekeys.merge_keys(mergekeys.pod_spec_at("spec.template.spec"), mergekeys.CONDITIONS)
_COLUMNS = _columns()

DEPLOYMENT = Kind(
    Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",), ("all",), tuple(ALL_VERBS),
             ("status", "scale"), _SCALE),
    model=Deployment, validate=validate_deployment, validate_update=validate_update, default=default_deployment,
    columns=_COLUMNS["Deployment"], cells=deployment_cells, merge_keys=_MERGE_KEYS,
)
REPLICASET = Kind(
    Resource("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, ("rs",), ("all",), tuple(ALL_VERBS),
             ("status", "scale"), _SCALE),
    model=ReplicaSet, validate=validate_replicaset, validate_update=validate_update, default=default_replicaset,
    columns=_COLUMNS["ReplicaSet"], cells=replicaset_cells, merge_keys=_MERGE_KEYS,
)
KINDS = [DEPLOYMENT, REPLICASET]
