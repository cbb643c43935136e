"""``pods/<name>/portforward`` over a WebSocket with ``channel.k8s.io`` framing (the kubelet's v4 protocol).

This is what the official Python client's ``kubernetes.stream.portforward()`` (and other
WebSocket clients of the kubelet's port-forward) speak, as opposed to kubectl's SPDY streams
(portforward.py, upgrade.py). Kubernetes' shape, kept here (pkg/kubelet/cri/streaming/portforward/
websocket.go behind kube-apiserver's ``PodPortForwardOptions``):

- ``GET .../pods/NAME/portforward?ports=80&ports=8080`` (or ``ports=80,8080``), WebSocket
  subprotocol ``v4.channel.k8s.io`` (binary) or ``v4.base64.channel.k8s.io`` (text, the channel as
  an ASCII digit and the payload base64); a client that offers none of them gets binary framing.
- Each requested port gets two channels: data ``2*i`` (both ways) and error ``2*i+1`` (server to
  client). The first message on each carries the port as an unsigned 16-bit little-endian number.
- The connection to the pod's port is made at once; a failure is a text on the error channel.
  One TCP connection per port per WebSocket: v4 has no way to open another or to half-close one.
  When every port's connection has ended, the WebSocket is closed.

Errors found before the upgrade (no such pod: 404; no or bad ``ports``: 400) are a Kubernetes
Status instead of a WebSocket. A pod that is not running gets Kubernetes' message on the error
channels, as the kubelet writes it there.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from ..api.errors import ApiError, BadRequest
from .portforward import CHUNK, connect_error, pod_target
from .responses import KubeJSONResponse as JSONResponse

if TYPE_CHECKING:  # the kubelet's endpoint serves this without FastAPI (kubelet/server.py)
    from fastapi import FastAPI

log = logging.getLogger(__name__)

BINARY, BASE64 = "v4.channel.k8s.io", "v4.base64.channel.k8s.io"
PROTOCOLS = (BINARY, BASE64)
INBOX_MESSAGES = 64


def parse_ports(values: list[str]) -> list[int]:
    """The ports of the request (repeated and/or comma-separated), with Kubernetes' messages."""
    if not values:
        raise BadRequest('query parameter "port" is required')
    ports = []
    for value in values:
        if not value:
            raise BadRequest('query parameter "port" cannot be empty')
        for item in value.split(","):
            try:
                port = int(item, 10)
            except ValueError:
                raise BadRequest(f'unable to parse "{value}" as a port: strconv.ParseUint: parsing "{item}": '
                                 f"invalid syntax") from None
            if port > 65535:
                raise BadRequest(f'unable to parse "{value}" as a port: strconv.ParseUint: parsing "{item}": '
                                 f"value out of range")
            if port < 1:
                raise BadRequest(f'port "{value}" must be > 0')
            ports.append(port)
    return ports


def choose_protocol(offered_header: str) -> str | None:
    """The subprotocol to answer with: the client's first one we speak; None when it offered none.
    Raises when it offered only others (wsstream refuses those)."""
    offered = [p.strip() for p in offered_header.split(",") if p.strip()]
    if not offered:
        return None
    for protocol in offered:
        if protocol in PROTOCOLS:
            return protocol
    raise BadRequest(f"requested protocol(s) are not supported: {offered}; supports {list(PROTOCOLS)}")


def encode(protocol: str | None, channel: int, data: bytes) -> bytes | str:
    if protocol == BASE64:
        return str(channel) + base64.b64encode(data).decode()
    return bytes([channel]) + data


def decode(protocol: str | None, message: bytes | str) -> tuple[int, bytes] | None:
    """(channel, payload) of a client message, or None for one that carries nothing."""
    if protocol == BASE64:
        text = message if isinstance(message, str) else message.decode("latin-1")
        if not text or not text[0].isdigit():
            return None
        try:
            return int(text[0]), base64.b64decode(text[1:], validate=True)
        except ValueError:
            return None
    raw = message.encode("latin-1") if isinstance(message, str) else message
    return (raw[0], raw[1:]) if raw else None


class _Channels:
    """Writes to the WebSocket, one message at a time."""

    def __init__(self, websocket: WebSocket, protocol: str | None) -> None:
        self.websocket, self.protocol = websocket, protocol
        self.lock = asyncio.Lock()

    async def send(self, channel: int, data: bytes) -> None:
        message = encode(self.protocol, channel, data)
        async with self.lock:
            if isinstance(message, str):
                await self.websocket.send_text(message)
            else:
                await self.websocket.send_bytes(message)


