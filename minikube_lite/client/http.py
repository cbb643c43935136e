"""The Client interface over HTTPS: what a component outside the daemon (a node agent) talks through.

client-go's REST client in small: the same verbs as ``LocalClient`` (client/local.py), each one
request to the API server under the caller's own credentials (a client certificate from the
cluster CA, e.g. ``system:node:<name>``), JSON bodies, Kubernetes' paths
(``/api/v1/namespaces/{ns}/pods/{name}``, ``/apis/{group}/{version}/...``), and failures rebuilt
from the server's ``Status`` into the same ``ApiError`` classes. A watch is one streaming GET
(``?watch=1&resourceVersion=...``, one JSON event per line); an ``ERROR`` event carrying a 410
raises ``Gone`` so informers relist, as client-go's reflector does. Built on client/transport.py
(HTTP/1.1 keep-alive pool on asyncio streams, ``h11`` for the framing, TLS with the caller's
context; not ``httpx``, whose ``httpcore`` and ``anyio`` would cost a node agent ~6 MB).

A resource's group, version and scope come from the server's discovery (``/api/v1``, then
``/apis`` and each group's preferred version), read once on first use and kept, as client-go's
deferred discovery RESTMapper does: the client needs none of the API server's kind declarations
(api/register.py and its pydantic models), which keeps a node agent's process small (issue 14).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

from ..api.errors import ApiError, BadRequest
from ..api.resources import Resource
from .base import PATCH_CONTENT_TYPES, PatchType, WatchEvent
from .transport import Response, Transport, TransportError


def _ns(res: Resource, namespace: str | None, obj: dict[str, Any] | None = None) -> str | None:
    if not res.namespaced:
        return None
    return namespace or ((obj or {}).get("metadata") or {}).get("namespace") or "default"


def _resources(group: str, version: str, body: dict[str, Any]) -> dict[str, Resource]:
    """The top-level resources of one APIResourceList (subresources such as ``pods/status`` left out)."""
    out = {}
    for r in body.get("resources") or []:
        if "/" not in r.get("name", ""):
            out[r["name"]] = Resource(group, version, r["name"], r.get("singularName") or "", r.get("kind") or "",
                                      bool(r.get("namespaced")))
    return out


def _error(response: Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return ApiError.from_status(body)
    return ApiError(response.text[:500] or response.reason_phrase, code=response.status_code,
                    reason=response.reason_phrase.replace(" ", ""))


class HTTPClient:
    def __init__(self, server: str, *, ssl_context: ssl.SSLContext | None = None, field_manager: str = "kubelet",
                 user_agent: str = "minikube-lite-node", timeout: float = 30.0) -> None:
        self.server = server.rstrip("/")
        self.field_manager = field_manager
        self._http = Transport(self.server, ssl_context=ssl_context, timeout=timeout, connect_timeout=5.0,
                               headers={"User-Agent": user_agent, "Accept": "application/json"},
                               max_connections=32, max_idle=8)
        self._versions: dict[str, str] | None = None  # group -> its preferred version (``/apis``)
        self._discovered: dict[str, dict[str, Resource]] = {}  # "" (core) or group -> its resources
        self._discovery = asyncio.Lock()

    async def _group(self, group: str) -> dict[str, Resource]:
        if group not in self._discovered:
            if not group:
                self._discovered[""] = _resources("", "v1", await self._call("GET", "/api/v1"))
            else:
                version = (await self._group_versions()).get(group)
                body = await self._call("GET", f"/apis/{group}/{version}") if version else {}
                self._discovered[group] = _resources(group, version or "", body)
        return self._discovered[group]

    async def _group_versions(self) -> dict[str, str]:
        if self._versions is None:
            groups = (await self._call("GET", "/apis")).get("groups") or []
            self._versions = {g["name"]: ((g.get("preferredVersion") or {}).get("version")
                                          or (g.get("versions") or [{}])[0].get("version") or "") for g in groups}
        return self._versions

    async def _resource(self, plural: str) -> Resource:
        """``pods``, or ``plural.group`` (``leases.coordination.k8s.io``), from discovery; the core group
        first for a bare plural, then the others in the server's order, each read once."""
        name, _, group = plural.partition(".")
        found = (self._discovered.get(group) or {}).get(name)
        if found is not None:
            return found
        async with self._discovery:
            for g in [group] if group else ["", *await self._group_versions()]:
                if (res := (await self._group(g)).get(name)) is not None:
                    return res
        raise BadRequest(f'the server doesn\'t have a resource type "{plural}"')

    async def ready(self) -> bool:
        """The API server answers ``/readyz`` with 200 (False while it cannot be reached or is starting)."""
        try:
            return (await self._http.request("GET", "/readyz", timeout=2.0)).status_code == 200
        except TransportError:
            return False

    async def close(self) -> None:
        await self._http.close()

    @staticmethod
    def path(res: Resource, namespace: str | None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/api/{res.version}" if not res.group else f"/apis/{res.group}/{res.version}"
        if res.namespaced and namespace:
            base += f"/namespaces/{urllib.parse.quote(namespace)}"
        base += f"/{res.plural}"
        if name:
            base += f"/{urllib.parse.quote(name)}"
        if subresource:
            base += f"/{subresource}"
        return base

    async def _call(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
                    content_type: str = "application/json") -> dict[str, Any]:
        content = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = {"Content-Type": content_type} if content is not None else {}
        try:
            response = await self._http.request(method, path, content=content, params=params, headers=headers)
        except TransportError as e:
            raise ApiError(f"the API server at {self.server} cannot be reached: {e}", code=503,
                           reason="ServiceUnavailable") from e
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    async def get(self, resource: str, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        res = await self._resource(resource)
        return await self._call("GET", self.path(res, _ns(res, namespace), name))

    async def list(self, resource: str, *, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        res = await self._resource(resource)
        params = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        body = await self._call("GET", self.path(res, namespace if res.namespaced else None), params=params)
        return list(body.get("items") or []), str((body.get("metadata") or {}).get("resourceVersion") or "")

    async def create(self, resource: str, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        res = await self._resource(resource)
        return await self._call("POST", self.path(res, _ns(res, namespace, obj)), body=obj,
                                params={"fieldManager": self.field_manager})

    async def update(self, resource: str, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        res = await self._resource(resource)
        return await self._call("PUT", self.path(res, _ns(res, namespace, obj), obj["metadata"]["name"]), body=obj,
                                params={"fieldManager": self.field_manager})

    async def update_status(self, resource: str, obj: dict[str, Any], *,
                            namespace: str | None = None) -> dict[str, Any]:
        res = await self._resource(resource)
        return await self._call("PUT", self.path(res, _ns(res, namespace, obj), obj["metadata"]["name"], "status"),
                                body=obj, params={"fieldManager": self.field_manager})

    async def patch(self, resource: str, name: str, patch: Any, *, namespace: str | None = None,
                    patch_type: PatchType = "merge", subresource: str | None = None) -> dict[str, Any]:
        res = await self._resource(resource)
        return await self._call("PATCH", self.path(res, _ns(res, namespace), name, subresource), body=patch,
                                content_type=PATCH_CONTENT_TYPES[patch_type], params={"fieldManager": self.field_manager})

    async def delete(self, resource: str, name: str, *, namespace: str | None = None,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str | None = None) -> dict[str, Any]:
        res = await self._resource(resource)
        opts: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            opts["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy:
            opts["propagationPolicy"] = propagation_policy
        return await self._call("DELETE", self.path(res, _ns(res, namespace), name), body=opts)

    async def bind(self, name: str, node: str, *, namespace: str) -> dict[str, Any]:
        res = await self._resource("pods")
        return await self._call("POST", self.path(res, namespace, name, "binding"), body={
            "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}})

    async def create_token(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        res = await self._resource("serviceaccounts")
        return await self._call("POST", self.path(res, namespace, name, "token"), body=body)

    def watch(self, resource: str, *, namespace: str | None = None, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None) -> AsyncIterator[WatchEvent]:
        return self._watch(resource, namespace, resource_version, label_selector, field_selector)

    async def _watch(self, resource: str, namespace: str | None, resource_version: str | None,
                     label_selector: str | None, field_selector: str | None) -> AsyncIterator[WatchEvent]:
        res = await self._resource(resource)
        params: dict[str, Any] = {"watch": "1", "allowWatchBookmarks": "true"}
        for key, value in (("resourceVersion", resource_version), ("labelSelector", label_selector),
                           ("fieldSelector", field_selector)):
            if value:
                params[key] = value
        path = self.path(res, namespace if res.namespaced else None)
        try:
            async with self._http.stream("GET", path, params=params) as (response, body):
                if response.status_code >= 400:
                    response.content = b"".join([chunk async for chunk in body])
                    raise _error(response)
                pending = b""
                async for chunk in body:  # one JSON event per line
                    *lines, pending = (pending + chunk).split(b"\n")
                    for line in lines:
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        etype, obj = event.get("type"), event.get("object") or {}
                        if etype == "ERROR":
                            raise ApiError.from_status(obj)
                        yield WatchEvent(etype, obj)
        except TransportError as e:
            raise ApiError(f"the watch on {path} ended: {e}", code=503, reason="ServiceUnavailable") from e
