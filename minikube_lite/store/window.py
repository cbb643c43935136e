"""The window of recent events a watch resumes from, and the fan-out to watchers.

This is the part of kube-apiserver's watch cache (the "cacher") that both stores share. Its
history is sized as the cacher sizes its per-resource ring: it keeps at least the last 75 s of
events (``DefaultEventFreshDuration``: the 60 s request timeout + 15 s, so a client that
reconnects within a request's time resumes without a 410) and never fewer than the last 100
events whatever their age (the ring's lower bound), at most 20,000 here (a memory cap; the
cacher's upper bound is 102,400 per resource). Older events expire on the next write and on a
timer, so a burst of writes does not stay in memory once nobody can ask for it any more. Events
are kept as the JSON text the write stored rather than as decoded objects (a pod is ~4 KB of
text but ~10x that as Python dicts, and every update keeps the value before and after). Live
watchers get decoded objects; only a watch resuming from an older revision decodes the kept text.
A watch from before the window is ``Compacted`` (HTTP 410 ``too old resource version``) and the
client relists, as informers do against kube-apiserver.

Unlike the cacher the window is one for all resources (revisions are global here), so the floor
of 100 events is shared: the time bound is what a client can count on, as with Kubernetes.

Every method runs on the API server's event loop thread (the only one that fans events out),
so registering a watcher and replaying the window cannot race a publish.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator

from .base import Compacted, Event

#: the history every watch can resume from (kube-apiserver's DefaultEventFreshDuration, seconds)
HISTORY_SECONDS = 75.0
#: events kept whatever their age (the cacher's lower-bound capacity)
MIN_EVENTS = 100
#: events kept at most (a memory cap)
MAX_EVENTS = 20_000
#: a sweep for expired events runs at most this often (seconds)
_SWEEP_EVERY = 1.0

# A watcher that falls this far behind is cut off (it gets Compacted and relists) rather than
# letting its queue grow without bound.
_MAX_BACKLOG = 100_000


class _Watcher:
    __slots__ = ("from_rev", "overflowed", "prefix", "queue")

    def __init__(self, prefix: str, from_rev: int) -> None:
        self.prefix = prefix
        self.from_rev = from_rev
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.overflowed = False


class Kept:
    """One event of the window, as text (``prev_rev``: the revision ``prev`` was written at)."""

    __slots__ = ("at", "key", "prev", "prev_rev", "rev", "type", "value")

    def __init__(self, event: Event, value: str, prev: str | None, prev_rev: int | None = None) -> None:
        self.type, self.key, self.rev = event.type, event.key, event.rev
        self.value, self.prev, self.prev_rev = value, prev, prev_rev
        self.at = time.monotonic()

    def event(self) -> Event:
        return Event(self.type, self.key, json.loads(self.value), self.rev,  # type: ignore[arg-type]
                     json.loads(self.prev) if self.prev is not None else None)


class EventWindow:
    def __init__(self, revision: int, *, window: int = MAX_EVENTS, window_seconds: float = HISTORY_SECONDS,
                 min_events: int = MIN_EVENTS) -> None:
        self._events: deque[Kept] = deque()
        self._window, self._window_seconds, self._min_events = window, window_seconds, min_events
        self.oldest: int = revision  # a watch from any revision >= this can be served
        self._watchers: set[_Watcher] = set()
        self._latest: dict[str, Kept] = {}  # a key's latest kept event: its text is shared, not copied
        self._sweep: asyncio.TimerHandle | None = None
        self._sweep_loop: asyncio.AbstractEventLoop | None = None

    def __iter__(self) -> Iterator[Kept]:
        return iter(self._events)

    def watched(self, key: str) -> bool:
        return any(key.startswith(w.prefix) for w in self._watchers)

    def publish(self, event: Event, value: str, prev: str | None, prev_rev: int | None = None) -> None:
        # The value before a write is the text of the key's previous write: when that one is kept
        # too (same revision), both events hold one string (an update or a delete would otherwise
        # double it).
        last = self._latest.get(event.key)
        if last is not None and prev is not None and prev_rev == last.rev:
            prev = last.value
        if event.type == "DELETE" and prev is not None:
            value = prev  # a delete's value is the value it deleted
        kept = Kept(event, value, prev, prev_rev)
        self._events.append(kept)
        if event.type == "DELETE":
            self._latest.pop(event.key, None)
        else:
            self._latest[event.key] = kept
        self._expire(kept.at)
        self._schedule_sweep()
        for w in list(self._watchers):
            if event.key.startswith(w.prefix) and event.rev > w.from_rev:
                if w.queue.qsize() >= _MAX_BACKLOG:
                    w.overflowed = True
                    self._watchers.discard(w)
                    w.queue.put_nowait(None)
                else:
                    w.queue.put_nowait(event)

    def _expire(self, now: float) -> None:
        """Drop the events past the window's age (keeping the floor) or beyond its size."""
        events, horizon = self._events, now - self._window_seconds
        while len(events) > self._window or (len(events) > self._min_events and events[0].at < horizon):
            gone = events.popleft()
            self.oldest = gone.rev  # a watch from this revision on is still served
            if self._latest.get(gone.key) is gone:
                del self._latest[gone.key]

    def _schedule_sweep(self) -> None:
        """Expire by time without waiting for the next write (a timer on the running loop, when
        there is one: the store is also used without a loop, where writes alone expire events)."""
        if len(self._events) <= self._min_events:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._sweep is not None and self._sweep_loop is loop:
            return
        due = self._events[0].at + self._window_seconds - time.monotonic()
        self._sweep_loop = loop
        self._sweep = loop.call_later(max(due, _SWEEP_EVERY), self._swept)

    def _swept(self) -> None:
        self._sweep = None
        self._expire(time.monotonic())
        self._schedule_sweep()

    def watch(self, prefix: str, from_rev: int) -> AsyncIterator[Event]:
        """Events on keys under ``prefix`` with revision > ``from_rev``: the kept ones, then live.

        Raises ``Compacted`` right away (not on first iteration) when ``from_rev`` is too old,
        so the API server can answer 410 before it starts streaming.
        """
        if from_rev < self.oldest:
            raise Compacted(f"too old resource version: {from_rev} ({self.oldest})")
        watcher = _Watcher(prefix, from_rev)
        for kept in self._events:
            if kept.rev > from_rev and kept.key.startswith(prefix):
                watcher.queue.put_nowait(kept.event())
        self._watchers.add(watcher)
        return self._stream(watcher)

    async def _stream(self, watcher: _Watcher) -> AsyncIterator[Event]:
        try:
            while True:
                ev = await watcher.queue.get()
                if ev is None:
                    raise Compacted("watcher fell too far behind")
                yield ev
        finally:
            self._watchers.discard(watcher)

    def reset(self, revision: int) -> None:
        """Forget everything (the history behind it is gone): every watcher ends with
        ``Compacted`` and relists; watches from ``revision`` on are served again."""
        self._events.clear()
        self._latest.clear()
        self.oldest = revision
        self.close()

    def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for w in list(self._watchers):
            w.queue.put_nowait(None)
        self._watchers.clear()
