"""An in-memory stand-in for the API server, implementing the ``Client`` protocol.

The kubelet's end-to-end tests drive the real Docker engine but need no API server: this
fake keeps objects in a dict, assigns uids and resourceVersions, honours optimistic
concurrency (Conflict on a stale resourceVersion), graceful pod deletion (deletionTimestamp
first when the pod is bound to a node) and fans events out to watchers through asyncio
queues. The tests at the bottom check the fake itself.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from minikube_lite.api.errors import AlreadyExists, Conflict, Gone, NotFound
from minikube_lite.client.base import WatchEvent

CLUSTER_SCOPED = {"nodes", "namespaces"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _path(obj: dict[str, Any], dotted: str) -> Any:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _matches(obj: dict[str, Any], namespace: str | None, field_selector: str | None,
             label_selector: str | None) -> bool:
    if namespace and (obj.get("metadata") or {}).get("namespace") != namespace:
        return False
    for term in (field_selector or "").split(","):
        if not term:
            continue
        key, _, value = term.partition("=")
        if str(_path(obj, key.rstrip("=")) or "") != value.lstrip("="):
            return False
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in (label_selector or "").split(","):
        if term:
            key, _, value = term.partition("=")
            if labels.get(key) != value:
                return False
    return True


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            _merge(target[k], v)
        else:
            target[k] = copy.deepcopy(v)


class FakeClient:
    def __init__(self, *, history: int = 1000) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.rv = 0
        self.history: list[tuple[int, str, WatchEvent]] = []
        self.history_size = history
        self.watchers: list[tuple[str, asyncio.Queue[WatchEvent], str | None, str | None, str | None]] = []
        self.status_writes = 0

    # -- helpers ----------------------------------------------------------------------------
    def _key(self, resource: str, name: str, namespace: str | None) -> tuple[str, str, str]:
        return (resource, "" if resource in CLUSTER_SCOPED else (namespace or "default"), name)

    def _emit(self, resource: str, kind: str, obj: dict[str, Any]) -> None:
        event = WatchEvent(kind, copy.deepcopy(obj))  # type: ignore[arg-type]
        self.history.append((self.rv, resource, event))
        del self.history[:-self.history_size]
        for res, queue, ns, fs, ls in self.watchers:
            if res == resource and _matches(obj, ns, fs, ls):
                queue.put_nowait(WatchEvent(kind, copy.deepcopy(obj)))  # type: ignore[arg-type]

    def _bump(self, obj: dict[str, Any]) -> None:
        self.rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)

    def pod(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        obj = self.objects.get(("pods", namespace, name))
        return copy.deepcopy(obj) if obj else None

    # -- the Client protocol ----------------------------------------------------------------
    async def get(self, resource: str, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        obj = self.objects.get(self._key(resource, name, namespace))
        if obj is None:
            raise NotFound(resource, name)
        return copy.deepcopy(obj)

    async def list(self, resource: str, *, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        items = [copy.deepcopy(o) for (r, _, _), o in self.objects.items()
                 if r == resource and _matches(o, namespace, field_selector, label_selector)]
        return items, str(self.rv)

    async def create(self, resource: str, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if resource not in CLUSTER_SCOPED:
            meta["namespace"] = meta.get("namespace") or namespace or "default"
        key = self._key(resource, meta["name"], meta.get("namespace"))
        if key in self.objects:
            raise AlreadyExists(resource, meta["name"])
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        if resource == "pods":
            obj.setdefault("status", {"phase": "Pending"})
        self._bump(obj)
        self.objects[key] = obj
        self._emit(resource, "ADDED", obj)
        return copy.deepcopy(obj)

    def _existing(self, resource: str, obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        key = self._key(resource, meta.get("name", ""), meta.get("namespace") or namespace)
        current = self.objects.get(key)
        if current is None:
            raise NotFound(resource, meta.get("name", ""))
        rv = meta.get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise Conflict(resource, meta.get("name", ""), "the object has been modified")
        return current

    async def update(self, resource: str, obj: dict[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        current = self._existing(resource, obj, namespace)
        status = current.get("status")
        current.clear()
        current.update(copy.deepcopy(obj))
        if status is not None:
            current["status"] = status
        self._bump(current)
        self._emit(resource, "MODIFIED", current)
        return copy.deepcopy(current)

    async def update_status(self, resource: str, obj: dict[str, Any], *,
                            namespace: str | None = None) -> dict[str, Any]:
        current = self._existing(resource, obj, namespace)
        current["status"] = copy.deepcopy(obj.get("status") or {})
        self.status_writes += 1
        self._bump(current)
        self._emit(resource, "MODIFIED", current)
        return copy.deepcopy(current)

    async def patch(self, resource: str, name: str, patch: Any, *, namespace: str | None = None,
                    patch_type: str = "merge", subresource: str | None = None) -> dict[str, Any]:
        current = self.objects.get(self._key(resource, name, namespace))
        if current is None:
            raise NotFound(resource, name)
        _merge(current, patch)
        self._bump(current)
        self._emit(resource, "MODIFIED", current)
        return copy.deepcopy(current)

    async def delete(self, resource: str, name: str, *, namespace: str | None = None,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str | None = None) -> dict[str, Any]:
        key = self._key(resource, name, namespace)
        current = self.objects.get(key)
        if current is None:
            raise NotFound(resource, name)
        if resource == "pods" and (current.get("spec") or {}).get("nodeName") and grace_period_seconds != 0:
            meta = current["metadata"]
            if not meta.get("deletionTimestamp"):
                grace = grace_period_seconds
                if grace is None:
                    grace = (current.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                meta["deletionTimestamp"] = _now()
                meta["deletionGracePeriodSeconds"] = grace
                self._bump(current)
                self._emit(resource, "MODIFIED", current)
            return copy.deepcopy(current)
        del self.objects[key]
        self._bump(current)
        self._emit(resource, "DELETED", current)
        return copy.deepcopy(current)

    async def watch(self, resource: str, *, namespace: str | None = None, resource_version: str | None = None,
                    label_selector: str | None = None,
                    field_selector: str | None = None) -> AsyncIterator[WatchEvent]:
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        start = int(resource_version or self.rv)
        if self.history and start < self.history[0][0] - 1:
            raise Gone(f"too old resource version: {start}")
        for rv, res, event in self.history:
            if rv > start and res == resource and _matches(event.object, namespace, field_selector, label_selector):
                queue.put_nowait(event)
        entry = (resource, queue, namespace, field_selector, label_selector)
        self.watchers.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            self.watchers.remove(entry)


def test_fake_create_get_conflict_and_graceful_delete() -> None:
    async def scenario() -> None:
        c = FakeClient()
        pod = await c.create("pods", {"metadata": {"name": "p"}, "spec": {"nodeName": "n", "containers": []}})
        assert pod["metadata"]["namespace"] == "default" and pod["metadata"]["uid"]
        stale = dict(pod)
        await c.update_status("pods", {**pod, "status": {"phase": "Running"}})
        try:
            await c.update_status("pods", {**stale, "status": {"phase": "Failed"}})
            raise AssertionError("expected Conflict")
        except Conflict:
            pass
        deleted = await c.delete("pods", "p", grace_period_seconds=5)
        assert deleted["metadata"]["deletionGracePeriodSeconds"] == 5
        await c.delete("pods", "p", grace_period_seconds=0)
        assert c.pod("p") is None

    asyncio.run(scenario())


def test_fake_watch_filters_by_field_selector() -> None:
    async def scenario() -> None:
        c = FakeClient()
        _, rv = await c.list("pods")
        await c.create("pods", {"metadata": {"name": "a"}, "spec": {"nodeName": "other"}})
        await c.create("pods", {"metadata": {"name": "b"}, "spec": {"nodeName": "mine"}})
        watch = c.watch("pods", resource_version=rv, field_selector="spec.nodeName=mine")
        event = await asyncio.wait_for(watch.__anext__(), 1)
        assert event.type == "ADDED" and event.object["metadata"]["name"] == "b"
        await watch.aclose()

    asyncio.run(scenario())
