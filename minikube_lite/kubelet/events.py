"""Kubernetes Events the kubelet records about pods (Pulling, Created, Started, BackOff ...).

They are what ``kubectl describe pod`` and ``kubectl get events`` show. Recording must never
slow down or break a pod's sync: ``record`` only schedules a background write through the shared
recorder (``client/events.py``, which also bumps ``count`` of a repeated event, as Kubernetes'
event correlator does); any error of that write is logged and dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any

from minikube_lite.client.base import Client
from minikube_lite.client.events import record_event


class EventRecorder:
    def __init__(self, client: Client, *, node_name: str, component: str = "kubelet") -> None:
        self._client = client
        self._node = node_name
        self._component = component
        self._tasks: set[asyncio.Task[None]] = set()

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
        field_path = None
        if container:
            inits = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []}
            field_path = f"spec.{'initContainers' if container in inits else 'containers'}{{{container}}}"
        subject = {**pod, "kind": pod.get("kind") or "Pod", "apiVersion": pod.get("apiVersion") or "v1"}
        await record_event(self._client, subject, reason, message, type_=type, component=self._component,
                           field_path=field_path, host=self._node)
