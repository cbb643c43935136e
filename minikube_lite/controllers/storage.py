"""The storage controller: binds PersistentVolumeClaims to PersistentVolumes, provisions volumes.

Two Kubernetes programs in one loop, as minikube runs them:

- the *persistentvolume controller* of kube-controller-manager (``pkg/controller/volume/
  persistentvolume``): a claim without ``storageClassName`` gets the default class; an unbound
  claim is bound to the smallest Available volume that fits (same class, access modes, volume
  mode, enough capacity), both sides written (``claim.spec.volumeName``, ``volume.spec.claimRef``,
  the ``pv.kubernetes.io/bind-completed``/``bound-by-controller`` annotations, phases
  ``Bound``); a volume whose claim is gone is *released* by its reclaim policy: ``Retain`` →
  phase ``Released``, data kept; ``Delete`` → the volume (and, for provisioned ones, its folder)
  removed;
- *minikube's storage provisioner* (``k8s.io/minikube-hostpath``): for a claim of a class with
  that provisioner it makes a folder ``<volumes_dir>/pvc-<claim uid>`` (mode 0777, so any
  container user may write) and a PersistentVolume ``pvc-<claim uid>`` with a ``hostPath`` to it,
  pre-bound to the claim and taking the class's reclaim policy.

A claim of a ``WaitForFirstConsumer`` class waits (``Pending``, event ``WaitForFirstConsumer``)
until the scheduler marks it with the node of the first pod using it, then binds as above.
A claim that cannot be bound stays ``Pending`` with the event Kubernetes gives: ``FailedBinding``
(no volume and no class), ``ProvisioningFailed`` (an unknown class) or ``ExternalProvisioning``
(a class whose provisioner does not run here). The data is a folder on the host: it outlives the
pods and a daemon restart; everything else is in the API, so the controller is level-triggered
(informers + a work queue + a periodic resync) and picks up where it left off.

The kubelet mounts a ``persistentVolumeClaim`` volume by reading the bound volume's
``spec.hostPath.path`` (claim ``spec.volumeName`` → PersistentVolume).

Also the two *storage object in-use protection* controllers: the API server gives every new claim
the finalizer ``kubernetes.io/pvc-protection`` and every new volume ``kubernetes.io/pv-protection``
(apiserver/registry.py); a deleted claim stays ``Terminating`` while a pod that is not finished
uses it, and a deleted volume while it is ``Bound``. Here the finalizer is removed once that is no
longer so (pods are watched, so a claim goes as soon as its last pod does).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from ..api.errors import AlreadyExists, ApiError, NotFound
from ..api.quantity import parse_quantity
from ..api.storage import (
    SELECTED_NODE_ANNOTATION,
    claim_class,
    claims_used_by,
    is_default_class,
    volume_class,
    waits_for_consumer,
)
from ..client.base import Client
from ..client.controller import run_controller
from ..client.events import record_event
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue

log = logging.getLogger(__name__)

COMPONENT = "persistentvolume-controller"
PROVISIONER = "k8s.io/minikube-hostpath"
DEFAULT_CLASS = "standard"
RESYNC_SECONDS = 15.0  # kube-controller-manager's pvclaimbinder sync period
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"

ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_PROVISIONER_IDENTITY = "hostPathProvisionerIdentity"


def _in_use(pod: dict[str, Any], claim: str) -> bool:
    """A pod keeps a claim while it is not finished (Kubernetes' pvc-protection controller)."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    return claim in claims_used_by(pod)


def default_storage_class() -> dict[str, Any]:
    """minikube's ``standard`` class (its storage-provisioner addon)."""
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": DEFAULT_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                     "labels": {"addonmanager.kubernetes.io/mode": "EnsureExists"}},
        "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
    }


def _storage_of(resources: dict[str, Any] | None) -> Any:
    return (resources or {}).get("storage")


def _quantity(value: Any) -> float:
    try:
        return float(parse_quantity(value))
    except (ValueError, TypeError, ArithmeticError):
        return 0.0


