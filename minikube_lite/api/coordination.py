"""coordination.k8s.io/v1 Lease: schema, validation and ``kubectl get`` columns.

The kubelet holds one Lease per node in ``kube-node-lease`` and renews it every 10 s (a quarter
of its 40 s duration), as Kubernetes' node lease controller does; that renewal is the node's
heartbeat, and ``kubectl describe node`` shows it under "Lease". Users may create Leases of their
own (leader election in their programs uses them). Rules follow Kubernetes'
``pkg/apis/coordination/validation``: a duration must be positive, transitions not negative.

``kubectl get lease`` prints ``NAME HOLDER AGE``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minikube_lite.api.kind import Kind
from minikube_lite.api.models import K8sModel, Time, TypedObject
from minikube_lite.api.resources import Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, name
from minikube_lite.api.validation import ErrorList

#: the Go package of this module's types, for their OpenAPI definition names (apiserver/schemas.py)
OPENAPI_PACKAGE = "io.k8s.api.coordination.v1"



class LeaseSpec(K8sModel):
    holderIdentity: str | None = None
    leaseDurationSeconds: int | None = None
    acquireTime: Time | None = None
    renewTime: Time | None = None
    leaseTransitions: int | None = None
    strategy: str | None = None
    preferredHolder: str | None = None


class Lease(TypedObject):
    """Lease defines a lease concept."""

    spec: LeaseSpec | None = None
    """spec contains the specification of the Lease."""




def validate_lease(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errs.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        errs.invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0")




def columns() -> dict[str, list[dict[str, Any]]]:

    return {"Lease": [NAME_COLUMN, column("Holder", "The holder of the lease"), AGE_COLUMN]}


def lease_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    return [name(obj), (obj.get("spec") or {}).get("holderIdentity") or "", age(obj, now)]


# --- the kinds -----------------------------------------------------------------------------------

LEASE = Kind(
    Resource("coordination.k8s.io", "v1", "leases", "lease", "Lease", True),
    model=Lease, validate=validate_lease, columns=columns()["Lease"], cells=lease_cells,
)
KINDS = [LEASE]
