"""Pod traffic between machines: each machine's pods routed over Docker Swarm's attachable overlay.

In Kubernetes a CNI plugin makes the pod network flat across machines; flannel's ``host-gw``
backend, for one, gives each node a route to every other node's pod range (``spec.podCIDR``)
through that node, and reads where a node is from an annotation the node itself wrote. Here
the machines' link is the one Docker itself offers between engines, Swarm's attachable overlay
(VXLAN, started with ``start --multi-host``), and the rest is flannel's shape:

- every machine keeps its pods on its own bridge (the master's ``10.244.0.0/20``; a joined node's
  bridge is exactly its ``podCIDR``), so the single-machine path does not change at all;
- every machine runs one *router*: a pause container on the overlay (Docker puts it on
  ``docker_gwbridge`` too, its default route to its own machine) with IP forwarding on. Its
  overlay address is written on its Node (:data:`ROUTER_ANNOTATION`, as flannel's
  ``flannel.alpha.coreos.com/public-ip``);
- on each machine :class:`OverlayRoutes` watches the Nodes and keeps two route tables: the
  machine's own (another machine's pod range -> via its router's ``docker_gwbridge`` address,
  source the node's own pod-range address) and the router's (that range -> via the other
  machine's router on the overlay). A pod's packet to a pod elsewhere goes pod -> its machine ->
  router -> overlay -> the other router -> that machine -> the pod, with its own pod IP as source
  both ways: no NAT. The master's bridge is wider than its own range, so it answers ARP for the
  other machines' ranges (``proxy_arp``) and its pods send those packets to it;
- kube-proxy's DNAT runs on the client pod's machine (each agent runs a kube-proxy of its own),
  and its masquerade of Service traffic leaving through ``docker_gwbridge`` takes the node's
  pod-range address (proxy/iptables.py), so replies come back through the same conntrack.

The swarm's worker join token, the manager's address, the cluster's pod CIDR, the DNS address
and the master's router address reach a joining agent only through the API, as the Secret
``kube-system/minikube-lite-overlay`` its node credentials may read (k3s hands its agents their
kube-proxy credentials over its authenticated API the same way). The engine work is blocking
Docker SDK calls (run in threads by the callers); the routes are ``ip`` commands, the router's
through ``nsenter`` into its network namespace.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SECRET_NAME = "minikube-lite-overlay"
SECRET_NAMESPACE = "kube-system"
ROUTER_ANNOTATION = "overlay.minikube-lite.io/router-ip"
ROUTER_LABEL = "io.minikube-lite.overlay-router"  # value: the cluster id (never the kubelet's labels)
GWBRIDGE = "docker_gwbridge"
STATE_FILE = "overlay.json"  # {"swarm_initialised": bool} / {"swarm_joined": bool}


class OverlayError(Exception):
    """The engine cannot take part in the overlay (said to the user as is)."""


def overlay_name(cluster_id: str) -> str:
    return f"minikube-lite-{cluster_id}-overlay"


def router_name(cluster_id: str) -> str:
    return f"mkl_{cluster_id[:10]}_overlay_router"


def _state(folder: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / STATE_FILE).read_text()))
    except (OSError, ValueError):
        return {}


def _save_state(folder: Path, data: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATE_FILE).write_text(json.dumps(data))


# ---- the engine: swarm mode, the overlay network, the router (blocking) ------------------------

def enable(client: Any, state_dir: Path, cluster_id: str, advertise_addr: str) -> str:
    """Swarm mode on this engine (``swarm init`` unless it is a manager already) and the cluster's
    attachable overlay; what was done, for the user. Whether minikube-lite initialised the swarm is
    kept in the state folder, so that ``delete`` leaves only a swarm it made."""
    import docker.errors

    swarm = client.info().get("Swarm") or {}
    state = _state(state_dir)
    said = "this engine is already a swarm manager; the cluster uses it"
    if swarm.get("LocalNodeState") == "active" and not swarm.get("ControlAvailable"):
        raise OverlayError("this Docker engine is a swarm worker; the cluster's overlay must be made on a manager")
    if swarm.get("LocalNodeState") != "active":
        if advertise_addr in ("", "0.0.0.0", "127.0.0.1", "localhost", "::"):
            raise OverlayError("--multi-host needs --host set to this machine's address on the network the other "
                               "machines reach it by (the swarm advertises it)")
        try:
            client.swarm.init(advertise_addr=advertise_addr, listen_addr=f"{advertise_addr}:2377")
        except docker.errors.APIError as exc:
            raise OverlayError(f"docker swarm init failed: {exc.explanation or exc}") from None
        state["swarm_initialised"] = True
        said = f"switched this engine to swarm mode (manager, advertising {advertise_addr})"
    state.setdefault("swarm_initialised", False)
    _save_state(state_dir, state)
    name = overlay_name(cluster_id)
    if not client.api.networks(names=[name]):
        try:
            client.networks.create(name, driver="overlay", attachable=True, check_duplicate=True,
                                   labels={ROUTER_LABEL: cluster_id})
        except docker.errors.APIError as exc:
            raise OverlayError(f"could not create the overlay network {name}: {exc.explanation or exc}") from None
    return said


def join(client: Any, folder: Path, token: str, manager: str, advertise_addr: str) -> bool:
    """A worker's ``swarm join`` (nothing when the engine is in a swarm already); True if joined now."""
    swarm = client.info().get("Swarm") or {}
    if swarm.get("LocalNodeState") == "active":
        return False
    client.swarm.join(remote_addrs=[manager], join_token=token, advertise_addr=advertise_addr,
                      listen_addr=f"{advertise_addr}:2377")
    _save_state(folder, {"swarm_joined": True})
    return True


