"""The store contract, run against both backends: the embedded SQLite store and etcd v3.

Revisions, optimistic concurrency, watch replay and the event window, lists at a revision
(later pages), compaction (410), persistence across a reopen. The etcd backend is a real etcd
(conftest.py's ``etcd``); every test writes under its own key prefix.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from minikube_lite.store.base import Compacted, GuardMismatch, KeyExists, KeyNotFound, RevisionMismatch
from minikube_lite.store.sqlite import SQLiteStore

_counter = itertools.count()


@pytest.fixture(params=["sqlite", "etcd"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Callable[..., Any]]]:
    """(name, open): ``open(**window_options)`` opens the same store again (a restart)."""
    opened: list[Any] = []
    if request.param == "sqlite":
        def open_store(**kw: Any) -> Any:
            opened.append(SQLiteStore(tmp_path / "db", **kw))
            return opened[-1]
    else:
        from minikube_lite.store.etcd import EtcdConfig, EtcdStore

        config = EtcdConfig.parse(request.getfixturevalue("etcd").url)

        def open_store(**kw: Any) -> Any:
            opened.append(EtcdStore(config, compaction_interval=0, **kw))
            return opened[-1]
    yield request.param, open_store
    for s in opened:
        s.close()


@pytest.fixture
def p() -> str:
    """A key prefix of this test's own (the etcd is shared by the module)."""
    return f"/registry/t{next(_counter)}-{time.monotonic_ns()}"


def test_revisions_and_concurrency(backend: tuple[str, Callable[..., Any]], p: str) -> None:
    _, open_store = backend
    s = open_store()
    r1 = s.create(f"{p}/a/x", {"v": 1})
    assert s.revision == r1
    with pytest.raises(KeyExists):
        s.create(f"{p}/a/x", {"v": 1})
    r2 = s.update(f"{p}/a/x", {"v": 2}, expected_rev=r1)
    assert r2 == r1 + 1 and s.revision == r2
    with pytest.raises(RevisionMismatch):
        s.update(f"{p}/a/x", {"v": 3}, expected_rev=r1)
    with pytest.raises(KeyNotFound):
        s.update(f"{p}/a/nope", {"v": 3})
    with pytest.raises(RevisionMismatch):
        s.delete(f"{p}/a/x", expected_rev=r1)
    entry = s.get(f"{p}/a/x")
    assert entry is not None and entry.value == {"v": 2} and entry.mod_rev == r2 and entry.create_rev == r1
    s.create(f"{p}/a/y", {})
    s.create(f"{p}/ab/z", {})
    items, rev = s.list(f"{p}/a/")
    assert [e.key for e in items] == [f"{p}/a/x", f"{p}/a/y"] and rev == s.revision
    keys, rev2 = s.list_revisions(f"{p}/a/")
    assert keys == [(f"{p}/a/x", r2), (f"{p}/a/y", items[1].mod_rev)] and rev2 == rev
    prev, r3 = s.delete(f"{p}/a/x")
    assert prev.value == {"v": 2} and prev.mod_rev == r2 and s.get(f"{p}/a/x") is None and r3 == s.revision
    with pytest.raises(KeyNotFound):
        s.delete(f"{p}/a/x")
    s.close()
    again = open_store()
    assert again.revision == r3 and again.get(f"{p}/a/y") is not None


def test_guarded_writes_commit_with_their_allocator_key(backend: tuple[str, Callable[..., Any]], p: str) -> None:
    """A write guarded by an allocator key commits with it in one transaction, only while the key
    is at the revision the writer read; otherwise nothing of it is written (GuardMismatch)."""
    _, open_store = backend
    s = open_store()
    g = f"{p}/ranges/alloc"
    r1 = s.create(f"{p}/svc/a", {"v": 1}, guard=(g, 0, {"n": 1}))
    alloc = s.get(g)
    assert alloc is not None and alloc.value == {"n": 1} and alloc.mod_rev == r1
    with pytest.raises(GuardMismatch):  # read before that write: stale
        s.create(f"{p}/svc/b", {"v": 1}, guard=(g, 0, {"n": 2}))
    assert s.get(f"{p}/svc/b") is None
    with pytest.raises(KeyExists):  # an existing key is still KeyExists
        s.create(f"{p}/svc/a", {"v": 1}, guard=(g, r1, {"n": 2}))
    with pytest.raises(GuardMismatch):
        s.update(f"{p}/svc/a", {"v": 2}, expected_rev=r1, guard=(g, r1 - 1, {"n": 2}))
    with pytest.raises(RevisionMismatch):  # the object itself moved: that is the answer
        s.update(f"{p}/svc/a", {"v": 2}, expected_rev=r1 - 1, guard=(g, r1, {"n": 2}))
    with pytest.raises(KeyNotFound):
        s.update(f"{p}/svc/nope", {"v": 2}, guard=(g, r1, {"n": 2}))
    r2 = s.update(f"{p}/svc/a", {"v": 2}, expected_rev=r1, guard=(g, r1, {"n": 3}))
    after = s.get(g)
    assert after is not None and after.mod_rev == r2 and after.value == {"n": 3}
    entry = s.get(f"{p}/svc/a")
    assert entry is not None and entry.value == {"v": 2} and entry.mod_rev == r2 == s.revision


