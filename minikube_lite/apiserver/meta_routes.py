"""The paths that are not objects: health, /version, discovery (/api, /apis) and OpenAPI.

kube-apiserver serves these beside the resource paths (healthz, the version handler, the
discovery handlers of each group, the OpenAPI v2 and v3 services); here they read the register
through ``discovery.py`` and ``openapi.py``, computed per request or cached per register revision.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from minikube_lite.api.errors import NotFound

from . import discovery, openapi
from .responses import KubeJSONResponse


def add_route(app: Starlette, path: str, endpoint: Any, methods: list[str]) -> None:
    """A route answering exactly ``methods``: Starlette adds HEAD to every GET route, kube-apiserver
    does not (a HEAD there is a 405 whose ``Allow`` names the methods served)."""
    route = Route(path, endpoint, methods=methods)
    route.methods = set(methods)
    app.router.routes.append(route)


def install(app: Starlette, server_address: str) -> None:
    """Add the routes to ``app`` (before its catch-all resource routes)."""

    async def _health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def _version(request: Request) -> Response:
        return KubeJSONResponse(discovery.version())

    async def _api(request: Request) -> Response:
        return KubeJSONResponse(discovery.api_versions(server_address))

    async def _apis(request: Request) -> Response:
        return KubeJSONResponse(discovery.api_group_list())

    async def _openapi_v2(request: Request) -> Response:
        if openapi.v2_wants_protobuf(request.headers.get("accept")):
            return Response(openapi.v2_protobuf(), media_type=openapi.V2_PROTOBUF_CONTENT_TYPE)
        return Response(openapi.v2_json_bytes(), media_type="application/json")

    async def _openapi_v3(request: Request) -> Response:
        return KubeJSONResponse(openapi.v3_root())

    async def _openapi_v3_group(request: Request) -> Response:
        path = request.path_params["path"]
        doc = openapi.v3_group_bytes(path)
        if doc is None:
            raise NotFound("", path)
        return Response(doc, media_type="application/json")

    for path, endpoint in (("/healthz", _health), ("/readyz", _health), ("/livez", _health),
                           ("/version", _version), ("/api", _api), ("/apis", _apis),
                           ("/openapi/v2", _openapi_v2), ("/openapi/v3", _openapi_v3),
                           ("/openapi/v3/{path:path}", _openapi_v3_group)):
        add_route(app, path, endpoint, ["GET"])
