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
from typing import Any

from . import mergekeys, tables
from .apps import PodTemplateSpec, ReplicaSetCondition, _default_template, validate_template
from .job import dict_at
from .kind import Kind
from .models import K8sModel, StrMap, TypedObject
from .resources import ALL_VERBS, Resource
from .statefulset import StatusResetStrategy
from .validation import ErrorList, validate_labels


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



def _effective_selector(spec: dict[str, Any]) -> dict[str, str]:
    return spec.get("selector") or (((spec.get("template") or {}).get("metadata") or {}).get("labels")) or {}


def validate_replicationcontroller(errs: ErrorList, obj: dict[str, Any]) -> None:

    spec = obj.get("spec") or {}
    for key in ("replicas", "minReadySeconds"):
        value = spec.get(key)
        if value is not None and value < 0:
            errs.invalid(f"spec.{key}", value, "must be greater than or equal to 0")
    selector = _effective_selector(spec)
    if not selector:
        errs.required("spec.selector")
    validate_labels(errs, spec.get("selector"), "spec.selector")
    template = spec.get("template")
    if template is None:
        errs.required("spec.template")
        return
    labels = ((template.get("metadata") or {}).get("labels")) or {}
    if selector and any(labels.get(k) != val for k, val in selector.items()):
        errs.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
    validate_template(errs, template)


def validate_replicationcontroller_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    """A ReplicationController's selector may change (unlike apps/v1 kinds)."""



def default_replicationcontroller(obj: dict[str, Any]) -> None:

    spec = dict_at(obj, "spec")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = dict_at(obj, "metadata")
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    spec.setdefault("replicas", 1)
    _default_template(spec)



COLUMNS = [
        tables.NAME_COLUMN,
        tables.column("Desired", "Replicas is the number of desired replicas. This is a pointer to distinguish between "
                        "explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/"
                        "concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller",
             type_="integer"),
        tables.column("Current", "Replicas is the most recently observed number of replicas. More info: https://"
                        "kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller"
                        "#what-is-a-replicationcontroller", type_="integer"),
        tables.column("Ready", "The number of ready replicas for this replication controller.", type_="integer"),
        tables.AGE_COLUMN,
        tables.CONTAINERS_COLUMN,
        tables.IMAGES_COLUMN,
        tables.column("Selector", "Selector is a label query over pods that should match the Replicas count. If Selector "
                         "is empty, it is defaulted to the labels present on the Pod template. Label keys and "
                         "values that must match in order to be controlled by this replication controller, if "
                         "empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/"
                         "concepts/overview/working-with-objects/labels/#label-selectors", priority=1),
]


def replicationcontroller_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [tables.name(obj), spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0),
            tables.age(obj, now), ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers), tables.format_selector(spec.get("selector"))]




REPLICATIONCONTROLLER = Kind(
    Resource("", "v1", "replicationcontrollers", "replicationcontroller", "ReplicationController", True, ("rc",),
             ("all",), tuple(ALL_VERBS), ("status", "scale"), {"scale": ("Scale", "autoscaling", "v1")}),
    model=ReplicationController, validate=validate_replicationcontroller,
    validate_update=validate_replicationcontroller_update, default=default_replicationcontroller,
    columns=COLUMNS, cells=replicationcontroller_cells,
    merge_keys=mergekeys.merge_keys(mergekeys.pod_spec_at("spec.template.spec"), mergekeys.CONDITIONS),
    strategy=StatusResetStrategy(),
)
KINDS = [REPLICATIONCONTROLLER]
