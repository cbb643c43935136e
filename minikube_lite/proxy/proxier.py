"""The service proxy (kube-proxy): cluster IPs, nodePorts and LoadBalancer ports on this host.

It watches Services and Endpoints (written by controllers/endpoints.py, or by hand for a
Service without a selector) and after every change makes the host match, in one pass:

1. cluster IPs (and the cluster DNS address) exist as /32 addresses on the cluster's bridge
   (proxy/hostnet.py), so pods and the host reach them and a port nobody serves is refused;
2. every host port a Service asks for (``nodePort``; a LoadBalancer Service's ``port``) is held
   by a socket (proxy/userspace.py). A port another program already holds is reported as a
   Warning event ``PortInUse`` and a ``PortsAvailable=False`` condition on that Service, and is
   left alone: the other program keeps its port, other Services are not affected;
3. the kernel forwards (proxy/iptables.py): cluster IP and host ports DNAT to a random ready
   endpoint. Without iptables the held sockets forward in user space instead;
4. a LoadBalancer Service gets ``status.loadBalancer.ingress`` (``lb_address``, 127.0.0.1 by
   default), as k3s' service load balancer or ``minikube tunnel`` give it.

``externalTrafficPolicy: Local`` sends a host port's traffic from elsewhere only to endpoints on
this machine (kube-proxy: on this node) and keeps the client's address; a machine without one
drops it. A LoadBalancer's ``healthCheckNodePort`` answers 200 or 503 by the same count
(proxy/userspace.py ``HealthHolder``). An endpoint is on this machine when its ``nodeName`` is a
Node whose InternalIP is an address of this machine: every node of one machine shares its
kube-proxy, so they count as one (a node of another machine, ``minikube-lite agent``, runs a
kube-proxy of its own).

``close()`` undoes all of it: addresses, chains and jumps, sockets, the sysctl.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from typing import Any

from ..api.allocation import needs_health_check
from ..api.errors import ApiError, Conflict, NotFound
from ..api.times import now_rfc3339
from ..client.base import Client
from ..client.events import record_event
from ..client.informer import Informer, object_key
from ..config import DNS_SERVICE_IP
from . import hostnet, iptables
from .iptables import ServiceRule
from .userspace import HealthHolder, Holder

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CONDITION = "PortsAvailable"


def service_endpoints(port: Obj, endpoints: Obj | None, nodes: set[str] | None = None) -> list[tuple[str, int]]:
    """Ready (ip, port) pairs of one Service port, from the Service's Endpoints object (``nodes``:
    only those of pods on these nodes)."""
    if not endpoints:
        return []
    name, proto = port.get("name") or "", port.get("protocol") or "TCP"
    out: list[tuple[str, int]] = []
    for subset in endpoints.get("subsets") or []:
        for p in subset.get("ports") or []:
            if (p.get("name") or "") == name and (p.get("protocol") or "TCP") == proto:
                out.extend((a["ip"], int(p["port"])) for a in subset.get("addresses") or []
                           if a.get("ip") and (nodes is None or a.get("nodeName") in nodes))
    return sorted(set(out))


def _internal_ip(node: Obj) -> str:
    return next((str(a.get("address") or "") for a in (node.get("status") or {}).get("addresses") or []
                 if a.get("type") == "InternalIP"), "")


def is_local_address(ip: str) -> bool:
    """Whether ``ip`` is an address of this machine (a socket can be bound to it)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((ip, 0))
        return True
    except OSError:
        return False


def _cluster_ip(spec: Obj) -> str | None:
    ip = spec.get("clusterIP")
    if not ip or ip == "None":
        return None
    try:
        return ip if ipaddress.ip_address(ip).version == 4 else None
    except ValueError:
        return None


def host_ports(service: Obj) -> list[tuple[int, str, Obj]]:
    """(host port, protocol, service port) a Service asks this host to serve."""
    spec = service.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    out = []
    for p in spec.get("ports") or []:
        proto = p.get("protocol") or "TCP"
        if stype in ("NodePort", "LoadBalancer") and p.get("nodePort"):
            out.append((int(p["nodePort"]), proto, p))
        if stype == "LoadBalancer" and p.get("port"):
            out.append((int(p["port"]), proto, p))
    return out


