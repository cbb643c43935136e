"""apps/v1 StatefulSet and ControllerRevision: schemas, validation, defaults and ``kubectl get`` columns.

Rules from Kubernetes' ``pkg/apis/apps/validation`` (``ValidateStatefulSetSpec``, ``...Update``)
and ``pkg/apis/apps/v1/defaults.go``: a non-empty selector that selects the template's labels,
the template's ``restartPolicy`` only ``Always``, ``podManagementPolicy`` OrderedReady / Parallel,
``updateStrategy`` RollingUpdate (``partition`` >= 0, ``maxUnavailable`` > 0) or OnDelete,
the claim templates checked as claims; on update only ``replicas``, ``ordinals``, ``template``,
``updateStrategy``, ``persistentVolumeClaimRetentionPolicy``, ``minReadySeconds`` (and
``revisionHistoryLimit``) may change, with Kubernetes' one-line message.

A ControllerRevision (the StatefulSet's and the DaemonSet's revision history) holds ``data`` (the
template as a patch) and ``revision``; ``data`` is immutable.

Columns: StatefulSet ``NAME READY AGE`` (+ ``CONTAINERS IMAGES``), ControllerRevision ``NAME
CONTROLLER REVISION AGE``.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from . import mergekeys, tables
from .apps import (
    LabelSelector,
    PodTemplateSpec,
    _default_template,
    _validate_int_or_percent,
    validate_selector,
    validate_template,
)
from .job import dict_at
from .kind import Kind, StoreView, Strategy
from .models import IntOrString, K8sModel, Loose, Time, TypedObject
from .resources import ALL_VERBS, Resource
from .storage import PersistentVolumeClaim, default_pvc, validate_pvc
from .validation import ErrorList, normalized

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_HASH_LABEL = "controller-revision-hash"

# --- models ------------------------------------------------------------------------------------


class RollingUpdateStatefulSetStrategy(K8sModel):
    partition: int | None = None
    maxUnavailable: IntOrString | None = None


class StatefulSetUpdateStrategy(K8sModel):
    type: str | None = None
    rollingUpdate: RollingUpdateStatefulSetStrategy | None = None


class StatefulSetPersistentVolumeClaimRetentionPolicy(K8sModel):
    whenDeleted: str | None = None
    whenScaled: str | None = None


class StatefulSetOrdinals(K8sModel):
    start: int | None = None


class StatefulSetSpec(K8sModel):
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    volumeClaimTemplates: list[PersistentVolumeClaim] | None = None
    serviceName: str | None = None
    podManagementPolicy: str | None = None
    updateStrategy: StatefulSetUpdateStrategy | None = None
    revisionHistoryLimit: int | None = None
    minReadySeconds: int | None = None
    persistentVolumeClaimRetentionPolicy: StatefulSetPersistentVolumeClaimRetentionPolicy | None = None
    ordinals: StatefulSetOrdinals | None = None


class StatefulSetCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class StatefulSetStatus(K8sModel):
    observedGeneration: int | None = None
    replicas: int | None = None
    readyReplicas: int | None = None
    currentReplicas: int | None = None
    updatedReplicas: int | None = None
    currentRevision: str | None = None
    updateRevision: str | None = None
    collisionCount: int | None = None
    conditions: list[StatefulSetCondition] | None = None
    availableReplicas: int | None = None


class StatefulSet(TypedObject):
    spec: StatefulSetSpec | None = None
    status: StatefulSetStatus | None = None


class ControllerRevision(TypedObject):
    data: Loose | None = None
    revision: int | None = None


# --- validation ----------------------------------------------------------------------------------


def validate_statefulset(errs: ErrorList, obj: dict[str, Any]) -> None:

    spec = obj.get("spec") or {}
    for key in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
        value = spec.get(key)
        if value is not None and value < 0:
            errs.invalid(f"spec.{key}", value, "must be greater than or equal to 0")
    errs.enum("spec.podManagementPolicy", spec.get("podManagementPolicy"), ["OrderedReady", "Parallel"])
    strategy = spec.get("updateStrategy") or {}
    stype = strategy.get("type")
    errs.enum("spec.updateStrategy.type", stype, ["OnDelete", "RollingUpdate"])
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:
        if stype not in (None, "RollingUpdate"):
            errs.invalid("spec.updateStrategy.rollingUpdate", rolling,
                         "only allowed for updateStrategy 'RollingUpdate'")
        partition = rolling.get("partition")
        if partition is not None and partition < 0:
            errs.invalid("spec.updateStrategy.rollingUpdate.partition", partition,
                         "must be greater than or equal to 0")
        unavailable = rolling.get("maxUnavailable")
        if unavailable is not None:
            _validate_int_or_percent(errs, unavailable, "spec.updateStrategy.rollingUpdate.maxUnavailable")
            if unavailable in (0, "0%"):
                errs.invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", unavailable,
                             "must be greater than 0")
    policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    for key in ("whenDeleted", "whenScaled"):
        errs.enum(f"spec.persistentVolumeClaimRetentionPolicy.{key}", policy.get(key), ["Delete", "Retain"])
    start = (spec.get("ordinals") or {}).get("start")
    if start is not None and start < 0:
        errs.invalid("spec.ordinals.start", start, "must be greater than or equal to 0")
    selector = spec.get("selector")
    if selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errs.invalid("spec.selector", selector, "empty selector is invalid for statefulset")
    else:
        validate_selector(errs, selector, spec.get("template"))
    template = spec.get("template")
    claims = spec.get("volumeClaimTemplates") or []
    if isinstance(template, dict) and claims:
        # the claim templates are volumes of every pod (the controller adds them), so mounts may name them
        template = copy.deepcopy(template)
        tspec = dict_at(template, "spec")
        names = {v.get("name") for v in tspec.get("volumes") or []}
        tspec["volumes"] = list(tspec.get("volumes") or []) + [
            {"name": c["metadata"]["name"], "persistentVolumeClaim": {"claimName": c["metadata"]["name"]}}
            for c in claims if (c.get("metadata") or {}).get("name") and c["metadata"]["name"] not in names]
    validate_template(errs, template)
    for i, claim in enumerate(claims):
        sub = ErrorList()
        validate_pvc(sub, claim)
        for cause in sub.causes:
            errs.add(f"spec.volumeClaimTemplates[{i}].{cause['field']}", cause["reason"], cause["message"])


_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds", "revisionHistoryLimit")


def validate_statefulset_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:

    old_rest = {k: v_ for k, v_ in (old.get("spec") or {}).items() if k not in _MUTABLE}
    new_rest = {k: v_ for k, v_ in (new.get("spec") or {}).items() if k not in _MUTABLE}
    for rest in (old_rest, new_rest):
        for claim in rest.get("volumeClaimTemplates") or []:
            claim.pop("status", None)
    if normalized(old_rest) != normalized(new_rest):
        errs.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                               "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                               "'minReadySeconds' are forbidden")


def validate_controllerrevision(errs: ErrorList, obj: dict[str, Any]) -> None:
    revision = obj.get("revision")
    if revision is not None and revision < 0:
        errs.invalid("revision", revision, "must be greater than or equal to 0")


def validate_controllerrevision_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    if old.get("data") != new.get("data"):
        errs.invalid("data", new.get("data"), "field is immutable")


# --- defaults ------------------------------------------------------------------------------------


def default_statefulset(obj: dict[str, Any]) -> None:

    spec = dict_at(obj, "spec")
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = dict_at(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        dict_at(strategy, "rollingUpdate").setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    policy = dict_at(spec, "persistentVolumeClaimRetentionPolicy")
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            claim.setdefault("apiVersion", "v1")
            claim.setdefault("kind", "PersistentVolumeClaim")
            default_pvc(claim)
    _default_template(spec)


# --- tables --------------------------------------------------------------------------------------


_COLUMNS = {
        "StatefulSet": [
            tables.NAME_COLUMN,
            tables.column("Ready", "Number of the pod with ready state"),
            tables.AGE_COLUMN,
            tables.CONTAINERS_COLUMN,
            tables.IMAGES_COLUMN,
        ],
        "ControllerRevision": [
            tables.NAME_COLUMN,
            tables.column("Controller", "Controller of the object"),
            tables.column("Revision", "Revision indicates the revision of the state represented by Data.", type_="integer"),
            tables.AGE_COLUMN,
        ],
}


def statefulset_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [tables.name(obj), f"{status.get('readyReplicas', 0) or 0}/{spec.get('replicas', 0)}", tables.age(obj, now),
            ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


def controller_name(obj: dict[str, Any]) -> str:
    """``statefulset.apps/web``: the controlling owner as kubectl writes a resource."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            group = (ref.get("apiVersion") or "").rpartition("/")[0]
            kind = (ref.get("kind") or "").lower()
            return f"{kind}.{group}/{ref.get('name')}" if group else f"{kind}/{ref.get('name')}"
    return "<none>"


