"""core/v1 Endpoints and discovery.k8s.io/v1 EndpointSlice: schemas, validation, defaults, columns.

The objects that say which pod addresses stand behind a Service. The networking work writes them
from its endpoints controller; the proxy and DNS read them; a user sees them with
``kubectl get endpoints`` / ``kubectl get endpointslices``. This module only knows their shape
and rules (``ValidateEndpoints`` and ``ValidateEndpointSlice`` of Kubernetes, the defaults of
``protocol: TCP``) and how ``kubectl get`` prints them: ``172.18.0.3:3000,172.18.0.4:3000 + 1
more...`` as Kubernetes' ``formatEndpoints`` does. An EndpointSlice names its Service in the label
``kubernetes.io/service-name``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minikube_lite.api.kind import Kind
from minikube_lite.api.models import K8sModel, ObjectReference, StrMap, TypedObject
from minikube_lite.api.resources import Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, name
from minikube_lite.api.validation import (
    ErrorList,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_valid_ip,
    is_valid_port_num,
)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
_MAX_SHOWN = 3


# --- models ------------------------------------------------------------------------------------


class EndpointAddress(K8sModel):
    ip: str | None = None
    hostname: str | None = None
    nodeName: str | None = None
    targetRef: ObjectReference | None = None


class CoreEndpointPort(K8sModel):
    __openapi_name__ = "io.k8s.api.core.v1.EndpointPort"
    name: str | None = None
    port: int | None = None
    protocol: str | None = None
    appProtocol: str | None = None


class EndpointSubset(K8sModel):
    addresses: list[EndpointAddress] | None = None
    notReadyAddresses: list[EndpointAddress] | None = None
    ports: list[CoreEndpointPort] | None = None


class Endpoints(TypedObject):
    """Endpoints is a collection of endpoints that implement the actual service."""

    subsets: list[EndpointSubset] | None = None


class EndpointConditions(K8sModel):
    __openapi_name__ = "io.k8s.api.discovery.v1.EndpointConditions"
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class ForZone(K8sModel):
    __openapi_name__ = "io.k8s.api.discovery.v1.ForZone"
    name: str | None = None


class ForNode(K8sModel):
    __openapi_name__ = "io.k8s.api.discovery.v1.ForNode"
    name: str | None = None


class EndpointHints(K8sModel):
    __openapi_name__ = "io.k8s.api.discovery.v1.EndpointHints"
    forZones: list[ForZone] | None = None
    forNodes: list[ForNode] | None = None


class Endpoint(K8sModel):
    __openapi_name__ = "io.k8s.api.discovery.v1.Endpoint"
    addresses: list[str] | None = None
    conditions: EndpointConditions | None = None
    hostname: str | None = None
    targetRef: ObjectReference | None = None
    deprecatedTopology: StrMap | None = None
    nodeName: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None


class DiscoveryEndpointPort(K8sModel):
    __openapi_name__ = "io.k8s.api.discovery.v1.EndpointPort"
    name: str | None = None
    protocol: str | None = None
    port: int | None = None
    appProtocol: str | None = None


class EndpointSlice(TypedObject):
    """EndpointSlice represents a subset of the endpoints that implement a service."""

    __openapi_name__ = "io.k8s.api.discovery.v1.EndpointSlice"
    addressType: str | None = None
    endpoints: list[Endpoint] | None = None
    ports: list[DiscoveryEndpointPort] | None = None




# --- validation ----------------------------------------------------------------------------------


def _validate_port(errs: ErrorList, port: dict[str, Any], path: str, *, require_name: bool,
                   allow_zero: bool = False) -> None:

    name = port.get("name") or ""
    if require_name and not name:
        errs.required(f"{path}.name")
    elif name:
        errs.each(f"{path}.name", name, is_dns1123_label(name))
    number = port.get("port")
    if number is None and not allow_zero:
        errs.required(f"{path}.port")
    elif number is not None and not (allow_zero and number == 0):
        errs.each(f"{path}.port", number, is_valid_port_num(number))
    errs.enum(f"{path}.protocol", port.get("protocol"), PROTOCOLS)


def validate_endpoints(errs: ErrorList, obj: dict[str, Any]) -> None:

    for i, subset in enumerate(obj.get("subsets") or []):
        p = f"subsets[{i}]"
        if not subset.get("addresses") and not subset.get("notReadyAddresses"):
            errs.required(p, "must specify `addresses` or `notReadyAddresses`")
        for key in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(subset.get(key) or []):
                ap = f"{p}.{key}[{j}]"
                ip = addr.get("ip") or ""
                errs.present(f"{ap}.ip", ip, is_valid_ip)
                if addr.get("hostname"):
                    errs.each(f"{ap}.hostname", addr["hostname"], is_dns1123_label(addr["hostname"]))
                if addr.get("nodeName"):
                    errs.each(f"{ap}.nodeName", addr["nodeName"], is_dns1123_subdomain(addr["nodeName"]))
        ports = subset.get("ports") or []
        for j, port in enumerate(ports):
            _validate_port(errs, port, f"{p}.ports[{j}]", require_name=len(ports) > 1)


def validate_endpointslice(errs: ErrorList, obj: dict[str, Any]) -> None:

    address_type = obj.get("addressType")
    if not address_type:
        errs.required("addressType")
    else:
        errs.enum("addressType", address_type, ADDRESS_TYPES)
    endpoints = obj.get("endpoints") or []
    if len(endpoints) > 1000:
        errs.add("endpoints", "FieldValueTooMany", f"Too many: {len(endpoints)}: must have at most 1000 items")
    for i, ep in enumerate(endpoints):
        p = f"endpoints[{i}]"
        addresses = ep.get("addresses") or []
        if not addresses:
            errs.required(f"{p}.addresses", "must contain at least 1 address")
        elif len(addresses) > 100:
            errs.add(f"{p}.addresses", "FieldValueTooMany",
                     f"Too many: {len(addresses)}: must have at most 100 items")
        for j, address in enumerate(addresses):
            ap = f"{p}.addresses[{j}]"
            if address_type == "IPv4" and ":" in address or address_type == "IPv6" and ":" not in address:
                errs.invalid(ap, address, f"must be an {address_type} address")
            elif address_type in ("IPv4", "IPv6"):
                errs.each(ap, address, is_valid_ip(address))
            elif address_type == "FQDN":
                errs.each(ap, address, is_dns1123_subdomain(address))
        if ep.get("hostname"):
            errs.each(f"{p}.hostname", ep["hostname"], is_dns1123_label(ep["hostname"]))
        if ep.get("nodeName"):
            errs.each(f"{p}.nodeName", ep["nodeName"], is_dns1123_subdomain(ep["nodeName"]))
    ports = obj.get("ports") or []
    names: set[str] = set()
    for i, port in enumerate(ports):
        p = f"ports[{i}]"
        _validate_port(errs, port, p, require_name=False, allow_zero=True)
        name = port.get("name") or ""
        if name in names:
            errs.duplicate(f"{p}.name", name)
        names.add(name)


def validate_endpointslice_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    if old.get("addressType") != new.get("addressType"):
        errs.invalid("addressType", new.get("addressType"), "field is immutable")


UPDATE_VALIDATORS = {"EndpointSlice": validate_endpointslice_update}


# --- defaults ----------------------------------------------------------------------------------


def default_endpoints(obj: dict[str, Any]) -> None:
    for subset in obj.get("subsets") or []:
        for port in subset.get("ports") or []:
            port.setdefault("protocol", "TCP")


def default_endpointslice(obj: dict[str, Any]) -> None:
    for port in obj.get("ports") or []:
        port.setdefault("name", "")
        port.setdefault("protocol", "TCP")




# --- tables --------------------------------------------------------------------------------------


def columns() -> dict[str, list[dict[str, Any]]]:

    return {
        "Endpoints": [
            NAME_COLUMN,
            column("Endpoints", "The set of all endpoints is the union of all subsets. Addresses are placed into "
                              "subsets according to the IPs they share."),
            AGE_COLUMN,
        ],
        "EndpointSlice": [
            NAME_COLUMN,
            column("AddressType", "addressType specifies the type of address carried by this EndpointSlice."),
            column("Ports", "ports specifies the list of network ports exposed by each endpoint in this slice."),
            column("Endpoints", "endpoints is a list of unique endpoints in this slice."),
            AGE_COLUMN,
        ],
    }


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def format_endpoints(obj: dict[str, Any]) -> str:
    """Kubernetes' formatEndpoints: up to three ``ip:port`` of the ready addresses, then
    ``+ N more...``; ``<none>`` without subsets."""
    subsets = obj.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [a.get("ip") or "" for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        pairs = [(ip, None) for ip in addresses] if not ports else [
            (ip, p.get("port") or 0) for p in ports for ip in addresses]
        for ip, port in pairs:
            count += 1
            if len(shown) < _MAX_SHOWN:
                shown.append(ip if port is None else _host_port(ip, port))
    text = ",".join(shown)
    return f"{text} + {count - _MAX_SHOWN} more..." if count > _MAX_SHOWN else text


def _list_with_more(items: list[str]) -> str:
    text = ",".join(items[:_MAX_SHOWN])
    if len(items) > _MAX_SHOWN:
        return f"{text} + {len(items) - _MAX_SHOWN} more..."
    return text or "<unset>"


def format_slice_ports(obj: dict[str, Any]) -> str:
    out = []
    for port in obj.get("ports") or []:
        if port.get("port") is not None:
            out.append(str(port["port"]))
        elif port.get("name"):
            out.append(port["name"])
        else:
            out.append("*")
    return _list_with_more(out)


def format_slice_endpoints(obj: dict[str, Any]) -> str:
    return _list_with_more([a for ep in obj.get("endpoints") or [] for a in ep.get("addresses") or []])


def endpoints_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    return [name(obj), format_endpoints(obj), age(obj, now)]


def endpointslice_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    return [name(obj), obj.get("addressType") or "", format_slice_ports(obj), format_slice_endpoints(obj),
            age(obj, now)]


# --- the kinds -----------------------------------------------------------------------------------

_COLUMNS = columns()

ENDPOINTS = Kind(
    Resource("", "v1", "endpoints", "endpoints", "Endpoints", True, ("ep",)),
    model=Endpoints, validate=validate_endpoints, default=default_endpoints,
    columns=_COLUMNS["Endpoints"], cells=endpoints_cells,
)
ENDPOINTSLICE = Kind(
    Resource("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", True),
    model=EndpointSlice, validate=validate_endpointslice, validate_update=validate_endpointslice_update,
    default=default_endpointslice, columns=_COLUMNS["EndpointSlice"], cells=endpointslice_cells,
)
KINDS = [ENDPOINTS, ENDPOINTSLICE]
