"""HTTP/1.1 to the API server on asyncio streams, with ``h11`` doing the framing: client-go's transport in small.

A node agent (node/agent.py) is one process per node, so what it imports is paid once per node
(issue 14: each extra node ≤ 35 MB). ``httpx`` would bring ``httpcore`` and ``anyio`` with it
(~6 MB resident once a request has been made); this is the part of it the agent uses: a pool of
keep-alive connections (TLS with the caller's context), one request at a time per connection,
a body read whole or streamed (a watch), timeouts. ``h11`` (python-hyper, the HTTP/1.1 state
machine httpx and uvicorn use too) parses and writes the messages; nothing here reads HTTP by hand.

As Go's ``net/http`` Transport, a pooled connection the server has already closed (its idle
timeout) is dropped before use, and an idempotent request that fails on a reused connection
before any byte of the answer came back is sent once more on a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import h11

READ_CHUNK = 64 * 1024
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_BROKEN = (OSError, h11.ProtocolError, ssl.SSLError)  # a connection that broke: a TransportError


class TransportError(Exception):
    """The server could not be reached, or the connection broke or timed out."""


@dataclass
class Response:
    status_code: int
    reason_phrase: str
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Connection:
    """One HTTP/1.1 client connection: h11's state machine on an asyncio stream pair (this
    transport's pooled connections, and the API server's GETs to a kubelet, apiserver/nodeproxy.py)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    async def send(self, request: h11.Request, body: bytes | None = None) -> None:
        data = self.h11.send(request) or b""
        if body:
            data += self.h11.send(h11.Data(data=body)) or b""
        data += self.h11.send(h11.EndOfMessage()) or b""
        self.writer.write(data)
        await self.writer.drain()

    async def next_event(self, timeout: float | None = None) -> Any:
        """The next event of the answer; ``timeout`` bounds each read (``TimeoutError``)."""
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            read = self.reader.read(READ_CHUNK)
            chunk = await (read if timeout is None else asyncio.wait_for(read, timeout))
            self.h11.receive_data(chunk)  # b"" is the end of the stream; h11 then says whether that was allowed

    async def body(self, timeout: float | None = None) -> AsyncIterator[bytes]:
        """The answer's body as it comes, to its end; a server that closes before is a
        ``ConnectionResetError``. Left before the end, the connection cannot be reused (:meth:`reusable`)."""
        while not isinstance(event := await self.next_event(timeout), h11.EndOfMessage):
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("the connection closed mid-answer")

    def reusable(self) -> bool:
        """Whether the request and its whole answer are through (the connection then takes the next)."""
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            return self.usable()
        return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Transport:
    """Requests to one server (``https://host:port`` or ``http://...``) over a pool of connections."""

    def __init__(self, base_url: str, *, ssl_context: ssl.SSLContext | None, headers: dict[str, str],
                 timeout: float = 30.0, connect_timeout: float = 5.0, max_connections: int = 32,
                 max_idle: int = 8) -> None:
        url = urllib.parse.urlsplit(base_url)
        self.tls = url.scheme == "https"
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (443 if self.tls else 80)
        self.authority = url.netloc
        self.ssl_context = (ssl_context or ssl.create_default_context()) if self.tls else None
        self.headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        self.timeout, self.connect_timeout, self.max_idle = timeout, connect_timeout, max_idle
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False

    async def _connect(self) -> Connection:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                self.host, self.port, ssl=self.ssl_context, server_hostname=self.host if self.tls else None,
                limit=READ_CHUNK), self.connect_timeout)
        except (TimeoutError, OSError, ssl.SSLError) as e:
            raise TransportError(f"dial tcp {self.host}:{self.port}: {str(e) or type(e).__name__}") from e
        return Connection(reader, writer)

    def _pooled(self) -> Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    def _release(self, conn: Connection) -> None:
        if not self._closed and conn.reusable() and len(self._idle) < self.max_idle:
            self._idle.append(conn)
        else:
            conn.close()

    def _request(self, method: str, target: str, params: dict[str, Any] | None, headers: dict[str, str] | None,
                 body: bytes | None) -> h11.Request:
        if params:
            target += ("&" if "?" in target else "?") + urllib.parse.urlencode(params)
        hs = [(b"host", self.authority.encode()), *self.headers]
        hs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            hs.append((b"content-length", str(len(body or b"")).encode()))
        return h11.Request(method=method, target=target, headers=hs)

    async def _open(self, method: str, request: h11.Request, body: bytes | None) -> tuple[Connection, h11.Response]:
        """Send the request and read the answer's head, on a pooled connection or a new one."""
        conn = self._pooled()
        reused = conn is not None
        while True:
            if conn is None:
                conn = await self._connect()
            try:
                await conn.send(request, body)
                event = await conn.next_event()
                if isinstance(event, h11.ConnectionClosed):
                    raise ConnectionResetError("the server closed the connection")
                if not isinstance(event, h11.Response):
                    raise TransportError(f"unexpected {type(event).__name__} from {self.authority}")
                return conn, event
            except (*_BROKEN, asyncio.IncompleteReadError) as e:
                conn.close()
                if reused and method in IDEMPOTENT:  # the server had closed it meanwhile: once more, anew
                    conn, reused = None, False
                    continue
                raise _broken(method, request.target.decode(), e) from e
            except BaseException:
                conn.close()
                raise

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      headers: dict[str, str] | None = None, content: bytes | None = None,
                      timeout: float | None = None) -> Response:
        request = self._request(method, path, params, headers, content)
        async with self._slots:
            try:
                async with asyncio.timeout(timeout or self.timeout):
                    conn, head = await self._open(method, request, content)
                    try:
                        data = b"".join([chunk async for chunk in conn.body()])
                    except BaseException:
                        conn.close()
                        raise
            except TimeoutError as e:
                raise TransportError(f"{method} {path}: timed out after {timeout or self.timeout:g}s") from e
            except _BROKEN as e:
                raise _broken(method, path, e) from e
            self._release(conn)
        return _response(head, data)

    @contextlib.asynccontextmanager
    async def stream(self, method: str, path: str, *, params: dict[str, Any] | None = None
                     ) -> AsyncIterator[tuple[Response, AsyncIterator[bytes]]]:
        """The answer's head, and its body as it comes (no timeout once the head is in: a watch)."""
        request = self._request(method, path, params, None, None)
        async with self._slots:
            try:
                async with asyncio.timeout(self.timeout):
                    conn, head = await self._open(method, request, None)
            except TimeoutError as e:
                raise TransportError(f"{method} {path}: timed out after {self.timeout:g}s") from e

            async def body() -> AsyncIterator[bytes]:
                try:
                    async for chunk in conn.body():
                        yield chunk
                except _BROKEN as e:
                    raise _broken(method, path, e) from e

            try:
                yield _response(head, b""), body()
            finally:  # a body left before its end (a watch given up) leaves the connection closed, not pooled
                self._release(conn)

    async def close(self) -> None:
        self._closed = True
        for conn in self._idle:
            conn.close()
        self._idle.clear()


def _broken(method: str, path: str, e: BaseException) -> TransportError:
    return TransportError(f"{method} {path}: {str(e) or type(e).__name__}")


def _response(head: h11.Response, content: bytes) -> Response:
    reason = head.reason.decode("latin-1")
    if not reason:
        with contextlib.suppress(ValueError):
            reason = HTTPStatus(head.status_code).phrase
    return Response(head.status_code, reason,
                    {k.decode("latin-1"): v.decode("latin-1") for k, v in head.headers}, content)
