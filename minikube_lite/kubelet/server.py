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
import copy
import errno
import json
import logging
import re
import socket
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from minikube_lite.api.errors import ApiError, BadRequest, NotFound
from minikube_lite.auth import tls
from minikube_lite.auth.nodecerts import KUBELET_CLIENT_GROUP, KUBELET_CLIENT_USER, kubelet_server_context
from minikube_lite.config import METRICS_KEEPALIVE_SECONDS

from .httpserver import Server

log = logging.getLogger(__name__)

#: the kubelet's streaming paths: (subresource as the API names it, namespace, pod, container)
KUBELET_STREAM_PATH = re.compile(r"^/(portForward|exec|attach)/([^/]+)/([^/]+)(?:/([^/]+))?$")
_SUBRESOURCE = {"portForward": "portforward", "exec": "exec", "attach": "attach"}
_LOGS_PATH = re.compile(r"^/containerLogs/([^/]+)/([^/]+)/([^/]+)$")


def kubelet_stream_path(path: str) -> tuple[str, str, str, str] | None:
    m = KUBELET_STREAM_PATH.match(path)
    if m is None:
        return None
    return m.group(2), m.group(3), _SUBRESOURCE[m.group(1)], m.group(4) or ""


class _Pods:
    """The registry the stream handlers read, answered from the kubelet's own view of its pods."""

    def __init__(self, kubelet: Any) -> None:
        self.kubelet = kubelet

    def get_pod(self, namespace: str | None, name: str) -> dict[str, Any]:
        pod = self.kubelet._pods.get(f"{namespace}/{name}")
        if pod is None:
            raise NotFound("pods", name)
        return copy.deepcopy(pod)

    def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any]:
        return self.get_pod(namespace, name)


def authorize(scope: dict[str, Any]) -> None:
    """The kubelet's authentication and authorisation of a request (raising the ApiError)."""
    who = tls.peer_of(scope)
    if who is None:
        raise ApiError("Unauthorized", code=401, reason="Unauthorized")
    user, groups = who
    if user != KUBELET_CLIENT_USER and KUBELET_CLIENT_GROUP not in groups:
        raise ApiError(f"Forbidden (user={user}, verb=get, resource=nodes, subresource(s)=[proxy])",
                       code=403, reason="Forbidden")


def _flag(v: str | None) -> bool:
    return (v or "").lower() in ("true", "1")


def _int(v: str | None, name: str) -> int | None:
    if v in (None, ""):
        return None
    try:
        return int(v)  # type: ignore[arg-type]
    except ValueError:
        raise BadRequest(f"{name}: invalid value {v!r}") from None