def worker_token(client: Any) -> str:
    client.swarm.reload()
    return str(((client.swarm.attrs or {}).get("JoinTokens") or {}).get("Worker") or "")


def manager_address(client: Any) -> str:
    addr = str(((client.info().get("Swarm") or {}).get("NodeAddr")) or "")
    return f"{addr}:2377" if addr else ""


def ensure_router(client: Any, cluster_id: str, overlay: str, image: str) -> tuple[str, str, int]:
    """The router of ``cluster_id`` (the master's, or an agent's own id) on the network ``overlay``,
    running: (its overlay address, its docker_gwbridge address, its pid)."""
    import docker.errors

    name = router_name(cluster_id)
    try:
        c = client.containers.get(name)
        if c.status != "running":
            c.remove(force=True)
            raise docker.errors.NotFound(name)
    except docker.errors.NotFound:
        c = client.containers.run(image, name=name, detach=True, network=overlay,
                                  labels={ROUTER_LABEL: cluster_id},
                                  sysctls={"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0"},
                                  restart_policy={"Name": "unless-stopped"})
    c.reload()
    overlay_ip = str(((c.attrs["NetworkSettings"]["Networks"].get(overlay) or {})
                      .get("IPAddress")) or "")
    gw = client.api.inspect_network(GWBRIDGE)
    gw_ip = str(((gw.get("Containers") or {}).get(c.id) or {}).get("IPv4Address") or "").split("/")[0]
    pid = int(c.attrs["State"]["Pid"])
    if not (overlay_ip and gw_ip and pid):
        raise OverlayError(f"the overlay router {name} has no address (overlay {overlay_ip!r}, gwbridge {gw_ip!r})")
    return overlay_ip, gw_ip, pid


def _ip(*args: str, netns_pid: int = 0) -> tuple[int, str]:
    from ..proxy.hostnet import run_sync

    into = ("nsenter", f"--net=/proc/{netns_pid}/ns/net", "--") if netns_pid else ()
    return run_sync(*into, "ip", *args, timeout=10)


def remove_routes_via(gw_ip: str) -> None:
    """Delete this machine's routes through ``gw_ip`` (a router's docker_gwbridge address)."""
    code, out = _ip("-4", "route", "show", "via", gw_ip)
    for line in out.splitlines() if code == 0 else []:
        dest = line.split()[0] if line.strip() else ""
        if dest:
            _ip("route", "del", dest, "via", gw_ip)


def disable(client: Any, state_dir: Path, cluster_id: str) -> list[str]:
    """What ``delete`` undoes: the router (and this machine's routes through it), the overlay, and
    swarm mode only if minikube-lite switched it on and no other cluster's overlay is left."""
    import docker.errors

    done: list[str] = []
    for c in client.api.containers(all=True, filters={"label": f"{ROUTER_LABEL}={cluster_id}"}):
        with contextlib.suppress(docker.errors.APIError, KeyError):
            gw = client.api.inspect_network(GWBRIDGE)
            gw_ip = str(((gw.get("Containers") or {}).get(c["Id"]) or {}).get("IPv4Address") or "").split("/")[0]
            if gw_ip:
                remove_routes_via(gw_ip)
        with contextlib.suppress(docker.errors.NotFound):
            client.api.remove_container(c["Id"], force=True)
            done.append("the overlay router")
    for n in client.api.networks(filters={"label": f"{ROUTER_LABEL}={cluster_id}"}):
        try:
            client.api.remove_network(n["Id"])
            done.append(f"network {n.get('Name')}")
        except docker.errors.APIError as exc:
            done.append(f"(could not remove network {n.get('Name')}: {exc.explanation or exc})")
    state = _state(state_dir)
    if state.get("swarm_initialised") or state.get("swarm_joined"):
        if client.api.containers(all=True, filters={"label": ROUTER_LABEL}):
            done.append("(swarm mode kept: other clusters' overlays use it)")
        else:
            with contextlib.suppress(docker.errors.APIError):
                client.swarm.leave(force=True)
                done.append("swarm mode (this engine left the swarm minikube-lite made)")
    return done


