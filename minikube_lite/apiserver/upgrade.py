"""SPDY upgrades on the API server's port: the streaming subresources as kubectl speaks them.

ASGI has no way to take over a connection for a protocol other than WebSocket, so the API
server runs uvicorn with this HTTP protocol class (``streaming_protocol(app)``). Two upgrades are
answered here and every other request, other WebSockets included, goes to the Starlette app:

- ``Upgrade: SPDY/3.1`` to ``pods/<name>/{portforward,exec,attach}`` (kubectl up to 1.29/1.30),
  answered as Kubernetes' ``httpstream`` handshake does: the ``X-Stream-Protocol-Version`` the
  client offered that the server speaks, then ``101 Switching Protocols``;
- a WebSocket to ``pods/<name>/portforward`` with the subprotocol ``SPDY/3.1+portforward.k8s.io``
  (kubectl 1.31+): the same SPDY byte stream inside binary messages. ASGI's WebSocket servers
  refuse that subprotocol name (a ``/`` is not a token character), so the handshake (RFC 6455
  section 4.2.2) is done here and the ``websockets`` library's sans-I/O protocol does the framing.

Either way the connection is handed to a ``SpdySession``. Errors found before the upgrade (no
such pod, no common protocol) are a Kubernetes ``Status`` with the HTTP code, as the real API
server sends; kubectl 1.31+ then falls back to plain SPDY, as it does against Kubernetes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from ..api.errors import ApiError
from .spdy import ProtocolError, SpdySession

log = logging.getLogger(__name__)

STREAM_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/(portforward|exec|attach)$")
# A handler: (app, namespace, pod, query) -> checks what can be checked before the upgrade (an
# ApiError becomes the reply) and returns what serves the session until its streams are done.
Runner = Callable[[SpdySession], Awaitable[None]]
Handler = Callable[[Any, str, str, dict[str, list[str]]], Awaitable[Runner]]
TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def status_response(err: ApiError) -> bytes:
    body = json.dumps(err.status()).encode()
    return (f"HTTP/1.1 {err.code} {HTTPStatus(err.code).phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def _data_opcodes() -> tuple[Any, ...]:
    from websockets.frames import Opcode

    return (Opcode.BINARY, Opcode.TEXT, Opcode.CONT)


def lazy_websockets(*args: Any, **kwargs: Any) -> asyncio.Protocol:
    """uvicorn's WebSocket protocol (what its ``ws="auto"`` picks), imported on the first WebSocket
    upgrade instead of when the server starts: the websockets library is ~25 ms of the start."""
    from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

    assert AutoWebSocketsProtocol is not None, "no WebSocket library (websockets or wsproto) installed"
    return AutoWebSocketsProtocol(*args, **kwargs)


class SpdyConnection(asyncio.Protocol):
    """The upgraded TCP connection: bytes to and from one ``SpdySession``, with back-pressure."""

    def __init__(self, transport: asyncio.Transport, websocket: bool = False) -> None:
        self.transport = transport
        # the kubectl 1.31+ tunnel: the SPDY bytes travel in WebSocket binary messages
        self.ws: Any = None
        if websocket:  # the websockets library loads with the first tunnel, not with the API server
            from websockets.protocol import Protocol, Side

            self.ws = Protocol(Side.SERVER, max_size=None)
        self.session = SpdySession(self._write)
        self._inbound: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._paused = False
        self.feeder = asyncio.get_running_loop().create_task(self._feed(), name="spdy reader")

    async def _write(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self.ws is None:
            self.transport.write(data)
        else:
            self.ws.send_binary(data)
            self._flush_ws()
        await self._can_write.wait()

    def _flush_ws(self) -> None:
        if self.ws is not None:
            for chunk in self.ws.data_to_send():
                if chunk:
                    self.transport.write(chunk)

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    def data_received(self, data: bytes) -> None:
        self._inbound.put_nowait(data)
        if self._inbound.qsize() > 64 and not self._paused:
            self._paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self._inbound.put_nowait(None)
        return True  # keep our side open: the session may still be writing

    def connection_lost(self, exc: Exception | None) -> None:
        self._inbound.put_nowait(None)
        self._can_write.set()
        self.session.finish()

    async def _feed(self) -> None:
        try:
            while (data := await self._inbound.get()) is not None:
                if self.ws is None:
                    await self.session.feed(data)
                else:
                    self.ws.receive_data(data)
                    for frame in self.ws.events_received():
                        if frame.opcode in _data_opcodes():
                            await self.session.feed(frame.data)
                    self._flush_ws()  # pongs, the answer to a close
                    if self.ws.close_rcvd is not None:
                        break
                if self._paused and self._inbound.qsize() < 8:
                    self._paused = False
                    self.transport.resume_reading()
        except ProtocolError as e:
            log.info("closing a SPDY connection: %s", e)
            self.transport.close()
        finally:
            self.session.finish()

    def close(self) -> None:
        self.feeder.cancel()
        if self.ws is not None and not self.transport.is_closing():
            with contextlib.suppress(Exception):
                self.ws.send_close(1000)
                self._flush_ws()
        self.transport.close()


def api_stream_path(path: str) -> tuple[str, str, str, str] | None:
    """(namespace, pod, subresource, container from the path) of an API streaming path, else None."""
    m = STREAM_PATH.match(path)
    return (m.group(1), m.group(2), m.group(3), "") if m else None


# The API server's side: (protocol, namespace, pod, subresource, query) -> proxies the upgrade to
# the pod's node (apiserver/nodeproxy.py); the kubelet's endpoint serves the handlers instead.
Proxy = Callable[[Any, str, str, str, dict[str, list[str]]], Awaitable[None]]


def wants_tunnel(upgrade: bytes | None, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request is kubectl 1.31+'s port-forward tunnel: a WebSocket offering TUNNEL_PROTOCOL."""
    offered = [p.strip() for k, v in headers if k == b"sec-websocket-protocol" for p in v.decode("latin-1").split(",")]
    return upgrade == b"websocket" and TUNNEL_PROTOCOL in offered


