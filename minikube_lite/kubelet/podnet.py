"""The pods' addresses: one bridge for the cluster, one range of it per node (``spec.podCIDR``).

In Kubernetes the cluster has a pod CIDR (``--cluster-cidr``, minikube's and kubeadm's
``10.244.0.0/16``), kube-controller-manager's node IPAM controller gives each Node a slice of it
(``spec.podCIDR``, a /24) and the node's CNI plugin takes each pod's IP from its node's slice.
Here all nodes run on one machine, so they share the cluster's Docker bridge (pods of every node
reach each other directly, as a flat pod network promises) and the per-node ranges are slices of
that bridge's subnet:

- the bridge is created with a subnet of its own choosing, ``10.244.0.0/20`` or the next free
  /20 (``10.244.16.0/20`` ...; other clusters and networks of the machine are skipped), so that
  Docker accepts addresses chosen by the kubelet (it only does on user-configured subnets);
- controllers/nodeipam.py gives each Node the next free /24 of that subnet;
- the kubelet creates each pod's pause container with the first free address of its node's /24
  (``ipv4_address``); a network Docker configured itself (made by an older version) keeps
  Docker's own address assignment;
- each node has an address of its own, its ``InternalIP``: the bridge's gateway for the control
  plane, and for every other node the first address of its /24 (:func:`node_address`), added to the
  bridge on the host as a /32 while its agent runs (proxy/hostnet.py), as flannel gives each node's
  ``cni0`` the first address of the node's range. Its kubelet endpoint listens there and, the
  address being local to the host, kube-proxy's NodePort rules answer on it.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CLUSTER_CIDR_BASE = ipaddress.ip_network("10.244.0.0/14")
SUBNET_PREFIX = 20
NODE_PREFIX = 24


def _host_routes() -> list[ipaddress.IPv4Network]:
    nets = []
    try:
        lines = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        return nets
    for line in lines:
        f = line.split()
        if len(f) < 8 or f[1] == "00000000":
            continue
        dest = ipaddress.IPv4Address(bytes.fromhex(f[1])[::-1])
        mask = ipaddress.IPv4Address(bytes.fromhex(f[7])[::-1])
        nets.append(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))
    return nets


def candidate_subnets(client: Any) -> list[ipaddress.IPv4Network]:
    """Free /20s of 10.244.0.0/14, in order: no Docker network or host route overlaps them."""
    taken = list(_host_routes())
    for net in client.api.networks():
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            try:
                taken.append(ipaddress.ip_network(cfg.get("Subnet", ""), strict=False))
            except ValueError:
                continue
    return [s for s in CLUSTER_CIDR_BASE.subnets(new_prefix=SUBNET_PREFIX)
            if not any(s.overlaps(t) for t in taken if t.version == 4)]


def create_network(client: Any, name: str, labels: dict[str, str], subnet: str = "") -> Any:
    """The cluster's bridge with a subnet of our choosing (falls back to Docker's choice), or
    exactly ``subnet`` (a joined machine's bridge is its node's range; APIError when it cannot be)."""
    import docker.errors
    from docker.types import IPAMConfig, IPAMPool

    for net in [ipaddress.ip_network(subnet, strict=False)] if subnet else candidate_subnets(client)[:8]:
        gateway = str(next(net.hosts()))
        try:
            return client.networks.create(name, driver="bridge", check_duplicate=True, labels=labels,
                                          ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=str(net), gateway=gateway)]))
        except docker.errors.APIError as e:
            if "overlap" not in str(e).lower():
                raise
            try:  # another component of this cluster made it meanwhile (same subnet): that one
                return client.networks.get(name)
            except docker.errors.NotFound:
                if subnet:
                    raise
                log.info("subnet %s taken meanwhile; trying the next", net)
    return client.networks.create(name, driver="bridge", check_duplicate=True, labels=labels)


def network_subnet(attrs: dict[str, Any]) -> str:
    for cfg in (attrs.get("IPAM") or {}).get("Config") or []:
        if cfg.get("Subnet") and ":" not in cfg["Subnet"]:
            return str(cfg["Subnet"])
    return ""


def node_ranges(cluster_cidr: str) -> list[str]:
    """The /24s of the cluster's subnet (the whole subnet if it is smaller), in order."""
    net = ipaddress.ip_network(cluster_cidr, strict=False)
    if net.prefixlen >= NODE_PREFIX:
        return [str(net)]
    return [str(s) for s in net.subnets(new_prefix=NODE_PREFIX)]


def node_address(pod_cidr: str) -> str:
    """A node's own address: the first address of its pod range (``10.244.1.0/24`` -> ``10.244.1.1``)."""
    return str(next(ipaddress.ip_network(pod_cidr, strict=False).hosts()))


def pick_address(pod_cidr: str, used: set[str], gateway: str) -> str | None:
    """The first address of ``pod_cidr`` that is neither used nor the gateway nor the node's own
    address (:func:`node_address`); None when full."""
    own = node_address(pod_cidr)
    for ip in ipaddress.ip_network(pod_cidr, strict=False).hosts():
        s = str(ip)
        if s != gateway and s != own and s not in used:
            return s
    return None
