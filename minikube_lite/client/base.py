"""The client every component uses to talk to the API server.

Controllers, the scheduler, the kubelet and the proxy never touch the store: they list, watch
and write through this interface, exactly as Kubernetes components go through kube-apiserver.
``LocalClient`` (client/local.py) calls the API server's registry in the same process;
an HTTP implementation could serve a kubelet on another machine with no other change.

Resources are named by their plural (``"pods"``, ``"services"``); objects are plain dicts in
the Kubernetes JSON shape. Failures raise ``minikube_lite.api.errors.ApiError`` subclasses
(``NotFound``, ``Conflict``, ``Invalid``, ``Gone`` ...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
PatchType = Literal["strategic", "merge", "json", "apply"]
#: the Content-Type of each patch type, as the API server reads it
PATCH_CONTENT_TYPES: dict[str, str] = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


@dataclass
class WatchEvent:
    type: EventType
    object: dict[str, Any]


class Client(Protocol):
    async def get(self, resource: str, name: str, *, namespace: str | None = None) -> dict[str, Any]: ...

    async def list(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """Items and the list's resourceVersion (where a watch continues)."""
        ...

    async def create(self, resource: str, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]: ...

    async def update(self, resource: str, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        """PUT: replaces the object; a stale ``metadata.resourceVersion`` raises ``Conflict``."""
        ...

    async def update_status(
        self, resource: str, obj: dict[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]:
        """PUT on ``/status``: only ``status`` is taken from ``obj``."""
        ...

    async def patch(
        self,
        resource: str,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
    ) -> dict[str, Any]: ...

    async def delete(
        self,
        resource: str,
        name: str,
        *,
        namespace: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]: ...

    def watch(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """Events after ``resource_version`` in order; raises ``Gone`` when it is too old."""
        ...
