"""The in-process client: the Client interface served by the API server's registry directly.

Components in the daemon (scheduler, kubelet, proxy, controllers) use it instead of HTTP:
the same validation and watch semantics, without serialising every object. Objects handed
out are the caller's own copies, so a component may change what it got without touching
anyone else's view.

Each client carries its component's identity (``system:kube-scheduler``, ``system:node:<node>``,
a controller's ServiceAccount ...) and every call is authorised as the same request over HTTP
would be: the same RBAC authorizer, the same 403. There is no in-process shortcut.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from ..api.errors import BadRequest
from ..api.register import by_plural
from ..api.resources import Resource
from ..apiserver.registry import Registry
from ..auth.rbac import RBACAuthorizer, UserInfo
from ..auth.requestinfo import Attributes
from .base import PatchType, WatchEvent

log = logging.getLogger(__name__)

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
    def __init__(self, registry: Registry, *, field_manager: str = "minikube-lite", user: UserInfo | None = None,
                 authorizer: RBACAuthorizer | None = None) -> None:
        self.registry = registry
        self.field_manager = field_manager
        self.user = user
        self.authorizer = authorizer

    #: the TokenRequest/review answers (apiserver/authapi.py AuthAPI), set by the daemon
    auth_api: Any = None

    def as_user(self, user: UserInfo, field_manager: str | None = None) -> LocalClient:
        """The same API for another component, under its own identity."""
        client = LocalClient(self.registry, field_manager=field_manager or self.field_manager, user=user,
                             authorizer=self.authorizer)
        client.auth_api = self.auth_api
        return client

    async def create_token(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``serviceaccounts/<name>/token`` (TokenRequest): what the kubelet asks for pods."""
        res = _resource("serviceaccounts")
        self._authorize("create", res, namespace, name, "token")
        if self.auth_api is None:
            raise BadRequest("this API server issues no ServiceAccount tokens")
        answer = self.auth_api.answer(self.user, res, namespace, name, "token", body)
        return copy.deepcopy(answer)

    def _authorize(self, verb: str, res: Resource, namespace: str | None, name: str = "",
                   subresource: str | None = None) -> None:
        if self.authorizer is None or self.user is None:
            return
        attrs = Attributes(verb, True, api_group=res.group, api_version=res.version, resource=res.plural,
                           subresource=subresource or "", namespace=namespace or "", name=name)
        allowed, reason = self.authorizer.authorize(self.user, attrs)
        if not allowed:
            from ..auth.middleware import forbidden

            err = forbidden(self.user, attrs, reason)
            log.warning("%s", err.message)
            raise err

    async def get(self, resource: str, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        self._authorize("get", res, _ns(res, namespace), name)
        return self.registry.get(res, _ns(res, namespace), name)

    async def list(self, resource: str, *, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        res = _resource(resource)
        self._authorize("list", res, namespace if res.namespaced else None)
        items, rv, _ = self.registry.list(res, namespace if res.namespaced else None,
                                          label_selector=label_selector, field_selector=field_selector)
        return items, rv

    async def create(self, resource: str, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        self._authorize("create", res, _ns(res, namespace, obj))
        from minikube_lite.auth.requestuser import reset, set_user

        token = set_user(self.user)
        try:
            created, _ = self.registry.create(res, _ns(res, namespace, obj), obj, field_validation="Strict",
                                              field_manager=self.field_manager)
        finally:
            reset(token)
        return copy.deepcopy(created)

    async def update(self, resource: str, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        self._authorize("update", res, _ns(res, namespace, obj), obj["metadata"]["name"])
        updated, _ = self.registry.update(res, _ns(res, namespace, obj), obj["metadata"]["name"], obj,
                                          field_validation="Strict", field_manager=self.field_manager)
        return copy.deepcopy(updated)

    async def update_status(self, resource: str, obj: dict[str, Any], *,
                            namespace: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        self._authorize("update", res, _ns(res, namespace, obj), obj["metadata"]["name"], "status")
        updated, _ = self.registry.update(res, _ns(res, namespace, obj), obj["metadata"]["name"], obj,
                                          subresource="status", field_validation="Ignore",
                                          field_manager=self.field_manager)
        return copy.deepcopy(updated)

    async def patch(self, resource: str, name: str, patch: Any, *, namespace: str | None = None,
                    patch_type: PatchType = "merge", subresource: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        self._authorize("patch", res, _ns(res, namespace), name, subresource)
        body = patch if isinstance(patch, bytes) else json.dumps(patch).encode()
        obj, _, _ = self.registry.patch(res, _ns(res, namespace), name, body, _PATCH_TYPES[patch_type],
                                        subresource=subresource, field_validation="Strict",
                                        field_manager=self.field_manager)
        return copy.deepcopy(obj)

    async def delete(self, resource: str, name: str, *, namespace: str | None = None,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        self._authorize("delete", res, _ns(res, namespace), name)
        obj, _ = self.registry.delete(res, _ns(res, namespace), name, grace_period_seconds=grace_period_seconds,
                                      propagation_policy=propagation_policy)
        return copy.deepcopy(obj)

    async def bind(self, name: str, node: str, *, namespace: str) -> dict[str, Any]:
        """POST ``pods/<name>/binding``: put a pod on a node (what the scheduler does)."""
        self._authorize("create", _resource("pods"), namespace, name, "binding")
        return copy.deepcopy(self.registry.bind(namespace, name, node))

    def watch(self, resource: str, *, namespace: str | None = None, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None) -> AsyncIterator[WatchEvent]:
        res = _resource(resource)
        self._authorize("watch", res, namespace if res.namespaced else None)
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
