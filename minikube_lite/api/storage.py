"""PersistentVolumeClaim, PersistentVolume (core/v1) and StorageClass (storage.k8s.io/v1).

Schemas, validation, defaults and ``kubectl get pvc,pv,sc`` columns of the three storage kinds,
declared as ``Kind`` values (``KINDS``) for ``api/register.py``. The rules follow Kubernetes'
``ValidatePersistentVolumeClaim``/``ValidatePersistentVolume`` (access modes required and known,
a positive ``storage`` quantity, exactly one volume source, known reclaim policy and volume mode)
and ``ValidateStorageClass`` (a provisioner, immutable parameters/provisioner/reclaimPolicy/
volumeBindingMode). A claim's spec is immutable once created except what binding and the default
class fill in (``volumeName``, a missing ``storageClassName``) and ``resources.requests``.

Defaults are Kubernetes': ``volumeMode: Filesystem``; a PersistentVolume written by hand is
``Retain`` (a provisioned one takes its class's policy, ``Delete`` by default); a StorageClass is
``reclaimPolicy: Delete`` and ``volumeBindingMode: Immediate``. The binding itself is the storage
controller's work (``controllers/storage.py``).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from minikube_lite.api import mergekeys
from minikube_lite.api.kind import Kind, StoreView, Strategy
from minikube_lite.api.models import (
    HostPathVolumeSource,
    K8sModel,
    Loose,
    ObjectReference,
    ResourceList,
    StrMap,
    Time,
    TypedObject,
)
from minikube_lite.api.quantity import parse_quantity
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, name
from minikube_lite.api.validation import (
    ErrorList,
    is_dns1123_subdomain,
    is_qualified_name,
    normalized,
)

ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
_MODE_ABBREVIATIONS = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                       ("ReadWriteOncePod", "RWOP"))
VOLUME_MODES = ["Block", "Filesystem"]
PV_RECLAIM_POLICIES = ["Delete", "Recycle", "Retain"]
SC_RECLAIM_POLICIES = ["Delete", "Retain"]
BINDING_MODES = ["Immediate", "WaitForFirstConsumer"]
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
_BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
_BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
# The volume sources a PersistentVolume may have (PersistentVolumeSource); hostPath and local are
# the ones this cluster can mount, the others are accepted as objects.
PV_SOURCES = ("hostPath", "local", "nfs", "csi", "iscsi", "fc", "glusterfs", "rbd", "cephfs", "cinder",
              "flexVolume", "azureFile", "azureDisk", "awsElasticBlockStore", "gcePersistentDisk",
              "vsphereVolume", "quobyte", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
              "flocker")


# --- models ------------------------------------------------------------------------------------


class VolumeResourceRequirements(K8sModel):
    limits: ResourceList | None = None
    requests: ResourceList | None = None


class PersistentVolumeClaimSpec(K8sModel):
    """PersistentVolumeClaimSpec describes the common attributes of storage devices and allows a Source for provider-specific attributes."""

    accessModes: list[str] | None = None
    """accessModes contains the desired access modes the volume should have (ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod)."""
    selector: Loose | None = None
    """selector is a label query over volumes to consider for binding."""
    resources: VolumeResourceRequirements | None = None
    """resources represents the minimum resources the volume should have."""
    volumeName: str | None = None
    """volumeName is the binding reference to the PersistentVolume backing this claim."""
    storageClassName: str | None = None
    """storageClassName is the name of the StorageClass required by the claim."""
    volumeMode: str | None = None
    """volumeMode defines what type of volume is required by the claim: Filesystem (default) or Block."""
    dataSource: Loose | None = None
    dataSourceRef: Loose | None = None
    volumeAttributesClassName: str | None = None


class PersistentVolumeClaimStatus(K8sModel):
    phase: str | None = None
    accessModes: list[str] | None = None
    capacity: ResourceList | None = None
    conditions: list[Loose] | None = None
    allocatedResources: ResourceList | None = None
    allocatedResourceStatuses: StrMap | None = None
    currentVolumeAttributesClassName: str | None = None
    modifyVolumeStatus: Loose | None = None


class PersistentVolumeClaim(TypedObject):
    """PersistentVolumeClaim is a user's request for and claim to a persistent volume."""

    spec: PersistentVolumeClaimSpec | None = None
    """spec defines the desired characteristics of a volume requested by a pod author."""
    status: PersistentVolumeClaimStatus | None = None
    """status represents the current information/status of a persistent volume claim."""


