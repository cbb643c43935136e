"""The HTTP face of the API server (FastAPI): Kubernetes' REST paths, discovery, OpenAPI,
Tables, watch streams, Status errors, plus the plain ``POST /apply`` for YAML.

Routing: FastAPI's typed routes cannot tell ``/api/v1/namespaces/x/pods`` (a namespaced
collection) from ``/api/v1/namespaces/x/status`` (a namespace's subresource), so one
catch-all route per verb parses the path against the resource table (``api/resources.py``)
and hands a parsed ``Target`` to the registry.

Every failure leaves as a Kubernetes ``Status`` (never FastAPI's ``{"detail": ...}``), and
no exception escapes a request: the daemon outlives any input.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..api import register
from ..api.errors import (
    ApiError,
    BadRequest,
    Gone,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    UnsupportedMediaType,
)
from ..api.register import by_plural
from ..api.resources import Resource
from ..apiextensions.handler import CRDHandler
from . import discovery, eviction, metrics, openapi, protobuf, scale
from . import exec as exec_routes
from .apply import apply_documents
from .registry import Registry
from .responses import KubeJSONResponse as JSONResponse

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's limit on a request body
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
    """Turn ``v1/namespaces/default/pods/web/status`` (after ``/api/``) into a Target."""
    parts = [p for p in rest.split("/") if p]
    if prefix == "api":
        if not parts or parts[0] != "v1":
            raise NotFound("", rest)
        group, version, parts = "", "v1", parts[1:]
    else:
        if len(parts) < 2:
            raise NotFound("", rest)
        group, version, parts = parts[0], parts[1], parts[2:]
    namespace = None
    if len(parts) >= 3 and parts[0] == "namespaces":
        candidate = by_plural(parts[2], group, version)
        if candidate is not None and candidate.namespaced:
            namespace, parts = parts[1], parts[2:]
    if not parts:
        raise NotFound("", rest)
    res = by_plural(parts[0], group, version)
    if res is None:
        raise ApiError("the server could not find the requested resource", code=404, reason="NotFound",
                       details={"group": group, "kind": parts[0]})
    name = parts[1] if len(parts) > 1 else None
    sub = parts[2] if len(parts) > 2 else None
    if len(parts) > 3 or (sub is not None and sub not in res.subresources):
        raise ApiError("the server could not find the requested resource", code=404, reason="NotFound",
                       details={"group": group, "kind": f"{res.plural}/{sub}"})
    return Target(res, namespace, name, sub)


def status_response(err: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
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


def _bool(v: str | None) -> bool:
    return (v or "").lower() in ("true", "1", "yes")


def _int(v: str | None, name: str) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError as exc:
        raise BadRequest(f'invalid value for {name}: "{v}"') from exc


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


async def read_body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise RequestEntityTooLarge(f"the request is too large: limit is {MAX_BODY} bytes")
    return body


def decode_body(body: bytes, content_type: str) -> Any:
    if "protobuf" in content_type:
        # Typed clients (kubectl create namespace/configmap/secret ...) write protobuf.
        return protobuf.decode_object(body)
    if "cbor" in content_type:
        raise UnsupportedMediaType(f'the body of the request was in an unknown format - accepted media types '
                                   f'include: application/json, application/yaml, '
                                   f'application/apply-patch+yaml (got "{content_type}")')
    if not body.strip():
        raise BadRequest("the request body is empty: send a JSON or YAML object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the request body is not UTF-8 text") from exc
    if "yaml" in content_type:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BadRequest(f"error decoding YAML: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"error decoding JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    except RecursionError as exc:
        raise BadRequest("error decoding JSON: nesting too deep") from exc


@contextlib.asynccontextmanager
async def crd_handler_running(app: FastAPI) -> AsyncIterator[None]:
    """The CRD handler follows the CRD watch while the app serves (the daemon's lifespan runs it too)."""
    task = asyncio.create_task(app.state.crd_handler.run(), name="crd-handler")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


def create_app(registry: Registry, *, server_address: str = "127.0.0.1:8080") -> FastAPI:
    app = FastAPI(title="minikube-lite", openapi_url=None, docs_url=None, redoc_url=None,
                  default_response_class=JSONResponse, lifespan=crd_handler_running)
    app.state.registry = registry
    # apiextensions-apiserver: the kinds of the stored CRDs are served from the first request on
    app.state.crd_handler = CRDHandler(registry)
    app.state.crd_handler.sync()
    app.state.kubelets = {}  # node name -> kubelet (for logs)
    app.state.bookmark_interval = 60.0  # seconds between watch bookmarks, as kube-apiserver (about a minute)
    exec_routes.install(app)  # pods/<name>/exec and attach over WebSocket

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return status_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "BadRequest")
        msg = "the server could not find the requested resource" if exc.status_code == 404 else str(exc.detail)
        return status_response(ApiError(msg, code=exc.status_code, reason=reason))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return status_response(BadRequest(f"invalid request: {exc.errors()}"))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error serving %s %s", request.method, request.url.path)
        return status_response(ApiError(f"Internal error occurred: {type(exc).__name__}: {exc}"))

    # health, version, discovery, openapi

    @app.get("/healthz")
    @app.get("/readyz")
    @app.get("/livez")
    async def _health() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/version")
    async def _version() -> dict[str, Any]:
        return discovery.version()

    @app.get("/api")
    async def _api() -> dict[str, Any]:
        return discovery.api_versions(server_address)

    @app.get("/apis")
    async def _apis() -> dict[str, Any]:
        return discovery.api_group_list()

    @app.get("/openapi/v2")
    async def _openapi_v2(request: Request) -> Response:
        if openapi.v2_wants_protobuf(request.headers.get("accept")):
            return Response(openapi.v2_protobuf(), media_type=openapi.V2_PROTOBUF_CONTENT_TYPE)
        return Response(openapi.v2_json_bytes(), media_type="application/json")

    @app.get("/openapi/v3")
    async def _openapi_v3() -> dict[str, Any]:
        return openapi.v3_root()

    @app.get("/openapi/v3/{path:path}")
    async def _openapi_v3_group(path: str) -> Response:
        doc = openapi.v3_group_bytes(path)
        if doc is None:
            raise NotFound("", path)
        return Response(doc, media_type="application/json")

    # plain YAML apply, for people without kubectl

    @app.post("/apply")
    async def _apply(request: Request) -> JSONResponse:
        body = await read_body(request)
        result, code = apply_documents(
            registry, body, namespace=request.query_params.get("namespace", "default"),
            dry_run=_dry_run(request))
        return JSONResponse(result, status_code=code)

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
                raise MethodNotAllowed(f"the server does not allow this method on the requested resource "
                                       f"({method} {target.res.plural})")
        if target.res.group == metrics.GROUP and target.subresource is None:
            return metrics.handle(request, app.state.kubelets, registry, target.res, target.namespace,
                                  target.name, _wants_table(request))
        if target.subresource == "scale" and target.name is not None:
            return await scale.handle(request, registry, target.res, target.namespace, target.name,
                                      await read_body(request), dry_run=_dry_run(request))
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
        raise MethodNotAllowed(f"{method} is not supported on this path")

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
        timeout = _int(q.get("timeoutSeconds"), "timeoutSeconds") or 1800
        bookmarks = _bool(q.get("allowWatchBookmarks"))
        as_table = _wants_table(request)
        include = q.get("includeObject", "Metadata")
        rv = q.get("resourceVersion")
        send_initial = q.get("sendInitialEvents")
        registry.check_read_version(rv, q.get("resourceVersionMatch"), watch=True,
                                    send_initial_events=send_initial is not None)
        initial: bool | None = None if send_initial is None else _bool(send_initial)
        try:
            events = await registry.watch(target.res, target.namespace, resource_version=rv,
                                          label_selector=q.get("labelSelector"),
                                          field_selector=q.get("fieldSelector"), send_initial_events=initial,
                                          shared=True)
        except Gone as exc:  # as kube-apiserver's watch cache: a 200 stream holding one 410 ERROR event
            gone = (json.dumps({"type": "ERROR", "object": exc.status()}) + "\n").encode()
            return StreamingResponse(iter([gone]), media_type="application/json")
        interval = app.state.bookmark_interval

        def bookmark(rv: str, annotations: dict[str, str] | None = None) -> bytes:
            meta: dict[str, Any] = {"resourceVersion": rv}
            if annotations:
                meta["annotations"] = annotations
            obj = {"kind": target.res.kind, "apiVersion": target.res.api_version, "metadata": meta}
            return (json.dumps({"type": "BOOKMARK", "object": obj}) + "\n").encode()

        async def stream() -> AsyncIterator[bytes]:
            queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()

            async def pump() -> None:
                try:
                    async for ev in events:
                        queue.put_nowait(ev)
                except ApiError as exc:  # e.g. 410 Expired mid-stream: an ERROR event, then the end
                    queue.put_nowait(("ERROR", exc.status()))
                finally:
                    queue.put_nowait(None)

            task = asyncio.create_task(pump())
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            next_bookmark = loop.time() + interval
            first = True
            last_rv = rv or "0"

            def progress() -> str | None:
                # Every write up to the store's revision has reached this watcher once both queues
                # are drained (one event loop does all writes and fan-out), so that revision is safe.
                return str(registry.store.revision) if queue.empty() else None

            # One timer at a time wakes the loop for the next bookmark or the deadline (a TICK in the
            # queue): waiting with asyncio.wait_for would create a task and a timer per event, per
            # watcher, which is most of what many watchers cost the writers.
            tick: tuple[str, Any] = ("TICK", None)
            timer: asyncio.TimerHandle | None = None

            def arm() -> None:
                nonlocal timer
                if timer is None:
                    timer = loop.call_at(min(deadline, next_bookmark) if bookmarks else deadline,
                                         queue.put_nowait, tick)

            try:
                while True:
                    now = loop.time()
                    if now >= deadline:
                        await asyncio.sleep(0)
                        if bookmarks and (at := progress()):
                            yield bookmark(at)  # a last bookmark so the client resumes from here
                        return
                    if bookmarks and now >= next_bookmark:
                        next_bookmark = now + interval
                        await asyncio.sleep(0)
                        if at := progress():
                            yield bookmark(at)
                    arm()
                    item = await queue.get()
                    if item is tick:
                        timer = None
                        continue
                    # Whatever else is already queued goes out in the same chunk: one write for a
                    # burst instead of one per event keeps many watchers cheap for the writers.
                    batch: list[bytes] = []
                    while item is not None:
                        etype, obj = item
                        if etype == "BOOKMARK":  # the end of sendInitialEvents
                            last_rv = obj["metadata"]["resourceVersion"]
                            if bookmarks:
                                batch.append(bookmark(last_rv, obj["metadata"].get("annotations")))
                        elif etype == "ERROR":
                            batch.append((json.dumps({"type": etype, "object": obj}) + "\n").encode())
                        elif as_table:
                            last_rv = obj.obj["metadata"].get("resourceVersion", last_rv)
                            table = register.to_table(target.res, [obj.obj], include_object=include,
                                                    resource_version=last_rv)
                            if not first:
                                table["columnDefinitions"] = []
                            first = False
                            batch.append((json.dumps({"type": etype, "object": table}) + "\n").encode())
                        else:
                            last_rv = obj.obj["metadata"].get("resourceVersion", last_rv)
                            batch.append(obj.watch_line(etype))
                        if len(batch) >= 256 or queue.empty():
                            break
                        item = queue.get_nowait()
                        if item is tick:
                            timer = None
                            break
                    if batch:
                        yield b"".join(batch)
                    if item is None:
                        return
            finally:
                if timer is not None:
                    timer.cancel()
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                with contextlib.suppress(BaseException):
                    await events.aclose()  # type: ignore[attr-defined]

        return StreamingResponse(stream(), media_type="application/json",
                                 headers={"Cache-Control": "no-cache, private"})

    async def create(request: Request, target: Target) -> JSONResponse:
        if target.name is not None:
            raise MethodNotAllowed("POST is not supported on an object path")
        body = decode_body(await read_body(request), request.headers.get("content-type", ""))
        obj, warnings = registry.create(target.res, target.namespace, body, dry_run=_dry_run(request),
                                        field_validation=_field_validation(request),
                                        field_manager=_field_manager(request))
        return _object_response(request, target.res, obj, 201, _warning_headers(warnings))

    async def update(request: Request, target: Target) -> JSONResponse:
        assert target.name is not None
        body = decode_body(await read_body(request), request.headers.get("content-type", ""))
        obj, warnings = registry.update(target.res, target.namespace, target.name, body,
                                        subresource=target.subresource, dry_run=_dry_run(request),
                                        field_validation=_field_validation(request),
                                        field_manager=_field_manager(request))
        return _object_response(request, target.res, obj, 200, _warning_headers(warnings))

    async def patch(request: Request, target: Target) -> JSONResponse:
        assert target.name is not None
        body = await read_body(request)
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
            decoded = decode_body(raw, request.headers.get("content-type", ""))
            if not isinstance(decoded, dict):
                raise BadRequest("DeleteOptions must be an object")
            opts = decoded
        grace = _int(q.get("gracePeriodSeconds"), "gracePeriodSeconds")
        if grace is None and opts.get("gracePeriodSeconds") is not None:
            grace = _int(str(opts["gracePeriodSeconds"]), "gracePeriodSeconds")
        policy = q.get("propagationPolicy") or opts.get("propagationPolicy")
        if policy is not None and not isinstance(policy, str):
            raise BadRequest("propagationPolicy must be a string")
        if opts.get("orphanDependents") is True and not policy:
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
        body = decode_body(await read_body(request), request.headers.get("content-type", ""))
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
        kubelet = app.state.kubelets.get((pod.get("spec") or {}).get("nodeName"))
        if kubelet is None:
            raise BadRequest(f'pod "{target.name}" is not running on a node yet: no logs to show')
        chunks = kubelet.logs(target.namespace, target.name, container,
                              follow=_bool(q.get("follow")), tail_lines=_int(q.get("tailLines"), "tailLines"),
                              previous=_bool(q.get("previous")), timestamps=_bool(q.get("timestamps")),
                              since_seconds=_int(q.get("sinceSeconds"), "sinceSeconds"))
        if _bool(q.get("follow")):
            return StreamingResponse(chunks, media_type="text/plain")
        data = b"".join([c async for c in chunks])
        return Response(data, media_type="text/plain")

    from ..dashboard import install as install_dashboard

    install_dashboard(app)  # the web page at /dashboard/ (a client of the API above, like kubectl)

    for prefix in ("api", "apis"):
        def make(prefix: str = prefix):
            async def handler(request: Request, rest: str) -> Response:
                return await dispatch(request, prefix, rest)
            return handler

        app.add_api_route(f"/{prefix}/{{rest:path}}", make(),
                          methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    return app
