"""From the API server to a pod's node: kube-apiserver's kubelet client and upgrade-aware proxy.

``kubectl logs``, ``exec``, ``attach`` and ``port-forward`` end at the kubelet of the pod's node
(``pkg/registry/core/pod/rest``: LogLocation, ExecLocation, PortForwardLocation). The API server
checks what it can (pod, container, phase), finds the node's address (``InternalIP``, then
``Hostname``) and kubelet port (``status.daemonEndpoints.kubeletEndpoint.Port``), and connects
over TLS: the kubelet's certificate verified against the cluster CA, its own
``kube-apiserver-kubelet-client`` certificate presented (auth/nodecerts.py).

- Logs are plain GETs, on the node agent's HTTP/1.1 client connection (``h11`` on asyncio
  streams, client/transport.py ``Connection``); the answer is streamed on to the client.
- Streams are proxied as kube-apiserver's UpgradeAwareHandler does: the client's upgrade request
  (SPDY/3.1, the WebSocket channel protocols, the port-forward tunnel) is sent to the kubelet's
  path with the client's upgrade headers (not its credentials), and from the kubelet's answer on
  (``101`` or a Status) the bytes are copied both ways until either side closes. The protocol is
  then entirely the kubelet's (kubelet/server.py).

A node that cannot be reached is kube-apiserver's error: ``error dialing backend: dial tcp
IP:PORT: ...`` (a Status, never a traceback).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

from ..api.errors import ApiError, BadRequest
from ..api.register import by_plural

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
CHUNK = 256 * 1024
_DROPPED = {"host", "authorization", "connection", "upgrade", "content-length", "transfer-encoding", "cookie"}


def node_endpoint(registry: Any, node_name: str) -> tuple[str, int]:
    """(address, kubelet port) of ``node_name`` from its Node object."""
    return kubelet_endpoint(registry.get(by_plural("nodes", ""), None, node_name))


def kubelet_endpoint(node: dict[str, Any]) -> tuple[str, int]:
    """(address, kubelet port) of a Node object: ``InternalIP`` (else ``ExternalIP``, ``Hostname``)
    and ``status.daemonEndpoints.kubeletEndpoint.Port``; a 503 when it has none."""
    node_name = (node.get("metadata") or {}).get("name", "")
    status = node.get("status") or {}
    port = int((((status.get("daemonEndpoints") or {}).get("kubeletEndpoint")) or {}).get("Port") or 0)
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    host = addresses.get("InternalIP") or addresses.get("ExternalIP") or addresses.get("Hostname")
    if not host or port <= 0:
        raise ApiError(f'node "{node_name}" has no kubelet endpoint', code=503, reason="ServiceUnavailable")
    return str(host), port


async def connect(app: Any, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    ctx: ssl.SSLContext | None = getattr(app.state, "kubelet_tls", None)
    if ctx is None:
        raise ApiError("this API server has no kubelet client certificate", code=503, reason="ServiceUnavailable")
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx, server_hostname=host,
                                                              limit=CHUNK), CONNECT_TIMEOUT)
    except TimeoutError:
        reason = "i/o timeout"
    except ssl.SSLError as e:
        reason = f"tls: {e.reason or e}"
    except OSError as e:
        reason = "connect: connection refused" if isinstance(e, ConnectionRefusedError) else \
            f"connect: {(e.strerror or str(e)).lower()}"
    raise ApiError(f"error dialing backend: dial tcp {host}:{port}: {reason}", code=500, reason="InternalError")


def bound(app: Any, namespace: str, name: str) -> bool:
    """Whether the pod exists and is on a node (its streams are then the node's kubelet's)."""
    try:
        pod = app.state.registry.get(by_plural("pods", ""), namespace, name)
    except ApiError:
        return False
    return bool((pod.get("spec") or {}).get("nodeName"))


def _kubelet_path(sub: str, namespace: str, name: str, container: str) -> str:
    q = urllib.parse.quote
    if sub == "portforward":
        return f"/portForward/{q(namespace)}/{q(name)}"
    return f"/{sub}/{q(namespace)}/{q(name)}/{q(container)}"


def locate(app: Any, namespace: str, name: str, sub: str, query: dict[str, list[str]]) -> tuple[str, int, str]:
    """The checks kube-apiserver makes before it proxies, and where to: (host, port, kubelet path)."""
    from .exec import StreamRequest, check_request
    from .portforward import pod_target

    registry = app.state.registry
    if sub == "portforward":
        pod = registry.get(by_plural("pods", ""), namespace, name)
        if not (pod.get("spec") or {}).get("nodeName"):
            pod_target(app, namespace, name)  # not running: the Status kube-apiserver gives
        container = ""  # whether it runs is the kubelet's to say (the WebSocket form says it on its channels)
    else:
        req = StreamRequest.parse(namespace, name, query, attach=sub == "attach")
        pod = check_request(app, req)
        container = req.container
    host, port = node_endpoint(registry, (pod.get("spec") or {}).get("nodeName"))
    rest = {k: v for k, v in query.items() if k != "container"}
    path = _kubelet_path(sub, namespace, name, container)
    if rest:
        path += "?" + urllib.parse.urlencode(rest, doseq=True)
    return host, port, path


class _Pipe(asyncio.Protocol):
    """The client's connection after the upgrade: what it sends goes to the kubelet as it comes."""

    def __init__(self, transport: asyncio.Transport, writer: asyncio.StreamWriter) -> None:
        self.transport, self.writer = transport, writer
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.closed = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.writer.write(data)
        if self.writer.transport.get_write_buffer_size() > 4 * CHUNK:
            self.transport.pause_reading()
            asyncio.get_running_loop().create_task(self._drained())

    async def _drained(self) -> None:
        with contextlib.suppress(Exception):
            await self.writer.drain()
        with contextlib.suppress(Exception):
            self.transport.resume_reading()

    def eof_received(self) -> bool:
        with contextlib.suppress(Exception):
            if self.writer.can_write_eof():
                self.writer.write_eof()
        return True

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.can_write.set()
        self.closed.set()
        self.writer.close()


