"""Request bodies: read within kube-apiserver's size limit, decoded by their Content-Type.

JSON and YAML as any client sends them, protobuf as client-go's typed clients do (``protobuf.py``);
CBOR is refused with kube-apiserver's 415 wording. Decoding is bounded (``decoding.py``: alias and
depth limits) and runs off the event loop. Its own module so the routes (``app.py``) and
the subresource handlers (``scale.py``) share it without importing each other.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from minikube_lite.api.errors import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from . import decoding, protobuf
from .patch import APPLY_PATCH, PATCH_MEDIA_TYPES
from .patch import media_type as patch_media_type

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's limit on a request body


async def read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise RequestEntityTooLarge(f"the request is too large: limit is {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def decode_body(body: bytes, content_type: str) -> Any:
    """A request body as a value, within ``decoding``'s bounds (any failure a 4xx Status)."""
    if "protobuf" in content_type:
        # Typed clients (kubectl create namespace/configmap/secret ...) write protobuf.
        return protobuf.decode_object(body)
    if "cbor" in content_type:
        raise UnsupportedMediaType(f'the body of the request was in an unknown format - accepted media types '
                                   f'include: application/json, application/yaml, '
                                   f'application/apply-patch+yaml (got "{content_type}")')
    if not body.strip():
        raise BadRequest("the request body is empty: send a JSON or YAML object")
    if "yaml" in content_type:
        return decoding.load_yaml(body)
    return decoding.load_json(body)


async def decode_request(request: Request) -> Any:
    """Read and decode the body off the event loop (``decoding.run_bounded``)."""
    body = await read_body(request)
    return await decoding.run_bounded(decode_body, body, request.headers.get("content-type", ""))


def _decode_patch(body: bytes, content_type: str) -> Any:
    ctype = patch_media_type(content_type)
    if ctype == APPLY_PATCH:
        return decoding.Decoded(decoding.load_yaml(body))
    return decoding.Decoded(decoding.load_json(body, what="invalid JSON in the patch body"))


async def decode_patch(request: Request) -> bytes | decoding.Decoded:
    """A patch body decoded off the event loop when its type is known; else the bytes, for the
    registry to refuse with the right Status."""
    body = await read_body(request)
    ctype = request.headers.get("content-type", "")
    if not body.strip() or patch_media_type(ctype) not in PATCH_MEDIA_TYPES:
        return body
    return await decoding.run_bounded(_decode_patch, body, ctype)
