"""The in-process client: the Client interface served by the API server's registry directly.

Components in the daemon (scheduler, kubelet, proxy, controllers) use it instead of HTTP:
the same validation and watch semantics, without serialising every object. Objects handed
out are the caller's own copies, so a component may change what it got without touching
anyone else's view.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

from ..api.errors import BadRequest
from ..api.register import by_plural
from ..api.resources import Resource
from ..apiserver.registry import Registry
from .base import PatchType, WatchEvent

_PATCH_TYPES = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


def _resource(plural: str) -> Resource:
    """``pods``, or ``plural.group`` as kubectl writes it (``widgets.example.com``) to pick a group."""
    name, _, group = plural.partition(".")
    res = by_plural(name, group) if group else by_plural(plural)
    if res is None:
        raise BadRequest(f'the server doesn\'t have a resource type "{plural}"')
    return res


def _ns(res: Resource, namespace: str | None, obj: dict[str, Any] | None = None) -> str | None:
    if not res.namespaced:
        return None
    return namespace or ((obj or {}).get("metadata") or {}).get("namespace") or "default"


class LocalClient:
    def __init__(self, registry: Registry, *, field_manager: str = "minikube-lite") -> None:
        self.registry = registry
        self.field_manager = field_manager

    async def get(self, resource: str, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        return self.registry.get(res, _ns(res, namespace), name)

    async def list(self, resource: str, *, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        res = _resource(resource)
        items, rv, _ = self.registry.list(res, namespace if res.namespaced else None,
                                          label_selector=label_selector, field_selector=field_selector)
        return items, rv

    async def create(self, resource: str, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        created, _ = self.registry.create(res, _ns(res, namespace, obj), obj, field_validation="Strict",
                                          field_manager=self.field_manager)
        return copy.deepcopy(created)

    async def update(self, resource: str, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        updated, _ = self.registry.update(res, _ns(res, namespace, obj), obj["metadata"]["name"], obj,
                                          field_validation="Strict", field_manager=self.field_manager)
        return copy.deepcopy(updated)

    async def update_status(self, resource: str, obj: dict[str, Any], *,
                            namespace: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        updated, _ = self.registry.update(res, _ns(res, namespace, obj), obj["metadata"]["name"], obj,
                                          subresource="status", field_validation="Ignore",
                                          field_manager=self.field_manager)
        return copy.deepcopy(updated)

    async def patch(self, resource: str, name: str, patch: Any, *, namespace: str | None = None,
                    patch_type: PatchType = "merge", subresource: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        body = patch if isinstance(patch, bytes) else json.dumps(patch).encode()
        obj, _, _ = self.registry.patch(res, _ns(res, namespace), name, body, _PATCH_TYPES[patch_type],
                                        subresource=subresource, field_validation="Strict",
                                        field_manager=self.field_manager)
        return copy.deepcopy(obj)

    async def delete(self, resource: str, name: str, *, namespace: str | None = None,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        obj, _ = self.registry.delete(res, _ns(res, namespace), name, grace_period_seconds=grace_period_seconds,
                                      propagation_policy=propagation_policy)
        return copy.deepcopy(obj)

    async def bind(self, name: str, node: str, *, namespace: str) -> dict[str, Any]:
        """POST ``pods/<name>/binding``: put a pod on a node (what the scheduler does)."""
        return copy.deepcopy(self.registry.bind(namespace, name, node))

    def watch(self, resource: str, *, namespace: str | None = None, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None) -> AsyncIterator[WatchEvent]:
        res = _resource(resource)
        return self._watch(res, namespace if res.namespaced else None, resource_version, label_selector,
                           field_selector)

    async def _watch(self, res: Resource, namespace: str | None, rv: str | None, label_selector: str | None,
                     field_selector: str | None) -> AsyncIterator[WatchEvent]:
        events = await self.registry.watch(res, namespace, resource_version=rv, label_selector=label_selector,
                                           field_selector=field_selector)
        try:
            async for etype, obj in events:
                yield WatchEvent(etype, obj)  # type: ignore[arg-type]
        finally:
            await events.aclose()  # type: ignore[attr-defined]