def volume_fits(pv: dict[str, Any], claim: dict[str, Any]) -> bool:
    """Whether an unbound volume can serve a claim: class, volume mode, access modes, size."""
    spec, cspec = pv.get("spec") or {}, claim.get("spec") or {}
    if volume_class(pv) != claim_class(claim):
        return False
    if (spec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return False
    if not set(cspec.get("accessModes") or []) <= set(spec.get("accessModes") or []):
        return False
    requested = _quantity(_storage_of((cspec.get("resources") or {}).get("requests")))
    return _quantity(_storage_of(spec.get("capacity"))) >= requested


class StorageController:
    def __init__(self, client: Client, *, volumes_dir: Path, workers: int = 2) -> None:
        self.client = client
        self.volumes_dir = Path(volumes_dir)
        self.workers = workers
        self.claims = Informer(client, "persistentvolumeclaims")
        self.volumes = Informer(client, "persistentvolumes")
        self.classes = Informer(client, "storageclasses")
        self.pods = Informer(client, "pods")
        self.queue = WorkQueue("storage")
        self.claims.add_handler(self._on_claim)
        self.volumes.add_handler(self._on_volume)
        self.classes.add_handler(self._on_class)
        self.pods.add_handler(self._on_pod)

    # event handlers: note work, never do it

    def _on_claim(self, etype: str, claim: dict[str, Any]) -> None:
        self.queue.add("claim/" + object_key(claim))
        volume = (claim.get("spec") or {}).get("volumeName")
        if volume:
            self.queue.add("volume/" + volume)

    def _on_volume(self, etype: str, pv: dict[str, Any]) -> None:
        self.queue.add("volume/" + object_key(pv))
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref:
            self.queue.add(f"claim/{ref.get('namespace')}/{ref.get('name')}")

    def _on_class(self, etype: str, sc: dict[str, Any]) -> None:
        for claim in self.claims.list():
            if not (claim.get("spec") or {}).get("volumeName"):
                self.queue.add("claim/" + object_key(claim))

    def _on_pod(self, etype: str, pod: dict[str, Any]) -> None:
        # only a claim being deleted waits on its pods
        ns = pod["metadata"].get("namespace")
        for name in claims_used_by(pod):
            claim = self.claims.get(f"{ns}/{name}")
            if claim is not None and claim["metadata"].get("deletionTimestamp"):
                self.queue.add(f"claim/{ns}/{name}")

    # the loop

    async def run(self) -> None:
        await self._ensure_default_class()
        await run_controller((self.claims, self.volumes, self.classes, self.pods), self.queue, self.sync,
                             workers=self.workers, resync_keys=self._resync_keys, resync_seconds=RESYNC_SECONDS)

    async def _ensure_default_class(self) -> None:
        try:
            await self.client.create("storageclasses", default_storage_class())
        except AlreadyExists:
            pass

    def _resync_keys(self) -> list[str]:
        return ["claim/" + object_key(c) for c in self.claims.list()] + \
            ["volume/" + object_key(v) for v in self.volumes.list()]

    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition("/")
        if kind == "claim":
            claim = self.claims.get(rest)
            if claim is None:
                return
            if claim["metadata"].get("deletionTimestamp"):
                await self._release_claim_protection(claim)
            else:
                await self.sync_claim(claim)
        else:
            pv = self.volumes.get(rest)
            if pv is None:
                return
            if pv["metadata"].get("deletionTimestamp") and (pv.get("status") or {}).get("phase") != "Bound":
                await self._drop_finalizer("persistentvolumes", pv, PV_PROTECTION)
            else:
                await self.sync_volume(pv)  # a bound volume being deleted is still released with its claim

    # in-use protection

    async def _release_claim_protection(self, claim: dict[str, Any]) -> None:
        if PVC_PROTECTION not in (claim["metadata"].get("finalizers") or []):
            return
        ns, name = claim["metadata"].get("namespace"), claim["metadata"]["name"]
        if any(_in_use(p, name) for p in self.pods.list() if p["metadata"].get("namespace") == ns):
            return  # the pod's deletion brings the claim back here
        # The cache may lag behind a pod just created: ask the API, as Kubernetes' controller does.
        live, _ = await self.client.list("pods", namespace=ns)
        if any(_in_use(p, name) for p in live):
            return
        await self._drop_finalizer("persistentvolumeclaims", claim, PVC_PROTECTION)

    async def _drop_finalizer(self, resource: str, obj: dict[str, Any], finalizer: str) -> None:
        meta = obj["metadata"]
        if finalizer not in (meta.get("finalizers") or []):
            return
        left = [f for f in meta["finalizers"] if f != finalizer]
        patch = {"metadata": {"finalizers": left or None, "resourceVersion": meta.get("resourceVersion")}}
        try:
            await self.client.patch(resource, meta["name"], patch, namespace=meta.get("namespace"))
        except NotFound:
            pass
        # a Conflict propagates: the work queue retries with the newer object

    # claims

    async def sync_claim(self, claim: dict[str, Any]) -> None:
        spec = claim.get("spec") or {}
        if spec.get("volumeName"):
            await self._sync_bound_claim(claim)
            return
        if spec.get("storageClassName") is None and claim_class(claim) == "":
            default = self._default_class()
            if default is not None:
                # Kubernetes 1.28+ assigns the default class to claims created without one.
                await self.client.patch("persistentvolumeclaims", claim["metadata"]["name"],
                                        {"spec": {"storageClassName": default["metadata"]["name"]}},
                                        namespace=claim["metadata"]["namespace"])
                return  # the update comes back through the informer
        annotations = claim["metadata"].get("annotations") or {}
        if waits_for_consumer(self.classes.get(claim_class(claim))) and SELECTED_NODE_ANNOTATION not in annotations:
            # the scheduler sets the node when a pod using the claim is scheduled; that update brings it back
            await record_event(self.client, claim, "WaitForFirstConsumer",
                               "waiting for first consumer to be created before binding", component=COMPONENT)
            return
        candidates = [pv for pv in self.volumes.list() if self._available_for(pv, claim) and volume_fits(pv, claim)]
        if candidates:
            best = min(candidates, key=lambda pv: _quantity(_storage_of(pv["spec"].get("capacity"))))
            await self._bind(best, claim, by_controller=True)
            return
        cls_name = claim_class(claim)
        if not cls_name:
            await record_event(self.client, claim, "FailedBinding",
                               "no persistent volumes available for this claim and no storage class is set",
                               component=COMPONENT)
            return
        sc = self.classes.get(cls_name)
        if sc is None:
            await record_event(self.client, claim, "ProvisioningFailed",
                               f'storageclass.storage.k8s.io "{cls_name}" not found', type_="Warning",
                               component=COMPONENT)
            return
        provisioner = sc.get("provisioner") or ""
        if provisioner != PROVISIONER:
            await self._mark_provisioner(claim, provisioner)
            await record_event(self.client, claim, "ExternalProvisioning",
                               f"Waiting for a volume to be created either by the external provisioner "
                               f"'{provisioner}' or manually by the system administrator. If volume creation is "
                               f"delayed, please verify that the provisioner is running and correctly registered.",
                               component=COMPONENT)
            return
        await self._provision(claim, sc)

    def _default_class(self) -> dict[str, Any] | None:
        defaults = [sc for sc in self.classes.list() if is_default_class(sc)]
        # Several defaults: Kubernetes takes the newest.
        defaults.sort(key=lambda sc: (sc["metadata"].get("creationTimestamp") or "", sc["metadata"]["name"]))
        return defaults[-1] if defaults else None

    @staticmethod
    def _available_for(pv: dict[str, Any], claim: dict[str, Any]) -> bool:
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref:  # pre-bound to this claim only
            meta = claim["metadata"]
            return (ref.get("name") == meta["name"] and ref.get("namespace") == meta["namespace"]
                    and ref.get("uid") in (None, "", meta.get("uid")))
        return (pv.get("status") or {}).get("phase") in ("Available", "Pending", None)

    async def _sync_bound_claim(self, claim: dict[str, Any]) -> None:
        name = claim["spec"]["volumeName"]
        pv = self.volumes.get(name)
        if pv is None:
            try:
                pv = await self.client.get("persistentvolumes", name)
            except NotFound:
                if (claim.get("status") or {}).get("phase") != "Lost":
                    await self._set_claim_status(claim, {"phase": "Lost"})
                    await record_event(self.client, claim, "ClaimLost",
                                       "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                                       type_="Warning", component=COMPONENT)
                return
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") == claim["metadata"]["uid"]:
            await self._finish_binding(pv, claim)
        elif not ref:
            await self._bind(pv, claim, by_controller=True)
        # else: the volume belongs to another claim; the claim stays Pending (Kubernetes: "volume
        # already bound to a different claim").

    async def _mark_provisioner(self, claim: dict[str, Any], provisioner: str) -> None:
        annotations = claim["metadata"].get("annotations") or {}
        if annotations.get(ANN_STORAGE_PROVISIONER) != provisioner:
            await self.client.patch("persistentvolumeclaims", claim["metadata"]["name"],
                                    {"metadata": {"annotations": {ANN_STORAGE_PROVISIONER: provisioner,
                                                                  ANN_BETA_STORAGE_PROVISIONER: provisioner}}},
                                    namespace=claim["metadata"]["namespace"])

    async def _provision(self, claim: dict[str, Any], sc: dict[str, Any]) -> None:
        meta = claim["metadata"]
        name = f"pvc-{meta['uid']}"
        if self.volumes.get(name) is not None:
            return  # already provisioned; binding follows from the volume's event
        await self._mark_provisioner(claim, PROVISIONER)
        await record_event(self.client, claim, "Provisioning",
                           f'External provisioner is provisioning volume for claim "{meta["namespace"]}/'
                           f'{meta["name"]}"', component=PROVISIONER)
        path = self.volumes_dir / name
        try:
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, 0o777)
        except OSError as exc:
            await record_event(self.client, claim, "ProvisioningFailed",
                               f"failed to provision volume with StorageClass \"{sc['metadata']['name']}\": "
                               f"{exc}", type_="Warning", component=PROVISIONER)
            return
        spec = claim.get("spec") or {}
        pv = {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {ANN_PROVISIONED_BY: PROVISIONER,
                                                       ANN_PROVISIONER_IDENTITY: os.uname().nodename}},
            "spec": {
                "capacity": {"storage": _storage_of((spec.get("resources") or {}).get("requests"))},
                "accessModes": list(spec.get("accessModes") or []),
                "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
                "storageClassName": sc["metadata"]["name"],
                "volumeMode": spec.get("volumeMode") or "Filesystem",
                "hostPath": {"path": str(path), "type": ""},
                "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": meta["namespace"],
                             "name": meta["name"], "uid": meta["uid"],
                             "resourceVersion": meta.get("resourceVersion")},
            },
        }
        if sc.get("mountOptions"):
            pv["spec"]["mountOptions"] = list(sc["mountOptions"])
        try:
            await self.client.create("persistentvolumes", pv)
        except AlreadyExists:
            return
        await record_event(self.client, claim, "ProvisioningSucceeded", f"Successfully provisioned volume {name}",
                           component=PROVISIONER)

    async def _bind(self, pv: dict[str, Any], claim: dict[str, Any], *, by_controller: bool) -> None:
        """Point the volume at the claim (claimRef), then finish on both sides."""
        meta = claim["metadata"]
        patch: dict[str, Any] = {"spec": {"claimRef": {
            "kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": meta["namespace"],
            "name": meta["name"], "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")}}}
        if by_controller:
            patch["metadata"] = {"annotations": {ANN_BOUND_BY_CONTROLLER: "yes"}}
        pv = await self.client.patch("persistentvolumes", pv["metadata"]["name"], patch)
        await self._finish_binding(pv, claim)

    async def _finish_binding(self, pv: dict[str, Any], claim: dict[str, Any]) -> None:
        """Volume ``Bound``, claim ``spec.volumeName`` + annotations + ``Bound`` with capacity."""
        pv_name = pv["metadata"]["name"]
        if (pv.get("status") or {}).get("phase") != "Bound":
            await self.client.patch("persistentvolumes", pv_name, {"status": {"phase": "Bound"}},
                                    subresource="status")
        meta = claim["metadata"]
        annotations = meta.get("annotations") or {}
        wanted = {ANN_BIND_COMPLETED: "yes"}
        if not claim["spec"].get("volumeName"):
            wanted[ANN_BOUND_BY_CONTROLLER] = "yes"
        if claim["spec"].get("volumeName") != pv_name or any(annotations.get(k) != v for k, v in wanted.items()):
            claim = await self.client.patch("persistentvolumeclaims", meta["name"],
                                            {"metadata": {"annotations": wanted}, "spec": {"volumeName": pv_name}},
                                            namespace=meta["namespace"])
        status = claim.get("status") or {}
        want = {"phase": "Bound", "accessModes": list((pv.get("spec") or {}).get("accessModes") or []),
                "capacity": dict((pv.get("spec") or {}).get("capacity") or {})}
        if any(status.get(k) != v for k, v in want.items()):
            await self._set_claim_status(claim, want)

    async def _set_claim_status(self, claim: dict[str, Any], status: dict[str, Any]) -> None:
        await self.client.patch("persistentvolumeclaims", claim["metadata"]["name"], {"status": status},
                                namespace=claim["metadata"]["namespace"], subresource="status")

    # volumes

    async def sync_volume(self, pv: dict[str, Any]) -> None:
        name = pv["metadata"]["name"]
        spec, phase = pv.get("spec") or {}, (pv.get("status") or {}).get("phase")
        ref = spec.get("claimRef")
        if not ref:
            if phase in (None, "", "Pending"):
                await self._set_volume_phase(name, "Available")
            return
        claim = self.claims.get(f"{ref.get('namespace')}/{ref.get('name')}")
        if claim is not None and ref.get("uid") in (None, "", claim["metadata"].get("uid")):
            if not (claim.get("spec") or {}).get("volumeName"):
                self.queue.add("claim/" + object_key(claim))  # the claim side finishes the binding
            elif phase in (None, "", "Pending"):
                await self._set_volume_phase(name, "Available")
            return
        # The cache may lag behind a claim just created: ask the API before releasing anything.
        try:
            live = await self.client.get("persistentvolumeclaims", ref.get("name"), namespace=ref.get("namespace"))
            if ref.get("uid") in (None, "", live["metadata"].get("uid")):
                return
        except NotFound:
            pass
        if phase in ("Released", "Failed"):
            if phase == "Released" and spec.get("persistentVolumeReclaimPolicy") == "Delete":
                await self._delete_volume(pv)
            return
        await self._set_volume_phase(name, "Released")
        if spec.get("persistentVolumeReclaimPolicy") == "Delete":
            await self._delete_volume(pv)
        elif spec.get("persistentVolumeReclaimPolicy") == "Recycle":
            await self._set_volume_phase(name, "Failed", reason="VolumeFailedRecycle",
                                         message="Recycle is not supported by this cluster; use Retain or Delete")

    async def _delete_volume(self, pv: dict[str, Any]) -> None:
        name = pv["metadata"]["name"]
        annotations = pv["metadata"].get("annotations") or {}
        if annotations.get(ANN_PROVISIONED_BY) != PROVISIONER:
            message = (f"error getting deleter volume plugin for volume \"{name}\": no deletable volume plugin "
                       "matched")
            await self._set_volume_phase(name, "Failed", reason="VolumeFailedDelete", message=message)
            await record_event(self.client, pv, "VolumeFailedDelete", message, type_="Warning", component=COMPONENT)
            return
        path = Path(((pv.get("spec") or {}).get("hostPath") or {}).get("path") or "")
        # Only ever remove a folder this provisioner made.
        if path.parent.resolve() == self.volumes_dir.resolve() and path.name == name and path.exists():
            await asyncio.to_thread(shutil.rmtree, path, True)
        try:
            await self.client.delete("persistentvolumes", name)
        except NotFound:
            pass

    async def _set_volume_phase(self, name: str, phase: str, *, reason: str | None = None,
                                message: str | None = None) -> None:
        status: dict[str, Any] = {"phase": phase, "reason": reason, "message": message}
        try:
            await self.client.patch("persistentvolumes", name, {"status": status}, subresource="status")
        except ApiError as exc:
            log.debug("could not set phase of volume %s: %s", name, exc)
