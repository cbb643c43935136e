"""The kubelet's HTTPS endpoint (port 10250 in Kubernetes): what the API server reaches a node on.

kube-apiserver does not run containers: ``kubectl logs``, ``exec``, ``attach`` and
``port-forward`` are proxied by it to the pod's node, to the kubelet's own server, at the node's
address and ``status.daemonEndpoints.kubeletEndpoint.Port``. The paths are the kubelet's:

- ``GET /containerLogs/{namespace}/{pod}/{container}`` (``follow``, ``tailLines``, ``previous``,
  ``timestamps``, ``sinceSeconds``),
- ``/exec/{namespace}/{pod}/{container}``, ``/attach/...`` (WebSocket ``v5``/``v4.channel.k8s.io``
  or SPDY/3.1) and ``/portForward/{namespace}/{pod}`` (SPDY/3.1 or its WebSocket tunnel): the same
  stream code the API server used to run itself (apiserver/exec.py, remotecommand.py,
  portforward.py, upgrade.py), now run here against this kubelet's pods,
- ``GET /healthz``, and ``GET /minikube-lite/resource-metrics``: this node's NodeMetrics and
  PodMetrics as JSON for the API server's metrics.k8s.io (the one path of our own: metrics-server
  would scrape ``/metrics/resource`` in Prometheus text and rebuild the same objects).

TLS with a serving certificate from the cluster CA naming the node's address; a client must
present a certificate from the same CA (kubelet ``--client-ca-file``) and be the API server
(``kube-apiserver-kubelet-client``) or in ``system:masters``; anyone else gets the kubelet's 401
or 403. The port is picked at start (several clusters and nodes share a machine) and written to
the Node's status.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import errno
import logging
import re
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from minikube_lite.api.errors import ApiError, BadRequest, NotFound
from minikube_lite.apiserver.responses import KubeJSONResponse
from minikube_lite.auth import tls
from minikube_lite.auth.nodecerts import KUBELET_CLIENT_GROUP, KUBELET_CLIENT_USER, kubelet_server_context

log = logging.getLogger(__name__)

#: the kubelet's streaming paths: (subresource as the API names it, namespace, pod, container)
KUBELET_STREAM_PATH = re.compile(r"^/(portForward|exec|attach)/([^/]+)/([^/]+)(?:/([^/]+))?$")
_SUBRESOURCE = {"portForward": "portforward", "exec": "exec", "attach": "attach"}


def kubelet_stream_path(path: str) -> tuple[str, str, str, str] | None:
    m = KUBELET_STREAM_PATH.match(path)
    if m is None:
        return None
    return m.group(2), m.group(3), _SUBRESOURCE[m.group(1)], m.group(4) or ""


class _Pods:
    """The registry the stream handlers read, answered from the kubelet's own view of its pods."""

    def __init__(self, kubelet: Any) -> None:
        self.kubelet = kubelet

    def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any]:
        pod = self.kubelet._pods.get(f"{namespace}/{name}")
        if pod is None:
            raise NotFound("pods", name)
        return copy.deepcopy(pod)


def authorize(scope: dict[str, Any]) -> None:
    """The kubelet's authentication and authorisation of a request (raising the ApiError)."""
    who = tls.peer_of(scope)
    if who is None:
        raise ApiError("Unauthorized", code=401, reason="Unauthorized")
    user, groups = who
    if user != KUBELET_CLIENT_USER and KUBELET_CLIENT_GROUP not in groups:
        raise ApiError(f"Forbidden (user={user}, verb=get, resource=nodes, subresource(s)=[proxy])",
                       code=403, reason="Forbidden")