def test_watch_replays_in_order_then_follows(backend: tuple[str, Callable[..., Any]], p: str) -> None:
    name, open_store = backend

    async def main() -> None:
        s = open_store()
        start = s.revision
        s.create(f"{p}/p/a", {"n": 1})
        s.create(f"{p}/q/b", {"n": 2})
        stream = s.watch(f"{p}/p/", start)
        s.update(f"{p}/p/a", {"n": 3})
        s.delete(f"{p}/p/a")
        got = []
        async for ev in stream:
            got.append((ev.type, ev.key, ev.value, ev.prev))
            if len(got) == 3:
                break
        assert got == [("PUT", f"{p}/p/a", {"n": 1}, None), ("PUT", f"{p}/p/a", {"n": 3}, {"n": 1}),
                       ("DELETE", f"{p}/p/a", {"n": 3}, {"n": 3})]
        # a watch from the latest revision gets only what comes next; on etcd that includes another
        # writer's writes (a second store on the same etcd, as a second API server); SQLite has one
        now = s.revision
        live = s.watch(f"{p}/", now)
        other = open_store() if name == "etcd" else s
        other.create(f"{p}/p/c", {"n": 4})
        ev = await asyncio.wait_for(anext(aiter(live)), 5)
        assert (ev.type, ev.key, ev.value, ev.rev > now) == ("PUT", f"{p}/p/c", {"n": 4}, True)

    asyncio.run(main())


def test_watch_from_compacted_revision_is_refused(backend: tuple[str, Callable[..., Any]], p: str) -> None:
    _, open_store = backend
    s = open_store(window=3)
    start = s.revision
    for i in range(10):
        s.create(f"{p}/k/{i}", {})
    with pytest.raises(Compacted):
        s.watch(f"{p}/k/", start)
    s.watch(f"{p}/k/", s.revision)  # from now: fine


def test_window_keeps_minutes_not_forever(backend: tuple[str, Callable[..., Any]], p: str) -> None:
    """Events older than the window's age are dropped on the next write; a watch from before them
    is Compacted (410), one from after them replays the kept events, decoded, with prev values
    (no floor of recent events here: min_events=0; test_window.py has the floor)."""
    _, open_store = backend
    s = open_store(window_seconds=0.2, min_events=0)
    start = s.revision
    s.create(f"{p}/k/a", {"n": 1})
    time.sleep(0.3)
    after_old = s.revision
    s.update(f"{p}/k/a", {"n": 2})
    s.delete(f"{p}/k/a")
    with pytest.raises(Compacted):
        s.watch(f"{p}/k/", start)

    async def main() -> list[tuple[Any, ...]]:
        got = []
        async for ev in s.watch(f"{p}/k/", after_old):
            got.append((ev.type, ev.value, ev.prev))
            if len(got) == 2:
                return got
        return got

    assert asyncio.run(main()) == [("PUT", {"n": 2}, {"n": 1}), ("DELETE", {"n": 2}, {"n": 2})]


def test_entries_at_a_revision_then_compacted(backend: tuple[str, Callable[..., Any]], p: str) -> None:
    """A later page of a list reads the keys as they were at the first page's revision; once that
    history is gone (SQLite: past the window; etcd: compacted) it is Compacted (410 Expired)."""
    name, open_store = backend
    s = open_store(window=4)
    ra = s.create(f"{p}/a", {"n": 1})
    s.create(f"{p}/b", {"n": 2})
    at = s.revision
    s.update(f"{p}/a", {"n": 10})
    s.delete(f"{p}/b")
    s.create(f"{p}/c", {"n": 3})
    then = s.entries_at(f"{p}/", at)
    assert [(e.key, e.value, e.mod_rev) for e in then] == [(f"{p}/a", {"n": 1}, ra), (f"{p}/b", {"n": 2}, ra + 1)]
    assert then[0].create_rev == ra
    if name == "etcd":
        s.compact()
    else:
        for i in range(5):
            s.create(f"{p}/more/{i}", {})
    with pytest.raises(Compacted):
        s.entries_at(f"{p}/", at)


def test_etcd_over_tls_with_client_certificates(tmp_path: Path) -> None:
    """etcd serving TLS with --client-cert-auth: the store connects with --etcd-cafile/--etcd-certfile/
    --etcd-keyfile (kube-apiserver's flags); without a client certificate it is refused, saying why."""
    from minikube_lite.store.base import Unavailable
    from minikube_lite.store.etcd import EtcdConfig, EtcdStore
    from minikube_lite.store.etcdproc import LocalEtcd

    with LocalEtcd(tmp_path / "etcd", tls=True) as e:
        assert e.pki is not None and e.url.startswith("https://")
        config = EtcdConfig.parse(e.url, cafile=str(e.pki.ca), certfile=str(e.pki.client_cert),
                                  keyfile=str(e.pki.client_key))
        s = EtcdStore(config, compaction_interval=0)
        try:
            rev = s.create("/registry/tls/a", {"n": 1})

            async def one_event() -> Any:
                return await asyncio.wait_for(anext(aiter(s.watch("/registry/tls/", rev - 1))), 5)

            assert asyncio.run(one_event()).value == {"n": 1}
            assert s.get("/registry/tls/a").mod_rev == rev
        finally:
            s.close()
        with pytest.raises(Unavailable, match="the store .*unavailable"):
            EtcdStore(EtcdConfig.parse(e.url, cafile=str(e.pki.ca)), timeout=2, compaction_interval=0)
    with pytest.raises(ValueError, match="go together"):
        EtcdConfig.parse("etcd://127.0.0.1:2379", certfile=str(e.pki.client_cert))
