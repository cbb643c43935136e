"""The host side of the pods' network: the cluster's Docker bridge, its addresses and one sysctl.

Cluster IPs are real addresses here: each is added as ``<ip>/32`` to the cluster's own Docker
bridge, so a pod's packet to a cluster IP reaches the host (its default gateway), where the
kernel's DNAT (proxy/iptables.py) sends it on, and a port with no endpoint is refused at once
instead of being routed nowhere. Only /32 addresses inside the Service range on *our* bridge
are ever added or removed.

A node's own address (kubelet/podnet.py: the first address of its pod range) is added the same
way, as a /32 on the bridge, while the node's agent runs (:func:`add_node_address`), and removed
when it stops: it is local to the host, so the kubelet endpoint can listen on it and the
NodePort rules (``--dst-type LOCAL``) answer on it; pods reach it through their gateway.

``route_localnet`` is set on our bridge only (never globally): it lets ``localhost:<nodePort>``
be DNATed to a pod, and pods reach the API server (``kubernetes`` Service) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import subprocess
from pathlib import Path

from .. import config

log = logging.getLogger(__name__)

SERVICE_CIDR = ipaddress.ip_network(config.SERVICE_CIDR)


def ensure_network(network_name: str, cluster_id: str, label: str) -> tuple[str, str]:
    """The cluster's bridge network (created when missing, as the kubelet does): (bridge, gateway)."""
    import docker
    import docker.errors

    client = docker.from_env()
    try:
        try:
            net = client.networks.get(network_name)
        except docker.errors.NotFound:
            try:
                from ..kubelet.podnet import create_network

                net = create_network(client, network_name, {label: cluster_id})
            except docker.errors.APIError:
                net = client.networks.get(network_name)
            net.reload()
        # two creates that raced (the daemon and node agents start side by side) leave two networks of
        # one name; everyone takes the oldest, the one the kubelets keep (kubelet/runtime.py)
        same = [n for n in client.api.networks(names=[network_name])
                if n.get("Name") == network_name and (n.get("Labels") or {}).get(label) == cluster_id]
        if len(same) > 1:
            net = client.networks.get(min(same, key=lambda n: n.get("Created", ""))["Id"])
        options = net.attrs.get("Options") or {}
        bridge = options.get("com.docker.network.bridge.name") or f"br-{net.id[:12]}"
        gateway = ""
        for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
            if cfg.get("Gateway"):
                gateway = str(cfg["Gateway"]).split("/")[0]
        return bridge, gateway
    finally:
        client.close()


def find_bridge(network_name: str) -> str | None:
    """The bridge interface of an existing network, or None (no engine, no network)."""
    try:
        import docker

        client = docker.from_env()
    except Exception:  # noqa: BLE001 - no engine: nothing to find
        return None
    try:
        for net in client.networks.list(names=[network_name]):
            if net.name == network_name:
                options = net.attrs.get("Options") or {}
                return str(options.get("com.docker.network.bridge.name") or f"br-{net.id[:12]}")
        return None
    except Exception:  # noqa: BLE001
        return None
    finally:
        client.close()


async def _ip(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec("ip", *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


async def bridge_subnet(bridge: str) -> str:
    """The subnet of ``bridge`` (its address that is not a /32: ``10.244.0.1/20`` -> ``10.244.0.0/20``)."""
    code, out = await _ip("-j", "-4", "addr", "show", "dev", bridge)
    for link in json.loads(out or "[]") if code == 0 else []:
        for info in link.get("addr_info") or []:
            if info.get("family") == "inet" and int(info.get("prefixlen") or 32) < 32:
                return str(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))
    return ""


async def service_addresses(bridge: str) -> set[str]:
    """The /32 Service-range addresses on ``bridge`` (ours by construction)."""
    code, out = await _ip("-j", "addr", "show", "dev", bridge)
    if code != 0:
        return set()
    found: set[str] = set()
    for link in json.loads(out or "[]"):
        for info in link.get("addr_info") or []:
            if info.get("family") != "inet" or info.get("prefixlen") != 32:
                continue
            try:
                if ipaddress.ip_address(info["local"]) in SERVICE_CIDR:
                    found.add(info["local"])
            except (KeyError, ValueError):
                continue
    return found


async def sync_addresses(bridge: str, wanted: set[str]) -> None:
    """Make the Service-range /32 addresses on ``bridge`` exactly ``wanted``."""
    have = await service_addresses(bridge)
    for ip in sorted(wanted - have):
        code, out = await _ip("addr", "add", f"{ip}/32", "dev", bridge)
        if code != 0 and "File exists" not in out:
            log.warning("ip addr add %s dev %s: %s", ip, bridge, out.strip())
    for ip in sorted(have - wanted):
        code, out = await _ip("addr", "del", f"{ip}/32", "dev", bridge)
        if code != 0:
            log.warning("ip addr del %s dev %s: %s", ip, bridge, out.strip())


def set_route_localnet(bridge: str, on: bool) -> None:
    path = Path(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet")
    try:
        path.write_text("1" if on else "0")
    except OSError as exc:
        log.warning("cannot set %s: %s (localhost:<nodePort> may not work)", path, exc)


def run_sync(*cmd: str, stdin: str | None = None, timeout: float = 30) -> tuple[int, str]:
    """Run a command of the host's network tools (``ip``, ``iptables-restore``, ``nsenter ...``),
    blocking: (exit code, its output and errors). A missing tool or a hang is a failure, not a raise."""
    try:
        done = subprocess.run(list(cmd), input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


def _ip_sync(*args: str) -> tuple[int, str]:
    return run_sync("ip", *args, timeout=10)


def add_node_address(bridge: str, ip: str) -> None:
    """Put a node's own address on the cluster's bridge (already there: fine); OSError when it cannot."""
    code, out = _ip_sync("addr", "add", f"{ip}/32", "dev", bridge)
    if code != 0 and "File exists" not in out:
        raise OSError(f"ip addr add {ip}/32 dev {bridge}: {out}")


def remove_node_address(bridge: str, ip: str) -> bool:
    """Take a node's address off the bridge; only a /32 outside the Service range (never the
    gateway, which is the bridge's own /20). False when it was not there."""
    if ipaddress.ip_address(ip) in SERVICE_CIDR:
        return False
    code, _ = _ip_sync("addr", "del", f"{ip}/32", "dev", bridge)
    return code == 0
