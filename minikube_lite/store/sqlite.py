"""The embedded store: SQLite (standard library, WAL) plus an in-memory window of recent events.

Every write is one transaction that also bumps the global revision, committed before the
call returns. Reads and writes are synchronous and quick (microseconds to a millisecond);
the API server calls them from its event loop, which is also the only thread that fans
events out to watchers, so registering a watcher and replaying the window cannot race a
write.

The event window (default 20,000 events) is what a watch can resume from. After a restart
the window starts empty at the stored revision: a client resuming from an older revision
gets ``Compacted`` (HTTP 410) and relists, as informers do against etcd.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .base import Compacted, Entry, Event, KeyExists, KeyNotFound, RevisionMismatch

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    create_rev INTEGER NOT NULL,
    mod_rev INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

# A watcher that falls this far behind is cut off (it gets Compacted and relists) rather than
# letting its queue grow without bound.
_MAX_BACKLOG = 100_000


class _Watcher:
    __slots__ = ("overflowed", "prefix", "queue")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.overflowed = False


class SQLiteStore:
    def __init__(self, path: Path | str, *, window: int = 20_000) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE name='revision'").fetchone()
        self._rev: int = row[0] if row else 1
        self._events: deque[Event] = deque(maxlen=window)
        self._oldest: int = self._rev  # a watch from any revision >= this can be served
        self._watchers: set[_Watcher] = set()

    @property
    def revision(self) -> int:
        return self._rev

    # reads

    def get(self, key: str) -> Entry | None:
        row = self._db.execute(
            "SELECT value, mod_rev, create_rev FROM kv WHERE key=?", (key,)
        ).fetchone()
        if row is None:
            return None
        return Entry(key, json.loads(row[0]), row[1], row[2])

    def list(self, prefix: str) -> tuple[list[Entry], int]:
        rows = self._db.execute(
            "SELECT key, value, mod_rev, create_rev FROM kv WHERE key >= ? AND key < ? ORDER BY key",
            (prefix, prefix + "\uffff"),
        ).fetchall()
        return [Entry(k, json.loads(v), m, c) for k, v, m, c in rows], self._rev

    def list_revisions(self, prefix: str) -> tuple[list[tuple[str, int]], int]:
        """Keys under ``prefix`` with their ``mod_rev``, without decoding values: lets the API
        server serve lists from its cache of decoded objects."""
        rows = self._db.execute(
            "SELECT key, mod_rev FROM kv WHERE key >= ? AND key < ? ORDER BY key",
            (prefix, prefix + "\uffff"),
        ).fetchall()
        return rows, self._rev

    # writes

    def _commit(self, sql: str, args: tuple[Any, ...]) -> int:
        rev = self._rev + 1
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute(sql, tuple(rev if a is _REV else a for a in args))
            cur.execute("INSERT OR REPLACE INTO meta(name, value) VALUES('revision', ?)", (rev,))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self._rev = rev
        return rev

    def create(self, key: str, value: dict[str, Any]) -> int:
        if self.get(key) is not None:
            raise KeyExists(key)
        rev = self._commit("INSERT INTO kv(key, value, create_rev, mod_rev) VALUES(?, ?, ?, ?)",
                           (key, json.dumps(value), _REV, _REV))
        self._publish(Event("PUT", key, value, rev, None))
        return rev

    def update(self, key: str, value: dict[str, Any], expected_rev: int | None = None) -> int:
        current = self.get(key)
        if current is None:
            raise KeyNotFound(key)
        if expected_rev is not None and current.mod_rev != expected_rev:
            raise RevisionMismatch(key)
        rev = self._commit("UPDATE kv SET value=?, mod_rev=? WHERE key=?", (json.dumps(value), _REV, key))
        self._publish(Event("PUT", key, value, rev, current.value))
        return rev

    def delete(self, key: str, expected_rev: int | None = None) -> tuple[Entry, int]:
        current = self.get(key)
        if current is None:
            raise KeyNotFound(key)
        if expected_rev is not None and current.mod_rev != expected_rev:
            raise RevisionMismatch(key)
        rev = self._commit("DELETE FROM kv WHERE key=?", (key,))
        self._publish(Event("DELETE", key, current.value, rev, current.value))
        return current, rev

    # watch

    def _publish(self, event: Event) -> None:
        self._events.append(event)
        if len(self._events) == self._events.maxlen:
            self._oldest = self._events[0].rev - 1
        for w in list(self._watchers):
            if event.key.startswith(w.prefix):
                if w.queue.qsize() >= _MAX_BACKLOG:
                    w.overflowed = True
                    self._watchers.discard(w)
                    w.queue.put_nowait(None)
                else:
                    w.queue.put_nowait(event)

    def watch(self, prefix: str, from_rev: int) -> AsyncIterator[Event]:
        """Events on keys under ``prefix`` with revision > ``from_rev``.

        Raises ``Compacted`` right away (not on first iteration) when ``from_rev`` is too old,
        so the API server can answer 410 before it starts streaming.
        """
        if from_rev < self._oldest:
            raise Compacted(f"too old resource version: {from_rev} ({self._oldest})")
        watcher = _Watcher(prefix)
        for ev in self._events:
            if ev.rev > from_rev and ev.key.startswith(prefix):
                watcher.queue.put_nowait(ev)
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

    def close(self) -> None:
        for w in list(self._watchers):
            w.queue.put_nowait(None)
        self._watchers.clear()
        self._db.close()


class _RevMarker:
    """Placeholder in SQL arguments for the revision being written."""


_REV = _RevMarker()
