"""ClusterIP, nodePort and healthCheckNodePort allocation for Services, as kube-apiserver's allocators do.

Allocation is computed from the Services already stored (one scan, cheap at this scale),
so nothing can drift out of step with the store after a crash: an address is in use exactly
when a stored Service holds it. Several API servers on one store are kept apart by the
allocator key (``RANGE_KEY``), written in the same transaction as every Service. It lives in ``api/`` beside the Service kind that asks it
(``services.ServiceStrategy``): a strategy's helper, reading other objects through the
``StoreView`` the registry passes, so ``api`` never imports ``apiserver``.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from minikube_lite import config
from minikube_lite.api.errors import Invalid, cause

SERVICE_CIDR = ipaddress.ip_network(config.SERVICE_CIDR)
KUBERNETES_SERVICE_IP = config.KUBERNETES_SERVICE_IP
DNS_SERVICE_IP = config.DNS_SERVICE_IP  # kept free for the cluster DNS, as kubeadm and minikube do
NODE_PORT_RANGE = range(30000, 32768)
_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
#: The allocator's key: each Service write is one store transaction with a write of it, on the
#: revision it had before the Services were read (``Strategy.allocator``), so two API servers on
#: one etcd cannot both hand out an address or port: the second one's transaction fails and it
#: allocates again. Its value names the ranges, as kube-apiserver's RangeAllocation objects do
#: (there the bitmap lives in it; here the stored Services are the allocation).
RANGE_KEY = "/registry/ranges/serviceallocations"
RANGE_VALUE = {"apiVersion": "v1", "kind": "RangeAllocation", "metadata": {"name": ""},
               "range": str(SERVICE_CIDR), "nodePortRange": f"{NODE_PORT_RANGE.start}-{NODE_PORT_RANGE.stop - 1}"}


def _used(services: list[dict[str, Any]], skip_uid: str | None) -> tuple[set[str], set[tuple[int, str]]]:
    ips: set[str] = {DNS_SERVICE_IP}
    ports: set[tuple[int, str]] = set()
    for svc in services:
        if skip_uid and svc.get("metadata", {}).get("uid") == skip_uid:
            continue
        spec = svc.get("spec") or {}
        for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
            if ip and ip != "None":
                ips.add(ip)
        for p in spec.get("ports") or []:
            if p.get("nodePort"):
                ports.add((int(p["nodePort"]), p.get("protocol", "TCP")))
        if spec.get("healthCheckNodePort"):
            ports.add((int(spec["healthCheckNodePort"]), "TCP"))
    return ips, ports


def needs_health_check(spec: dict[str, Any]) -> bool:
    """A LoadBalancer with ``externalTrafficPolicy: Local`` gets a ``healthCheckNodePort``, where every
    node's kube-proxy says whether it has an endpoint (what a cloud load balancer probes)."""
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def allocate(svc: dict[str, Any], existing: list[dict[str, Any]], old: dict[str, Any] | None = None) -> None:
    """Fill in ``spec.clusterIP(s)`` and ``nodePort``s of ``svc`` in place, or raise ``Invalid``.

    ``old`` is the stored Service on update: what it already holds is kept.
    """
    meta, spec = svc.setdefault("metadata", {}), svc.setdefault("spec", {})
    name = meta.get("name", "")
    uid = meta.get("uid")
    used_ips, used_ports = _used(existing, uid)
    old_spec = (old or {}).get("spec") or {}
    causes: list[dict[str, str]] = []
    svc_type = spec.get("type", "ClusterIP")

    if svc_type == "ExternalName":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    else:
        ip = spec.get("clusterIP") or old_spec.get("clusterIP")
        if ip and ip != "None":
            if old_spec.get("clusterIP") != ip:
                try:
                    addr = ipaddress.ip_address(ip)
                except ValueError:
                    addr = None
                if addr is None or addr not in SERVICE_CIDR:
                    causes.append(cause("spec.clusterIP", f'Invalid value: "{ip}": provided IP is not in the '
                                                          f"valid range. The range of valid IPs is {SERVICE_CIDR}"))
                elif ip in used_ips and not (ip == KUBERNETES_SERVICE_IP and name == "kubernetes"):
                    causes.append(cause("spec.clusterIP", f'Invalid value: "{ip}": provided IP is already allocated'))
        elif not ip:
            ip = _free_ip(used_ips)
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]

    old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old_spec.get("ports") or []}
    for i, port in enumerate(spec.get("ports") or []):
        proto = port.get("protocol", "TCP")
        if svc_type not in _NODE_PORT_TYPES:
            if port.get("nodePort") and old is None:
                causes.append(cause(f"spec.ports[{i}].nodePort",
                                    f"Forbidden: may not be used when `type` is '{svc_type}'", "FieldValueForbidden"))
            port.pop("nodePort", None)
            continue
        node_port = port.get("nodePort") or old_ports.get((port.get("port"), proto))
        if node_port:
            if (int(node_port), proto) in used_ports:
                causes.append(cause(f"spec.ports[{i}].nodePort",
                                    f"Invalid value: {node_port}: provided port is already allocated"))
        else:
            node_port = _free_port(used_ports, proto)
        used_ports.add((int(node_port), proto))
        port["nodePort"] = node_port
    _allocate_health_check(spec, old_spec if old is not None else None, used_ports, causes)
    if causes:
        raise Invalid("Service", name, causes)


