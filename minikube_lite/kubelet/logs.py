"""``kubectl logs``: a container's output, read from Docker.

The current attempt, or with ``previous`` the one before (the kubelet keeps the newest two
attempts of each container for that); ``tail``, ``timestamps``, ``since`` map to Docker's own
log options, and ``follow`` streams from a thread (the Docker SDK's stream blocks) into an
asyncio queue so the API server can send it chunk by chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from minikube_lite.api.errors import BadRequest, NotFound

from .base import KubeletBase, pod_uid
from .runtime import SANDBOX
from .status import group_records

log = logging.getLogger(__name__)


class Logs(KubeletBase):
    async def logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        *,
        follow: bool = False,
        tail_lines: int | None = None,
        previous: bool = False,
        timestamps: bool = False,
        since_seconds: int | None = None,
    ) -> AsyncIterator[bytes]:
        """The output of a container of a pod (``kubectl logs``); raises before the first chunk on errors."""
        records = await self._docker(self.runtime.pod_containers, namespace, pod)
        known = self._pods.get(f"{namespace}/{pod}")
        if known is not None:
            uid = pod_uid(known)
        elif records:
            uid = max(records, key=lambda r: r.created_ts).pod_uid
        else:
            raise NotFound("pods", pod)
        if container is None:
            names = [c["name"] for c in ((known or {}).get("spec") or {}).get("containers") or []]
            names = names or sorted({r.name for r in records if r.name != SANDBOX})
            if not names:
                raise BadRequest(f'a container name must be specified for pod {pod}')
            container = names[0]
        attempts = group_records(r for r in records if r.pod_uid == uid).get(container, [])
        if previous:
            if len(attempts) < 2:
                raise BadRequest(f'previous terminated container "{container}" in pod "{pod}" not found')
            target = attempts[-2]
        else:
            if not attempts:
                why = self._waiting.get(uid, {}).get(container)
                raise BadRequest(f'container "{container}" in pod "{pod}" is waiting to start: '
                                 f'{why.reason if why else "ContainerCreating"}')
            target = attempts[-1]
        since = time.time() - since_seconds if since_seconds else None
        if not follow:
            data = await self._docker(self.runtime.logs, target.id, tail=tail_lines, timestamps=timestamps,
                                      since=since)
            if data:
                yield data  # type: ignore[misc]
            return
        stream: Any = await self._docker(self.runtime.logs, target.id, follow=True, tail=tail_lines,
                                         timestamps=timestamps, since=since)
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue()

        def pump() -> None:
            try:
                for chunk in stream:
                    loop.call_soon_threadsafe(chunks.put_nowait, chunk)
            except Exception as e:  # noqa: BLE001 - the stream ends when closed under us
                log.debug("log stream ended: %s", e)
            finally:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(chunks.put_nowait, None)

        threading.Thread(target=pump, name="kubelet-logs", daemon=True).start()
        try:
            while (chunk := await chunks.get()) is not None:
                yield chunk
        finally:
            with contextlib.suppress(Exception):
                stream.close()
