"""Recording core/v1 Events, as client-go's event recorder does (what ``kubectl describe`` lists).

Repeats of the same event (same object, reason, message, source) within the recorder's memory
bump ``count`` and ``lastTimestamp`` instead of creating a new object. Recording never raises:
an event is a courtesy, and a failure to write one must not break the work it describes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from ..api.errors import ApiError
from ..api.times import now_rfc3339
from .base import Client

log = logging.getLogger(__name__)

# (namespace, uid, reason, message, component) -> (event name, count)
_seen: dict[tuple[str, str, str, str, str], tuple[str, int]] = {}
# one lock per key, so two identical events recorded at once make one object with count 2
_locks: dict[tuple[str, str, str, str, str], asyncio.Lock] = {}
_MAX_SEEN = 4096


async def record_event(client: Client, obj: dict[str, Any], reason: str, message: str, *,
                       type_: str = "Normal", component: str = "minikube-lite", field_path: str | None = None,
                       host: str | None = None) -> None:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    involved: dict[str, Any] = {"kind": obj.get("kind"), "namespace": meta.get("namespace"),
                                "name": meta.get("name"), "uid": meta.get("uid"),
                                "apiVersion": obj.get("apiVersion"),
                                "resourceVersion": meta.get("resourceVersion")}
    if field_path:
        involved["fieldPath"] = field_path
    involved = {k: v for k, v in involved.items() if v is not None}
    key = (namespace, str(meta.get("uid")), reason, message, component + (field_path or ""))
    async with _locks.setdefault(key, asyncio.Lock()):
        await _write(client, key, obj, involved, reason, message, type_, component, host)


async def _write(client: Client, key: tuple[str, str, str, str, str], obj: dict[str, Any],
                 involved: dict[str, Any], reason: str, message: str, type_: str, component: str,
                 host: str | None) -> None:
    meta = obj.get("metadata") or {}
    namespace = key[0]
    now = now_rfc3339()
    try:
        seen = _seen.get(key)
        if seen is not None:
            name, count = seen
            try:
                await client.patch("events", name, {"count": count + 1, "lastTimestamp": now},
                                   namespace=namespace)
                _seen[key] = (name, count + 1)
                return
            except ApiError:
                _seen.pop(key, None)
        name = f"{meta.get('name')}.{secrets.token_hex(8)}"
        source: dict[str, Any] = {"component": component}
        if host:
            source["host"] = host
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved, "reason": reason, "message": message, "type": type_,
            "source": source, "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": component, "reportingInstance": host or "",
        }
        await client.create("events", event, namespace=namespace)
        if len(_seen) > _MAX_SEEN:
            _seen.clear()
            _locks.clear()
        _seen[key] = (name, 1)
    except Exception as exc:  # noqa: BLE001 - never let an event break the caller
        log.debug("could not record event %s on %s: %s", reason, meta.get("name"), exc)
