"""The loop every kube-controller-manager controller runs (client-go's informer + work queue pattern).

Start the informers, wait until each has synced its cache (a controller must not act on a
partial view: it would create pods that already exist), then let ``workers`` reconcile keys from
the queue; every ``resync_seconds`` put every key of the primary objects on the queue again, so
a reconcile that failed without an event to retrigger it is retried (client-go's resync period).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence

from .informer import Informer
from .workqueue import WorkQueue


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
