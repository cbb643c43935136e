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

from ..api.errors import ApiError, BadRequest, NotFound
from ..api.metrics import GROUP as METRICS_GROUP
from ..api.register import by_plural
from ..api.resources import Resource
from ..apiserver import scale
from ..apiserver.registry import Registry
from ..apiserver.selectors import parse_label_selector
from ..auth.escalation import Requester, acting
from ..auth.noderestriction import PREFIX as NODE_PREFIX
from ..auth.noderestriction import check as node_check
from ..auth.rbac import RBACAuthorizer, UserInfo
from ..auth.requestinfo import Attributes
from .base import PATCH_CONTENT_TYPES, PatchType, WatchEvent

log = logging.getLogger(__name__)

_PATCH_TYPES = PATCH_CONTENT_TYPES


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
    #: metrics.k8s.io as the API server serves it (``await metrics_source(res, namespace) -> [obj]``,
    #: apiserver/metrics.py ``collect``, read from the kubelets), set by the daemon: never stored
    metrics_source: Any = None

    def as_user(self, user: UserInfo, field_manager: str | None = None) -> LocalClient:
        """The same API for another component, under its own identity."""
        client = LocalClient(self.registry, field_manager=field_manager or self.field_manager, user=user,
                             authorizer=self.authorizer)
        client.auth_api = self.auth_api
        client.metrics_source = self.metrics_source
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
                   subresource: str | None = None) -> Requester | None:
        """Authorise the call as its HTTP request would be; the requester for the write's context."""
        if self.authorizer is None or self.user is None:
            return None
        attrs = Attributes(verb, True, api_group=res.group, api_version=res.version, resource=res.plural,
                           subresource=subresource or "", namespace=namespace or "", name=name)
        allowed, reason = self.authorizer.authorize(self.user, attrs)
        if not allowed:
            from ..auth.middleware import forbidden

            err = forbidden(self.user, attrs, reason)
            log.warning("%s", err.message)
            raise err
        if self.user.name.startswith(NODE_PREFIX):
            node_check(self.user, attrs, self.authorizer.node_lookup)
        return Requester(self.user, self.authorizer, attrs)

    async def get(self, resource: str, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        self._authorize("get", res, _ns(res, namespace), name)
        return self.registry.get(res, _ns(res, namespace), name)

    async def list(self, resource: str, *, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        res = _resource(resource)
        self._authorize("list", res, namespace if res.namespaced else None)
        if res.group == METRICS_GROUP:
            return await self._metrics(res, namespace, label_selector), "0"
        items, rv, _ = self.registry.list(res, namespace if res.namespaced else None,
                                          label_selector=label_selector, field_selector=field_selector)
        return items, rv

    async def _metrics(self, res: Resource, namespace: str | None,
                       label_selector: str | None) -> list[dict[str, Any]]:
        """A metrics.k8s.io list, as GET /apis/metrics.k8s.io/v1beta1/... answers it (label selector too)."""
        if self.metrics_source is None:
            raise ApiError("the server is currently unable to handle the request "
                           f"(get {res.plural}.{res.group})", code=503, reason="ServiceUnavailable")
        match = parse_label_selector(label_selector)
        items = await self.metrics_source(res, namespace if res.namespaced else None)
        return [copy.deepcopy(o) for o in items if match is None or match(o)]

    async def get_scale(self, resource: str, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        """GET ``<resource>/<name>/scale`` (an autoscaling/v1 Scale)."""
        res = _resource(resource)
        self._authorize("get", res, _ns(res, namespace), name, "scale")
        if "scale" not in res.subresources:
            raise NotFound(f"{res.plural}/scale", name, res.group)
        return copy.deepcopy(scale.scale_of(res, self.registry.get(res, _ns(res, namespace), name)))

    async def update_scale(self, resource: str, name: str, body: dict[str, Any], *,
                           namespace: str | None = None) -> dict[str, Any]:
        """PUT ``<resource>/<name>/scale``: a stale ``metadata.resourceVersion`` is a 409."""
        res = _resource(resource)
        self._authorize("update", res, _ns(res, namespace), name, "scale")
        if "scale" not in res.subresources:
            raise NotFound(f"{res.plural}/scale", name, res.group)
        return copy.deepcopy(scale.write_scale(self.registry, res, _ns(res, namespace), name, body, dry_run=False))

    async def create(self, resource: str, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        with acting(self._authorize("create", res, _ns(res, namespace, obj))):
            created, _ = self.registry.create(res, _ns(res, namespace, obj), obj, field_validation="Strict",
                                              field_manager=self.field_manager)
        return copy.deepcopy(created)

    async def update(self, resource: str, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        res = _resource(resource)
        with acting(self._authorize("update", res, _ns(res, namespace, obj), obj["metadata"]["name"])):
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
        requester = self._authorize("patch", res, _ns(res, namespace), name, subresource)
        body = patch if isinstance(patch, bytes) else json.dumps(patch).encode()
        with acting(requester):
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
