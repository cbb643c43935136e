"""The loop every kube-controller-manager controller runs (client-go's informer + work queue pattern).

Start the informers, wait until each has synced its cache (a controller must not act on a
partial view: it would create pods that already exist), then let ``workers`` reconcile keys from
the queue; every ``resync_seconds`` put every key of the primary objects on the queue again, so
a reconcile that failed without an event to retrigger it is retried (client-go's resync period).
Controllers that look at everything on a timer instead of per key (pod GC, taint eviction) use
``run_periodically``: the same informers-synced start, then one pass every ``period``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from ..api.errors import ApiError, Conflict, NotFound
from .base import Client
from .informer import Informer, object_key
from .workqueue import WorkQueue

log = logging.getLogger(__name__)


async def run_controller(informers: Sequence[Informer], queue: WorkQueue,
                         reconcile: Callable[[str], Awaitable[None]], *, workers: int,
                         resync_keys: Callable[[], Iterable[str]], resync_seconds: float) -> None:
    async def work() -> None:
        for informer in informers:
            await informer.synced.wait()
        await queue.run(reconcile, workers=workers)

    async def resync() -> None:
        while True:
            await asyncio.sleep(resync_seconds)
            for key in resync_keys():
                queue.add(key)

    await asyncio.gather(*(i.run() for i in informers), work(), resync())


async def write_status(client: Client, queue: WorkQueue, resource: str, obj: dict[str, Any],
                       status: dict[str, Any]) -> None:
    """A controller's status write: none when ``status`` is the object's already, nothing when the
    object is gone, and on a conflict the object's key again shortly. The cache is then behind
    (often our own last write): its watch event queues the key anyway; a retry at once would spin
    on the same stale copy without ever letting the informer run."""
    if status == (obj.get("status") or {}):
        return
    try:
        await client.update_status(resource, {**obj, "status": status}, namespace=obj["metadata"].get("namespace"))
    except NotFound:
        return
    except Conflict:
        queue.add_after(object_key(obj), 0.1)


async def run_periodically(informers: Sequence[Informer], step: Callable[[], Awaitable[object]], *,
                           period: Callable[[], float], what: str, wake: asyncio.Event | None = None) -> None:
    """Run the informers; once all synced, ``step()`` every ``period()`` seconds, or as soon as
    ``wake`` is set (by an informer handler: a change worth a pass now). An API error in a pass is
    logged as ``what`` and the next pass tries again."""
    async def loop() -> None:
        for informer in informers:
            await informer.synced.wait()
        while True:
            try:
                await step()
            except ApiError as exc:
                log.warning("%s: %s", what, exc)
            if wake is None:
                await asyncio.sleep(period())
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), period())
            wake.clear()

    await asyncio.gather(*(i.run() for i in informers), loop())