class _Gate:
    """ASGI filter: every HTTP request and WebSocket is authorised before the app sees it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            try:
                authorize(scope)
            except ApiError as e:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008, "reason": e.message})
                    return
                await KubeJSONResponse(e.status(), status_code=e.code)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def check(self, scope: dict[str, Any], verb: str) -> None:
        authorize(scope)


def _flag(v: str | None) -> bool:
    return (v or "").lower() in ("true", "1")


def _int(v: str | None, name: str) -> int | None:
    if v in (None, ""):
        return None
    try:
        return int(v)
    except ValueError:
        raise BadRequest(f"{name}: invalid value {v!r}") from None


def create_app(kubelet: Any) -> FastAPI:
    from minikube_lite.apiserver import exec as exec_routes
    from minikube_lite.apiserver import portforward_ws

    from . import imageload

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.kubelet = kubelet
    app.state.registry = _Pods(kubelet)
    exec_routes.install(app, exec_path="/exec/{namespace}/{name}/{container}",
                        attach_path="/attach/{namespace}/{name}/{container}")
    portforward_ws.install(app, "/portForward/{namespace}/{name}")  # the channel.k8s.io form (Python client)
    imageload.install(app, kubelet)  # minikube-lite image load to a node with an engine of its own

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return KubeJSONResponse(exc.status(), status_code=exc.code)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b"ok", media_type="text/plain")

    @app.get("/minikube-lite/resource-metrics")
    async def resource_metrics() -> Response:
        return KubeJSONResponse({"node": kubelet.node_metrics(), "pods": kubelet.pod_metrics()})

    @app.get("/containerLogs/{namespace}/{name}/{container}")
    async def container_logs(request: Request, namespace: str, name: str, container: str) -> Response:
        q = request.query_params
        follow = _flag(q.get("follow"))
        chunks = kubelet.logs(namespace, name, container, follow=follow,
                              tail_lines=_int(q.get("tailLines"), "tailLines"), previous=_flag(q.get("previous")),
                              timestamps=_flag(q.get("timestamps")),
                              since_seconds=_int(q.get("sinceSeconds"), "sinceSeconds"))
        if not follow:
            return Response(b"".join([c async for c in chunks]), media_type="text/plain")
        try:  # errors (no such container, no previous attempt) before the stream starts: a Status
            first = await chunks.__anext__()
        except StopAsyncIteration:
            first = b""

        async def body() -> AsyncIterator[bytes]:
            yield first
            async for c in chunks:
                yield c
        return StreamingResponse(body(), media_type="text/plain")

    return app


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handlers: the process's own (the daemon's) keep them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


class KubeletServer:
    """Serves :func:`create_app` on ``host`` (the node's address) at a port picked at start."""

    def __init__(self, kubelet: Any, state_dir: Path | None, *, port: int = 0,
                 context: Callable[[str, tuple[str, ...]], ssl.SSLContext] | None = None) -> None:
        """``context``: makes the TLS context from (node, addresses); default: signed with the CA
        of ``state_dir`` (a node of this machine)."""
        self.kubelet, self.wanted_port = kubelet, port
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.context = context or (lambda node, ips: kubelet_server_context(Path(state_dir or "."), node, ips))
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def _bind(self, host: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, self.wanted_port))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL and host != "127.0.0.1":
                # the node's address is not this machine's: the engine runs in another network
                # namespace (or elsewhere), so its bridge's gateway is not ours to listen on
                log.warning("the node's address %s is not on this machine; the kubelet endpoint listens on "
                            "127.0.0.1, where the API server cannot reach it by the Node's address", host)
                sock.close()
                return self._bind("127.0.0.1")
            if not self.wanted_port:
                raise
            sock.bind((host, 0))  # the port of last time is taken: another one, written to the Node
        sock.listen(128)
        sock.setblocking(False)
        return sock

    async def start(self, host: str) -> int:
        """Listen on ``host``; returns the port (the Node's kubeletEndpoint)."""
        from minikube_lite.apiserver.upgrade import default_handlers, streaming_protocol

        ctx = await asyncio.to_thread(self.context, self.kubelet.node_name, tuple(dict.fromkeys((host, "127.0.0.1"))))
        sock = self._bind(host)
        self.port = sock.getsockname()[1]
        gate = _Gate(create_app(self.kubelet))
        protocol = tls.with_peer_identity(streaming_protocol(gate.app, default_handlers(), gate=gate.check,
                                                             match=kubelet_stream_path))
        config = uvicorn.Config(gate, log_level="warning", access_log=False, lifespan="off", http=protocol,
                                timeout_graceful_shutdown=1)
        config.load()
        config.ssl = ctx  # uvicorn's own TLS setup wants files; the context is ours (client certs required)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="kubelet server")
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()
        log.info("kubelet of %s serving on https://%s:%d", self.kubelet.node_name, host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._task, 3)
        self._server, self._task = None, None
