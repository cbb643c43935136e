"""Informer: a local cache of one resource kept by list + watch, as client-go's.

``run()`` lists, then watches from the list's resourceVersion; when the watch ends or the
server answers 410 (the resourceVersion is too old) it lists again and goes on. Handlers are
called with ``(event_type, obj)`` for every change and must only note work (push a key onto
a work queue); they never do the work themselves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..api.errors import ApiError, Gone
from .base import Client

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], None]


def object_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


class Informer:
    def __init__(self, client: Client, resource: str, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.cache: dict[str, dict[str, Any]] = {}
        self.synced = asyncio.Event()
        self._handlers: list[Handler] = []

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.cache.get(key)

    def list(self) -> list[dict[str, Any]]:
        return list(self.cache.values())

    def _notify(self, etype: str, obj: dict[str, Any]) -> None:
        for h in self._handlers:
            try:
                h(etype, obj)
            except Exception:  # a handler's bug must not stop the informer
                log.exception("informer handler for %s failed", self.resource)

    async def _relist(self) -> str:
        items, rv = await self.client.list(self.resource, namespace=self.namespace,
                                           label_selector=self.label_selector, field_selector=self.field_selector)
        fresh = {object_key(o): o for o in items}
        for key, old in list(self.cache.items()):
            if key not in fresh:
                del self.cache[key]
                self._notify("DELETED", old)
        for key, obj in fresh.items():
            old = self.cache.get(key)
            self.cache[key] = obj
            if old is None:
                self._notify("ADDED", obj)
            elif old.get("metadata", {}).get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._notify("MODIFIED", obj)
        self.synced.set()
        return rv

    async def run(self) -> None:
        while True:
            try:
                rv = await self._relist()
                async for ev in self.client.watch(self.resource, namespace=self.namespace, resource_version=rv,
                                                  label_selector=self.label_selector,
                                                  field_selector=self.field_selector):
                    if ev.type in ("BOOKMARK", "ERROR"):
                        continue
                    key = object_key(ev.object)
                    if ev.type == "DELETED":
                        self.cache.pop(key, None)
                    else:
                        self.cache[key] = ev.object
                    self._notify(ev.type, ev.object)
            except Gone:
                continue
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                log.warning("informer for %s: %s; relisting in 1s", self.resource, exc)
                await asyncio.sleep(1)
            except Exception:
                log.exception("informer for %s failed; relisting in 1s", self.resource)
                await asyncio.sleep(1)
