"""Graceful termination of a pod being deleted, as Kubernetes' kubelet does it.

``kubectl delete pod`` only sets ``deletionTimestamp`` (the pod shows ``Terminating``); the
kubelet then runs each running container's ``lifecycle.preStop`` hook, sends SIGTERM, waits
until the container dies or the grace period (the delete's ``gracePeriodSeconds``, else the
pod's ``terminationGracePeriodSeconds``, else 30 s) runs out, then SIGKILLs, removes the
pod's containers and finishes the delete with a grace period of 0. Deaths are learned from
Docker's ``die`` events through ``_die_waiters``, with a slow inspect as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from minikube_lite.api.errors import NotFound

from .base import KubeletBase
from .runtime import SANDBOX, ContainerRecord

DEFAULT_GRACE_SECONDS = 30


class Termination(KubeletBase):
    _messages: dict[str, dict[str, str]]

    async def _collect_messages(self, pod: dict[str, Any], records: list[ContainerRecord]) -> None:
        """Read the termination message of each container that finished since the last sync.

        The file at ``terminationMessagePath`` is a host file bind-mounted into the container
        (see volumes.py), read here once the container stopped (at most 4 KiB); when it is empty,
        the container failed and ``terminationMessagePolicy`` is ``FallbackToLogsOnError``, the
        last 80 lines of its log (at most 2 KiB) are the message, as in Kubernetes.
        """
        uid = (pod.get("metadata") or {}).get("uid", "")
        known = self._messages.setdefault(uid, {})
        specs = {c["name"]: c for c in [*((pod.get("spec") or {}).get("initContainers") or []),
                                         *((pod.get("spec") or {}).get("containers") or [])]}
        for r in records:
            if r.name == SANDBOX or not r.finished or r.id in known or r.name not in specs:
                continue
            message = await self._docker(self._read_message, uid, r, specs[r.name])
            known[r.id] = message
        live = {r.id for r in records}
        for cid in [c for c in known if c not in live]:
            del known[cid]

    def _read_message(self, uid: str, record: ContainerRecord, spec: dict[str, Any]) -> str:
        path = self.termination_log(uid, record.name, record.restart_count)
        try:
            with open(path, "rb") as f:
                message = f.read(4096).decode(errors="replace")
        except OSError:
            message = ""
        if not message and record.exit_code != 0 and spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            data = self.runtime.logs(record.id, tail=80)
            message = bytes(data)[-2048:].decode(errors="replace") if isinstance(data, bytes) else ""
        return message

    async def _terminate(self, pod: dict[str, Any], records: list[ContainerRecord]) -> None:
        """Graceful delete: preStop, SIGTERM, wait the grace period, SIGKILL; then finish the delete."""
        meta, spec = pod["metadata"], pod.get("spec") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
        running = [r for r in records if r.name != SANDBOX and r.running]
        await asyncio.gather(*(self._stop_container(pod, r, float(grace)) for r in running))
        ns, name, uid = meta.get("namespace", "default"), meta["name"], meta["uid"]
        await self._remove(await self._docker(self.runtime.pod_containers_of, ns, name, uid))
        self._forget(uid)
        try:
            await self._client.delete("pods", name, namespace=ns, grace_period_seconds=0)
        except NotFound:
            pass

    async def _stop_container(self, pod: dict[str, Any], record: ContainerRecord, grace: float, *,
                              event: bool = True) -> None:
        """preStop, SIGTERM, up to ``grace`` seconds, SIGKILL (``event``: record ``Killing`` here)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        spec = next((c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == record.name),
                    None) or next((c for c in (pod.get("spec") or {}).get("initContainers") or []
                                   if c.get("name") == record.name), {})
        if event:
            self._events.record(pod, "Killing", f"Stopping container {record.name}", container=record.name)
        pre_stop = ((spec.get("lifecycle") or {}).get("preStop")) or {}
        if grace > 0 and pre_stop:
            try:
                if (pre_stop.get("exec") or {}).get("command"):
                    await asyncio.wait_for(self._docker(self.runtime.exec, record.id, pre_stop["exec"]["command"]),
                                           grace)
                elif (pre_stop.get("sleep") or {}).get("seconds") is not None:
                    await asyncio.sleep(min(float(pre_stop["sleep"]["seconds"]), grace))
            except Exception as e:  # noqa: BLE001 - a failing hook does not stop the termination
                self._events.record(pod, "FailedPreStopHook", f"PreStopHook failed: {e}", type="Warning",
                                    container=record.name)
        remaining = deadline - loop.time()
        if remaining > 0:
            died: asyncio.Future[None] = loop.create_future()
            self._die_waiters.setdefault(record.id, []).append(died)
            await self._docker(self.runtime.kill, record, "SIGTERM")
            while not died.done() and (remaining := deadline - loop.time()) > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(died), min(remaining, 1.0))
                if not died.done():
                    fresh = await self._docker(self.runtime.inspect, record.id)
                    if fresh is None or not fresh.running:
                        break
        await self._docker(self.runtime.kill, record, "SIGKILL")
