"""``pods/<name>/exec``: kubectl exec over WebSocket, the protocol kubectl 1.30+ speaks.

kubectl opens ``GET .../pods/web/exec?command=sh&command=-c&...&container=c&stdin=true&
stdout=true&stderr=true&tty=false`` as a WebSocket with subprotocol ``v5.channel.k8s.io``
(``v4.channel.k8s.io`` is accepted too). Every binary message starts with a channel byte:
0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize (JSON ``{"Width":..,"Height":..}``) and, in v5
only, 255 close (``[255, 0]``: the client's stdin ended). When the process ends the server
writes one ``Status`` on channel 3, exactly as Kubernetes' kubelet writes it
(``{"metadata":{},"status":"Success"}``, or ``Failure`` with ``reason: NonZeroExitCode`` and
the exit code as the message of a cause of type ``ExitCode``; kubectl exits with that code),
then closes the connection.

Errors found before the command runs (no such pod or container, container not running) are
sent the same way, as a ``Failure`` Status on channel 3 after the upgrade: a refused upgrade
would make kubectl fall back to SPDY and hide the message.

``pods/<name>/attach`` is the same protocol on the container's own process (``kubectl attach``,
``kubectl run -it``). kubectl up to 1.29 speaks SPDY/3.1 (``POST`` with ``Upgrade: SPDY/3.1``)
for both: that is served by upgrade.py and remotecommand.py with the same sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..api.errors import ApiError, BadRequest
from .portforward import pod_of

if TYPE_CHECKING:  # the kubelet's endpoint serves these without FastAPI; SPDY needs no starlette at all
    from fastapi import FastAPI, Request
    from starlette.websockets import WebSocket

    from .responses import KubeJSONResponse as JSONResponse

log = logging.getLogger(__name__)

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255

NOT_UPGRADED_MESSAGE = (
    "this subresource is a stream: upgrade the connection to SPDY/3.1 or to a WebSocket "
    "(subprotocol v5.channel.k8s.io), as kubectl exec, attach and port-forward do"
)


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(command: list[str], code: int) -> dict[str, Any]:
    """The Status Kubernetes sends for a command that exited non-zero."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command {command}, "
                   f"exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


@dataclass
class StreamRequest:
    """What an exec or attach request asks for (its query parameters)."""

    namespace: str
    name: str
    container: str
    command: list[str]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool
    attach: bool = False

    @classmethod
    def parse(cls, namespace: str, name: str, query: Mapping[str, Sequence[str]], *, attach: bool = False
              ) -> StreamRequest:
        def one(key: str) -> str | None:
            values = query.get(key) or []
            return values[-1] if values else None

        return cls(namespace, name, one("container") or "", list(query.get("command") or []),
                   _flag(one("stdin")), _flag(one("stdout")), _flag(one("stderr")), _flag(one("tty")), attach)


def check_request(app: Any, req: StreamRequest) -> dict[str, Any]:
    """The pod, after the checks Kubernetes makes (pod, container, phase, bound); fills the container.

    The API server makes them before it proxies to the pod's node, and the kubelet's endpoint again
    against its own pods (``app.state.registry`` is then the kubelet's view, kubelet/server.py)."""
    pod = pod_of(app, req.namespace, req.name)
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    req.container = req.container or (names[0] if names else "")
    others = [c["name"] for key in ("initContainers", "ephemeralContainers") for c in spec.get(key) or []]
    if req.container not in names + others:
        raise BadRequest(f"container {req.container} is not valid for pod {req.name}")
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        what = "attach to" if req.attach else "exec into"
        raise BadRequest(f"cannot {what} a container in a completed pod; current phase is {phase}")
    if not spec.get("nodeName"):
        raise BadRequest(f'pod "{req.name}" is not running on a node yet')
    return pod


async def open_session(app: Any, req: StreamRequest) -> Any:
    """Start the exec (or attach to the process) the request names; an ApiError before it runs.
    Served on the kubelet's endpoint, whose ``app.state.kubelet`` runs the node's containers."""
    check_request(app, req)
    kubelet = getattr(app.state, "kubelet", None)
    if kubelet is None:  # the API server's own route, for a pod bound just now: try again
        raise BadRequest(f'pod "{req.name}" was just placed on a node: try again')
    if req.attach:
        return await kubelet.attach_session(req.namespace, req.name, req.container, stdin=req.stdin)
    return await kubelet.exec_session(req.namespace, req.name, req.container, req.command, stdin=req.stdin,
                                      tty=req.tty)


