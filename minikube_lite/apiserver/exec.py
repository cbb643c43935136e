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

kubectl up to 1.29 only speaks SPDY/3.1 (``POST`` with ``Upgrade: SPDY/3.1``): that request is
answered with a plain Status telling the user to use kubectl 1.30 or newer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..api.errors import ApiError, BadRequest
from ..api.register import by_plural
from .responses import KubeJSONResponse as JSONResponse

log = logging.getLogger(__name__)

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255

OLD_KUBECTL_MESSAGE = (
    "minikube-lite serves exec over WebSocket (v5.channel.k8s.io) only; this client asked for SPDY, "
    "which kubectl 1.29 and older use. Use kubectl 1.30 or newer for kubectl exec / attach."
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


def not_websocket(request: Request) -> JSONResponse:
    """An exec request that is not a WebSocket upgrade (kubectl <= 1.29's SPDY, or curl)."""
    err = BadRequest(OLD_KUBECTL_MESSAGE if "spdy" in request.headers.get("upgrade", "").lower()
                     else "exec needs a WebSocket upgrade (subprotocol v5.channel.k8s.io); "
                          "use kubectl 1.30 or newer")
    return JSONResponse(err.status(), status_code=err.code)


async def _send(ws: WebSocket, channel: int, data: bytes) -> None:
    await ws.send_bytes(bytes([channel]) + data)


async def _fail(ws: WebSocket, status: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):
        await _send(ws, ERROR, json.dumps(status).encode())
        await ws.close()


def install(app: FastAPI) -> None:
    """Register the WebSocket route of ``pods/<name>/exec`` on ``app``."""

    async def exec_ws(websocket: WebSocket, namespace: str, name: str) -> None:
        offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",")]
        protocol = next((p for p in PROTOCOLS if p in offered), None)
        if protocol is None:
            await websocket.close(code=1002, reason="supported subprotocols: " + ", ".join(PROTOCOLS))
            return
        await websocket.accept(subprotocol=protocol)
        q = websocket.query_params
        command = q.getlist("command")
        want_stdin, want_stdout = _flag(q.get("stdin")), _flag(q.get("stdout"))
        want_stderr, tty = _flag(q.get("stderr")), _flag(q.get("tty"))
        try:
            pod = app.state.registry.get(by_plural("pods", ""), namespace, name)
            spec = pod.get("spec") or {}
            names = [c["name"] for c in spec.get("containers") or []]
            container = q.get("container") or (names[0] if names else "")
            if container not in names + [c["name"] for c in spec.get("initContainers") or []]:
                raise BadRequest(f"container {container} is not valid for pod {name}")
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                raise BadRequest(f"cannot exec into a container in a completed pod; current phase is {phase}")
            kubelet = app.state.kubelets.get(spec.get("nodeName"))
            if kubelet is None:
                raise BadRequest(f'pod "{name}" is not running on a node yet')
            session = await kubelet.exec_session(namespace, name, container, command, stdin=want_stdin, tty=tty)
        except ApiError as e:
            await _fail(websocket, e.status())
            return

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
            status = success_status() if not code else exit_status(command, code)
            await _send(websocket, ERROR, json.dumps(status).encode())
            await websocket.close()
        except (WebSocketDisconnect, RuntimeError) as e:  # the client closed mid-way
            log.debug("exec connection ended: %s", e)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            session.close()

    app.add_api_websocket_route("/api/v1/namespaces/{namespace}/pods/{name}/exec", exec_ws)