async def _reply(send: Any, code: int, body: bytes, content_type: str = "application/json") -> None:
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _body(receive: Any) -> AsyncIterator[bytes]:
    """An ASGI request's body, chunk by chunk."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if chunk := message.get("body", b""):
            yield chunk
        if not message.get("more_body"):
            return


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class KubeletApp:
    """The endpoint as a plain ASGI application: a handful of fixed paths need no web framework, and
    the node agent (its own process per node) stays small without FastAPI and pydantic (issue 14).
    The WebSocket sessions are the API server's own (apiserver/exec.py, portforward_ws.py)."""

    def __init__(self, kubelet: Any) -> None:
        self.kubelet = kubelet
        self.state = SimpleNamespace(kubelet=kubelet, registry=_Pods(kubelet))

    def check(self, scope: dict[str, Any], verb: str) -> None:
        authorize(scope)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "http":
            try:
                authorize(scope)
                await self._http(scope, receive, send)
            except ApiError as e:
                await _reply(send, e.code, _json(e.status()))

    async def _websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from starlette.websockets import WebSocket

        try:
            authorize(scope)
        except ApiError as e:
            await send({"type": "websocket.close", "code": 1008, "reason": e.message})
            return
        target = kubelet_stream_path(scope["path"])
        if target is None:
            await send({"type": "websocket.close", "code": 1008, "reason": f"no such path {scope['path']}"})
            return
        namespace, name, sub, container = target
        websocket = WebSocket(scope, receive, send)
        if sub == "portforward":
            from minikube_lite.apiserver import portforward_ws

            await portforward_ws.serve_ws(self, websocket, namespace, name)
        else:
            from minikube_lite.apiserver import exec as exec_routes

            await exec_routes.serve_ws(self, websocket, namespace, name, attach=sub == "attach", container=container)

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from . import imageload

        path, method = scope["path"], scope["method"]
        if path == imageload.PATH and method == "POST":
            await _reply(send, 200, _json(await imageload.load(self.kubelet, _body(receive))))
        elif method not in ("GET", "HEAD"):
            await _reply(send, 405, b"405 method not allowed", "text/plain")
        elif path == "/healthz":
            await _reply(send, 200, b"ok", "text/plain")
        elif path == "/minikube-lite/resource-metrics":
            await _reply(send, 200, _json({"node": self.kubelet.node_metrics(), "pods": self.kubelet.pod_metrics(),
                                           "sampledAt": self.kubelet.metrics_sampled_at,
                                           "resolution": self.kubelet.metrics_resolution}))
        elif m := _LOGS_PATH.match(path):
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"),
                                                                keep_blank_values=True).items()}
            await self._logs(send, *m.groups(), query)
        elif KUBELET_STREAM_PATH.match(path):
            await _reply(send, 400, _json(BadRequest("Upgrade request required").status()))
        else:
            await _reply(send, 404, b"404 page not found", "text/plain")

    async def _logs(self, send: Any, namespace: str, name: str, container: str, q: dict[str, str]) -> None:
        follow = _flag(q.get("follow"))
        chunks: AsyncIterator[bytes] = self.kubelet.logs(
            namespace, name, container, follow=follow, tail_lines=_int(q.get("tailLines"), "tailLines"),
            previous=_flag(q.get("previous")), timestamps=_flag(q.get("timestamps")),
            since_seconds=_int(q.get("sinceSeconds"), "sinceSeconds"))
        if not follow:
            await _reply(send, 200, b"".join([c async for c in chunks]), "text/plain")
            return
        try:  # errors (no such container, no previous attempt) before the stream starts: a Status
            first = await chunks.__anext__()
        except StopAsyncIteration:
            first = b""
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": first, "more_body": True})
        async for c in chunks:
            await send({"type": "http.response.body", "body": c, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def create_app(kubelet: Any) -> KubeletApp:
    return KubeletApp(kubelet)


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
        self._server: Server | None = None
        self._app: Any = None  # the KubeletApp, once started
        self._handlers: dict[str, Any] | None = None

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
        ctx = await asyncio.to_thread(self.context, self.kubelet.node_name, tuple(dict.fromkeys((host, "127.0.0.1"))))
        sock = self._bind(host)
        self.port = sock.getsockname()[1]
        self._app = create_app(self.kubelet)
        server = Server(self._app, self._upgrade, keepalive=METRICS_KEEPALIVE_SECONDS + 15)
        await server.start(sock, ctx)
        self._server = server
        log.info("kubelet of %s serving on https://%s:%d", self.kubelet.node_name, host, self.port)
        return self.port

    async def _upgrade(self, transport: asyncio.Transport, scope: dict[str, Any], url: str, tunnel: bool) -> None:
        """A SPDY upgrade (or port-forward tunnel): the stream code (SPDY, exec, attach, port-forward:
        ~0.25 MB) is imported with the first, not by every idle node agent (issue 14)."""
        from minikube_lite.apiserver.upgrade import default_handlers, serve_upgrade

        if self._handlers is None:
            self._handlers = default_handlers()
        await serve_upgrade(transport, scope, url, tunnel, app=self._app, handlers=self._handlers,
                            gate=self._app.check, match=kubelet_stream_path)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
        self._server = None
