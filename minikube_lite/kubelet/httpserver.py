"""The kubelet endpoint's HTTP/1.1 server: an ASGI application on h11 over asyncio, with its upgrades.

The endpoint (server.py) is a handful of fixed paths behind TLS with client certificates. uvicorn
served it, and with it came httptools, click, ``logging.config`` and its own protocol machinery:
~3 MB of each node agent's RSS (issue 14). h11 is already in the agent (its API client,
client/transport.py), so the server is that: one asyncio protocol per connection, h11 for the
requests and answers (keep-alive, chunked bodies, HEAD), and three ways out of HTTP:

- ``Upgrade: SPDY/3.1`` and kubectl 1.31+'s port-forward tunnel (a WebSocket offering
  ``SPDY/3.1+portforward.k8s.io``): handed to ``upgrade(transport, scope, url, tunnel)``, the API
  server's own SPDY code (apiserver/upgrade.py, ``serve_upgrade``);
- any other ``Upgrade: websocket``: an ASGI WebSocket (``websocket.connect`` / ``accept`` /
  ``receive`` / ``send`` / ``close``, and the denial response extension), framed by the
  ``websockets`` library's sans-I/O protocol, loaded with the first one.

Each connection's verified client certificate is recorded as uvicorn's did (auth/tls.py), so the
application authorises from the ASGI scope as before. A connection that goes away cancels what it
runs (a ``logs -f`` with nothing to say ends with its client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import h11

from minikube_lite.auth import tls

log = logging.getLogger(__name__)

Upgrade = Callable[[asyncio.Transport, dict[str, Any], str, bool], Awaitable[None]]
#: the most of a request's head h11 buffers (its default is 16 KiB)
MAX_HEAD = 64 * 1024
#: what is read ahead of a request's handler; reading goes on below it, so a client that goes away
#: is seen (and what its request runs is cancelled) even while the handler only writes
MAX_UNREAD = 256 * 1024


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    return b", ".join(v for k, v in headers if k == name)


class _WebSocket:
    """An accepted WebSocket's frames, as ASGI messages."""

    def __init__(self, transport: asyncio.Transport, writable: asyncio.Event) -> None:
        from websockets.protocol import Protocol, Side

        self.transport, self.writable = transport, writable
        self.protocol = Protocol(Side.SERVER, max_size=None)
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.parts: list[bytes] = []
        self.text = False
        self.closed = False
        self.paused = False

    def flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk and not self.transport.is_closing():
                self.transport.write(chunk)

    def received(self, data: bytes) -> None:
        from websockets.frames import Opcode

        self.protocol.receive_data(data)
        for frame in self.protocol.events_received():
            if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                self.text, self.parts = frame.opcode is Opcode.TEXT, [bytes(frame.data)]
            elif frame.opcode is Opcode.CONT:
                self.parts.append(bytes(frame.data))
            elif frame.opcode is Opcode.CLOSE:
                self.lost(self.protocol.close_rcvd.code if self.protocol.close_rcvd else 1005)
                continue
            else:
                continue  # ping (answered by the protocol), pong
            if frame.fin:
                data, self.parts = b"".join(self.parts), []
                self.inbox.put_nowait({"type": "websocket.receive", "text": data.decode()} if self.text
                                      else {"type": "websocket.receive", "bytes": data})
        self.flush()  # pongs, the answer to a close
        if self.protocol.state.name in ("CLOSING", "CLOSED"):  # a close, or frames it could not read
            self.lost(self.protocol.close_rcvd.code if self.protocol.close_rcvd else 1002)
        if self.inbox.qsize() > 64 and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def lost(self, code: int = 1006) -> None:
        if not self.closed:
            self.closed = True
            self.inbox.put_nowait({"type": "websocket.disconnect", "code": code})

    async def receive(self) -> dict[str, Any]:
        message = await self.inbox.get()
        if message["type"] == "websocket.disconnect":
            self.inbox.put_nowait(message)  # and again to any later receive
        if self.paused and self.inbox.qsize() < 8:
            self.paused = False
            self.transport.resume_reading()
        return message

    async def send(self, message: dict[str, Any]) -> None:
        if self.closed or self.transport.is_closing():
            return
        if message["type"] == "websocket.send":
            if message.get("bytes") is not None:
                self.protocol.send_binary(message["bytes"])
            else:
                self.protocol.send_text(message.get("text", "").encode())
        elif message["type"] == "websocket.close":
            self.protocol.send_close(message.get("code") or 1000, message.get("reason") or "")
            self.closed = True
        self.flush()
        await self.writable.wait()