class LocalVolumeSource(K8sModel):
    path: str | None = None
    fsType: str | None = None


class PersistentVolumeSpec(K8sModel):
    capacity: ResourceList | None = None
    accessModes: list[str] | None = None
    claimRef: ObjectReference | None = None
    persistentVolumeReclaimPolicy: str | None = None
    storageClassName: str | None = None
    mountOptions: list[str] | None = None
    volumeMode: str | None = None
    nodeAffinity: Loose | None = None
    volumeAttributesClassName: str | None = None
    hostPath: HostPathVolumeSource | None = None
    local: LocalVolumeSource | None = None
    nfs: Loose | None = None
    csi: Loose | None = None
    iscsi: Loose | None = None
    fc: Loose | None = None
    glusterfs: Loose | None = None
    rbd: Loose | None = None
    cephfs: Loose | None = None
    cinder: Loose | None = None
    flexVolume: Loose | None = None
    azureFile: Loose | None = None
    azureDisk: Loose | None = None
    awsElasticBlockStore: Loose | None = None
    gcePersistentDisk: Loose | None = None
    vsphereVolume: Loose | None = None
    quobyte: Loose | None = None
    photonPersistentDisk: Loose | None = None
    portworxVolume: Loose | None = None
    scaleIO: Loose | None = None
    storageos: Loose | None = None
    flocker: Loose | None = None


class PersistentVolumeStatus(K8sModel):
    phase: str | None = None
    message: str | None = None
    reason: str | None = None
    lastPhaseTransitionTime: Time | None = None


class PersistentVolume(TypedObject):
    """PersistentVolume (PV) is a storage resource provisioned by an administrator."""

    spec: PersistentVolumeSpec | None = None
    status: PersistentVolumeStatus | None = None


class StorageClass(TypedObject):
    """StorageClass describes the parameters for a class of storage for which PersistentVolumes can be dynamically provisioned."""

    __openapi_name__ = "io.k8s.api.storage.v1.StorageClass"
    provisioner: str | None = None
    """provisioner indicates the type of the provisioner."""
    parameters: StrMap | None = None
    reclaimPolicy: str | None = None
    """reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes: Delete (default) or Retain."""
    mountOptions: list[str] | None = None
    allowVolumeExpansion: bool | None = None
    volumeBindingMode: str | None = None
    """volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound: Immediate (default) or WaitForFirstConsumer."""
    allowedTopologies: list[Loose] | None = None




# --- validation ----------------------------------------------------------------------------------


def _validate_access_modes(errs: ErrorList, modes: list[str] | None, path: str) -> None:
    if not modes:
        errs.required(path, "at least 1 access mode is required")
        return
    for mode in modes:
        errs.enum(path, mode, ACCESS_MODES)
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errs.forbidden(path, "may not use ReadWriteOncePod with other access modes")


def _validate_storage(errs: ErrorList, value: Any, path: str) -> None:

    try:
        positive = parse_quantity(value) > 0
    except (ValueError, TypeError, ArithmeticError):
        return  # a malformed quantity is already refused while decoding
    if not positive:
        errs.invalid(path, value, "must be greater than zero")


def _validate_class_name(errs: ErrorList, name: str | None, path: str) -> None:

    if name:
        errs.each(path, name, is_dns1123_subdomain(name))


