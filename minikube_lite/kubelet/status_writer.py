"""Writes a pod's status to the API when (and only when) it changed.

The status itself is computed by status.py from the container records; this part remembers
what it last wrote per pod uid (so an unchanged sync costs no API write), retries on a stale
resourceVersion with a fresh read, and keeps the kubelet's pod cache at the newest version it
wrote so the watch event of its own write does not trigger another sync.
"""

from __future__ import annotations

from typing import Any

from minikube_lite.api.errors import Conflict, NotFound

from ..api.times import now_rfc3339
from .base import KubeletBase, pod_key, pod_uid, resource_version
from .runtime import ContainerRecord
from .status import Observed, pod_status


class StatusWriter(KubeletBase):
    def _observed(self, uid: str, records: list[ContainerRecord], pod: dict[str, Any]) -> Observed:
        """Probe results and termination messages (from the other parts of the kubelet)."""
        return Observed()

    async def _write_status(self, pod: dict[str, Any], records: list[ContainerRecord]) -> None:
        uid = pod_uid(pod)
        meta = pod["metadata"]
        ns, name = meta.get("namespace", "default"), meta["name"]
        for _ in range(5):
            status = pod_status(pod, records, self._waiting.get(uid, {}), host_ip=self.host_ip, now=now_rfc3339(),
                                observed=self._observed(uid, records, pod))
            if self._written.get(uid) == status:
                return
            try:
                updated = await self._client.update_status("pods", {**pod, "status": status}, namespace=ns)
            except Conflict:
                try:
                    pod = await self._client.get("pods", name, namespace=ns)
                except NotFound:
                    return
                if pod_uid(pod) != uid:
                    return
                continue
            except NotFound:
                return
            self._written[uid] = status
            key = pod_key(pod)
            cached = self._pods.get(key)
            if cached is not None and pod_uid(cached) == uid and resource_version(updated) >= resource_version(cached):
                self._pods[key] = updated
            return