class Connection(asyncio.Protocol):
    """One client connection: its requests in turn, each to the ASGI application."""

    def __init__(self, app: Any, upgrade: Upgrade, keepalive: float, connections: set[Connection]) -> None:
        self.app, self.upgrade, self.keepalive, self.connections = app, upgrade, keepalive, connections
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.client: tuple[str, int] | None = None
        self.ws: _WebSocket | None = None
        self.gone = asyncio.Event()
        self.wake = asyncio.Event()
        self.writable = asyncio.Event()
        self.writable.set()
        self.eof = False
        self.unread = 0  # bytes given to h11 since it last wanted more
        self.task: asyncio.Task[None] | None = None

    # -- the transport's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.client = (str(peer[0]), int(peer[1])) if peer else None
        tls.remember_peer(self.client, transport)
        self.connections.add(self)
        self.task = asyncio.get_running_loop().create_task(self._run(), name="kubelet connection")

    def data_received(self, data: bytes) -> None:
        if self.ws is not None:
            self.ws.received(data)
            return
        if self.eof:
            return
        self.h11.receive_data(data)
        self.unread += len(data)
        if self.unread > MAX_UNREAD:  # a body faster than its handler reads it: wait for the handler
            self.transport.pause_reading()
        self.wake.set()

    def eof_received(self) -> bool | None:
        if self.ws is not None:
            self.ws.lost()
        elif not self.eof:
            self.eof = True
            self.h11.receive_data(b"")
            self.wake.set()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        tls.forget_peer(self.client)
        self.gone.set()
        self.wake.set()
        self.writable.set()
        if self.ws is not None:
            self.ws.lost()
        if self.task is not None and not self.task.done():
            self.task.cancel()  # what the request runs (a log it follows) ends with its client

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    # -- HTTP

    async def _event(self, timeout: float | None = None) -> Any:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            if self.gone.is_set():
                return h11.ConnectionClosed()
            self.wake.clear()
            self.unread = 0
            self.transport.resume_reading()
            await asyncio.wait_for(self.wake.wait(), timeout)

    def _send(self, event: Any) -> None:
        data = self.h11.send(event)
        if data and not self.transport.is_closing():
            self.transport.write(data)

    async def _run(self) -> None:
        handed_over = False
        try:
            while True:
                try:
                    event = await self._event(self.keepalive)
                except TimeoutError:
                    break  # idle too long
                if not isinstance(event, h11.Request):
                    break
                handed_over = await self._request(event)
                if handed_over:
                    break
                while self.h11.their_state is h11.SEND_BODY:  # what the handler left unread
                    if isinstance(await self._event(self.keepalive), h11.ConnectionClosed):
                        break
                if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
                    break
                self.h11.start_next_cycle()
        except h11.RemoteProtocolError as e:
            with contextlib.suppress(h11.LocalProtocolError):
                self._send(h11.Response(status_code=e.error_status_hint, headers=[("content-length", "0"),
                                                                                     ("connection", "close")]))
                self._send(h11.EndOfMessage())
        except (asyncio.CancelledError, TimeoutError, OSError):
            pass
        except Exception:
            log.exception("kubelet endpoint: a request of %s failed", self.client)
        finally:
            if not handed_over:
                self.transport.close()

    async def _request(self, request: h11.Request) -> bool:
        """Serve one request; True when the connection was handed to another protocol."""
        target = request.target.decode("latin-1")
        path, _, query = target.partition("?")
        headers = list(request.headers)
        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": request.http_version.decode(),
            "method": request.method.decode("ascii"), "scheme": "https", "path": urllib.parse.unquote(path),
            "raw_path": path.encode("latin-1"), "query_string": query.encode("latin-1"), "headers": headers,
            "client": self.client, "server": self.transport.get_extra_info("sockname")[:2], "root_path": "",
            "extensions": {}}
        upgrade = _header(headers, b"upgrade").lower() or None
        if upgrade is not None and b"upgrade" in _header(headers, b"connection").lower():
            from minikube_lite.apiserver.upgrade import wants_tunnel

            if upgrade.startswith(b"spdy/") or wants_tunnel(upgrade, headers):
                self.transport.resume_reading()
                try:
                    await self.upgrade(self.transport, scope, target, not upgrade.startswith(b"spdy/"))
                finally:
                    tls.forget_peer(self.client)
                    self.connections.discard(self)
                return True
            if upgrade == b"websocket":
                await self._websocket({**scope, "type": "websocket", "scheme": "wss",
                                       "subprotocols": [p.strip() for p in _header(headers, b"sec-websocket-protocol")
                                                        .decode("latin-1").split(",") if p.strip()],
                                       "extensions": {"websocket.http.response": {}}})
                return False
        await self._http(scope)
        return False

    async def _http(self, scope: dict[str, Any]) -> None:
        head = scope["method"] == "HEAD"
        response: list[Any] = []  # the status and headers, until sent

        async def receive() -> dict[str, Any]:
            if self.h11.they_are_waiting_for_100_continue:  # the body comes once asked for
                self._send(h11.InformationalResponse(status_code=100, headers=[]))
            if self.h11.their_state is h11.SEND_BODY:
                event = await self._event()
                if isinstance(event, h11.Data):
                    return {"type": "http.request", "body": bytes(event.data), "more_body": True}
                if isinstance(event, h11.EndOfMessage):
                    return {"type": "http.request", "body": b"", "more_body": False}
                return {"type": "http.disconnect"}
            await self.gone.wait()
            return {"type": "http.disconnect"}

        started = finished = False

        async def send(message: dict[str, Any]) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                response[:] = [message["status"], [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]]
            elif message["type"] == "http.response.body" and not finished:
                if not started:
                    self._send(h11.Response(status_code=response[0], headers=response[1]))
                    started = True
                if (body := message.get("body", b"")) and not head:
                    self._send(h11.Data(data=body))
                if not message.get("more_body"):
                    self._send(h11.EndOfMessage())
                    finished = True
                await self.writable.wait()

        try:
            await self.app(scope, receive, send)
        except Exception:
            log.exception("kubelet endpoint: %s %s failed", scope["method"], scope["path"])
        if not started:
            self._send(h11.Response(status_code=500, headers=[("content-length", "0"), ("connection", "close")]))
            self._send(h11.EndOfMessage())
        elif not finished:
            self.transport.close()

    # -- WebSocket

    async def _websocket(self, scope: dict[str, Any]) -> None:
        connected = denied = False
        denial: list[Any] = []

        async def receive() -> dict[str, Any]:
            nonlocal connected
            if not connected:
                connected = True
                return {"type": "websocket.connect"}
            if self.ws is None:
                await self.gone.wait()
                return {"type": "websocket.disconnect", "code": 1006}
            return await self.ws.receive()

        async def send(message: dict[str, Any]) -> None:
            nonlocal denied
            kind = message["type"]
            if self.ws is not None:
                await self.ws.send(message)
            elif denied or self.transport.is_closing():
                return
            elif kind == "websocket.accept":
                self._accept(scope, message)
            elif kind == "websocket.close":  # before the handshake: HTTP 403, as ASGI says
                self.transport.write(_response(403, [(b"content-type", b"text/plain")], b""))
                denied = True
            elif kind == "websocket.http.response.start":
                denial[:] = [message["status"], list(message.get("headers", [])), b""]
            elif kind == "websocket.http.response.body":
                denial[2] += message.get("body", b"")
                if not message.get("more_body"):
                    self.transport.write(_response(denial[0], denial[1], denial[2]))
                    denied = True

        try:
            await self.app(scope, receive, send)
        finally:
            if self.ws is not None and not self.ws.closed and not self.transport.is_closing():
                with contextlib.suppress(Exception):
                    await self.ws.send({"type": "websocket.close", "code": 1000})
            if self.ws is None and not denied and not self.transport.is_closing():
                self.transport.write(_response(500, [], b""))
            self.transport.close()

    def _accept(self, scope: dict[str, Any], message: dict[str, Any]) -> None:
        from minikube_lite.apiserver.upgrade import websocket_accept

        key = _header(scope["headers"], b"sec-websocket-key").decode("latin-1")
        lines = [b"HTTP/1.1 101 Switching Protocols", b"Upgrade: websocket", b"Connection: Upgrade",
                 b"Sec-WebSocket-Accept: " + websocket_accept(key).encode()]
        if message.get("subprotocol"):
            lines.append(b"Sec-WebSocket-Protocol: " + message["subprotocol"].encode("latin-1"))
        lines += [bytes(k) + b": " + bytes(v) for k, v in message.get("headers", [])]
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n")
        self.ws = _WebSocket(self.transport, self.writable)
        trailing, _ = self.h11.trailing_data
        self.transport.resume_reading()
        if trailing:
            self.ws.received(trailing)


def _response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """A whole answer, and the connection closed after it (a refused WebSocket)."""
    headers = [(bytes(k).lower(), bytes(v)) for k, v in headers if bytes(k).lower() not in (b"content-length",
                                                                                            b"connection")]
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode(), *(k + b": " + v for k, v in headers),
            b"content-length: " + str(len(body)).encode(), b"connection: close"]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class Server:
    """Serves an ASGI ``app`` on a listening socket, over TLS with ``context``."""

    def __init__(self, app: Any, upgrade: Upgrade, *, keepalive: float) -> None:
        self.app, self.upgrade, self.keepalive = app, upgrade, keepalive
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None

    async def start(self, sock: Any, context: ssl.SSLContext | None) -> None:
        self._server = await asyncio.get_running_loop().create_server(
            lambda: Connection(self.app, self.upgrade, self.keepalive, self.connections), sock=sock, ssl=context)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.transport.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 3)
        self._server = None
