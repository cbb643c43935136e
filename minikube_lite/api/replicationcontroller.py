"""core/v1 ReplicationController: schema, validation, defaults and ``kubectl get`` columns.

The ReplicaSet's ancestor, still served by Kubernetes: its selector is a plain label map, which
defaults to the template's labels (and the controller's own labels too), as
``pkg/apis/core/v1/defaults.go`` does. Validation follows ``ValidateReplicationControllerSpec``:
a non-empty selector matching the template's labels, ``restartPolicy: Always`` only, replicas
non-negative. Kept by the ReplicaSet controller's loop (controllers/replicationcontroller.py).

``kubectl get rc`` prints ``NAME DESIRED CURRENT READY AGE`` (+ ``CONTAINERS IMAGES SELECTOR``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .apps import PodTemplateSpec, ReplicaSetCondition, _validate_template
from .models import K8sModel, StrMap, TypedObject

if TYPE_CHECKING:
    from .validation import ErrorList


class ReplicationControllerSpec(K8sModel):
    replicas: int | None = None
    minReadySeconds: int | None = None
    selector: StrMap | None = None
    template: PodTemplateSpec | None = None


class ReplicationControllerStatus(K8sModel):
    replicas: int | None = None
    fullyLabeledReplicas: int | None = None
    readyReplicas: int | None = None
    availableReplicas: int | None = None
    observedGeneration: int | None = None
    conditions: list[ReplicaSetCondition] | None = None


class ReplicationController(TypedObject):
    spec: ReplicationControllerSpec | None = None
    status: ReplicationControllerStatus | None = None


MODELS: dict[str, type[TypedObject]] = {"ReplicationController": ReplicationController}


def _effective_selector(spec: dict[str, Any]) -> dict[str, str]:
    return spec.get("selector") or (((spec.get("template") or {}).get("metadata") or {}).get("labels")) or {}


def validate_replicationcontroller(errs: ErrorList, obj: dict[str, Any]) -> None:
    from . import validation as v

    spec = obj.get("spec") or {}
    for key in ("replicas", "minReadySeconds"):
        value = spec.get(key)
        if value is not None and value < 0:
            errs.invalid(f"spec.{key}", value, "must be greater than or equal to 0")
    selector = _effective_selector(spec)
    if not selector:
        errs.required("spec.selector")
    v._validate_labels(errs, spec.get("selector"), "spec.selector")
    template = spec.get("template")
    if template is None:
        errs.required("spec.template")
        return
    labels = ((template.get("metadata") or {}).get("labels")) or {}
    if selector and any(labels.get(k) != val for k, val in selector.items()):
        errs.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
    _validate_template(errs, template)


def validate_replicationcontroller_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    """A ReplicationController's selector may change (unlike apps/v1 kinds)."""


VALIDATORS = {"ReplicationController": validate_replicationcontroller}
UPDATE_VALIDATORS = {"ReplicationController": validate_replicationcontroller_update}


def default_replicationcontroller(obj: dict[str, Any]) -> None:
    from .apps import _default_template

    spec = obj.setdefault("spec", {})
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = obj.setdefault("metadata", {})
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    spec.setdefault("replicas", 1)
    _default_template(spec)


DEFAULTS = {"ReplicationController": default_replicationcontroller}


def columns() -> dict[str, list[dict[str, Any]]]:
    from .tables import _AGE, _NAME, _col

    return {"ReplicationController": [
        _NAME,
        _col("Desired", "Replicas is the number of desired replicas. This is a pointer to distinguish between "
                        "explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/"
                        "concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller",
             type_="integer"),
        _col("Current", "Replicas is the most recently observed number of replicas. More info: https://"
                        "kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller"
                        "#what-is-a-replicationcontroller", type_="integer"),
        _col("Ready", "The number of ready replicas for this replication controller.", type_="integer"),
        _AGE,
        _col("Containers", "Names of each container in the template.", priority=1),
        _col("Images", "Images referenced by each container in the template.", priority=1),
        _col("Selector", "Selector is a label query over pods that should match the Replicas count. If Selector "
                         "is empty, it is defaulted to the labels present on the Pod template. Label keys and "
                         "values that must match in order to be controlled by this replication controller, if "
                         "empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/"
                         "concepts/overview/working-with-objects/labels/#label-selectors", priority=1),
    ]}


def replicationcontroller_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    from .tables import _age, _name, format_selector

    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [_name(obj), spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0),
            _age(obj, now), ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers), format_selector(spec.get("selector"))]


CELLS = {"ReplicationController": replicationcontroller_cells}
