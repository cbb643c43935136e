"""What the parts of the kubelet share: its state, its Docker thread pool, small helpers.

The kubelet is one object assembled from a few mixins, one idea each (the sync loop in
kubelet.py, image pulls in images.py, graceful termination in termination.py, the status
writer in status_writer.py, logs in logs.py, probes in probes.py, volumes in volumes.py).
They all run on one asyncio loop and share the attributes declared here; ``KubeletBase``
declares them so each mixin can be read (and type-checked) on its own.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors

from minikube_lite.client.base import Client

from .backoff import Backoff
from .events import EventRecorder
from .runtime import ContainerRecord, Runtime
from .status import Waiting
from .workqueue import WorkQueue

T = TypeVar("T")


def pod_key(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"


def pod_uid(pod: dict[str, Any]) -> str:
    return (pod.get("metadata") or {}).get("uid", "")


def docker_message(e: Exception) -> str:
    if isinstance(e, docker.errors.APIError):
        return str(e.explanation or e)
    return str(e)


def resource_version(obj: dict[str, Any]) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class KubeletBase:
    """Shared state of the kubelet's parts (set up by ``Kubelet.__init__``)."""

    _client: Client
    runtime: Runtime
    host_ip: str
    _pool: ThreadPoolExecutor
    _pods: dict[str, dict[str, Any]]  # key -> pod, as the watch last saw it
    _queue: WorkQueue
    _events: EventRecorder
    _backoff: Backoff
    _pull_backoff: Backoff
    _pull_failed_at: dict[tuple[str, str], float]
    image_pull: str  # "local-fallback" (run the engine's image when a pull fails) or "kubernetes"
    _waiting: dict[str, dict[str, Waiting]]  # uid -> container -> why it waits
    _written: dict[str, dict[str, Any]]  # uid -> the status last written
    _die_waiters: dict[str, list[asyncio.Future[None]]]
    _tasks: list[asyncio.Task[Any]]
    root_dir: Path  # the kubelet's folder: pods/<uid>/volumes/..., pods/<uid>/containers/...

    def pod_dir(self, uid: str) -> Path:
        return self.root_dir / "pods" / uid

    def termination_log(self, uid: str, container: str, attempt: int) -> Path:
        """The host file bind-mounted at a container attempt's ``terminationMessagePath``."""
        return self.pod_dir(uid) / "containers" / container / str(attempt)

    async def _docker(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking Docker call in the kubelet's thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.append(task)
        return task

    async def _remove(self, records: list[ContainerRecord]) -> None:
        await asyncio.gather(*(self._docker(self.runtime.remove, r.id) for r in records))

    def _forget(self, uid: str) -> None:
        """Drop what is remembered about pod ``uid`` (it is gone)."""
        raise NotImplementedError
