"""Service (core/v1): validation, defaults, Table and the REST strategy of ``pkg/registry/core/service``.

The strategy allocates the cluster IP and nodePorts (``apiserver/allocation.py``, Kubernetes'
ipallocator/portallocator) just before a Service is stored, as the service REST storage's
BeginCreate/BeginUpdate do, and resets the status on create.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime
from typing import Any

from minikube_lite.api import allocation, mergekeys
from minikube_lite.api.kind import Kind, StoreView, Strategy
from minikube_lite.api.models import Service
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, format_selector, name
from minikube_lite.api.validation import (
    NODE_PORT_RANGE,
    ErrorList,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_valid_ip,
    is_valid_port_name,
    is_valid_port_num,
    validate_labels,
)

Obj = dict[str, Any]

RESOURCE = Resource("", "v1", "services", "service", "Service", True, ("svc",), ("all",), tuple(ALL_VERBS),
                    ("status",))


# --- validation ------------------------------------------------------------------------------

_SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]


def validate_service(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    errs.enum("spec.type", spec.get("type"), _SERVICE_TYPES)
    cluster_ip = spec.get("clusterIP") or ""
    cluster_ips = spec.get("clusterIPs") or []
    headless = cluster_ip == "None" or (cluster_ips[:1] == ["None"])
    ports = spec.get("ports") or []
    if stype == "ExternalName":
        ext = spec.get("externalName")
        if not ext:
            errs.required("spec.externalName")
        else:
            errs.each("spec.externalName", ext, is_dns1123_subdomain(ext.rstrip(".")))
        if cluster_ip or cluster_ips:
            errs.forbidden("spec.clusterIPs", "may not be set for ExternalName services")
    elif not ports and not headless:
        errs.required("spec.ports")
    if stype != "ExternalName":
        for i, ip in enumerate(cluster_ips):
            if ip != "None":
                errs.each(f"spec.clusterIPs[{i}]", ip, is_valid_ip(ip))
        if cluster_ip and cluster_ip != "None" and not cluster_ips:
            errs.each("spec.clusterIPs[0]", cluster_ip, is_valid_ip(cluster_ip))
        if cluster_ip and cluster_ips and cluster_ips[0] != cluster_ip:
            errs.invalid("spec.clusterIPs", cluster_ips, "first value must match `clusterIP`")
    if headless and stype in ("NodePort", "LoadBalancer"):
        errs.invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {stype} services")
    names: set[str] = set()
    seen_ports: set[tuple[int, str]] = set()
    node_ports: set[tuple[int, str]] = set()
    for i, sp in enumerate(ports):
        p = f"spec.ports[{i}]"
        pname = sp.get("name")
        if not pname:
            if len(ports) > 1:
                errs.required(f"{p}.name")
        else:
            errs.each(f"{p}.name", pname, is_dns1123_label(pname))
            if pname in names:
                errs.duplicate(f"{p}.name", pname)
            names.add(pname)
        port = sp.get("port") or 0
        errs.each(f"{p}.port", port, is_valid_port_num(port))
        protocol = sp.get("protocol") or "TCP"
        errs.enum(f"{p}.protocol", sp.get("protocol"), ["TCP", "UDP", "SCTP"])
        target = sp.get("targetPort")
        if isinstance(target, int) and target != 0:
            errs.each(f"{p}.targetPort", target, is_valid_port_num(target))
        elif isinstance(target, str) and target:
            errs.each(f"{p}.targetPort", target, is_valid_port_name(target))
        node_port = sp.get("nodePort") or 0
        if node_port:
            if stype in ("ClusterIP", "ExternalName"):
                errs.forbidden(f"{p}.nodePort", f"may not be used when `type` is '{stype}'")
            elif not NODE_PORT_RANGE[0] <= node_port <= NODE_PORT_RANGE[1]:
                errs.invalid(f"{p}.nodePort", node_port, "provided port is not in the valid range. The range of "
                             f"valid ports is {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}")
            elif (node_port, protocol) in node_ports:
                errs.duplicate(f"{p}.nodePort", node_port)
            node_ports.add((node_port, protocol))
        if port and (port, protocol) in seen_ports:
            errs.duplicate(p, {"port": port, "protocol": protocol})
        seen_ports.add((port, protocol))
    validate_labels(errs, spec.get("selector"), "spec.selector")
    errs.enum("spec.sessionAffinity", spec.get("sessionAffinity"), ["ClientIP", "None"])
    timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
    if timeout is not None and not 0 < timeout <= 86400:
        errs.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                     "must be greater than 0 and less than 86400")
    etp = spec.get("externalTrafficPolicy")
    errs.enum("spec.externalTrafficPolicy", etp, ["Cluster", "Local"])
    externally = stype in ("NodePort", "LoadBalancer") or bool(spec.get("externalIPs"))
    if etp and not externally:
        errs.invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services")
    errs.enum("spec.internalTrafficPolicy", spec.get("internalTrafficPolicy"), ["Cluster", "Local"])
    errs.enum("spec.ipFamilyPolicy", spec.get("ipFamilyPolicy"),
              ["SingleStack", "PreferDualStack", "RequireDualStack"])
    families = spec.get("ipFamilies") or []
    for i, fam in enumerate(families):
        errs.enum(f"spec.ipFamilies[{i}]", fam, ["IPv4", "IPv6"])
        if fam in families[:i]:
            errs.duplicate(f"spec.ipFamilies[{i}]", fam)
    for i, ip in enumerate(spec.get("externalIPs") or []):
        errs.each(f"spec.externalIPs[{i}]", ip, is_valid_ip(ip))
    if spec.get("loadBalancerSourceRanges") and stype != "LoadBalancer":
        errs.forbidden("spec.loadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'")
    for i, cidr in enumerate(spec.get("loadBalancerSourceRanges") or []):
        try:
            ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            errs.invalid(f"spec.loadBalancerSourceRanges[{i}]", cidr,
                         "must be a valid IP address or CIDR, (e.g. 10.9.8.0/24 or 2001:db8::/64)")


def _primary_cluster_ip(spec: dict[str, Any]) -> str:
    ips = spec.get("clusterIPs") or []
    return (ips[0] if ips else "") or spec.get("clusterIP") or ""


def validate_service_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if "ExternalName" in (old_spec.get("type"), new_spec.get("type")):
        return
    old_ip, new_ip = _primary_cluster_ip(old_spec), _primary_cluster_ip(new_spec)
    # An empty clusterIP in the update means "keep it": the API server carries the old one over.
    if old_ip and new_ip and old_ip != new_ip:
        shown = "[]string{" + ", ".join(json.dumps(ip) for ip in (new_spec.get("clusterIPs") or [new_ip])) + "}"
        errs.add("spec.clusterIPs[0]", "FieldValueInvalid", f"Invalid value: {shown}: may not change once set")


# --- defaults --------------------------------------------------------------------------------

def default_service(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    stype = spec["type"]
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if stype != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("ipFamilies", ["IPv4"])
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if stype == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if spec["sessionAffinity"] == "ClientIP":
        client_ip = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
        client_ip.setdefault("timeoutSeconds", 10800)


# --- Table -----------------------------------------------------------------------------------

COLUMNS = [
        NAME_COLUMN,
        column("Type", "type determines how the Service is exposed. Defaults to ClusterIP."),
        column("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned randomly."),
        column("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster will also "
                            "accept traffic for this service."),
        column("Port(s)", "The list of ports that are exposed by this service."),
        AGE_COLUMN,
        column("Selector", "Route service traffic to pods with label keys and values matching this selector.",
             priority=1),
]


def service_ports(ports: list[dict[str, Any]]) -> str:
    """PORT(S) as kubectl shows it: "3050:31515/TCP,443/TCP"."""
    pieces = []
    for p in ports:
        protocol = p.get("protocol") or "TCP"
        if p.get("nodePort"):
            pieces.append(f"{p.get('port')}:{p['nodePort']}/{protocol}")
        else:
            pieces.append(f"{p.get('port')}/{protocol}")
    return ",".join(pieces)


def _load_balancer_ips(svc: dict[str, Any], wide: bool) -> str:
    ingress = (((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")) or []
    result = ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress if i.get("ip") or i.get("hostname"))
    if not wide and len(result) > 16:
        result = result[:13] + "..."
    return result


def service_external_ip(svc: dict[str, Any], *, wide: bool = True) -> str:
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    external = spec.get("externalIPs") or []
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if stype == "LoadBalancer":
        lb = _load_balancer_ips(svc, wide)
        if external:
            return ",".join(([lb] if lb else []) + external)
        return lb or "<pending>"
    if stype == "ExternalName":
        return spec.get("externalName") or ""
    return "<unknown>"


def service_cells(svc: dict[str, Any], now: datetime) -> list[Any]:
    spec = svc.get("spec") or {}
    cluster_ips = spec.get("clusterIPs") or []
    internal = (cluster_ips[0] if cluster_ips else "") or spec.get("clusterIP") or "<none>"
    ports = service_ports(spec.get("ports") or []) or "<none>"
    return [name(svc), spec.get("type") or "ClusterIP", internal, service_external_ip(svc), ports,
            age(svc, now), format_selector(spec.get("selector"))]


# --- strategy --------------------------------------------------------------------------------

class ServiceStrategy(Strategy):
    allocator = allocation.RANGE_KEY
    allocator_value = allocation.RANGE_VALUE

    def prepare_create(self, obj: Obj, store: StoreView) -> None:
        obj["status"] = {"loadBalancer": {}}

    def begin_create(self, obj: Obj, store: StoreView) -> None:
        allocation.allocate(obj, store.list_all("services"))

    def begin_update(self, new: Obj, old: Obj, store: StoreView) -> None:
        allocation.allocate(new, store.list_all("services"), old)


SERVICE = Kind(
    RESOURCE, model=Service, validate=validate_service, validate_update=validate_service_update,
    default=default_service, name_rule=is_dns1035_label, columns=COLUMNS, cells=service_cells,
    merge_keys=mergekeys.merge_keys({"spec.ports": "port"}, mergekeys.CONDITIONS), strategy=ServiceStrategy(),
)
KINDS = [SERVICE]