class _Inbox:
    """What the client sent for one port, bounded: a pod that reads slowly slows the WebSocket's
    reader down (back-pressure, as wsstream's pipes give), rather than filling memory."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=INBOX_MESSAGES)
        self.closed = False

    async def put(self, data: bytes) -> None:
        if not self.closed:  # data for a port whose connection ended is dropped
            await self.queue.put(data)

    async def get(self) -> bytes:
        return await self.queue.get()

    def close(self) -> None:
        self.closed = True
        while not self.queue.empty():  # frees a reader blocked in put()
            self.queue.get_nowait()


async def _forward(out: _Channels, index: int, port: int, ip: str, name: str, inbox: _Inbox) -> None:
    try:
        await _copy(out, index, port, ip, name, inbox)
    finally:
        inbox.close()


async def _copy(out: _Channels, index: int, port: int, ip: str, name: str, inbox: _Inbox) -> None:
    data_ch, error_ch = 2 * index, 2 * index + 1
    try:
        reader, writer = await asyncio.open_connection(ip, port)
    except OSError as e:
        await out.send(error_ch, connect_error(name, ip, port, e).encode())
        return

    async def to_pod() -> None:
        while True:
            chunk = await inbox.get()
            writer.write(chunk)
            await writer.drain()

    upload = asyncio.create_task(to_pod(), name=f"portforward ws {port} in")
    try:
        while chunk := await reader.read(CHUNK):
            await out.send(data_ch, chunk)
    except OSError as e:
        log.debug("port-forward (websocket) to %s:%s ended: %s", ip, port, e)
    finally:
        upload.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await upload
        writer.close()


async def serve_ws(app: Any, websocket: WebSocket, namespace: str, name: str) -> None:
    """One port-forward WebSocket (starlette's, on any ASGI server) to a pod of ``app.state``."""
    try:
        try:
            target: tuple[str, str] | None = pod_target(app, namespace, name)
            not_running = ""
        except BadRequest as e:  # the pod exists but does not run: said on the error channels
            target, not_running = None, e.message
        ports = parse_ports(websocket.query_params.getlist("ports"))
        protocol = choose_protocol(websocket.headers.get("sec-websocket-protocol", ""))
    except ApiError as e:
        await websocket.send_denial_response(JSONResponse(e.status(), status_code=e.code))
        return
    await websocket.accept(subprotocol=protocol)
    out = _Channels(websocket, protocol)
    for i, port in enumerate(ports):
        prefix = port.to_bytes(2, "little")
        await out.send(2 * i, prefix)
        await out.send(2 * i + 1, prefix)
    if target is None:
        for i in range(len(ports)):
            await out.send(2 * i + 1, not_running.encode())
        await websocket.close()
        return
    inboxes = [_Inbox() for _ in ports]
    forwards = [asyncio.create_task(_forward(out, i, port, target[0], name, inboxes[i]),
                                    name=f"portforward ws {port}") for i, port in enumerate(ports)]

    async def from_client() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame = decode(protocol, message.get("bytes") or message.get("text") or b"")
            if frame is None:
                continue
            channel, payload = frame
            if channel % 2 == 0 and channel // 2 < len(ports) and payload:  # error channels are write-only
                await inboxes[channel // 2].put(payload)

    reader = asyncio.create_task(from_client(), name="portforward ws reader")
    try:
        done_all = asyncio.gather(*forwards, return_exceptions=True)  # a client gone mid-send: ends too
        await asyncio.wait({reader, done_all}, return_when=asyncio.FIRST_COMPLETED)
        if not reader.done():  # every port's connection ended: so does the WebSocket
            with contextlib.suppress(Exception):
                await websocket.close()
    finally:
        for task in [reader, *forwards]:
            task.cancel()
        for task in [reader, *forwards]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def install(app: FastAPI, path: str = "/api/v1/namespaces/{namespace}/pods/{name}/portforward") -> None:
    """Register the WebSocket route of port-forward on ``app``: the kubelet's endpoint serves it
    (kubelet/server.py, ``/portForward/{namespace}/{name}``); the API server proxies to it.
    A Starlette WebSocket route, as exec's (exec.install says why)."""

    async def portforward_ws(websocket: WebSocket) -> None:
        await serve_ws(app, websocket, websocket.path_params["namespace"], websocket.path_params["name"])

    app.router.add_websocket_route(path, portforward_ws)
