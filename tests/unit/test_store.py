"""The SQLite store: revisions, optimistic concurrency, watch replay and compaction, persistence."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from minikube_lite.store.base import Compacted, KeyExists, KeyNotFound, RevisionMismatch
from minikube_lite.store.sqlite import SQLiteStore


def test_revisions_and_concurrency(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "db")
    r1 = s.create("/a/x", {"v": 1})
    with pytest.raises(KeyExists):
        s.create("/a/x", {"v": 1})
    r2 = s.update("/a/x", {"v": 2}, expected_rev=r1)
    assert r2 == r1 + 1 and s.revision == r2
    with pytest.raises(RevisionMismatch):
        s.update("/a/x", {"v": 3}, expected_rev=r1)
    entry = s.get("/a/x")
    assert entry is not None and entry.value == {"v": 2} and entry.mod_rev == r2 and entry.create_rev == r1
    s.create("/a/y", {})
    s.create("/ab/z", {})
    items, rev = s.list("/a/")
    assert [e.key for e in items] == ["/a/x", "/a/y"] and rev == s.revision
    prev, r3 = s.delete("/a/x")
    assert prev.value == {"v": 2} and s.get("/a/x") is None
    with pytest.raises(KeyNotFound):
        s.delete("/a/x")
    s.close()
    again = SQLiteStore(tmp_path / "db")
    assert again.revision == r3 and again.get("/a/y") is not None


def test_watch_replays_in_order_then_follows(tmp_path: Path) -> None:
    async def main() -> None:
        s = SQLiteStore(tmp_path / "db")
        start = s.revision
        s.create("/p/a", {"n": 1})
        s.create("/q/b", {"n": 2})
        stream = s.watch("/p/", start)
        s.update("/p/a", {"n": 3})
        s.delete("/p/a")
        got = []
        async for ev in stream:
            got.append((ev.type, ev.key, ev.value, ev.prev))
            if len(got) == 3:
                break
        assert got == [("PUT", "/p/a", {"n": 1}, None), ("PUT", "/p/a", {"n": 3}, {"n": 1}),
                       ("DELETE", "/p/a", {"n": 3}, {"n": 3})]

    asyncio.run(main())


def test_watch_from_compacted_revision_is_refused(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "db", window=3)
    start = s.revision
    for i in range(10):
        s.create(f"/k/{i}", {})
    with pytest.raises(Compacted):
        s.watch("/k/", start)
    s.watch("/k/", s.revision)  # from now: fine


def test_window_keeps_minutes_not_forever(tmp_path: Path) -> None:
    """Events older than the window's age are dropped on the next write; a watch from before them
    is Compacted (410), one from after them replays the kept events, decoded, with prev values."""
    import time

    s = SQLiteStore(tmp_path / "db", window_seconds=0.2)
    start = s.revision
    s.create("/k/a", {"n": 1})
    time.sleep(0.3)
    after_old = s.revision
    s.update("/k/a", {"n": 2})
    s.delete("/k/a")
    with pytest.raises(Compacted):
        s.watch("/k/", start)

    async def main() -> list[tuple]:
        got = []
        async for ev in s.watch("/k/", after_old):
            got.append((ev.type, ev.value, ev.prev))
            if len(got) == 2:
                return got
        return got

    assert asyncio.run(main()) == [("PUT", {"n": 2}, {"n": 1}), ("DELETE", {"n": 2}, {"n": 2})]
