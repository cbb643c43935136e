"""The paths that are not objects: health, /version, discovery (/api, /apis) and OpenAPI.

kube-apiserver serves these beside the resource paths (healthz, the version handler, the
discovery handlers of each group, the OpenAPI v2 and v3 services); here they read the register
through ``discovery.py`` and ``openapi.py``, computed per request or cached per register revision.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from minikube_lite.api.errors import NotFound

from . import discovery, openapi


def install(app: FastAPI, server_address: str) -> None:
    """Add the routes to ``app`` (before its catch-all resource routes)."""

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