async def proxy_upgrade(app: Any, protocol: Any, namespace: str, name: str, sub: str,
                        query: dict[str, list[str]]) -> None:
    """Hand an upgrade of ``pods/<name>/<sub>`` to the pod's kubelet and copy the bytes both ways."""
    host, port, path = locate(app, namespace, name, sub, query)
    reader, writer = await connect(app, host, port)
    transport: asyncio.Transport = protocol.transport
    method = protocol.scope.get("method", "GET")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    for k, v in protocol.scope["headers"]:
        key = k.decode("latin-1")
        if key in ("connection", "upgrade") or (key not in _DROPPED and not key.startswith("impersonate-")):
            lines.append(f"{key}: {v.decode('latin-1')}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    pipe = _Pipe(transport, writer)
    transport.set_protocol(pipe)
    try:
        while not pipe.closed.is_set():
            data = await reader.read(CHUNK)
            if not data:
                break
            transport.write(data)
            await pipe.can_write.wait()
    except (OSError, ssl.SSLError) as e:
        log.debug("%s proxy to %s:%d ended: %s", sub, host, port, e)
    finally:
        transport.close()
        writer.close()


async def get(app: Any, node_name: str, path: str, *, timeout: float | None = None) -> tuple[int, AsyncIterator[bytes]]:
    """GET ``path`` on the node's kubelet: the status code and the body, chunk by chunk, as it comes."""
    import h11  # here, not at the top: ~20 ms of regular expressions off the API server's start

    from ..client.transport import Connection

    host, port = node_endpoint(app.state.registry, node_name)
    conn = Connection(*await connect(app, host, port))
    try:
        await conn.send(h11.Request(method="GET", target=path, headers=[("Host", f"{host}:{port}"),
                                                                         ("Connection", "close")]))
        response = await conn.next_event(timeout)
        if not isinstance(response, h11.Response):
            raise BadRequest(f"the kubelet of {node_name} did not answer")
    except BaseException:
        conn.close()
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in conn.body(timeout):
                yield chunk
        finally:
            conn.close()
    return response.status_code, body()
