"""The HTTP face of the API server (FastAPI): Kubernetes' REST paths, discovery, OpenAPI,
Tables, watch streams, Status errors, plus the plain ``POST /apply`` for YAML.

The application is FastAPI's (the project's fixed shape), but its routes are Starlette's own
``Route``s that read the raw request: no typed parameters and no generated OpenAPI
(``/openapi/v2`` and ``v3`` are Kubernetes' documents, built in ``openapi.py``), and a route
answers exactly its methods (meta_routes.add_route).

Routing: typed routes cannot tell ``/api/v1/namespaces/x/pods`` (a namespaced
collection) from ``/api/v1/namespaces/x/status`` (a namespace's subresource), so one
catch-all route per verb parses the path against the resource table (``api/resources.py``)
and hands a parsed ``Target`` to the registry.

Every failure leaves as a Kubernetes ``Status`` (never a framework's ``{"detail": ...}``), and
no exception escapes a request: the daemon outlives any input.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from ..api import register
from ..api.errors import (
    ApiError,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PageNotFound,
    RouteNotFound,
)
from ..api.register import by_plural
from ..api.resources import Resource
from ..api.serviceaccounts import is_review
from ..apiextensions.handler import CRDHandler
from ..auth.rbac import UserInfo
from ..store.base import StoreFull
from . import decoding, discovery, eviction, meta_routes, metrics, nodeproxy, portforward_ws, query, scale
from . import exec as exec_routes
from . import watch as watch_stream
from .apply import apply_documents, parse_documents
from .bodies import MAX_BODY, decode_body, decode_patch, decode_request, read_body  # noqa: F401
from .inflight import MaxInFlight
from .registry import Registry
from .responses import KubeJSONResponse as JSONResponse

log = logging.getLogger(__name__)

_TABLE_MARK = "as=table"


_VERBS = {("GET", True): "list", ("POST", True): "create", ("DELETE", True): "deletecollection",
          ("GET", False): "get", ("PUT", False): "update", ("PATCH", False): "patch", ("DELETE", False): "delete"}


@dataclass
class Target:
    res: Resource
    namespace: str | None
    name: str | None
    subresource: str | None


def parse_path(prefix: str, rest: str) -> Target:
    """Turn ``v1/namespaces/default/pods/web/status`` (after ``/api/``) into a Target.

    As kube-apiserver: a group-version not served is a plain ``404 page not found``; an unknown
    resource or subresource under a served one is a Status with no group/kind (``RouteNotFound``)."""
    parts = [p for p in rest.split("/") if p]
    if prefix == "api":
        if not parts or parts[0] != "v1":
            raise PageNotFound()
        group, version, parts = "", "v1", parts[1:]
    else:
        if len(parts) < 2:
            raise PageNotFound()
        group, version, parts = parts[0], parts[1], parts[2:]
    if version not in register.groups().get(group, ()):
        raise PageNotFound()
    namespace = None
    if len(parts) >= 3 and parts[0] == "namespaces":
        candidate = by_plural(parts[2], group, version)
        if candidate is not None and candidate.namespaced:
            namespace, parts = parts[1], parts[2:]
    if not parts:
        raise RouteNotFound()
    res = by_plural(parts[0], group, version)
    if res is None:
        raise RouteNotFound()
    name = parts[1] if len(parts) > 1 else None
    sub = parts[2] if len(parts) > 2 else None
    if len(parts) > 3 or (sub is not None and sub not in res.subresources):
        raise RouteNotFound()
    return Target(res, namespace, name, sub)


def status_response(err: ApiError, headers: dict[str, str] | None = None) -> Response:
    if isinstance(err, PageNotFound):
        return PlainTextResponse(err.text, status_code=404, headers=headers)
    return JSONResponse(err.status(), status_code=err.code, headers=headers)


def _wants_table(request: Request) -> bool:
    return _TABLE_MARK in request.headers.get("accept", "").replace(" ", "").lower()


def _warning_headers(warnings: list[str]) -> dict[str, str]:
    if not warnings:
        return {}
    # Starlette joins repeated headers poorly; one header holding several warnings is valid HTTP.
    # Header values must be Latin-1 without line breaks: escape the rest (field names come from users).
    return {"Warning": ", ".join(f'299 - "{_header_text(w)}"' for w in warnings)}


def _header_text(text: str) -> str:
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return "".join(c if " " <= c <= "~" else c.encode("unicode_escape").decode("ascii") for c in text)


_bool = query.go_bool


def _int(v: str | None, name: str) -> int | None:
    return query.go_int64(v)


_SUBRESOURCE_METHODS = {
    "status": "GET, PATCH, PUT", "scale": "GET, PATCH, PUT", "ephemeralcontainers": "GET, PATCH, PUT",
    "binding": "POST", "eviction": "POST", "log": "GET", "exec": "GET, POST", "attach": "GET, POST",
    "portforward": "GET, POST",
}


def _allowed_methods(target: Target) -> str | None:
    """The ``Allow`` header of a 405: the methods the path serves (None: a subresource not listed,
    left to its handler)."""
    if target.subresource is not None:
        return _SUBRESOURCE_METHODS.get(target.subresource)
    verbs = target.res.verbs
    pairs = ([("GET", "list"), ("POST", "create"), ("DELETE", "deletecollection")] if target.name is None
             else [("GET", "get"), ("PUT", "update"), ("PATCH", "patch"), ("DELETE", "delete")])
    return ", ".join(m for m, v in pairs if v in verbs)


def _not_allowed(target: Target, message: str) -> MethodNotAllowed:
    err = MethodNotAllowed(message)
    allowed = _allowed_methods(target)
    if allowed is not None:
        err.headers = {"Allow": allowed}  # type: ignore[attr-defined]
    return err


def _dry_run(request: Request) -> bool:
    values = request.query_params.getlist("dryRun")
    for v in values:
        if v != "All":
            raise BadRequest(f'Invalid dry run value "{v}": supported value is All')
    return bool(values)


def _field_manager(request: Request, *, apply: bool = False) -> str | None:
    """``?fieldManager=``, else (except for apply, where it is required) the User-Agent's product
    name, as kube-apiserver does (``kubectl``, ``OpenAPI-Generator`` ...)."""
    manager = request.query_params.get("fieldManager")
    if manager:
        if len(manager) > 128:
            raise BadRequest("fieldManager: must be at most 128 characters")
        return manager
    if apply:
        return None
    agent = request.headers.get("user-agent", "").split("/")[0].strip()
    return agent[:128] or "unknown"


def _field_validation(request: Request, default: str = "Warn") -> str:
    v = request.query_params.get("fieldValidation") or default
    if v not in ("Strict", "Warn", "Ignore"):
        raise BadRequest(f'fieldValidation "{v}" is not supported: use Strict, Warn or Ignore')
    return v


@contextlib.asynccontextmanager
async def crd_handler_running(app: Starlette) -> AsyncIterator[None]:
    """The CRD handler follows the CRD watch while the app serves (the daemon's lifespan runs it too)."""
    task = asyncio.create_task(app.state.crd_handler.run(), name="crd-handler")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


def create_app(registry: Registry, *, server_address: str = "127.0.0.1:8080", max_requests_inflight: int = 400,
               max_mutating_requests_inflight: int = 200) -> FastAPI:
    app = FastAPI(title="minikube-lite", openapi_url=None, docs_url=None, redoc_url=None,
                  lifespan=crd_handler_running)
    app.add_middleware(MaxInFlight, max_requests_inflight=max_requests_inflight,
                       max_mutating_requests_inflight=max_mutating_requests_inflight)
    app.state.registry = registry
    # apiextensions-apiserver: the kinds of the stored CRDs are served from the first request on
    app.state.crd_handler = CRDHandler(registry)
    app.state.crd_handler.sync()
    app.state.kubelet_tls = None  # the daemon's TLS context to the kubelets' endpoints (nodeproxy.py)
    app.state.bookmark_interval = 60.0  # seconds between watch bookmarks, as kube-apiserver (about a minute)
    # exec, attach and port-forward of a pod on a node are the kubelet's (kubelet/server.py): the
    # daemon's HTTP protocol proxies those upgrades to it (nodeproxy.py). These routes answer the
    # WebSockets of a pod that is missing or on no node, with the error on the stream's channel.
    exec_routes.install(app)
    portforward_ws.install(app)

    async def _api_error(request: Request, exc: ApiError) -> Response:
        return status_response(exc, getattr(exc, "headers", None))

    async def _store_full(request: Request, exc: StoreFull) -> Response:
        log.error("write refused: %s", exc)
        return status_response(ApiError(str(exc), code=507, reason="InsufficientStorage"))

    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return status_response(PageNotFound())
        reason = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "BadRequest")
        msg = "the server could not find the requested resource" if exc.status_code == 404 else str(exc.detail)
        if exc.status_code == 405:
            msg = "the server does not allow this method on the requested resource"
        return status_response(ApiError(msg, code=exc.status_code, reason=reason), getattr(exc, "headers", None))

    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, RecursionError):  # a backstop: bodies are depth-checked when decoded
            log.warning("nesting too deep serving %s %s", request.method, request.url.path)
            return status_response(BadRequest(f"the object is nested too deeply to be handled (more than "
                                              f"{decoding.MAX_DEPTH} levels are refused)"))
        log.exception("internal error serving %s %s", request.method, request.url.path)
        return status_response(ApiError(f"Internal error occurred: {type(exc).__name__}: {exc}"))

    for exc_class, handler in ((ApiError, _api_error), (StoreFull, _store_full),
                               (StarletteHTTPException, _http_error), (Exception, _unexpected)):
        app.add_exception_handler(exc_class, handler)  # type: ignore[arg-type]

    meta_routes.install(app, server_address)  # health, version, discovery, OpenAPI

    # plain YAML apply, for people without kubectl

    async def _apply(request: Request) -> JSONResponse:
        docs = await decoding.run_bounded(parse_documents, await read_body(request))
        result, code = apply_documents(
            registry, docs, namespace=request.query_params.get("namespace", "default"),
            dry_run=_dry_run(request))
        return JSONResponse(result, status_code=code)

    meta_routes.add_route(app, "/apply", _apply, ["POST"])

    # the Kubernetes REST paths

    async def dispatch(request: Request, prefix: str, rest: str) -> Response:
        if prefix == "api" and rest.strip("/") == "v1":
            return JSONResponse(discovery.api_resource_list("", "v1"))
        if prefix == "apis":
            parts = [p for p in rest.split("/") if p]
            if len(parts) == 1:
                group = discovery.api_group(parts[0])
                if group is None:
                    raise NotFound("", rest)
                return JSONResponse(group)
            if len(parts) == 2:
                lst = discovery.api_resource_list(parts[0], parts[1])
                if lst is None:
                    raise NotFound("", rest)
                return JSONResponse(lst)
        target = parse_path(prefix, rest)
        method = request.method
        if target.subresource is None:
            verb = _VERBS.get((method, target.name is None), "")
            if verb == "list" and _bool(request.query_params.get("watch")):
                verb = "watch"
            if verb not in target.res.verbs:
                raise _not_allowed(target, f"the server does not allow this method on the requested resource "
                                           f"({method} {target.res.plural})")
            query.check(request.query_params, verb)
        elif (allowed := _allowed_methods(target)) is not None and method not in allowed.split(", "):
            raise _not_allowed(target, f"the server does not allow this method on the requested resource "
                                       f"({method} {target.res.plural}/{target.subresource})")
        elif target.subresource == "log":
            query.check(request.query_params, "log")
        elif method in ("PUT", "PATCH", "POST"):
            query.check(request.query_params, "patch")
        if method == "POST" and (target.subresource == "token" or is_review(target.res)):
            answer = await auth_answer(request, target)
            if answer is not None:
                return JSONResponse(answer, status_code=201)
        if target.res.group == metrics.GROUP and target.subresource is None:
            return await metrics.handle(request, app, registry, target.res, target.namespace,
                                        target.name, _wants_table(request))
        if target.subresource == "scale" and target.name is not None:
            return await scale.handle(request, registry, target.res, target.namespace, target.name,
                                      await decode_patch(request), dry_run=_dry_run(request))
        if target.subresource == "log" and method == "GET":
            return await pod_logs(request, target)
        if target.subresource in ("exec", "attach", "portforward"):
            return exec_routes.not_websocket(request)
        if target.subresource == "eviction" and target.name is not None:
            if method != "POST":
                raise MethodNotAllowed(f"{method} is not supported on pods/eviction: POST a policy/v1 Eviction")
            body = decode_body(await read_body(request), request.headers.get("content-type", ""))
            status = eviction.evict(registry, target.namespace or "default", target.name, body,
                                    dry_run=_dry_run(request))
            return JSONResponse(status, status_code=201)
        if target.name is None:
            if method == "GET":
                if _bool(request.query_params.get("watch")):
                    return await watch(request, target)
                return list_objects(request, target)
            if method == "POST":
                return await create(request, target)
            if method == "DELETE":
                return await delete_collection(request, target)
        else:
            if method == "GET":
                registry.check_read_version(request.query_params.get("resourceVersion"), None)
                obj = registry.get(target.res, target.namespace, target.name)
                return _object_response(request, target.res, obj)
            if method == "PUT":
                return await update(request, target)
            if method == "PATCH":
                return await patch(request, target)
            if method == "DELETE":
                return await delete(request, target)
            if method == "POST" and target.subresource == "binding":
                return await bind(request, target)
        raise _not_allowed(target, f"{method} is not supported on this path")

    async def auth_answer(request: Request, target: Target) -> dict[str, Any] | None:
        """TokenRequest and the review kinds: answered from the caller, never stored (authapi.py)."""
        api = getattr(app.state, "auth", None)
        if api is None:
            raise BadRequest("authentication and authorization are off on this API server")
        user = request.scope.get("state", {}).get("user") or UserInfo("system:admin", "", ("system:masters",))
        body = decode_body(await read_body(request), request.headers.get("content-type", ""))
        return api.answer(user, target.res, target.namespace, target.name, target.subresource, body)

    def _object_response(request: Request, res: Resource, obj: dict[str, Any], status_code: int = 200,
                         headers: dict[str, str] | None = None) -> JSONResponse:
        if _wants_table(request):
            table = register.to_table(res, [obj], include_object=request.query_params.get(
                "includeObject", "Metadata"), resource_version=obj["metadata"].get("resourceVersion", ""))
            return JSONResponse(table, status_code=status_code, headers=headers)
        return JSONResponse(obj, status_code=status_code, headers=headers)

    def list_objects(request: Request, target: Target) -> Response:
        q = request.query_params
        registry.check_read_version(q.get("resourceVersion"), q.get("resourceVersionMatch"))
        cached, rv, cont = registry.list(
            target.res, target.namespace, label_selector=q.get("labelSelector"),
            field_selector=q.get("fieldSelector"), limit=_int(q.get("limit"), "limit"),
            continue_token=q.get("continue"), shared=True)
        if _wants_table(request):
            table = register.to_table(target.res, [c.obj for c in cached],
                                    include_object=q.get("includeObject", "Metadata"), resource_version=rv)
            if cont:
                table["metadata"]["continue"] = cont
            return Response(json.dumps(table, separators=(",", ":")).encode(), media_type="application/json")
        meta: dict[str, Any] = {"resourceVersion": rv}
        if cont:
            meta["continue"] = cont
        # Each object's JSON is cached with it: a list is a join of ready-made pieces.
        head = json.dumps({"kind": target.res.list_kind, "apiVersion": target.res.api_version, "metadata": meta},
                          separators=(",", ":")).encode()
        body = head[:-1] + b',"items":[' + b",".join(c.json() for c in cached) + b"]}"
        return Response(body, media_type="application/json")

    async def watch(request: Request, target: Target) -> StreamingResponse:
        q = request.query_params
        send_initial = q.get("sendInitialEvents")
        return await watch_stream.serve(
            registry, target.res, target.namespace, q,
            timeout=_int(q.get("timeoutSeconds"), "timeoutSeconds") or 1800,
            bookmarks=_bool(q.get("allowWatchBookmarks")), as_table=_wants_table(request),
            send_initial=None if send_initial is None else _bool(send_initial),
            bookmark_interval=app.state.bookmark_interval)

    async def create(request: Request, target: Target) -> JSONResponse:
        if target.name is not None:
            raise _not_allowed(target, "POST is not supported on an object path")
        body = await decode_request(request)
        obj, warnings = registry.create(target.res, target.namespace, body, dry_run=_dry_run(request),
                                        field_validation=_field_validation(request),
                                        field_manager=_field_manager(request))
        return _object_response(request, target.res, obj, 201, _warning_headers(warnings))

    async def update(request: Request, target: Target) -> JSONResponse:
        assert target.name is not None
        body = await decode_request(request)
        obj, warnings = registry.update(target.res, target.namespace, target.name, body,
                                        subresource=target.subresource, dry_run=_dry_run(request),
                                        field_validation=_field_validation(request),
                                        field_manager=_field_manager(request))
        return _object_response(request, target.res, obj, 200, _warning_headers(warnings))

    async def patch(request: Request, target: Target) -> JSONResponse:
        assert target.name is not None
        body = await decode_patch(request)
        q = request.query_params
        obj, created, warnings = registry.patch(
            target.res, target.namespace, target.name, body, request.headers.get("content-type", ""),
            subresource=target.subresource, dry_run=_dry_run(request),
            field_validation=_field_validation(request),
            field_manager=_field_manager(request, apply="apply-patch" in request.headers.get("content-type", "")),
            force=_bool(q.get("force")))
        return _object_response(request, target.res, obj, 201 if created else 200, _warning_headers(warnings))

    async def delete_options(request: Request) -> dict[str, Any]:
        """DeleteOptions from the query and the body (kubectl sends them as a JSON body)."""
        q = request.query_params
        opts: dict[str, Any] = {}
        raw = await read_body(request)
        if raw.strip():
            decoded = await decoding.run_bounded(decode_body, raw, request.headers.get("content-type", ""))
            if not isinstance(decoded, dict):
                raise BadRequest("DeleteOptions must be an object")
            opts = decoded
        grace = _int(q.get("gracePeriodSeconds"), "gracePeriodSeconds")
        if grace is None and opts.get("gracePeriodSeconds") is not None:
            grace = opts["gracePeriodSeconds"]
            if isinstance(grace, bool) or not isinstance(grace, int) \
                    or not query.INT64_MIN <= grace <= query.INT64_MAX:
                raise BadRequest(f"json: cannot unmarshal {json.dumps(grace)[:40]} into Go struct field "
                                 "DeleteOptions.gracePeriodSeconds of type int64")
        policy = q.get("propagationPolicy") or opts.get("propagationPolicy")
        if policy is not None and not isinstance(policy, str):
            raise BadRequest("propagationPolicy must be a string")
        if (opts.get("orphanDependents") is True or _bool(q.get("orphanDependents"))) and not policy:
            policy = "Orphan"
        body_dry = opts.get("dryRun") or []
        if not isinstance(body_dry, list) or any(v != "All" for v in body_dry):
            raise BadRequest(f"Invalid dry run value {body_dry!r}: supported value is All")
        preconditions = opts.get("preconditions")
        if preconditions is not None and not isinstance(preconditions, dict):
            raise BadRequest("preconditions must be an object")
        return {"grace_period_seconds": grace, "propagation_policy": policy or None,
                "preconditions": preconditions, "dry_run": _dry_run(request) or bool(body_dry)}

    async def delete(request: Request, target: Target) -> JSONResponse:
        assert target.name is not None
        opts = await delete_options(request)
        obj, finished = registry.delete(target.res, target.namespace, target.name, **opts)
        return JSONResponse(obj, status_code=200 if finished or target.res.plural == "pods" else 202)

    async def delete_collection(request: Request, target: Target) -> JSONResponse:
        q = request.query_params
        opts = await delete_options(request)
        opts.pop("preconditions", None)
        items, _, _ = registry.list(target.res, target.namespace, label_selector=q.get("labelSelector"),
                                    field_selector=q.get("fieldSelector"))
        deleted = []
        for obj in items:
            meta = obj["metadata"]
            with contextlib.suppress(NotFound):
                deleted.append(registry.delete(target.res, meta.get("namespace"), meta["name"], **opts)[0])
        return JSONResponse({"kind": target.res.list_kind, "apiVersion": target.res.api_version,
                             "metadata": {"resourceVersion": str(registry.store.revision)}, "items": deleted})

    async def bind(request: Request, target: Target) -> JSONResponse:
        """``pods/<name>/binding``: what a scheduler posts to put a pod on a node."""
        assert target.name is not None
        body = await decode_request(request)
        node = ((body or {}).get("target") or {}).get("name") if isinstance(body, dict) else None
        if not node:
            raise BadRequest("a Binding needs target.name (the node)")
        registry.bind(target.namespace or "default", target.name, node)
        return JSONResponse({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "code": 201}, status_code=201)

    async def pod_logs(request: Request, target: Target) -> Response:
        assert target.name is not None
        pod = registry.get(target.res, target.namespace, target.name)
        q = request.query_params
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        container = q.get("container")
        if not container:
            if len(containers) != 1:
                raise BadRequest(f"a container name must be specified for pod {target.name}, "
                                 f"choose one of: [{' '.join(containers)}]")
            container = containers[0]
        others = [c["name"] for key in ("initContainers", "ephemeralContainers")
                  for c in (pod.get("spec") or {}).get(key) or []]
        if container not in containers + others:
            raise BadRequest(f"container {container} is not valid for pod {target.name}")
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            raise BadRequest(f'pod "{target.name}" is not running on a node yet: no logs to show')
        # the kubelet's containerLogs, through the node's HTTPS endpoint (nodeproxy.py), as kube-apiserver
        params = {k: q.get(k) for k in ("follow", "tailLines", "previous", "timestamps", "sinceSeconds")
                  if q.get(k) is not None}
        _int(q.get("tailLines"), "tailLines")
        _int(q.get("sinceSeconds"), "sinceSeconds")
        path = (f"/containerLogs/{urllib.parse.quote(target.namespace or 'default')}/"
                f"{urllib.parse.quote(target.name)}/{urllib.parse.quote(container)}")
        if params:
            path += "?" + urllib.parse.urlencode(params)
        code, chunks = await nodeproxy.get(app, node, path)
        if code >= 400:
            data = b"".join([c async for c in chunks])
            return Response(data, status_code=code, media_type="application/json")
        if _bool(q.get("follow")):
            return StreamingResponse(chunks, media_type="text/plain")
        data = b"".join([c async for c in chunks])
        return Response(data, media_type="text/plain")

    from ..dashboard import install as install_dashboard

    install_dashboard(app)  # the web page at /dashboard/ (a client of the API above, like kubectl)

    for prefix in ("api", "apis"):
        def make(prefix: str = prefix):
            async def handler(request: Request) -> Response:
                return await dispatch(request, prefix, request.path_params["rest"])
            return handler

        meta_routes.add_route(app, f"/{prefix}/{{rest:path}}", make(), ["GET", "POST", "PUT", "PATCH", "DELETE"])
    return app