def websocket_accept(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` answering a ``Sec-WebSocket-Key`` (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key.strip() + WS_GUID).encode()).digest()).decode()


async def serve_upgrade(transport: asyncio.Transport, scope: dict[str, Any], url: str, tunnel: bool, *, app: Any,
                        handlers: dict[str, tuple[tuple[str, ...], Handler]], gate: Any = None,
                        match: Callable[[str], tuple[str, str, str, str] | None] = api_stream_path,
                        proxy: Proxy | None = None, protocol: Any = None) -> None:
    """One SPDY/3.1 upgrade (or port-forward tunnel) of the request ``scope`` (its headers and method)
    to ``url``: the checks, the answer (101 or a Status), then the session until it ends. ``proxy``
    is called with ``protocol`` (the server's connection) instead of serving it here."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    path = urllib.parse.unquote(parts.path)
    target = match(path)
    offered = [p.strip() for k, v in headers if k == "x-stream-protocol-version" for p in v.split(",")]
    try:
        if target is None or target[2] not in handlers:
            raise ApiError("the server could not find the requested resource", code=404, reason="NotFound")
        namespace, name, sub, container = target
        if container:
            query["container"] = [container]
        if gate is not None:
            gate({**scope, "path": path, "query_string": parts.query.encode("latin-1"),
                  "method": scope.get("method", "POST")}, "create")
        if proxy is not None:
            await proxy(protocol, namespace, name, sub, query)
            return
        protocols, handler = handlers[sub]
        chosen = protocols[0] if tunnel else next((p for p in protocols if p in offered), None)
        if tunnel and sub != "portforward":
            raise ApiError(f"{TUNNEL_PROTOCOL} is for pods/portforward", code=400, reason="BadRequest")
        if chosen is None:
            raise ApiError(f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
                           f"server accepts {list(protocols)}", code=403, reason="Forbidden")
        runner = await handler(app, namespace, name, query)
    except ApiError as e:
        transport.write(status_response(e))
        transport.close()
        return
    connection = SpdyConnection(transport, websocket=tunnel)
    transport.set_protocol(connection)
    if tunnel:
        key = next((v for k, v in headers if k == "sec-websocket-key"), "")
        transport.write(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Accept: {websocket_accept(key)}\r\nSec-WebSocket-Protocol: {TUNNEL_PROTOCOL}\r\n"
                        f"\r\n".encode())
    else:
        transport.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                        b"X-Stream-Protocol-Version: " + chosen.encode() + b"\r\n\r\n")
    try:
        await runner(connection.session)
    except Exception:
        log.exception("SPDY %s of %s/%s failed", sub, namespace, name)
    finally:
        with contextlib.suppress(Exception):
            await connection.session.goaway()
        connection.close()


def streaming_protocol(app: Any, handlers: dict[str, tuple[tuple[str, ...], Handler]],
                       gate: Any = None, match: Callable[[str], tuple[str, str, str, str] | None] = api_stream_path,
                       proxy: Proxy | None = None, proxy_ws: Callable[[str, str], bool] | None = None) -> type[Any]:
    """uvicorn's httptools protocol, plus SPDY/3.1 upgrades of the paths in ``handlers``
    (subresource -> (protocols it speaks, best first; its handler)). ``gate(scope, verb)``
    authenticates and authorises an upgrade (raising ApiError), as the filters do every request.
    ``match(path)`` names the streaming paths (the API's, or the kubelet's). With ``proxy`` every
    upgrade of a streaming path (SPDY or WebSocket) is handed to it after the gate, as
    kube-apiserver hands exec, attach and port-forward to the pod's kubelet. ``proxy_ws(namespace,
    pod)`` says whether a WebSocket is proxied (the pod is on a node); one that is not goes to the
    app, whose routes say what is wrong on the stream's error channel."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # the API server's: not the kubelet's

    class StreamingHttpProtocol(HttpToolsProtocol):
        def _is_spdy(self) -> bool:
            upgrade = self._get_upgrade()
            return upgrade is not None and upgrade.startswith(b"spdy/")

        def _should_upgrade(self) -> bool:
            return self._is_spdy() or super()._should_upgrade()

        def handle_websocket_upgrade(self) -> None:
            tunnel = wants_tunnel(self._get_upgrade(), self.scope["headers"])
            target = self._stream_target()
            if (proxy is not None and not self._is_spdy() and target is not None
                    and (tunnel or proxy_ws is None or proxy_ws(target[0], target[1]))):
                self.connections.discard(self)
                self._unset_keepalive_if_required()
                asyncio.get_running_loop().create_task(self._spdy(tunnel), name="stream proxy")
                return
            if not (self._is_spdy() or tunnel):
                super().handle_websocket_upgrade()
                return
            self.connections.discard(self)
            self._unset_keepalive_if_required()
            asyncio.get_running_loop().create_task(self._spdy(tunnel), name="spdy upgrade")

        def _stream_target(self) -> tuple[str, str, str, str] | None:
            return match(urllib.parse.unquote(urllib.parse.urlsplit(self.url.decode("latin-1")).path))

        async def _spdy(self, tunnel: bool) -> None:
            await serve_upgrade(self.transport, self.scope, self.url.decode("latin-1"), tunnel, app=app,
                                handlers=handlers, gate=gate, match=match, proxy=proxy, protocol=self)

    return StreamingHttpProtocol


def default_handlers() -> dict[str, tuple[tuple[str, ...], Handler]]:
    """The subresources served over SPDY: port-forward, exec and attach."""
    from . import portforward, remotecommand

    return {"portforward": (portforward.PROTOCOLS, portforward.prepare),
            "exec": (remotecommand.SPDY_PROTOCOLS, remotecommand.prepare_exec),
            "attach": (remotecommand.SPDY_PROTOCOLS, remotecommand.prepare_attach)}
