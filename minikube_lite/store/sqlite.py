"""The embedded store: SQLite (standard library, WAL) plus an in-memory window of recent events.

Every write is one transaction that also bumps the global revision, committed before the
call returns. Reads and writes are synchronous and quick (microseconds to a millisecond);
the API server calls them from its event loop, which is also the only thread that fans
events out to watchers, so registering a watcher and replaying the window cannot race a
write.

The event window (window.py, shared with the etcd store) is what a watch can resume from: at
least the last 75 s of events, as kube-apiserver's watch cache keeps them, kept as text. After a restart the window starts
empty at the stored revision: a client resuming from an older revision gets ``Compacted``
(HTTP 410) and relists, as informers do against etcd.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .base import (
    Compacted,
    Entry,
    Event,
    Guard,
    GuardMismatch,
    KeyExists,
    KeyNotFound,
    RevisionMismatch,
    StoreDamaged,
    StoreFull,
)
from .window import HISTORY_SECONDS, MAX_EVENTS, MIN_EVENTS, EventWindow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    create_rev INTEGER NOT NULL,
    mod_rev INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

# See docs/supported.md (durability): NORMAL in WAL mode never corrupts the store; a power cut
# (not a crash of the daemon) can lose the last writes acknowledged before it.
SYNCHRONOUS = "NORMAL"


class SQLiteStore:
    def __init__(self, path: Path | str, *, window: int = MAX_EVENTS, window_seconds: float = HISTORY_SECONDS,
                 min_events: int = MIN_EVENTS, synchronous: str = SYNCHRONOUS) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            # A damaged file is found now, not as garbage served later: quick_check reads every
            # page (a few ms for a cluster's store).
            problems = [r[0] for r in self._db.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(problems[:3]))
            row = self._db.execute("SELECT value FROM meta WHERE name='revision'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreDamaged(
                f"the store {path} is damaged ({exc}). Nothing was changed. Restore it from a copy, or "
                f"move it aside to start an empty cluster: mv {path} {path}.damaged (then start again; "
                f"the containers of the old cluster can be removed with: minikube-lite delete)") from None
        self._rev: int = row[0] if row else 1
        self._window = EventWindow(self._rev, window=window, window_seconds=window_seconds, min_events=min_events)

    @property
    def revision(self) -> int:
        return self._rev

    # reads

    def _row(self, key: str) -> tuple[str, int, int] | None:
        return self._db.execute("SELECT value, mod_rev, create_rev FROM kv WHERE key=?", (key,)).fetchone()

    def get(self, key: str) -> Entry | None:
        row = self._row(key)
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

    def _check_guard(self, guard: Guard | None) -> list[tuple[str, tuple[Any, ...]]]:
        """The statement writing an allocator guard, once its revision is checked (the registry
        of this one process is its only writer, so check and write cannot interleave)."""
        if guard is None:
            return []
        row = self._row(guard[0])
        if (row[1] if row is not None else 0) != guard[1]:
            raise GuardMismatch(guard[0])
        return [(("INSERT INTO kv(key, value, create_rev, mod_rev) VALUES(?, ?, ?, ?) ON CONFLICT(key) DO UPDATE "
                 "SET value=excluded.value, mod_rev=excluded.mod_rev"), (guard[0], json.dumps(guard[2]), _REV, _REV))]

    def _commit(self, sql: str, args: tuple[Any, ...], extra: list[tuple[str, tuple[Any, ...]]] | None = None) -> int:
        rev = self._rev + 1
        cur = self._db.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            for stmt, stmt_args in [(sql, args), *(extra or [])]:
                cur.execute(stmt, tuple(rev if a is _REV else a for a in stmt_args))
            cur.execute("INSERT OR REPLACE INTO meta(name, value) VALUES('revision', ?)", (rev,))
            cur.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    cur.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and _is_disk_full(exc):
                raise StoreFull(f"the store {self.path} could not be written ({exc}): the disk is full (or "
                                f"failing). Free some space on {self.path.parent}; writes succeed again as "
                                f"soon as there is room, nothing already stored is affected") from None
            raise
        self._rev = rev
        return rev

    def create(self, key: str, value: dict[str, Any], *, guard: Guard | None = None) -> int:
        if self._row(key) is not None:
            raise KeyExists(key)
        extra = self._check_guard(guard)
        text = json.dumps(value)
        rev = self._commit("INSERT INTO kv(key, value, create_rev, mod_rev) VALUES(?, ?, ?, ?)",
                           (key, text, _REV, _REV), extra)
        self._publish(Event("PUT", key, value, rev, None), text, None)
        return rev

    def update(self, key: str, value: dict[str, Any], expected_rev: int | None = None, *,
               guard: Guard | None = None) -> int:
        row = self._row(key)
        if row is None:
            raise KeyNotFound(key)
        if expected_rev is not None and row[1] != expected_rev:
            raise RevisionMismatch(key)
        extra = self._check_guard(guard)
        text = json.dumps(value)
        rev = self._commit("UPDATE kv SET value=?, mod_rev=? WHERE key=?", (text, _REV, key), extra)
        # the previous value is decoded only for watchers that will get the event (selector checks)
        prev = json.loads(row[0]) if self._window.watched(key) else {}
        self._publish(Event("PUT", key, value, rev, prev), text, row[0], row[1])
        return rev

    def delete(self, key: str, expected_rev: int | None = None) -> tuple[Entry, int]:
        row = self._row(key)
        if row is None:
            raise KeyNotFound(key)
        if expected_rev is not None and row[1] != expected_rev:
            raise RevisionMismatch(key)
        current = Entry(key, json.loads(row[0]), row[1], row[2])
        rev = self._commit("DELETE FROM kv WHERE key=?", (key,))
        self._publish(Event("DELETE", key, current.value, rev, current.value), row[0], row[0], row[1])
        return current, rev

    # watch

    def _publish(self, event: Event, value: str, prev: str | None, prev_rev: int | None = None) -> None:
        self._window.publish(event, value, prev, prev_rev)

    def entries_at(self, prefix: str, rev: int) -> list[Entry]:
        """The keys under ``prefix`` as they were at revision ``rev`` (a list served in pages reads
        its later pages here, as etcd serves them at the first page's revision). Rebuilt from the
        latest state and the window's values before each later write; ``Compacted`` when ``rev``
        is older than the window."""
        if rev < self._window.oldest:
            raise Compacted(f"revision {rev} is no longer kept ({self._window.oldest})")
        entries, _ = self.list(prefix)
        at = {e.key: e for e in entries}
        undone: set[str] = set()
        for kept in self._window:  # oldest first: the first write after rev tells the value at rev
            if kept.rev <= rev or not kept.key.startswith(prefix) or kept.key in undone:
                continue
            undone.add(kept.key)
            if kept.prev_rev is None:  # created after rev
                at.pop(kept.key, None)
            else:
                old = at.get(kept.key)
                at[kept.key] = Entry(kept.key, json.loads(kept.prev), kept.prev_rev,
                                     old.create_rev if old else kept.prev_rev)
        return [at[k] for k in sorted(at)]

    def watch(self, prefix: str, from_rev: int) -> AsyncIterator[Event]:
        """Events on keys under ``prefix`` with revision > ``from_rev`` (``Compacted`` at once
        when ``from_rev`` is older than the window)."""
        return self._window.watch(prefix, from_rev)

    def close(self) -> None:
        self._window.close()
        self._db.close()


def _is_disk_full(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or (code is not None and code & 0xFF == sqlite3.SQLITE_IOERR) or \
        "full" in str(exc) or "disk I/O" in str(exc)


class _RevMarker:
    """Placeholder in SQL arguments for the revision being written."""


_REV = _RevMarker()
