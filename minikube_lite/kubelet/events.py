"""Kubernetes Events the kubelet records about pods (Pulling, Created, Started, BackOff ...).

They are what ``kubectl describe pod`` and ``kubectl get events`` show. Recording must never
slow down or break a pod's sync: ``record`` only schedules a background write, and any error
of that write is logged and dropped. A repeat of the same event (same pod, container, reason
and message) bumps ``count`` and ``lastTimestamp`` of the existing object, as Kubernetes'
event correlator does.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from minikube_lite.api.errors import NotFound
from minikube_lite.client.base import Client

log = logging.getLogger(__name__)

_REMEMBERED = 2000


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(self, client: Client, *, node_name: str, component: str = "kubelet") -> None:
        self._client = client
        self._node = node_name
        self._component = component
        self._tasks: set[asyncio.Task[None]] = set()
        # (uid, fieldPath, reason, message) -> [event name, namespace, count]
        self._seen: OrderedDict[tuple[str, str, str, str], list[Any]] = OrderedDict()
        self._locks: dict[tuple[str, str, str, str], asyncio.Lock] = {}

    def record(self, pod: dict[str, Any], reason: str, message: str, *, type: str = "Normal",
               container: str | None = None) -> None:
        """Schedule the write of one event about ``pod`` (and its ``container``); never raises."""
        try:
            task = asyncio.get_running_loop().create_task(self._write(pod, reason, message, type, container))
        except RuntimeError:
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Wait for pending writes (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _write(self, pod: dict[str, Any], reason: str, message: str, type: str,
                     container: str | None) -> None:
        meta = pod.get("metadata") or {}
        ns = meta.get("namespace", "default")
        field_path = ""
        if container:
            inits = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []}
            field_path = f"spec.{'initContainers' if container in inits else 'containers'}{{{container}}}"
        key = (meta.get("uid", ""), field_path, reason, message)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                now = now_rfc3339()
                seen = self._seen.get(key)
                if seen is not None:
                    seen[2] += 1
                    try:
                        await self._client.patch("events", seen[0], {"count": seen[2], "lastTimestamp": now},
                                                 namespace=ns, patch_type="merge")
                        self._seen.move_to_end(key)
                        return
                    except NotFound:
                        pass
                involved: dict[str, Any] = {
                    "kind": "Pod", "apiVersion": "v1", "namespace": ns, "name": meta.get("name", ""),
                    "uid": meta.get("uid", ""),
                }
                if meta.get("resourceVersion"):
                    involved["resourceVersion"] = meta["resourceVersion"]
                if field_path:
                    involved["fieldPath"] = field_path
                name = f"{meta.get('name', 'pod')}.{secrets.token_hex(8)}"
                event = {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": name, "namespace": ns},
                    "involvedObject": involved,
                    "reason": reason,
                    "message": message,
                    "source": {"component": self._component, "host": self._node},
                    "firstTimestamp": now,
                    "lastTimestamp": now,
                    "count": 1,
                    "type": type,
                    "reportingComponent": self._component,
                    "reportingInstance": self._node,
                }
                await self._client.create("events", event, namespace=ns)
                self._seen[key] = [name, ns, 1]
                if len(self._seen) > _REMEMBERED:
                    old, _ = self._seen.popitem(last=False)
                    self._locks.pop(old, None)
        except Exception as e:  # noqa: BLE001 - an event must never break a sync
            log.warning("could not record event %s for pod %s/%s: %s", reason, ns, meta.get("name"), e)
