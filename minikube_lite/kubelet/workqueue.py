"""A work queue of pod keys: one sync per key at a time, different keys in parallel.

The kubelet's triggers (pod watch events, Docker events, the periodic resync, back-off
timers) only ``add`` a key (``namespace/name``). A key that is being synced is marked dirty
and synced once more when the running sync ends, so bursts of triggers collapse into at most
one extra sync and no pod is ever handled by two tasks at once. A sync that raises is retried
with a growing delay. This is client-go's work queue, with an asyncio task per busy key
instead of a fixed worker pool: Docker calls are bounded by the kubelet's thread pool anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class WorkQueue:
    def __init__(self, handler: Callable[[str], Awaitable[None]], *, max_retry_delay: float = 30.0) -> None:
        self._handler = handler
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._failures: dict[str, int] = {}
        self._max_retry_delay = max_retry_delay
        self._closed = False

    def add(self, key: str) -> None:
        if self._closed:
            return
        if key in self._busy:
            self._dirty.add(key)
            return
        self._busy[key] = asyncio.get_running_loop().create_task(self._work(key), name=f"sync {key}")

    def add_after(self, key: str, delay: float) -> None:
        """Sync ``key`` in ``delay`` seconds (an earlier pending timer for it wins)."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        timer = self._timers.get(key)
        if timer is not None and not timer.cancelled() and timer.when() <= when:
            return
        if timer is not None:
            timer.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def busy(self, key: str) -> bool:
        return key in self._busy

    async def _work(self, key: str) -> None:
        try:
            while True:
                self._dirty.discard(key)
                try:
                    await self._handler(key)
                    self._failures.pop(key, None)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    n = self._failures.get(key, 0)
                    self._failures[key] = n + 1
                    delay = min(0.5 * 2**n, self._max_retry_delay)
                    log.exception("sync of pod %s failed; retrying in %.1fs", key, delay)
                    self.add_after(key, delay)
                if key not in self._dirty or self._closed:
                    break
        finally:
            self._busy.pop(key, None)

    async def close(self) -> None:
        """Stop: cancel timers and running syncs, and wait for them to end."""
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = list(self._busy.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
