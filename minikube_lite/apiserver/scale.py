"""The ``/scale`` subresource of Deployments and ReplicaSets (``autoscaling/v1`` Scale).

``kubectl scale deploy/web --replicas=5`` sends a merge patch ``{"spec":{"replicas":5}}`` to
``.../deployments/web/scale``; with ``--current-replicas`` or ``--resource-version`` it GETs the
Scale and PUTs it back, and a stale ``metadata.resourceVersion`` must be a 409 Conflict. The
Scale is a view: reading it builds one from the parent (``spec.replicas``, ``status.replicas``,
the selector as a string), writing it changes only the parent's ``spec.replicas`` through the
registry, so generation, validation and watch behave exactly as for any other update.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from ..api import register
from ..api.errors import ApiError, BadRequest, Conflict, Invalid, MethodNotAllowed, cause
from ..api.resources import Resource
from .bodies import decode_body
from .patch import apply_patch
from .registry import _OPTIMISTIC_MSG, Registry
from .responses import KubeJSONResponse as JSONResponse


def selector_string(selector: dict[str, Any] | None) -> str:
    """A LabelSelector as the string Scale.status.selector carries (``app=web,tier in (a,b)``)."""
    selector = selector or {}
    if selector and not {"matchLabels", "matchExpressions"} & set(selector):
        selector = {"matchLabels": selector}  # a ReplicationController's selector is a plain label map
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        key, op, values = e.get("key"), e.get("operator"), ",".join(sorted(e.get("values") or []))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": f"{key}",
                      "DoesNotExist": f"!{key}"}.get(op or "", f"{key}"))
    return ",".join(parts)


def to_scale(obj: dict[str, Any]) -> dict[str, Any]:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {"replicas": status.get("replicas", 0), "selector": selector_string(spec.get("selector"))},
    }


def scale_of(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """The kind's Scale view (a custom kind maps it from its CRD's paths), else the built-in one."""
    try:
        scale = register.kind_for(res).strategy.to_scale(obj)
    except ValueError as exc:  # a custom object whose replicas path holds no integer
        raise ApiError(str(exc), code=500, reason="InternalError") from exc
    return scale if scale is not None else to_scale(obj)


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "bool", int: "number", float: "number"}.get(type(value), "value")


def write_scale(registry: Registry, res: Resource, namespace: str | None, name: str, scale: Any, *,
           dry_run: bool) -> dict[str, Any]:
    if not isinstance(scale, dict):
        raise BadRequest("the body of the request must be a Scale object")
    for part in ("metadata", "spec", "status"):  # as Go's decoder: each must be an object
        if scale.get(part) is not None and not isinstance(scale[part], dict):
            raise BadRequest(f'Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal '
                             f'{_json_kind(scale[part])} into Go struct field Scale.{part} of type v1.Scale'
                             f'{part.capitalize() if part != "metadata" else "ObjectMeta"}')
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise Invalid("Scale", name, [cause("spec.replicas", f"Invalid value: {json.dumps(replicas)}: "
                                            "must be of type integer", "FieldValueTypeInvalid")], "autoscaling")
    if replicas < 0:
        raise Invalid("Scale", name, [cause("spec.replicas", f"Invalid value: {replicas}: must be greater "
                                            "than or equal to 0")], "autoscaling")
    entry = registry._get_entry(res, namespace, name)
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    if rv and rv != str(entry.mod_rev):
        raise Conflict(res.plural, name, _OPTIMISTIC_MSG, res.group)
    obj = registry.get(res, namespace, name)
    scaled = register.kind_for(res).strategy.with_replicas(obj, replicas)
    if scaled is None:
        obj.setdefault("spec", {})["replicas"] = replicas
        scaled = obj
    scaled["metadata"]["resourceVersion"] = str(entry.mod_rev)  # the write is conditional on what was read
    updated, _ = registry.update(res, namespace, name, scaled, dry_run=dry_run, field_validation="Ignore")
    return scale_of(res, updated)


async def handle(request: Request, registry: Registry, res: Resource, namespace: str | None, name: str,
                 body: bytes, *, dry_run: bool) -> JSONResponse:
    """GET, PUT or PATCH on ``<plural>/<name>/scale``."""
    method = request.method
    if method == "GET":
        return JSONResponse(scale_of(res, registry.get(res, namespace, name)))
    if method == "PUT":
        scale = decode_body(body, request.headers.get("content-type", ""))
        return JSONResponse(write_scale(registry, res, namespace, name, scale, dry_run=dry_run))
    if method == "PATCH":
        current = scale_of(res, registry.get(res, namespace, name))
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/apply-patch+yaml":
            raise BadRequest("server-side apply is not supported on the scale subresource")
        patched = apply_patch(current, body, ctype, "Scale")
        if isinstance(patched, dict) and (patched.get("metadata") or {}).get("resourceVersion") == \
                current["metadata"].get("resourceVersion"):
            patched["metadata"].pop("resourceVersion", None)  # no precondition asked for
        return JSONResponse(write_scale(registry, res, namespace, name, patched, dry_run=dry_run))
    err = MethodNotAllowed(f"{method} is not supported on the scale subresource")
    err.headers = {"Allow": "GET, PATCH, PUT"}  # type: ignore[attr-defined]
    raise err
