"""apiextensions.k8s.io/v1 CustomResourceDefinition: the kind that defines kinds.

The CRD's rules and the meaning of its fields live in ``minikube_lite/apiextensions/`` (the
apiextensions-apiserver); this module declares the kind for the register: validation with
Kubernetes' messages (names, versions, structural schemas, CEL rules that compile), the
defaults the API server fills in, ``NAMESACCEPTED`` / ``ESTABLISHED`` computed on every write
(the naming controller's decision, made at once since nothing else has to happen before the
kind is served), the ``customresourcecleanup`` finalizer that empties a CRD before it goes, and
kube-apiserver's default Table (``NAME``, ``CREATED AT``). Serving the kinds a CRD defines is
the CRD handler's (``apiextensions/handler.py``), which follows the CRDs' watch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minikube_lite.api.kind import Kind, StoreView, Strategy
from minikube_lite.api.models import AnyObject
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import NAME_COLUMN, column, name
from minikube_lite.api.validation import ErrorList, decode
from minikube_lite.apiextensions import crd_validation, naming

Obj = dict[str, Any]

GROUP = "apiextensions.k8s.io"
PLURAL = "customresourcedefinitions"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def _others(store: StoreView, crd: Obj) -> list[Obj]:
    own = crd["metadata"].get("name")
    return [c for c in store.list_all(PLURAL, GROUP) if c["metadata"].get("name") != own]


class CRDStrategy(Strategy):
    """The CRD strategy: status reset on create, kept (and recomputed) on update."""

    def prepare_create(self, obj: Obj, store: StoreView) -> None:
        crd_validation.prepare_create(obj)
        obj["status"] = naming.compute_status(obj, _others(store, obj))
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)

    def prepare_update(self, new: Obj, old: Obj, store: StoreView) -> None:
        crd_validation.prepare_update(new, old)
        if not new["metadata"].get("deletionTimestamp"):
            new["status"] = naming.compute_status(new, _others(store, new))


def _validate(errs: ErrorList, obj: Obj) -> None:
    errs.causes += crd_validation.validate(obj)


def _validate_update(errs: ErrorList, old: Obj, new: Obj) -> None:
    errs.causes += [c for c in crd_validation.validate_update(new, old) if c["message"].endswith("field is immutable")]


def _decode(obj: Obj, field_validation: str) -> tuple[Obj, list[str]]:
    """Decoded as any object, then defaulted before validation (as kube-apiserver's decoder)."""
    cleaned, warnings = decode(CUSTOMRESOURCEDEFINITION.resource, AnyObject, obj, field_validation)
    if isinstance(cleaned.get("spec"), dict):
        crd_validation.apply_defaults(cleaned)
    return cleaned, warnings


def _cells(obj: Obj, now: datetime) -> list[Any]:
    return [name(obj), (obj.get("metadata") or {}).get("creationTimestamp")]


CUSTOMRESOURCEDEFINITION = Kind(
    Resource(GROUP, "v1", PLURAL, "customresourcedefinition", "CustomResourceDefinition", False,
             ("crd", "crds"), ("api-extensions",), tuple(ALL_VERBS), ("status",)),
    validate=_validate, validate_update=_validate_update, decode=_decode,
    columns=[NAME_COLUMN, column("Created At", "Time when this object was created", fmt="date-time",
                                 type_="date")],
    cells=_cells,
    strategy=CRDStrategy(),
)
KINDS = [CUSTOMRESOURCEDEFINITION]