def final_status(req: StreamRequest, code: int | None) -> dict[str, Any]:
    return success_status() if not code else exit_status(req.command, code)


def not_websocket(request: Request) -> JSONResponse:
    """A streaming request that was not upgraded (curl, a plain HTTP client)."""
    from .responses import KubeJSONResponse as JSONResponse

    err = BadRequest(NOT_UPGRADED_MESSAGE)
    return JSONResponse(err.status(), status_code=err.code)


async def _send(ws: WebSocket, channel: int, data: bytes) -> None:
    await ws.send_bytes(bytes([channel]) + data)


async def _fail(ws: WebSocket, status: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):
        await _send(ws, ERROR, json.dumps(status).encode())
        await ws.close()


async def serve_ws(app: Any, websocket: WebSocket, namespace: str, name: str, attach: bool,
                   container: str = "") -> None:
    """One exec or attach WebSocket (starlette's, on any ASGI server) against ``app.state``'s pods."""
    from starlette.websockets import WebSocketDisconnect

    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",")]
    protocol = next((p for p in PROTOCOLS if p in offered), None)
    if protocol is None:
        await websocket.close(code=1002, reason="supported subprotocols: " + ", ".join(PROTOCOLS))
        return
    await websocket.accept(subprotocol=protocol)
    q = websocket.query_params
    req = StreamRequest.parse(namespace, name, {k: q.getlist(k) for k in q}, attach=attach)
    req.container = container or req.container
    want_stdin, want_stdout, want_stderr, tty = req.stdin, req.stdout, req.stderr, req.tty
    try:
        session = await open_session(app, req)
    except ApiError as e:
        await _fail(websocket, e.status())
        return
    tty = tty or getattr(session, "tty", False)

    async def from_client() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes") or (message.get("text") or "").encode()
            if not data:
                continue
            channel, payload = data[0], data[1:]
            if channel == STDIN and want_stdin:
                await session.write_stdin(payload)
            elif channel == RESIZE:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    size = json.loads(payload)
                    await session.resize(int(size.get("Width", 0)), int(size.get("Height", 0)))
            elif channel == CLOSE and payload[:1] == bytes([STDIN]):
                await session.close_stdin()

    async def to_client() -> None:
        async for channel, data in session.output():
            if channel == STDERR and not want_stderr:
                channel = STDOUT if tty else -1
            if channel == STDOUT and not want_stdout:
                continue
            if channel > 0:
                await _send(websocket, channel, data)

    reader = asyncio.create_task(from_client(), name="exec stdin")
    try:
        writer = asyncio.create_task(to_client(), name="exec stdout")
        done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        if writer not in done:  # the client went away first
            session.close()
            writer.cancel()
            return
        writer.result()
        code = await session.exit_code()
        status = final_status(req, code)
        await _send(websocket, ERROR, json.dumps(status).encode())
        await websocket.close()
    except (WebSocketDisconnect, RuntimeError) as e:  # the client closed mid-way
        log.debug("exec connection ended: %s", e)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        session.close()

def install(app: FastAPI, *, exec_path: str = "/api/v1/namespaces/{namespace}/pods/{name}/exec",
            attach_path: str = "/api/v1/namespaces/{namespace}/pods/{name}/attach") -> None:
    """Register the WebSocket routes of exec and attach on ``app``: the kubelet's endpoint serves them
    (kubelet/server.py, ``/exec/{namespace}/{name}/{container}``); the API server proxies to it.

    Starlette's own WebSocket routes, reading the path and ``?container=`` themselves, as the HTTP
    routes read the raw request (app.py): FastAPI's ``add_api_websocket_route`` analyses the
    endpoint's signature, which imports pydantic.v1 at start (≈ 60 ms on the path to ``/readyz``)."""

    def route(attach: bool) -> Any:
        async def session(websocket: WebSocket) -> None:
            p = websocket.path_params
            await serve_ws(app, websocket, p["namespace"], p["name"], attach=attach,
                           container=websocket.query_params.get("container", ""))
        return session

    app.router.add_websocket_route(exec_path, route(False))
    app.router.add_websocket_route(attach_path, route(True))