def health_check_port(service: Obj) -> int:
    """The Service's ``healthCheckNodePort`` when it is one (a LoadBalancer with policy Local), else 0."""
    spec = service.get("spec") or {}
    return int(spec.get("healthCheckNodePort") or 0) if needs_health_check(spec) else 0


class ServiceProxy:
    def __init__(self, client: Client, *, cluster_id: str, network_name: str, network_label: str,
                 mode: str = "auto", lb_address: str = "127.0.0.1", listen_address: str = "",
                 node_addresses: tuple[str, ...] = (), cluster_cidr: str = "",
                 dns_ip: str | None = DNS_SERVICE_IP, report: bool = True) -> None:
        self.client = client
        self.cluster_id = cluster_id
        self.network_name = network_name
        self.network_label = network_label
        self.mode = ("iptables" if iptables.available() else "userspace") if mode == "auto" else mode
        self.lb_address = lb_address
        # "" (the default): host ports on loopback and the node's bridge address, this machine only;
        # "0.0.0.0" (start --listen-address): every address, reachable from the network.
        self.listen_address = listen_address
        self.bind_host: str | tuple[str, ...] = listen_address or "127.0.0.1"
        # the node's own addresses where host ports answer from the network too, as kube-proxy's
        # (a joined machine's InternalIP); localhost and the bridge address are added in run()
        self.node_addresses = node_addresses
        # the pods' addresses (kube-proxy's --cluster-cidr): "" is this machine's bridge subnet
        self.cluster_cidr = cluster_cidr
        self.dns_ip = dns_ip
        # False: a joined machine's kube-proxy (node/overlayagent.py) writes no Service status,
        # the master's does (LoadBalancer ingress, PortsAvailable)
        self.report = report
        self.bridge: str | None = None
        self.gateway: str | None = None
        self.ipt = iptables.IPTables(cluster_id, external=bool(listen_address) or node_addresses)
        self.services = Informer(client, "services")
        self.endpoints = Informer(client, "endpoints")
        self.nodes = Informer(client, "nodes")
        self._node_ips: dict[str, str] = {}  # node -> InternalIP (a heartbeat that keeps it is no news)
        # (port, proto) -> (service key, holder): host ports, and health check ports (a HealthHolder)
        self.holders: dict[tuple[int, str], tuple[str, Holder]] = {}
        self.cluster_holders: dict[tuple[str, int, str], Holder] = {}  # userspace mode only
        self.conflicts: dict[str, list[str]] = {}  # service key -> messages
        self._dirty = asyncio.Event()
        self.ready = asyncio.Event()  # set after the first full sync
        self.services.add_handler(lambda _t, _o: self._dirty.set())
        self.endpoints.add_handler(lambda _t, _o: self._dirty.set())
        self.nodes.add_handler(self._node_changed)

    def _node_changed(self, kind: str, node: Obj) -> None:
        name = str((node.get("metadata") or {}).get("name") or "")
        ip = "" if kind == "DELETED" else _internal_ip(node)
        if self._node_ips.get(name, "") != ip:
            self._node_ips[name] = ip
            self._dirty.set()

    def local_nodes(self) -> set[str]:
        """The Nodes of this machine: those whose InternalIP is one of its addresses (asked each time,
        a bind per node: a node agent of this machine puts its address up after it registers)."""
        local = {ip for ip in set(self._node_ips.values()) if ip and is_local_address(ip)}
        return {name for name, ip in self._node_ips.items() if ip in local}

    async def run(self) -> None:
        self.bridge, self.gateway = await asyncio.to_thread(
            hostnet.ensure_network, self.network_name, self.cluster_id, self.network_label)
        if not self.listen_address and self.gateway:
            self.bind_host = tuple(dict.fromkeys(("127.0.0.1", self.gateway, *self.node_addresses)))
        if not self.cluster_cidr and self.bridge:
            self.cluster_cidr = await hostnet.bridge_subnet(self.bridge)
        self.ipt.cluster_cidr = self.cluster_cidr
        if self.mode == "iptables":
            await self.ipt.remove()  # leftovers of a daemon that was killed
        hostnet.set_route_localnet(self.bridge, True)
        informers = (self.services, self.endpoints, self.nodes)
        tasks = [asyncio.create_task(i.run()) for i in informers]
        try:
            for i in informers:
                await i.synced.wait()
            while True:
                self._dirty.clear()
                try:
                    await self.sync()
                except (OSError, ApiError) as exc:
                    log.warning("proxy sync failed: %s; retrying", exc)
                    await asyncio.sleep(1)
                    self._dirty.set()
                self.ready.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._dirty.wait(), timeout=30)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.close()

    def _endpoints_for(self, key: str, port: Obj, nodes: set[str] | None = None) -> list[tuple[str, int]]:
        return service_endpoints(port, self.endpoints.get(key), nodes)

    def _local_count(self, key: str) -> int:
        """How many endpoints of the Service this machine has (its health check's answer)."""
        nodes = self.local_nodes()
        ports = ((self.services.get(key) or {}).get("spec") or {}).get("ports") or []
        return len({ip for p in ports for ip, _ in self._endpoints_for(key, p, nodes)})

    def _host_port_endpoints(self, key: str, port: Obj) -> list[tuple[str, int]]:
        """Where a host port's connection goes in user space (externalTrafficPolicy honoured)."""
        svc = self.services.get(key) or {}
        local = (svc.get("spec") or {}).get("externalTrafficPolicy") == "Local"
        return self._endpoints_for(key, port, self.local_nodes() if local else None)

    async def sync(self) -> None:
        services = sorted(self.services.list(),
                          key=lambda s: (s["metadata"].get("creationTimestamp") or "", object_key(s)))
        addresses = {self.dns_ip} if self.dns_ip else set()
        rules: list[ServiceRule] = []
        wanted_holders: dict[tuple[int, str], tuple[str, Obj | None]] = {}  # None: the health check port
        conflicts: dict[str, list[str]] = {}
        for svc in services:
            key = object_key(svc)
            spec = svc.get("spec") or {}
            if spec.get("type") == "ExternalName":
                continue
            cip = _cluster_ip(spec)
            if cip:
                addresses.add(cip)
            hc = health_check_port(svc)
            for hp, proto, p in [*host_ports(svc), *([(hc, "TCP", None)] if hc else [])]:
                owner = wanted_holders.get((hp, proto))
                if owner is not None and owner[0] != key:
                    conflicts.setdefault(key, []).append(
                        f"port {hp}/{proto} is already served for service {owner[0]}")
                    continue
                wanted_holders[(hp, proto)] = (key, p)
        # host ports: bind what is new, release what is gone
        for hp_key in list(self.holders):
            want = wanted_holders.get(hp_key)
            key, holder = self.holders[hp_key]
            if want is None or key != want[0] or isinstance(holder, HealthHolder) != (want[1] is None):
                self.holders.pop(hp_key)
                await holder.close()
        held: set[tuple[int, str]] = set()
        for (hp, proto), (key, p) in wanted_holders.items():
            if (hp, proto) in self.holders:
                held.add((hp, proto))
                continue
            if p is None:
                ns, _, name = key.rpartition("/")
                holder = HealthHolder(self.bind_host, hp, (ns, name), lambda key=key: self._local_count(key))
            else:
                holder = Holder(self.bind_host, hp, proto,
                                lambda key=key, p=p: self._host_port_endpoints(key, p))  # type: ignore[misc]
            try:
                await holder.open()
            except OSError as exc:
                conflicts.setdefault(key, []).append(
                    f"port {hp}/{proto} is in use by another program on this host ({exc.strerror or exc})")
                continue
            self.holders[(hp, proto)] = (key, holder)
            held.add((hp, proto))
        local_nodes = self.local_nodes()
        for svc in services:
            key = object_key(svc)
            spec = svc.get("spec") or {}
            if spec.get("type") == "ExternalName":
                continue
            cip = _cluster_ip(spec)
            local = spec.get("externalTrafficPolicy") == "Local"
            for p in spec.get("ports") or []:
                proto = p.get("protocol") or "TCP"
                mine = tuple(hp for hp, pr, sp in host_ports(svc)
                             if sp is p and pr == proto and (hp, pr) in held
                             and self.holders[(hp, pr)][0] == key)
                rules.append(ServiceRule(name=f"{key}:{p.get('name') or p.get('port')}", protocol=proto,
                                         cluster_ip=cip, port=int(p.get("port") or 0),
                                         endpoints=tuple(self._endpoints_for(key, p)), host_ports=mine,
                                         local_endpoints=tuple(self._endpoints_for(key, p, local_nodes))
                                         if local else None))
        if self.bridge:
            await hostnet.sync_addresses(self.bridge, addresses)
        if self.mode == "iptables":
            await self.ipt.sync(rules, self.bridge or "")
        else:
            await self._sync_userspace_cluster_ips(rules)
        if self.report:
            await self._report(services, conflicts)

    async def _sync_userspace_cluster_ips(self, rules: list[ServiceRule]) -> None:
        wanted = {(r.cluster_ip, r.port, r.protocol): r for r in rules
                  if r.cluster_ip and r.protocol == "TCP"}
        for k in list(self.cluster_holders):
            if k not in wanted:
                await self.cluster_holders.pop(k).close()
        for k, rule in wanted.items():
            holder = self.cluster_holders.get(k)
            if holder is None:
                holder = Holder(k[0], k[1], "TCP", list)
                try:
                    await holder.open()
                except OSError as exc:
                    log.warning("cannot listen on %s:%d: %s", k[0], k[1], exc)
                    continue
                self.cluster_holders[k] = holder
            holder.picker = lambda eps=rule.endpoints: list(eps)  # type: ignore[misc]

    async def _report(self, services: list[Obj], conflicts: dict[str, list[str]]) -> None:
        """LoadBalancer ingress and the PortsAvailable condition; an event when a conflict starts."""
        for svc in services:
            key = object_key(svc)
            status = dict(svc.get("status") or {})
            changed = False
            spec = svc.get("spec") or {}
            if spec.get("type") == "LoadBalancer":
                lb_ok = key not in conflicts
                want_lb: Obj = {"ingress": [{"ip": self.lb_address}]} if lb_ok else {}
                if (status.get("loadBalancer") or {}) != want_lb:
                    status["loadBalancer"] = want_lb
                    changed = True
            elif status.get("loadBalancer"):
                status["loadBalancer"] = {}
                changed = True
            conds = [c for c in status.get("conditions") or [] if c.get("type") != CONDITION]
            old = next((c for c in status.get("conditions") or [] if c.get("type") == CONDITION), None)
            messages = conflicts.get(key)
            if messages:
                message = "; ".join(messages)
                if old is None or old.get("status") != "False" or old.get("message") != message:
                    conds.append({"type": CONDITION, "status": "False", "reason": "PortInUse", "message": message,
                                  "lastTransitionTime": now_rfc3339(),
                                  "observedGeneration": svc["metadata"].get("generation") or 1})
                    status["conditions"] = conds
                    changed = True
                    await record_event(self.client, svc, "PortInUse", message, type_="Warning",
                                       component="kube-proxy")
            elif old is not None:
                status["conditions"] = conds
                changed = True
            if changed:
                try:
                    await self.client.update_status("services", {**svc, "status": status})
                except (Conflict, NotFound):
                    self._dirty.set()
        self.conflicts = conflicts

    async def close(self) -> None:
        for _, holder in list(self.holders.values()):
            await holder.close()
        self.holders.clear()
        for holder in list(self.cluster_holders.values()):
            await holder.close()
        self.cluster_holders.clear()
        if self.mode == "iptables":
            try:
                await self.ipt.remove()
            except OSError as exc:
                log.warning("could not remove iptables rules: %s", exc)
        if self.bridge:
            await hostnet.sync_addresses(self.bridge, set())
            hostnet.set_route_localnet(self.bridge, False)


async def cleanup(cluster_id: str, network_name: str) -> None:
    """Remove what a cluster's proxy added when its daemon could not (it was killed): for ``delete``."""
    if iptables.available():
        await iptables.IPTables(cluster_id).remove()
    bridge = await asyncio.to_thread(hostnet.find_bridge, network_name)
    if bridge:
        await hostnet.sync_addresses(bridge, set())
