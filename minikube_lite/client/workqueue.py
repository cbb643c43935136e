"""A work queue of keys, as client-go's: deduplicated, one worker per key at a time, retries later.

A key added while it is being processed is processed again afterwards (never concurrently),
so a reconcile always sees the newest state; a key added many times before a worker takes
it is processed once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class WorkQueue:
    def __init__(self, name: str = "queue") -> None:
        self.name = name
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._retries: dict[str, int] = {}

    def add(self, key: str) -> None:
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.put_nowait(key)

    def add_after(self, key: str, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self.add, key)

    def __len__(self) -> int:
        return len(self._dirty)

    async def _get(self) -> str:
        key = await self._queue.get()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def _done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.put_nowait(key)

    async def run(self, reconcile: Callable[[str], Awaitable[None]], *, workers: int = 4) -> None:
        """Process keys forever; a failing reconcile is retried with backoff (5 ms doubling to 30 s)."""

        async def worker() -> None:
            while True:
                key = await self._get()
                try:
                    await reconcile(key)
                    self._retries.pop(key, None)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    n = self._retries.get(key, 0)
                    self._retries[key] = n + 1
                    delay = min(0.005 * 2 ** n, 30.0)
                    log.exception("%s: reconcile of %s failed (retry %d in %.2fs)", self.name, key, n + 1, delay)
                    self.add_after(key, delay)
                finally:
                    self._done(key)

        await asyncio.gather(*(worker() for _ in range(workers)))
