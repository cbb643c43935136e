"""Kubernetes' restart back-off, one entry per container (or per image pull).

The first restart after a crash is immediate. Each later one waits, measured from the moment
the container finished: 10 s, then 20 s, 40 s ... at most 5 minutes. An entry not touched for
10 minutes (the container ran that long since its last restart) is forgotten, so the next
crash is again restarted at once. This mirrors client-go's ``flowcontrol.Backoff`` as the
kubelet uses it (``IsInBackOffSince`` / ``Next``). Time is passed in, so tests need no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

INITIAL = 10.0
MAXIMUM = 300.0
RESET_AFTER = 600.0


@dataclass
class _Entry:
    delay: float
    last_update: float


class Backoff:
    def __init__(self, *, initial: float = INITIAL, maximum: float = MAXIMUM,
                 reset_after: float = RESET_AFTER) -> None:
        self.initial = initial
        self.maximum = maximum
        self.reset_after = reset_after
        self._entries: dict[Hashable, _Entry] = {}

    def _entry(self, key: Hashable, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and now - entry.last_update > self.reset_after:
            del self._entries[key]
            return None
        return entry

    def wait_time(self, key: Hashable, since: float, now: float) -> float:
        """Seconds still to wait (0: go now) before a retry of something that failed at ``since``."""
        entry = self._entry(key, now)
        if entry is None:
            return 0.0
        return max(0.0, since + entry.delay - now)

    def delay(self, key: Hashable, now: float) -> float:
        """The current back-off period of ``key`` (0 when none)."""
        entry = self._entry(key, now)
        return entry.delay if entry else 0.0

    def record(self, key: Hashable, now: float) -> float:
        """A retry happens now: the next one waits longer. Returns that next delay."""
        entry = self._entry(key, now)
        if entry is None:
            entry = self._entries[key] = _Entry(self.initial, now)
        else:
            entry.delay = min(entry.delay * 2, self.maximum)
            entry.last_update = now
        return entry.delay

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def forget_where(self, predicate: Callable[[Hashable], bool]) -> None:
        """Drop every entry whose key satisfies ``predicate`` (e.g. all of one pod's)."""
        for key in [k for k in self._entries if predicate(k)]:
            del self._entries[key]