# ---- the routes, kept up to date from the Nodes ------------------------------------------------

def wanted_routes(nodes: list[dict[str, Any]], me: str, my_router: str, cluster_cidr: str,
                  hub_router: str) -> dict[str, str]:
    """Destination range -> the router on the overlay that reaches it (this machine's own range and
    nodes without a router are left out: they are on this machine's bridge). ``hub_router``: the
    master's router, the way to the whole pod CIDR from a joined machine ("" on the master)."""
    out: dict[str, str] = {}
    if hub_router and hub_router != my_router and cluster_cidr:
        out[cluster_cidr] = hub_router
    for node in nodes:
        meta, spec = node.get("metadata") or {}, node.get("spec") or {}
        ip = str((meta.get("annotations") or {}).get(ROUTER_ANNOTATION) or "")
        cidr = str(spec.get("podCIDR") or "")
        if meta.get("name") == me or not ip or not cidr or ip == my_router:
            continue
        with contextlib.suppress(ValueError):
            out[str(ipaddress.ip_network(cidr, strict=False))] = ip
    return out


class OverlayRoutes:
    """One machine's side of the overlay: its router, its Node's annotation, its routes."""

    def __init__(self, client: Any, *, docker_client: Any, cluster_id: str, overlay: str, node_name: str, image: str,
                 node_address: str, cluster_cidr: str, bridge: str = "", hub_router: str = "",
                 publish: dict[str, str] | None = None) -> None:
        self.client = client
        self.docker = docker_client
        self.cluster_id = cluster_id
        self.overlay = overlay
        self.node_name = node_name
        self.image = image
        self.node_address = node_address  # the source of this machine's packets to other machines' pods
        self.cluster_cidr = cluster_cidr
        self.bridge = bridge  # the master's: proxy_arp for the other machines' ranges inside its subnet
        self.hub_router = hub_router
        self.publish = publish  # the master: the Secret's data (the router's address is added)
        self.router_ip = self.gw_ip = ""
        self.pid = 0
        self.routes: dict[str, str] = {}
        self._home = ""
        self.ready = asyncio.Event()
        from .overlaynat import OverlayNat

        self.nat = OverlayNat(cluster_id)

    async def run(self) -> None:
        from ..client.informer import Informer

        self.router_ip, self.gw_ip, self.pid = await asyncio.to_thread(
            ensure_router, self.docker, self.cluster_id, self.overlay, self.image)
        log.info("overlay router of %s: %s on the overlay, %s on %s", self.node_name, self.router_ip, self.gw_ip,
                 GWBRIDGE)
        if self.bridge:
            _sysctl(f"net/ipv4/conf/{self.bridge}/proxy_arp", "1")
        _sysctl("net/ipv4/ip_forward", "1")
        # localhost:<nodePort> DNATed to a pod of another machine leaves through docker_gwbridge
        _sysctl(f"net/ipv4/conf/{GWBRIDGE}/route_localnet", "1")
        if self.publish is not None:
            await self._publish({**self.publish, "router": self.router_ip})
        nodes = Informer(self.client, "nodes")
        dirty = asyncio.Event()
        seen: dict[str, tuple[str, str]] = {}

        def changed(kind: str, node: dict[str, Any]) -> None:
            # the routes depend on each node's range and router only: a status heartbeat is no news
            meta = node.get("metadata") or {}
            name = str(meta.get("name") or "")
            key = (str((node.get("spec") or {}).get("podCIDR") or ""),
                   str((meta.get("annotations") or {}).get(ROUTER_ANNOTATION) or ""))
            if kind == "DELETED":
                seen.pop(name, None)
            elif seen.get(name) == key:
                return
            else:
                seen[name] = key
            dirty.set()

        nodes.add_handler(changed)
        watch = asyncio.create_task(nodes.run())
        try:
            await nodes.synced.wait()
            while True:
                dirty.clear()
                try:
                    await self._annotate(nodes.get(self.node_name))
                    await asyncio.to_thread(self.sync, nodes.list())
                    self.ready.set()
                except Exception as exc:  # noqa: BLE001 - the API or the engine away for a moment
                    log.warning("overlay routes: %s; retrying", exc)
                    await asyncio.sleep(1)
                    dirty.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(dirty.wait(), timeout=30)
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
            await asyncio.to_thread(self.close)

    async def _annotate(self, node: dict[str, Any] | None) -> None:
        if node is None or ((node.get("metadata") or {}).get("annotations") or {}).get(ROUTER_ANNOTATION) == \
                self.router_ip:
            return
        await self.client.patch("nodes", self.node_name,
                                {"metadata": {"annotations": {ROUTER_ANNOTATION: self.router_ip}}})

    async def _publish(self, data: dict[str, str]) -> None:
        from ..api.errors import AlreadyExists

        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": SECRET_NAME, "namespace": SECRET_NAMESPACE},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}
        try:
            await self.client.create("secrets", body, namespace=SECRET_NAMESPACE)
        except AlreadyExists:
            old = await self.client.get("secrets", SECRET_NAME, namespace=SECRET_NAMESPACE)
            await self.client.update("secrets", {**old, "data": body["data"]}, namespace=SECRET_NAMESPACE)

    def sync(self, nodes: list[dict[str, Any]]) -> None:
        """Make this machine's and the router's routes exactly the wanted ones (blocking)."""
        want = wanted_routes(nodes, self.node_name, self.router_ip, self.cluster_cidr, self.hub_router)
        self.nat.sync(self.cluster_cidr, self.node_address)
        mine = next((str((n.get("spec") or {}).get("podCIDR") or "") for n in nodes
                     if (n.get("metadata") or {}).get("name") == self.node_name), "")
        if self.hub_router and mine and self._home != mine:
            # the hub's route covers this machine's own range too: that one goes home, to the machine
            code, out = _ip("route", "replace", mine, "via", self._gateway(), netns_pid=self.pid)
            if code != 0:
                raise OSError(f"router route {mine} home: {out}")
            self._home = mine
        for dest in [d for d in self.routes if d not in want]:
            _ip("route", "del", dest, "via", self.gw_ip)
            self.routes.pop(dest)
        for dest, via in want.items():
            if self.routes.get(dest) == via:
                continue
            code, out = _ip("route", "replace", dest, "via", via, netns_pid=self.pid)
            if code != 0:
                raise OSError(f"router route {dest} via {via}: {out}")
            code, out = _ip("route", "replace", dest, "via", self.gw_ip, "src", self.node_address)
            if code != 0:
                raise OSError(f"route {dest} via {self.gw_ip}: {out}")
            self.routes[dest] = via
            log.info("pods of %s: via the router %s on the overlay", dest, via)

    def _gateway(self) -> str:
        """The router's way to its own machine (its default route, through docker_gwbridge)."""
        code, out = _ip("-4", "route", "show", "default", netns_pid=self.pid)
        parts = out.split()
        if code != 0 or "via" not in parts:
            raise OSError(f"the overlay router has no default route: {out}")
        return parts[parts.index("via") + 1]

    def close(self) -> None:
        for dest in list(self.routes):
            _ip("route", "del", dest, "via", self.gw_ip)
        self.routes.clear()
        try:
            self.nat.remove()
        except OSError as exc:
            log.warning("could not remove the overlay's iptables rules: %s", exc)
        if self.bridge:
            _sysctl(f"net/ipv4/conf/{self.bridge}/proxy_arp", "0")
        _sysctl(f"net/ipv4/conf/{GWBRIDGE}/route_localnet", "0")


