"""networking.k8s.io/v1 Ingress and IngressClass: schemas, validation, defaults and ``kubectl get`` columns.

The built-in ingress controller (proxy/ingress.py) serves these. The rules follow Kubernetes'
``pkg/apis/networking/validation``: an Ingress needs rules or a default backend; each path has a
``pathType`` (Exact, Prefix or ImplementationSpecific), Exact and Prefix paths are absolute and
free of ``//``, ``/./``, ``/../``; a host is a DNS subdomain (``*.`` wildcard allowed, never an IP);
a backend is a Service (name plus port name *or* number) or a resource, not both.

``kubectl get ingress`` prints ``NAME CLASS HOSTS ADDRESS PORTS AGE`` as Kubernetes' printers do
(``*`` for a rule without host, ``80, 443`` when TLS is configured).
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from minikube_lite.api.kind import Kind, StoreView, Strategy
from minikube_lite.api.models import K8sModel, TypedObject
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, name
from minikube_lite.api.validation import (
    ErrorList,
    is_dns1035_label,
    is_dns1123_subdomain,
    is_valid_port_name,
    is_valid_port_num,
)

#: the Go package of this module's types, for their OpenAPI definition names (apiserver/schemas.py)
OPENAPI_PACKAGE = "io.k8s.api.networking.v1"

PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"

# --- models ------------------------------------------------------------------------------------


class ServiceBackendPort(K8sModel):
    name: str | None = None
    number: int | None = None


class IngressServiceBackend(K8sModel):
    name: str | None = None
    port: ServiceBackendPort | None = None


class TypedLocalObjectReference(K8sModel):
    apiGroup: str | None = None
    kind: str | None = None
    name: str | None = None


class IngressBackend(K8sModel):
    service: IngressServiceBackend | None = None
    resource: TypedLocalObjectReference | None = None


class HTTPIngressPath(K8sModel):
    path: str | None = None
    pathType: str | None = None
    backend: IngressBackend | None = None


class HTTPIngressRuleValue(K8sModel):
    paths: list[HTTPIngressPath] | None = None


class IngressRule(K8sModel):
    host: str | None = None
    http: HTTPIngressRuleValue | None = None


class IngressTLS(K8sModel):
    hosts: list[str] | None = None
    secretName: str | None = None


class IngressSpec(K8sModel):
    """IngressSpec describes the Ingress the user wishes to exist."""

    ingressClassName: str | None = None
    """ingressClassName is the name of an IngressClass cluster resource; the default class is used when it is empty."""
    defaultBackend: IngressBackend | None = None
    """defaultBackend is the backend that should handle requests that don't match any rule."""
    tls: list[IngressTLS] | None = None
    """tls represents the TLS configuration."""
    rules: list[IngressRule] | None = None
    """rules is a list of host rules used to configure the Ingress."""


class IngressPortStatus(K8sModel):
    port: int | None = None
    protocol: str | None = None
    error: str | None = None


class IngressLoadBalancerIngress(K8sModel):
    ip: str | None = None
    hostname: str | None = None
    ports: list[IngressPortStatus] | None = None


class IngressLoadBalancerStatus(K8sModel):
    ingress: list[IngressLoadBalancerIngress] | None = None


class IngressStatus(K8sModel):
    loadBalancer: IngressLoadBalancerStatus | None = None


class Ingress(TypedObject):
    """Ingress is a collection of rules that allow inbound connections to reach the endpoints defined by a backend."""

    spec: IngressSpec | None = None
    """spec is the desired state of the Ingress."""
    status: IngressStatus | None = None
    """status is the current state of the Ingress."""


class IngressClassParametersReference(K8sModel):
    apiGroup: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    scope: str | None = None


class IngressClassSpec(K8sModel):
    controller: str | None = None
    parameters: IngressClassParametersReference | None = None


class IngressClass(TypedObject):
    spec: IngressClassSpec | None = None



