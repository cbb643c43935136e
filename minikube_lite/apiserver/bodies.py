"""Request bodies: read within kube-apiserver's size limit, decoded by their Content-Type.

JSON and YAML as any client sends them, protobuf as client-go's typed clients do (``protobuf.py``);
CBOR is refused with kube-apiserver's 415 wording. Its own module so the routes (``app.py``) and
the subresource handlers (``scale.py``) share it without importing each other.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from fastapi import Request

from minikube_lite.api.errors import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from . import protobuf

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's limit on a request body


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