def _sysctl(key: str, value: str) -> None:
    try:
        path = Path("/proc/sys") / key
        if path.read_text().strip() != value:
            path.write_text(value)
    except OSError as exc:
        log.warning("cannot set %s=%s: %s", key.replace("/", "."), value, exc)


async def master_component(client: Any, settings: Any, dns_ip: str) -> OverlayRoutes:
    """The master's side (the daemon of ``start --multi-host``): its router, the Secret for agents."""
    import docker

    from ..kubelet.pause import PAUSE_IMAGE
    from ..kubelet.podnet import network_subnet
    from ..proxy.hostnet import find_bridge

    def prepare() -> tuple[Any, str, str, dict[str, str]]:
        engine = docker.from_env(timeout=60)
        if not engine.api.networks(names=[overlay_name(settings.cluster_id)]):
            # start made it (cli/main.py, before this daemon); again only for an engine that lost it
            # meanwhile (reset, left the swarm) or a daemon started without the CLI
            enable(engine, settings.state_dir, settings.cluster_id, settings.host)
        cidr = network_subnet(engine.api.inspect_network(settings.network_name))
        bridge = find_bridge(settings.network_name) or ""
        return engine, cidr, bridge, {"token": worker_token(engine), "manager": manager_address(engine),
                                      "overlay": overlay_name(settings.cluster_id), "podCIDR": cidr, "dns": dns_ip}

    engine, cidr, bridge, data = await asyncio.to_thread(prepare)
    return OverlayRoutes(client, docker_client=engine, cluster_id=settings.cluster_id,
                         overlay=overlay_name(settings.cluster_id), node_name=settings.node_name, image=PAUSE_IMAGE,
                         node_address=dns_ip, cluster_cidr=cidr, bridge=bridge, publish=data)


def read_secret(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