def validate_pvc(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    _validate_access_modes(errs, spec.get("accessModes"), "spec.accessModes")
    requests = (spec.get("resources") or {}).get("requests") or {}
    if "storage" not in requests:
        errs.required("spec.resources[storage]")
    else:
        _validate_storage(errs, requests["storage"], "spec.resources[storage]")
    _validate_class_name(errs, spec.get("storageClassName"), "spec.storageClassName")
    errs.enum("spec.volumeMode", spec.get("volumeMode"), VOLUME_MODES)


def pv_sources(spec: dict[str, Any]) -> list[str]:
    """The volume sources a PersistentVolume spec names (exactly one is valid)."""
    return [key for key in PV_SOURCES if spec.get(key) is not None]


def validate_pv(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    _validate_access_modes(errs, spec.get("accessModes"), "spec.accessModes")
    capacity = spec.get("capacity") or {}
    if not capacity:
        errs.required("spec.capacity")
    elif "storage" not in capacity or len(capacity) > 1:
        errs.not_supported("spec.capacity", sorted(capacity), ["storage"])
    else:
        _validate_storage(errs, capacity["storage"], "spec.capacity[storage]")
    errs.enum("spec.persistentVolumeReclaimPolicy", spec.get("persistentVolumeReclaimPolicy"), PV_RECLAIM_POLICIES)
    _validate_class_name(errs, spec.get("storageClassName"), "spec.storageClassName")
    errs.enum("spec.volumeMode", spec.get("volumeMode"), VOLUME_MODES)
    sources = pv_sources(spec)
    if not sources:
        errs.required("spec", "must specify a volume type")
    for extra in sources[1:]:
        errs.forbidden(f"spec.{extra}", "may not specify more than 1 volume type")
    for key in ("hostPath", "local"):
        source = spec.get(key)
        if source is None:
            continue
        path = source.get("path") or ""
        if not path:
            errs.required(f"spec.{key}.path")
        elif ".." in path.split("/"):
            errs.invalid(f"spec.{key}.path", path, "must not contain '..'")
    if spec.get("hostPath") is not None:
        errs.enum("spec.hostPath.type", spec["hostPath"].get("type") or None,
                  ["BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"])


def validate_storageclass(errs: ErrorList, obj: dict[str, Any]) -> None:

    provisioner = obj.get("provisioner") or ""
    if not provisioner:
        errs.required("provisioner")
    else:
        if len(provisioner) > 63:
            errs.add("provisioner", "FieldValueTooLong", "Too long: may not be more than 63 bytes")
        errs.each("provisioner", provisioner, is_qualified_name(provisioner.lower()))
    for key in obj.get("parameters") or {}:
        if not key:
            errs.invalid("parameters", key, "key may not be empty")
    errs.enum("reclaimPolicy", obj.get("reclaimPolicy"), SC_RECLAIM_POLICIES)
    errs.enum("volumeBindingMode", obj.get("volumeBindingMode"), BINDING_MODES)


def _without(spec: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with the fields a claim may change after creation taken from ``old``."""

    out = copy.deepcopy(spec)
    if not old.get("volumeName"):
        out["volumeName"] = old.get("volumeName")  # binding sets it once
    if not old.get("storageClassName"):
        out["storageClassName"] = old.get("storageClassName")  # the default class fills in a missing one
    resources = out.setdefault("resources", {})
    resources["requests"] = copy.deepcopy((old.get("resources") or {}).get("requests"))
    out["volumeAttributesClassName"] = old.get("volumeAttributesClassName")
    return normalized(out)


def validate_pvc_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:

    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if _without(new_spec, old_spec) != normalized(old_spec):
        errs.forbidden("spec", "spec is immutable after creation except resources.requests and "
                               "volumeAttributesClassName for bound claims")
    if old_spec.get("volumeName") and new_spec.get("volumeName") != old_spec["volumeName"]:
        errs.forbidden("spec.volumeName", "may not change once set")


def validate_pv_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if {k: old_spec.get(k) for k in PV_SOURCES} != {k: new_spec.get(k) for k in PV_SOURCES}:
        errs.forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation")
    if (old_spec.get("volumeMode") or "Filesystem") != (new_spec.get("volumeMode") or "Filesystem"):
        errs.invalid("spec.volumeMode", new_spec.get("volumeMode"), "field is immutable")


def validate_storageclass_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    if (old.get("parameters") or {}) != (new.get("parameters") or {}):
        errs.forbidden("parameters", "updates to parameters are forbidden.")
    if old.get("provisioner") != new.get("provisioner"):
        errs.forbidden("provisioner", "updates to provisioner are forbidden.")
    if (old.get("reclaimPolicy") or "Delete") != (new.get("reclaimPolicy") or "Delete"):
        errs.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden.")
    if (old.get("volumeBindingMode") or "Immediate") != (new.get("volumeBindingMode") or "Immediate"):
        errs.invalid("volumeBindingMode", new.get("volumeBindingMode"), "field is immutable")


UPDATE_VALIDATORS = {"PersistentVolumeClaim": validate_pvc_update, "PersistentVolume": validate_pv_update,
                     "StorageClass": validate_storageclass_update}


# --- defaults ----------------------------------------------------------------------------------


def default_pvc(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    if not obj.get("status"):
        obj["status"] = {"phase": "Pending"}


def default_pv(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    if isinstance(spec.get("hostPath"), dict):
        spec["hostPath"].setdefault("type", "")
    if not obj.get("status"):
        obj["status"] = {"phase": "Pending"}


def default_storageclass(obj: dict[str, Any]) -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")




# --- helpers shared with the controller -------------------------------------------------------------


def is_default_class(sc: dict[str, Any]) -> bool:
    annotations = (sc.get("metadata") or {}).get("annotations") or {}
    return "true" in (annotations.get(DEFAULT_CLASS_ANNOTATION), annotations.get(_BETA_DEFAULT_CLASS_ANNOTATION))


# set on a claim by the scheduler when the first pod using it (class WaitForFirstConsumer) gets a node
SELECTED_NODE_ANNOTATION = "volume.kubernetes.io/selected-node"


def claims_used_by(pod: dict[str, Any]) -> list[str]:
    """Names of the PersistentVolumeClaims a pod's volumes use (in its namespace)."""
    return [(v.get("persistentVolumeClaim") or {}).get("claimName")
            for v in (pod.get("spec") or {}).get("volumes") or []
            if (v.get("persistentVolumeClaim") or {}).get("claimName")]


def waits_for_consumer(sc: dict[str, Any] | None) -> bool:
    return (sc or {}).get("volumeBindingMode") == "WaitForFirstConsumer"


def claim_class(pvc: dict[str, Any]) -> str:
    """The class a claim asks for ("" = none), the beta annotation winning as in Kubernetes."""
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    if _BETA_CLASS_ANNOTATION in annotations:
        return annotations[_BETA_CLASS_ANNOTATION]
    return (pvc.get("spec") or {}).get("storageClassName") or ""


def volume_class(pv: dict[str, Any]) -> str:
    annotations = (pv.get("metadata") or {}).get("annotations") or {}
    if _BETA_CLASS_ANNOTATION in annotations:
        return annotations[_BETA_CLASS_ANNOTATION]
    return (pv.get("spec") or {}).get("storageClassName") or ""


def access_modes_string(modes: list[str] | None) -> str:
    """``RWO,ROX``: Kubernetes' GetAccessModesAsString, in its fixed order."""
    modes = modes or []
    return ",".join(short for mode, short in _MODE_ABBREVIATIONS if mode in modes)


# --- tables --------------------------------------------------------------------------------------


def columns() -> dict[str, list[dict[str, Any]]]:

    def mode(what: str) -> dict[str, Any]:
        return column("VolumeMode", f"volumeMode defines what type of volume is required by the {what}.", priority=1)

    return {
        "PersistentVolumeClaim": [
            NAME_COLUMN,
            column("Status", "phase represents the current phase of PersistentVolumeClaim."),
            column("Volume", "volumeName is the binding reference to the PersistentVolume backing this claim."),
            column("Capacity", "capacity represents the actual resources of the underlying volume."),
            column("Access Modes", "accessModes contains the actual access modes the volume backing the PVC has."),
            column("StorageClass", "StorageClass of the pvc"),
            column("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
            AGE_COLUMN, mode("claim"),
        ],
        "PersistentVolume": [
            NAME_COLUMN,
            column("Capacity", "capacity is the description of the persistent volume's resources and capacity."),
            column("Access Modes", "accessModes contains all ways the volume can be mounted."),
            column("Reclaim Policy", "persistentVolumeReclaimPolicy defines what happens to a persistent volume "
                                   "when released from its claim."),
            column("Status", "phase indicates if a volume is available, bound to a claim, or released by a claim."),
            column("Claim", "claimRef is part of a bi-directional binding between PersistentVolume and "
                          "PersistentVolumeClaim."),
            column("StorageClass", "StorageClass of the pv"),
            column("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
            column("Reason", "reason is a brief CamelCase string that describes any failure and is meant for "
                           "machine parsing and tidy display in the CLI."),
            AGE_COLUMN, mode("persistent volume"),
        ],
        "StorageClass": [
            NAME_COLUMN,
            column("Provisioner", "provisioner indicates the type of the provisioner."),
            column("ReclaimPolicy", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned "
                                  "PersistentVolumes of this storage class. Defaults to Delete."),
            column("VolumeBindingMode", "volumeBindingMode indicates how PersistentVolumeClaims should be "
                                      "provisioned and bound. When unset, VolumeBindingImmediate is used."),
            column("AllowVolumeExpansion", "allowVolumeExpansion shows whether the storage class allow volume "
                                         "expand."),
            AGE_COLUMN,
        ],
    }


def _phase(obj: dict[str, Any]) -> str:
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    return (obj.get("status") or {}).get("phase") or ""


def pvc_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    capacity = modes = ""
    if spec.get("volumeName"):
        capacity = str((status.get("capacity") or {}).get("storage") or "")
        modes = access_modes_string(status.get("accessModes"))
    return [name(obj), _phase(obj), spec.get("volumeName") or "", capacity, modes, claim_class(obj),
            spec.get("volumeAttributesClassName") or "<unset>", age(obj, now), spec.get("volumeMode") or "<unset>"]


def pv_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("claimRef")
    claim = f"{ref.get('namespace') or ''}/{ref.get('name') or ''}" if ref else ""
    return [name(obj), str((spec.get("capacity") or {}).get("storage") or ""),
            access_modes_string(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy") or "",
            _phase(obj), claim, volume_class(obj), spec.get("volumeAttributesClassName") or "<unset>",
            status.get("reason") or "", age(obj, now), spec.get("volumeMode") or "<unset>"]


def storageclass_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    shown = name(obj) + (" (default)" if is_default_class(obj) else "")
    return [shown, obj.get("provisioner") or "", obj.get("reclaimPolicy") or "Delete",
            obj.get("volumeBindingMode") or "Immediate", bool(obj.get("allowVolumeExpansion")), age(obj, now)]


# --- the kinds -----------------------------------------------------------------------------------

class ProtectionStrategy(Strategy):
    """The StorageObjectInUseProtection admission plugin: a new claim or volume carries its
    protection finalizer, which the storage controller removes once nothing uses it."""

    def __init__(self, finalizer: str) -> None:
        self.finalizer = finalizer

    def prepare_create(self, obj: dict[str, Any], store: StoreView) -> None:
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if self.finalizer not in finalizers:
            finalizers.append(self.finalizer)


PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection"
_COLUMNS = columns()

PERSISTENTVOLUMECLAIM = Kind(
    Resource("", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", True, ("pvc",),
             (), tuple(ALL_VERBS), ("status",)),
    model=PersistentVolumeClaim, validate=validate_pvc, validate_update=validate_pvc_update, default=default_pvc,
    columns=_COLUMNS["PersistentVolumeClaim"], cells=pvc_cells, merge_keys=mergekeys.merge_keys(mergekeys.CONDITIONS),
    strategy=ProtectionStrategy(PVC_PROTECTION_FINALIZER),
)
PERSISTENTVOLUME = Kind(
    Resource("", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", False, ("pv",), (),
             tuple(ALL_VERBS), ("status",)),
    model=PersistentVolume, validate=validate_pv, validate_update=validate_pv_update, default=default_pv,
    columns=_COLUMNS["PersistentVolume"], cells=pv_cells, strategy=ProtectionStrategy(PV_PROTECTION_FINALIZER),
)
STORAGECLASS = Kind(
    Resource("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", False, ("sc",)),
    model=StorageClass, validate=validate_storageclass, validate_update=validate_storageclass_update,
    default=default_storageclass, columns=_COLUMNS["StorageClass"], cells=storageclass_cells,
)
KINDS = [PERSISTENTVOLUMECLAIM, PERSISTENTVOLUME, STORAGECLASS]