# --- validation --------------------------------------------------------------------------------

_BAD_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_BAD_SUFFIXES = ("/..", "/.")


def _validate_backend(errs: ErrorList, backend: dict[str, Any] | None, path: str) -> None:

    if backend is None:
        errs.required(path)
        return
    svc, res = backend.get("service"), backend.get("resource")
    if svc is not None and res is not None:
        errs.invalid(path, "", "cannot set both resource and service backends")
        return
    if svc is None and res is None:
        errs.invalid(path, "", "resource or service backend is required")
        return
    if svc is not None:
        name = svc.get("name")
        errs.present(f"{path}.service.name", name, is_dns1035_label)
        port = svc.get("port") or {}
        if port.get("name") and port.get("number") is not None:
            errs.invalid(f"{path}.service.port", port, "cannot set both port name & port number")
        elif port.get("name"):
            errs.each(f"{path}.service.port.name", port["name"], is_valid_port_name(port["name"]))
        elif port.get("number") is not None:
            errs.each(f"{path}.service.port.number", port["number"], is_valid_port_num(port["number"]))
        else:
            errs.required(f"{path}.service.port", "port name or number is required")
    elif not (res or {}).get("kind") or not (res or {}).get("name"):
        errs.required(f"{path}.resource", "kind and name are required")


def _validate_host(errs: ErrorList, host: str, path: str) -> None:

    try:
        ipaddress.ip_address(host)
        errs.invalid(path, host, "must be a DNS name, not an IP address")
        return
    except ValueError:
        pass
    name = host.removeprefix("*.")
    errs.each(path, host, is_dns1123_subdomain(name))