def controllerrevision_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    return [tables.name(obj), controller_name(obj), obj.get("revision", 0), tables.age(obj, now)]




class StatusResetStrategy(Strategy):
    """PrepareForCreate of the workload kinds: a new object's status starts empty."""

    def prepare_create(self, obj: dict[str, Any], store: StoreView) -> None:
        obj["status"] = {}


STATEFULSET = Kind(
    Resource("apps", "v1", "statefulsets", "statefulset", "StatefulSet", True, ("sts",), ("all",), tuple(ALL_VERBS),
             ("status", "scale"), {"scale": ("Scale", "autoscaling", "v1")}),
    model=StatefulSet, validate=validate_statefulset, validate_update=validate_statefulset_update,
    default=default_statefulset, columns=_COLUMNS["StatefulSet"], cells=statefulset_cells,
    merge_keys=mergekeys.merge_keys(mergekeys.pod_spec_at("spec.template.spec"), mergekeys.CONDITIONS),
    strategy=StatusResetStrategy(),
)
CONTROLLERREVISION = Kind(
    Resource("apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", True),
    model=ControllerRevision, validate=validate_controllerrevision,
    validate_update=validate_controllerrevision_update, columns=_COLUMNS["ControllerRevision"],
    cells=controllerrevision_cells,
)
KINDS = [STATEFULSET, CONTROLLERREVISION]
