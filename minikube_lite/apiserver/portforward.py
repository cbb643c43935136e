"""``pods/<name>/portforward``: kubectl port-forward, over SPDY/3.1 and over its WebSocket tunnel.

Kubernetes' protocol (``portforward.k8s.io``): for every local connection kubectl opens two SPDY
streams with the headers ``streamType`` (``error``, then ``data``), ``port`` and ``requestID``.
Once both streams of a request are there the server connects to the port in the pod and copies
bytes both ways on the data stream; a failure (nothing listens there) is written as text on the
error stream, which kubectl prints as ``an error occurred forwarding L -> R: <text>``. Many
requests share one connection, so many local connections share one ``kubectl port-forward``.

kubectl up to 1.30 sends ``POST`` with ``Upgrade: SPDY/3.1``; 1.31+ first opens a WebSocket with
the subprotocol ``SPDY/3.1+portforward.k8s.io`` whose binary messages carry the same SPDY byte
stream (Kubernetes' "stream tunnel"). Both upgrades are taken over in upgrade.py; this module is
the protocol on top.

The connection is made from the node to the pod's IP, as a Service would reach it, rather than
to ``localhost`` inside the pod's network namespace as the CRI does: a server that listens only
on the pod's 127.0.0.1 is not reachable (docs/supported.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..api.errors import BadRequest
from .spdy import SpdySession, Stream

log = logging.getLogger(__name__)

PROTOCOLS = ("portforward.k8s.io",)
TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
CHUNK = 256 * 1024
PAIR_TIMEOUT = 30.0


def pod_of(app: Any, namespace: str, name: str) -> dict[str, Any]:
    """The pod from ``app.state.registry``: the API server's registry, or the kubelet's own view of its
    pods (kubelet/server.py, which has ``get_pod`` and no kind register: the node agent stays small)."""
    registry = app.state.registry
    get_pod = getattr(registry, "get_pod", None)
    if get_pod is not None:
        return get_pod(namespace, name)  # type: ignore[no-any-return]
    from ..api.register import by_plural

    return registry.get(by_plural("pods", ""), namespace, name)  # type: ignore[no-any-return]


def pod_target(app: Any, namespace: str, name: str) -> tuple[str, str]:
    """(pod IP, uid) of a running pod, or the ApiError Kubernetes gives."""
    pod = pod_of(app, namespace, name)
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or not status.get("podIP"):
        raise BadRequest(f"unable to forward port because pod is not running. Current status={status.get('phase')}")
    return str(status["podIP"]), str((pod.get("metadata") or {}).get("uid") or "")


def connect_error(name: str, ip: str, port: int, e: OSError) -> str:
    """The kubelet's text for a port nothing listens on (written on the error stream or channel)."""
    reason = "connection refused" if isinstance(e, ConnectionRefusedError) else (e.strerror or str(e)).lower()
    return (f"error forwarding port {port} to pod {name}, uid : failed to connect to localhost:{port} "
            f'inside namespace "{name}", IPv4: dial tcp4 {ip}:{port}: connect: {reason}')


async def _forward(target: tuple[str, str], name: str, error: Stream, data: Stream, port_header: str) -> None:
    ip, _ = target
    try:
        port = int(port_header)
        if not 0 < port < 65536:
            raise ValueError("out of range")
    except ValueError as e:
        await error.write(f"unable to parse '{port_header}' as a port: {e}".encode())
        await error.close()
        await data.close()
        return
    try:
        reader, writer = await asyncio.open_connection(ip, port)
    except OSError as e:
        await error.write(connect_error(name, ip, port, e).encode())
        await error.close()
        await data.close()
        return

    async def to_pod() -> None:
        while (chunk := await data.read()) is not None:
            writer.write(chunk)
            await writer.drain()
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()

    async def from_pod() -> None:
        while chunk := await reader.read(CHUNK):
            await data.write(chunk)
        await data.close()

    upload = asyncio.create_task(to_pod(), name=f"portforward {port} in")
    try:
        await from_pod()  # the pod closed its side: kubectl waits for the error stream to end, now
    except OSError as e:
        log.debug("port-forward connection to %s:%s ended: %s", ip, port, e)
    finally:
        upload.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await upload
        writer.close()
        await error.close()
        await data.close()


async def prepare(app: Any, namespace: str, name: str, query: dict[str, list[str]]) -> Any:
    """Before the SPDY upgrade: the pod must run (else its Status is the reply)."""
    target = pod_target(app, namespace, name)

    async def run(session: SpdySession) -> None:
        await serve_session(session, name, target)
    return run


async def serve_session(session: SpdySession, name: str, target: tuple[str, str]) -> None:
    """Pair each request's error and data streams and forward them, until the connection ends."""
    pending: dict[str, dict[str, Stream]] = {}
    tasks: set[asyncio.Task[None]] = set()
    try:
        while (stream := await session.streams.get()) is not None:
            await session.reply(stream)
            kind, request = stream.header("streamtype"), stream.header("requestid")
            if kind not in ("error", "data"):
                await stream.reset()
                continue
            pair = pending.setdefault(request or stream.header("port"), {})
            pair[kind] = stream
            if len(pair) == 2:
                pending.pop(request or stream.header("port"), None)
                task = asyncio.create_task(_forward(target, name, pair["error"], pair["data"],
                                                    pair["data"].header("port")), name="portforward")
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    finally:
        for task in list(tasks):
            task.cancel()
        for task in list(tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
