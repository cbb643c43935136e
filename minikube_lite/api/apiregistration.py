"""apiregistration.k8s.io/v1 APIService: which API server serves which group/version.

kube-apiserver's aggregator stores one APIService per served group/version: "Local" ones (no
``spec.service``) that its autoregister controller creates for every built-in group and every
CRD group, and the ones add-ons register to have a group proxied to their Service, as
metrics-server does with ``v1beta1.metrics.k8s.io`` -> ``kube-system/metrics-server``. Here every
group is served in-process (metrics.k8s.io from the kubelets' samples, apiserver/metrics.py), so
the objects are records for clients (``kubectl get apiservices``); nothing is proxied.

Validation follows ``k8s.io/kube-aggregator/pkg/apis/apiregistration/validation``; the Table is
the aggregator's: ``NAME SERVICE AVAILABLE AGE`` (SERVICE is ``Local`` or ``namespace/name``;
AVAILABLE is the ``Available`` condition, with its reason when not True).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minikube_lite.api.kind import Kind
from minikube_lite.api.models import K8sModel, Time, TypedObject
from minikube_lite.api.resources import Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, name
from minikube_lite.api.validation import ErrorList, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain

OPENAPI_PACKAGE = "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1"


class ServiceReference(K8sModel):
    namespace: str | None = None
    name: str | None = None
    port: int | None = None


class APIServiceSpec(K8sModel):
    service: ServiceReference | None = None
    group: str | None = None
    version: str | None = None
    insecureSkipTLSVerify: bool | None = None
    caBundle: str | None = None
    groupPriorityMinimum: int | None = None
    versionPriority: int | None = None


class APIServiceCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class APIServiceStatus(K8sModel):
    conditions: list[APIServiceCondition] | None = None


class APIService(TypedObject):
    """APIService represents a server for a particular GroupVersion. Name must be "version.group"."""

    spec: APIServiceSpec | None = None
    status: APIServiceStatus | None = None


def apiservice_name(value: str) -> list[str]:
    """``<version>.<group>``: a DNS-1035 label, a dot, a DNS-1123 subdomain or nothing (``v1.``)."""
    version, dot, group = value.partition(".")
    if not dot:
        return ['must be `spec.version+"."+spec.group`']
    return [*is_dns1035_label(version), *(is_dns1123_subdomain(group) if group else [])]


def validate_apiservice(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    group, version = spec.get("group") or "", spec.get("version") or ""
    meta_name = (obj.get("metadata") or {}).get("name", "")
    if meta_name and meta_name != f"{version}.{group}":
        errs.invalid("metadata.name", meta_name, 'must be `spec.version+"."+spec.group`')
    if not group and version != "v1":
        errs.invalid("spec.group", group, "only v1 may have an empty group and it better be legacy kube")
    if not version:
        errs.required("spec.version", "")
    else:
        for problem in is_dns1123_label(version):
            errs.invalid("spec.version", version, problem)
    gpm = spec.get("groupPriorityMinimum") or 0
    if not 0 < gpm <= 20000:
        errs.invalid("spec.groupPriorityMinimum", gpm, "must be positive and less than 20000")
    vp = spec.get("versionPriority") or 0
    if not 0 < vp <= 1000:
        errs.invalid("spec.versionPriority", vp, "must be positive and less than 1000")
    service = spec.get("service")
    if service is None:
        if spec.get("caBundle"):
            errs.invalid("spec.caBundle", "(bytes)", "local APIServices may not have a caBundle")
        if spec.get("insecureSkipTLSVerify"):
            errs.invalid("spec.insecureSkipTLSVerify", True, "local APIServices may not have insecureSkipTLSVerify")
        return
    if not service.get("namespace"):
        errs.required("spec.service.namespace", "")
    if not service.get("name"):
        errs.required("spec.service.name", "")
    port = service.get("port")
    if port is not None and not 0 < port < 65536:
        errs.invalid("spec.service.port", port, "must be a valid port number")
    if spec.get("insecureSkipTLSVerify") and spec.get("caBundle"):
        errs.invalid("spec.insecureSkipTLSVerify", True, "may not be true if caBundle is present")


def default_apiservice(obj: dict[str, Any]) -> None:
    service = (obj.get("spec") or {}).get("service")
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443


def available(obj: dict[str, Any]) -> str:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Available":
            status = cond.get("status") or "Unknown"
            if status != "True" and cond.get("reason"):
                return f"{status} ({cond['reason']})"
            return status
    return "Unknown"


def apiservice_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    service = (obj.get("spec") or {}).get("service")
    where = f"{service.get('namespace', '')}/{service.get('name', '')}" if service else "Local"
    return [name(obj), where, available(obj), age(obj, now)]


def apiservice_object(group: str, version: str, *, service: dict[str, Any] | None = None,
                      group_priority: int = 1000, version_priority: int = 100, now: str = "") -> dict[str, Any]:
    """An APIService as kube-apiserver's autoregister (``service`` None) or an add-on writes it,
    already Available (``now``: the condition's lastTransitionTime)."""
    spec: dict[str, Any] = {"group": group, "version": version, "groupPriorityMinimum": group_priority,
                            "versionPriority": version_priority}
    if service is not None:
        spec.update(service=service, insecureSkipTLSVerify=True)
        reason, message = "Passed", "all checks passed"
    else:
        reason, message = "Local", "Local APIServices are always available"
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": f"{version}.{group}"}, "spec": spec,
            "status": {"conditions": [{"type": "Available", "status": "True", "lastTransitionTime": now,
                                       "reason": reason, "message": message}]}}


APISERVICE = Kind(
    Resource("apiregistration.k8s.io", "v1", "apiservices", "apiservice", "APIService", False,
             (), ("api-extensions",), subresources=("status",)),
    model=APIService, validate=validate_apiservice, name_rule=apiservice_name, default=default_apiservice,
    columns=[NAME_COLUMN, column("Service", "The reference to the service that hosts this API endpoint."),
             column("Available", "Whether this service is available."), AGE_COLUMN],
    cells=apiservice_cells,
)
KINDS = [APISERVICE]
