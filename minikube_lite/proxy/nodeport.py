"""kube-proxy's NodePort job, in user space: ``localhost:<nodePort>`` reaches a ready pod.

For every Service port with a ``nodePort`` it keeps one listening socket on the host (all
addresses, so ``localhost`` and the node's IP both work); each accepted connection is joined
to one ready endpoint — a pod matching the Service's selector, Ready, not terminating —
at the port's ``targetPort`` (a number or a container port's name), round robin.
Listeners follow Services and pods as they change, with no restart.

Kernel forwarding (iptables DNAT, as kube-proxy does) would be faster; this user-space copy is
the simple, portable first step and is measured in bench/.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import struct
from typing import Any

from ..apiserver.selectors import matches_selector
from ..client.base import Client
from ..client.informer import Informer

log = logging.getLogger(__name__)
_BUF = 256 * 1024


def pod_is_ready(pod: dict[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if not status.get("podIP") or status.get("phase") != "Running":
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def resolve_target_port(pod: dict[str, Any], target: Any) -> int | None:
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"])
    return None


def endpoints_for(service: dict[str, Any], port: dict[str, Any], pods: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(pod IP, port) of every ready pod the Service selects, for one of its ports."""
    spec = service.get("spec") or {}
    selector = spec.get("selector")
    if not selector:
        return []
    ns = service["metadata"].get("namespace")
    out = []
    for pod in pods:
        if pod["metadata"].get("namespace") != ns or not pod_is_ready(pod):
            continue
        if not matches_selector({"matchLabels": selector}, pod["metadata"].get("labels")):
            continue
        target = resolve_target_port(pod, port.get("targetPort", port.get("port")))
        if target:
            out.append((pod["status"]["podIP"], target))
    return sorted(out)


class _Listener:
    def __init__(self, node_port: int, service_key: str, port_key: Any) -> None:
        self.node_port = node_port
        self.service_key = service_key
        self.port_key = port_key
        self.server: asyncio.base_events.Server | None = None
        self.counter = itertools.count()


class NodePortProxy:
    def __init__(self, client: Client, *, bind_host: str = "0.0.0.0") -> None:
        self.client = client
        self.bind_host = bind_host
        self.services = Informer(client, "services")
        self.pods = Informer(client, "pods")
        self.listeners: dict[int, _Listener] = {}
        self._dirty = asyncio.Event()
        self.services.add_handler(lambda t, o: self._dirty.set())

    async def run(self) -> None:
        try:
            await asyncio.gather(self.services.run(), self.pods.run(), self._sync_loop())
        finally:
            await self.close()

    async def _sync_loop(self) -> None:
        await self.services.synced.wait()
        while True:
            await self._sync()
            self._dirty.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), timeout=30)

    def _wanted(self) -> dict[int, tuple[str, Any]]:
        wanted: dict[int, tuple[str, Any]] = {}
        for svc in self.services.list():
            spec = svc.get("spec") or {}
            if spec.get("type") not in ("NodePort", "LoadBalancer"):
                continue
            key = f"{svc['metadata'].get('namespace')}/{svc['metadata']['name']}"
            for p in spec.get("ports") or []:
                if p.get("nodePort") and p.get("protocol", "TCP") == "TCP":
                    wanted[int(p["nodePort"])] = (key, p.get("port"))
        return wanted

    async def _sync(self) -> None:
        wanted = self._wanted()
        for node_port in list(self.listeners):
            if node_port not in wanted:
                await self._stop(node_port)
        for node_port, (svc_key, port_key) in wanted.items():
            current = self.listeners.get(node_port)
            if current is not None:
                current.service_key, current.port_key = svc_key, port_key
                continue
            listener = _Listener(node_port, svc_key, port_key)
            try:
                listener.server = await asyncio.start_server(
                    lambda r, w, lst=listener: self._handle(lst, r, w), host=self.bind_host, port=node_port,
                    reuse_address=True)
            except OSError as exc:
                log.warning("nodePort %d for service %s: cannot listen: %s", node_port, svc_key, exc)
                continue
            self.listeners[node_port] = listener
            log.info("nodePort %d -> service %s", node_port, svc_key)

    async def _stop(self, node_port: int) -> None:
        listener = self.listeners.pop(node_port, None)
        if listener and listener.server:
            listener.server.close()
            with contextlib.suppress(Exception):
                await listener.server.wait_closed()

    async def close(self) -> None:
        for node_port in list(self.listeners):
            await self._stop(node_port)

    def _pick(self, listener: _Listener) -> tuple[str, int] | None:
        svc = self.services.get(listener.service_key)
        if svc is None:
            return None
        port = next((p for p in (svc.get("spec") or {}).get("ports") or [] if p.get("port") == listener.port_key),
                    None)
        if port is None:
            return None
        eps = endpoints_for(svc, port, self.pods.list())
        if not eps:
            return None
        return eps[next(listener.counter) % len(eps)]

    async def _handle(self, listener: _Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        target = self._pick(listener)
        if target is None:
            _reset(writer)  # nothing serves this Service: refuse at once rather than hang
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*target, limit=_BUF), 5)
        except (OSError, TimeoutError):
            _reset(writer)
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        for w in (writer, up_writer):
            w.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(_BUF)
            if not data:
                break
            writer.write(data)
            if writer.transport.get_write_buffer_size() > _BUF:
                await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
    except asyncio.CancelledError:
        writer.close()
        raise