def _allocate_health_check(spec: dict[str, Any], old_spec: dict[str, Any] | None, used_ports: set[tuple[int, str]],
                           causes: list[dict[str, str]]) -> None:
    """``spec.healthCheckNodePort`` as kube-apiserver keeps it: allocated (TCP, from the nodePort range)
    when needed, kept on update, immutable while needed, dropped with the type or policy that
    needed it (when left as it was), refused anywhere else."""
    field = "spec.healthCheckNodePort"
    hc = int(spec.get("healthCheckNodePort") or 0)
    old_needs = old_spec is not None and needs_health_check(old_spec)
    old_hc = int((old_spec or {}).get("healthCheckNodePort") or 0)
    if not needs_health_check(spec):
        if hc and old_needs and hc == old_hc:
            spec.pop("healthCheckNodePort", None)
        elif hc:
            causes.append(cause(field, f"Invalid value: {hc}: may only be set when `type` is 'LoadBalancer' and "
                                       "`externalTrafficPolicy` is 'Local'"))
        return
    if old_needs and old_hc:
        if hc and hc != old_hc:
            causes.append(cause(field, "Forbidden: field is immutable", "FieldValueForbidden"))
            return
        hc = old_hc
    elif hc and not 0 < hc < 65536:
        causes.append(cause(field, f"Invalid value: {hc}: must be between 1 and 65535, inclusive"))
        return
    elif hc and (hc, "TCP") in used_ports:
        causes.append(cause(field, f"Invalid value: {hc}: provided port is already allocated"))
        return
    if not hc:
        hc = _free_port(used_ports, "TCP")
    used_ports.add((hc, "TCP"))
    spec["healthCheckNodePort"] = hc


def _free_ip(used: set[str]) -> str:
    first = int(SERVICE_CIDR.network_address) + 2
    last = int(SERVICE_CIDR.broadcast_address) - 1
    for _ in range(1000):
        ip = str(ipaddress.ip_address(random.randint(first, last)))
        if ip not in used:
            return ip
    for n in range(first, last + 1):  # nearly full: scan
        ip = str(ipaddress.ip_address(n))
        if ip not in used:
            return ip
    raise Invalid("Service", "", [cause("spec.clusterIP", "Internal error: no free cluster IP left")])


def _free_port(used: set[tuple[int, str]], proto: str) -> int:
    free = [p for p in NODE_PORT_RANGE if (p, proto) not in used]
    if not free:
        raise Invalid("Service", "", [cause("spec.ports", "Internal error: no free nodePort left")])
    return random.choice(free)