def validate_ingress(errs: ErrorList, obj: dict[str, Any]) -> None:

    spec = obj.get("spec") or {}
    rules = spec.get("rules") or []
    if not rules and spec.get("defaultBackend") is None:
        errs.invalid("spec", "", "either `defaultBackend` or `rules` must be specified")
    if spec.get("ingressClassName") is not None:
        errs.each("spec.ingressClassName", spec["ingressClassName"], is_dns1123_subdomain(spec["ingressClassName"]))
    if spec.get("defaultBackend") is not None:
        _validate_backend(errs, spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in enumerate(rules):
        rpath = f"spec.rules[{i}]"
        if rule.get("host"):
            _validate_host(errs, rule["host"], f"{rpath}.host")
        http = rule.get("http")
        if http is None:
            continue
        paths = http.get("paths") or []
        if not paths:
            errs.required(f"{rpath}.http.paths")
        for j, p in enumerate(paths):
            ppath = f"{rpath}.http.paths[{j}]"
            ptype = p.get("pathType")
            if ptype is None:
                errs.required(f"{ppath}.pathType", "pathType must be specified")
            else:
                errs.enum(f"{ppath}.pathType", ptype, PATH_TYPES)
            value = p.get("path") or ""
            if ptype in ("Exact", "Prefix") or value:
                if not value.startswith("/"):
                    errs.invalid(f"{ppath}.path", value, "must be an absolute path")
                elif ptype in ("Exact", "Prefix"):
                    bad = next((s for s in _BAD_SEQUENCES if s in value), None) \
                        or next((s for s in _BAD_SUFFIXES if value.endswith(s)), None)
                    if bad:
                        errs.invalid(f"{ppath}.path", value, f"cannot contain '{bad}'")
            _validate_backend(errs, p.get("backend"), f"{ppath}.backend")
    for i, tls in enumerate(spec.get("tls") or []):
        for j, host in enumerate(tls.get("hosts") or []):
            _validate_host(errs, host, f"spec.tls[{i}].hosts[{j}]")


def validate_ingressclass(errs: ErrorList, obj: dict[str, Any]) -> None:
    controller = (obj.get("spec") or {}).get("controller")
    if not controller:
        errs.required("spec.controller")
    elif len(controller) > 250:
        errs.too_long("spec.controller", 250)


def validate_ingressclass_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    if (old.get("spec") or {}).get("controller") != (new.get("spec") or {}).get("controller"):
        errs.invalid("spec.controller", (new.get("spec") or {}).get("controller"), "field is immutable")


UPDATE_VALIDATORS = {"IngressClass": validate_ingressclass_update}


# --- defaults ----------------------------------------------------------------------------------


def default_ingress(obj: dict[str, Any]) -> None:
    obj.setdefault("spec", {})
    obj.setdefault("status", {}).setdefault("loadBalancer", {})




# --- kubectl get ---------------------------------------------------------------------------------


def columns() -> dict[str, list[dict[str, Any]]]:

    return {
        "Ingress": [
            NAME_COLUMN,
            column("Class", "The name of the IngressClass resource that should be used for ingress."),
            column("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
            column("Address", "Address is a list containing ingress points for the load-balancer"),
            column("Ports", "Ports of TLS configurations that open"),
            AGE_COLUMN,
        ],
        "IngressClass": [
            NAME_COLUMN,
            column("Controller", "Controller that is responsible for handling this class"),
            column("Parameters", "A reference to a resource with additional parameters"),
            AGE_COLUMN,
        ],
    }


def _hosts(rules: list[dict[str, Any]]) -> str:
    hosts = [r.get("host") or "*" for r in rules]
    if not hosts:
        return "*"
    shown = ",".join(hosts[:4])
    return shown + (f" + {len(hosts) - 4} more..." if len(hosts) > 4 else "")


def ingress_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    spec = obj.get("spec") or {}
    lb = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    address = ",".join(i.get("ip") or i.get("hostname") or "" for i in lb if i.get("ip") or i.get("hostname"))
    ports = "80, 443" if spec.get("tls") else "80"
    return [name(obj), spec.get("ingressClassName") or "<none>", _hosts(spec.get("rules") or []), address, ports,
            age(obj, now)]


def ingressclass_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    spec = obj.get("spec") or {}
    params = spec.get("parameters")
    shown = "<none>"
    if params:
        group = params.get("apiGroup") or ""
        shown = f"{params.get('kind')}.{group}/{params.get('name')}" if group else f"{params.get('kind')}/{params.get('name')}"
    return [name(obj), spec.get("controller") or "", shown, age(obj, now)]


# --- the kinds -----------------------------------------------------------------------------------

class IngressStrategy(Strategy):
    def prepare_create(self, obj: dict[str, Any], store: StoreView) -> None:
        """The DefaultIngressClass admission: a new Ingress naming no class gets the default one.

        As kube-apiserver's plugin: only on create, only when neither ``spec.ingressClassName``
        nor the legacy ``kubernetes.io/ingress.class`` annotation is set, and only when a class is
        marked default (the newest, if several are).
        """
        spec = obj.setdefault("spec", {})
        annotations = obj["metadata"].get("annotations") or {}
        if spec.get("ingressClassName") or "kubernetes.io/ingress.class" in annotations:
            return
        defaults = [c for c in store.list_all("ingressclasses", "networking.k8s.io")
                    if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"]
        if defaults:
            newest = max(defaults, key=lambda c: c["metadata"].get("creationTimestamp") or "")
            spec["ingressClassName"] = newest["metadata"]["name"]


_COLUMNS = columns()

INGRESS = Kind(
    Resource("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", True, ("ing",), (), tuple(ALL_VERBS),
             ("status",)),
    model=Ingress, validate=validate_ingress, default=default_ingress, columns=_COLUMNS["Ingress"],
    cells=ingress_cells, strategy=IngressStrategy(),
)
INGRESSCLASS = Kind(
    Resource("networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass", False),
    model=IngressClass, validate=validate_ingressclass, validate_update=validate_ingressclass_update,
    columns=_COLUMNS["IngressClass"], cells=ingressclass_cells,
)
KINDS = [INGRESS, INGRESSCLASS]
