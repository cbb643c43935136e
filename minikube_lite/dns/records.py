"""The cluster's DNS zone, computed from Services and Endpoints (what CoreDNS' kubernetes plugin serves).

Names, for a Service ``web`` in namespace ``shop`` (zone ``cluster.local``):

- ``web.shop.svc.cluster.local``  A  the cluster IP; for a headless Service (``clusterIP: None``)
  the ready endpoints' IPs; for ``type: ExternalName`` a CNAME;
- ``<hostname>.web.shop.svc.cluster.local``  A  an endpoint that has a hostname (StatefulSet style);
- ``_<port name>._<tcp|udp>.web.shop.svc.cluster.local``  SRV  named ports;
- ``1-2-3-4.shop.pod.cluster.local``  A  1.2.3.4 (pod records, as CoreDNS' ``pods insecure``).

The short forms ``web``, ``web.shop`` and ``web.shop.svc`` reach these through the pods' search
list (``shop.svc.cluster.local svc.cluster.local cluster.local`` with ``ndots:5``). Every other
name under the zone is NXDOMAIN; a name that exists without the asked type is an empty answer.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
ZONE = "cluster.local"


@dataclass
class Zone:
    a: dict[str, list[str]] = field(default_factory=dict)  # fqdn (lower case, no dot) -> IPs
    cname: dict[str, str] = field(default_factory=dict)
    srv: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # -> (port, target)
    names: set[str] = field(default_factory=set)  # every name that exists (incl. empty non-terminals)

    def add_name(self, name: str) -> None:
        labels = name.split(".")
        for i in range(len(labels)):
            self.names.add(".".join(labels[i:]))


def build_zone(services: list[Obj], endpoints: list[Obj], zone: str = ZONE) -> Zone:
    z = Zone()
    eps = {(e["metadata"].get("namespace"), e["metadata"]["name"]): e for e in endpoints}
    for svc in services:
        meta, spec = svc["metadata"], svc.get("spec") or {}
        ns, name = meta.get("namespace") or "default", meta["name"]
        fqdn = f"{name}.{ns}.svc.{zone}".lower()
        z.add_name(fqdn)
        if spec.get("type") == "ExternalName":
            if spec.get("externalName"):
                z.cname[fqdn] = str(spec["externalName"]).rstrip(".").lower()
            continue
        cip = spec.get("clusterIP")
        ep = eps.get((ns, name)) or {}
        if cip and cip != "None":
            z.a[fqdn] = [cip]
        else:  # headless: the ready endpoints themselves
            ips: list[str] = []
            for subset in ep.get("subsets") or []:
                for addr in subset.get("addresses") or []:
                    if addr.get("ip") and addr["ip"] not in ips:
                        ips.append(addr["ip"])
                    if addr.get("hostname"):
                        host = f"{addr['hostname']}.{fqdn}".lower()
                        z.add_name(host)
                        z.a.setdefault(host, []).append(addr["ip"])
            z.a[fqdn] = ips
        for p in spec.get("ports") or []:
            if p.get("name"):
                srv = f"_{p['name']}._{(p.get('protocol') or 'TCP').lower()}.{fqdn}".lower()
                z.add_name(srv)
                z.srv[srv] = [(int(p.get("port") or 0), fqdn)]
    return z


def pod_record(qname: str, zone: str = ZONE) -> str | None:
    """``1-2-3-4.<ns>.pod.cluster.local`` -> ``1.2.3.4``."""
    suffix = f".pod.{zone}"
    if not qname.endswith(suffix):
        return None
    labels = qname[: -len(suffix)].split(".")
    if len(labels) != 2:
        return None
    try:
        return str(ipaddress.IPv4Address(labels[0].replace("-", ".")))
    except ValueError:
        return None
