"""The store on etcd v3: what kube-apiserver's etcd3 storage and watch cache do, behind the same
interface as the SQLite store.

* Revisions are etcd's: ``mod_rev`` is the key's ``mod_revision``, a list carries the response
  header's revision, and writes are etcd transactions: a create compares the key's
  ``create_revision`` with 0, an update or delete with an expected revision compares its
  ``mod_revision`` (optimistic concurrency as kube-apiserver's GuaranteedUpdate does it).
* One etcd watch over the whole keyspace, from the revision the store opened at, with
  ``prev_kv``, feeds the event window (window.py) that the API server's watches are served
  from, as kube-apiserver's cacher is fed by one etcd watch per resource. A watch from before
  that window is ``Compacted`` (410 ``too old resource version``), as the cacher answers.
* A later page of a paginated list is read from etcd at the first page's revision; once etcd
  has compacted that revision it is ``Compacted`` (410 ``Expired``, the continue token is too
  old), exactly where etcd-backed Kubernetes says so. The store compacts etcd as
  kube-apiserver does (``--etcd-compaction-interval``, 5 minutes): each interval, to the
  revision seen one interval before, agreed through the ``compact_rev_key`` key so that
  several API servers on one etcd compact once.
* etcd unreachable, or without quorum: the call fails within the timeout with ``Unavailable``
  (503, or 504 when it timed out), never a hang or a 500; the watch feed reconnects by itself
  and resumes from the last revision it saw.

The registry calls the store synchronously from its event loop, and ``aetcd`` (the maintained
asyncio client for etcd v3) runs on a loop of its own in a daemon thread: a call hands its
coroutine to that loop and waits for it (etcd on the same machine answers in about a
millisecond). A write returns once the watch feed has delivered its revision, so the writer's
own watchers and the store's ``revision`` have seen it: the same order the SQLite store keeps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # gRPC's C core logs handshakes at INFO to stderr

import aetcd
import grpc
from aetcd import rpc
from aetcd import watcher as aetcd_watcher
from aetcd.exceptions import RevisionCompactedError

from ..api.errors import RequestEntityTooLarge
from .base import (
    Compacted,
    Entry,
    Event,
    Guard,
    GuardMismatch,
    KeyExists,
    KeyNotFound,
    RevisionMismatch,
    StoreError,
    Unavailable,
)
from .window import HISTORY_SECONDS, MAX_EVENTS, MIN_EVENTS, EventWindow

log = logging.getLogger(__name__)

T = TypeVar("T")
REGISTRY_PREFIX = "/registry/"
COMPACT_KEY = b"compact_rev_key"  # the key kube-apiserver's compactors agree through


@dataclass(frozen=True)
class EtcdConfig:
    """Where etcd is and how to reach it: ``--store etcd://HOST:2379[,HOST2:2379]`` and etcd's
    client TLS files (kube-apiserver's ``--etcd-cafile``/``--etcd-certfile``/``--etcd-keyfile``)."""

    endpoints: tuple[tuple[str, int], ...]
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, spec: str, *, cafile: str | None = None, certfile: str | None = None,
              keyfile: str | None = None) -> EtcdConfig:
        """``etcd://h1:2379,h2:2379`` (``https://`` or a CA file: TLS; ``http://`` accepted too)."""
        scheme, sep, rest = spec.partition("://")
        if not sep or scheme not in ("etcd", "http", "https"):
            raise ValueError(f"not an etcd address: {spec!r} (expected etcd://HOST:PORT[,HOST:PORT...])")
        endpoints = []
        for part in rest.split(","):
            part = part.strip().rstrip("/")
            part = part.split("://", 1)[-1]
            if not part:
                continue
            url = urlsplit("//" + part)
            if not url.hostname:
                raise ValueError(f"not an etcd address: {part!r} in {spec!r}")
            try:
                port = url.port or 2379
            except ValueError as exc:
                raise ValueError(f"not an etcd port: {part!r} in {spec!r}") from exc
            endpoints.append((url.hostname, port))
        if not endpoints:
            raise ValueError(f"no etcd endpoint in {spec!r}")
        for name in (cafile, certfile, keyfile):
            if name and not Path(name).is_file():
                raise ValueError(f"no such file: {name}")
        if bool(certfile) != bool(keyfile):
            raise ValueError("--etcd-certfile and --etcd-keyfile go together")
        return cls(tuple(endpoints), cafile, certfile, keyfile, tls=scheme == "https" or bool(cafile or certfile))

    def url(self) -> str:
        return "etcd://" + ",".join(f"{h}:{p}" for h, p in self.endpoints)

    def describe(self) -> str:
        return ",".join(f"{h}:{p}" for h, p in self.endpoints)


class _Client(aetcd.Client):
    """aetcd's client on a channel of our own: several endpoints (gRPC round-robin over them,
    skipping members that are down) and TLS, which aetcd's own ``connect`` does not offer."""

    def __init__(self, config: EtcdConfig, timeout: float) -> None:
        super().__init__(timeout=timeout, options={
            "grpc.lb_policy_name": "round_robin",
            "grpc.max_receive_message_length": -1,  # a list of thousands of objects in one answer
            "grpc.max_send_message_length": -1,
            "grpc.initial_reconnect_backoff_ms": 200,
            "grpc.max_reconnect_backoff_ms": 1000,
        })
        self._config = config

    async def connect(self) -> None:
        if self._connected.is_set():
            return
        addresses = []
        for host, port in self._config.endpoints:
            try:
                ip = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
            except OSError as exc:
                raise Unavailable(f"the store is unavailable: cannot resolve etcd host {host!r}: {exc}") from exc
            addresses.append(f"{ip}:{port}")
        target = "ipv4:" + ",".join(addresses)
        options = list(self._options.items())
        if self._config.tls:
            def read(name: str | None) -> bytes | None:
                return Path(name).read_bytes() if name else None
            creds = grpc.ssl_channel_credentials(read(self._config.cafile), read(self._config.keyfile),
                                                 read(self._config.certfile))
            options.append(("grpc.ssl_target_name_override", self._config.endpoints[0][0]))
            self.channel = grpc.aio.secure_channel(target, creds, options=options)
        else:
            self.channel = grpc.aio.insecure_channel(target, options=options)
        self.kvstub = rpc.KVStub(self.channel)
        self.clusterstub = rpc.ClusterStub(self.channel)
        self.leasestub = rpc.LeaseStub(self.channel)
        self.maintenancestub = rpc.MaintenanceStub(self.channel)
        # hasleader: a member cut off from the quorum ends the watch instead of going silent
        # (clientv3.WithRequireLeader), so the feed moves to a member that has a leader.
        self._watcher = aetcd_watcher.Watcher(rpc.WatchStub(self.channel), timeout=self._timeout,
                                              metadata=(("hasleader", "true"),))
        self._connected.set()


def _range_end(prefix: bytes) -> bytes:
    return aetcd.utils.prefix_range_end(prefix)


class EtcdStore:
    def __init__(self, config: EtcdConfig, *, timeout: float = 5.0, window: int = MAX_EVENTS,
                 window_seconds: float = HISTORY_SECONDS, min_events: int = MIN_EVENTS,
                 compaction_interval: float = 300.0) -> None:
        self.config = config
        self._timeout = timeout
        self._owner = threading.get_ident()  # the thread that fans events out (the API server's loop)
        self._main_loop: asyncio.AbstractEventLoop | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="etcd-client", daemon=True)
        self._thread.start()
        self._closing = False
        self._incoming: deque[tuple[Any, ...]] = deque()
        self._cond = threading.Condition()
        self._drain_scheduled = False
        self._down: Unavailable | None = None  # etcd is away (set by a failed call, cleared by _probe)
        self._probing = False  # not while opening: a store that cannot open fails
        try:
            self._client: _Client = self._run(self._connect())
            header = self._run(self._range(REGISTRY_PREFIX.encode(), count_only=True)).header
        except BaseException:
            self._stop_loop()
            raise
        self._rev: int = header.revision  # every event up to here has been published
        self._received: int = header.revision  # every event up to here has arrived from the feed
        self._window = EventWindow(self._rev, window=window, window_seconds=window_seconds, min_events=min_events)
        self._probing = True
        self._tasks = [asyncio.run_coroutine_threadsafe(self._feed(), self._loop)]
        if compaction_interval > 0:
            self._tasks.append(asyncio.run_coroutine_threadsafe(self._compactor(compaction_interval), self._loop))

    # plumbing: coroutines on the client's loop, errors as the API reports them

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the client's loop and wait for it. While etcd is known to be away, fail
        at once instead: the API server's loop waits for each call, so requests queued behind a
        timed-out one must not each wait out the timeout too. A probe notices etcd's return."""
        if self._down is not None:
            coro.close()
            raise Unavailable(self._down.message, timeout=self._down.code == 504)
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(self._timeout + 1)
        except concurrent.futures.TimeoutError:
            future.cancel()
            exc = Unavailable(f"Timeout: request did not complete within {self._timeout:g}s: the store "
                              f"(etcd at {self.config.describe()}) did not answer", timeout=True)
            self._went_away(exc)
            raise exc from None
        except Unavailable as exc:
            self._went_away(exc)
            raise

    def _went_away(self, exc: Unavailable) -> None:
        if self._down is None and not self._closing and self._probing:
            self._down = exc
            log.warning("%s; requests fail at once until it answers again", exc.message)
            asyncio.run_coroutine_threadsafe(self._probe(), self._loop)

    async def _probe(self) -> None:
        while not self._closing:
            await asyncio.sleep(0.3)
            try:
                await self._client.kvstub.Range(rpc.RangeRequest(key=REGISTRY_PREFIX.encode(), count_only=True,
                                                                 range_end=_range_end(REGISTRY_PREFIX.encode())),
                                                timeout=min(self._timeout, 1.0))
            except grpc.aio.AioRpcError:
                continue
            log.warning("the store (etcd at %s) answers again", self.config.describe())
            self._down = None
            return

    async def _connect(self) -> _Client:
        client = _Client(self.config, self._timeout)
        await client.connect()
        return client

    def _error(self, exc: grpc.aio.AioRpcError) -> Exception:
        code, details = exc.code(), exc.details() or ""
        if code == grpc.StatusCode.OUT_OF_RANGE and "compacted" in details:
            return Compacted(details)
        if "too large" in details:
            return RequestEntityTooLarge(f"Request entity too large: {details}")
        where = f"etcd at {self.config.describe()}"
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return Unavailable(f"Timeout: request did not complete within {self._timeout:g}s: the store "
                               f"({where}) is unavailable", timeout=True)
        return Unavailable(f"the store ({where}) is unavailable: {details or code.name}")

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._error(exc) from None

    async def _range(self, key: bytes, *, prefix: bool = False, count_only: bool = False,
                     keys_only: bool = False, revision: int = 0) -> Any:
        request = rpc.RangeRequest(key=key, range_end=_range_end(key) if prefix or count_only else b"",
                                   count_only=count_only, keys_only=keys_only, revision=revision)
        return await self._call(self._client.kvstub.Range, request)

    async def _txn(self, compare: list[Any], success: list[Any], failure: list[Any]) -> Any:
        return await self._call(self._client.kvstub.Txn,
                                rpc.TxnRequest(compare=compare, success=success, failure=failure))

    @property
    def revision(self) -> int:
        self._drain()
        return self._rev

    # reads: linearizable reads from etcd (the quorum read kube-apiserver does for a GET)

    @staticmethod
    def _entry(kv: Any) -> Entry:
        return Entry(kv.key.decode(), json.loads(kv.value), kv.mod_revision, kv.create_revision)

    def get(self, key: str) -> Entry | None:
        resp = self._run(self._range(key.encode()))
        return self._entry(resp.kvs[0]) if resp.kvs else None

    def list(self, prefix: str) -> tuple[list[Entry], int]:
        resp = self._run(self._range(prefix.encode(), prefix=True))
        return [self._entry(kv) for kv in resp.kvs], resp.header.revision

    def list_revisions(self, prefix: str) -> tuple[list[tuple[str, int]], int]:
        """Keys under ``prefix`` with their ``mod_rev`` (etcd ``keys_only``): the API server serves
        the objects from its cache of decoded ones."""
        resp = self._run(self._range(prefix.encode(), prefix=True, keys_only=True))
        return [(kv.key.decode(), kv.mod_revision) for kv in resp.kvs], resp.header.revision

    def entries_at(self, prefix: str, rev: int) -> list[Entry]:
        """The keys under ``prefix`` at revision ``rev``, read from etcd's history (a later page of
        a list); ``Compacted`` once etcd has compacted ``rev``."""
        return [self._entry(kv) for kv in self._run(self._range(prefix.encode(), prefix=True, revision=rev)).kvs]

    # writes: one etcd transaction each

    @staticmethod
    def _guarded(guard: Guard | None) -> tuple[list[Any], list[Any]]:
        """The compare and the put of an allocator guard (nothing without one)."""
        if guard is None:
            return [], []
        g, rev, value = guard[0].encode(), guard[1], guard[2]
        compare = (rpc.Compare(key=g, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL, create_revision=0)
                   if rev == 0 else
                   rpc.Compare(key=g, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL, mod_revision=rev))
        return [compare], [rpc.RequestOp(request_put=rpc.PutRequest(key=g, value=json.dumps(value).encode()))]

    def create(self, key: str, value: dict[str, Any], *, guard: Guard | None = None) -> int:
        k = key.encode()
        g_cmp, g_put = self._guarded(guard)
        resp = self._run(self._txn(
            [rpc.Compare(key=k, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL, create_revision=0), *g_cmp],
            [rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=json.dumps(value).encode())), *g_put],
            [rpc.RequestOp(request_range=rpc.RangeRequest(key=k, keys_only=True))] if guard else []))
        if not resp.succeeded:
            if guard and not resp.responses[0].response_range.kvs:
                raise GuardMismatch(guard[0])
            raise KeyExists(key)
        return self._settle(resp.header.revision)

    def _guard(self, k: bytes, expected_rev: int | None) -> Any:
        if expected_rev is None:  # the key must exist
            return rpc.Compare(key=k, target=rpc.Compare.VERSION, result=rpc.Compare.GREATER, version=0)
        return rpc.Compare(key=k, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL, mod_revision=expected_rev)

    @staticmethod
    def _why(key: str, resp: Any, expected_rev: int | None = None, guard: Guard | None = None) -> StoreError:
        found = resp.responses[0].response_range.kvs if resp.responses else []
        if not found:
            return KeyNotFound(key)
        if guard and (expected_rev is None or found[0].mod_revision == expected_rev):
            return GuardMismatch(guard[0])  # the key was as expected: the guard moved
        return RevisionMismatch(key)

    def update(self, key: str, value: dict[str, Any], expected_rev: int | None = None, *,
               guard: Guard | None = None) -> int:
        k = key.encode()
        g_cmp, g_put = self._guarded(guard)
        resp = self._run(self._txn(
            [self._guard(k, expected_rev), *g_cmp],
            [rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=json.dumps(value).encode())), *g_put],
            [rpc.RequestOp(request_range=rpc.RangeRequest(key=k, keys_only=True))]))
        if not resp.succeeded:
            raise self._why(key, resp, expected_rev, guard)
        return self._settle(resp.header.revision)

    def delete(self, key: str, expected_rev: int | None = None) -> tuple[Entry, int]:
        k = key.encode()
        resp = self._run(self._txn(
            [self._guard(k, expected_rev)],
            [rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=k, prev_kv=True))],
            [rpc.RequestOp(request_range=rpc.RangeRequest(key=k, keys_only=True))]))
        if not resp.succeeded:
            raise self._why(key, resp)
        prev = resp.responses[0].response_delete_range.prev_kvs
        if not prev:  # deleted by someone else between compare and delete: cannot happen in one txn
            raise KeyNotFound(key)
        return self._entry(prev[0]), self._settle(resp.header.revision)

    def compact(self, revision: int | None = None) -> int:
        """Compact etcd's history up to ``revision`` (default: the current one); returns it."""
        async def go() -> int:
            rev = revision or (await self._range(REGISTRY_PREFIX.encode(), count_only=True)).header.revision
            await self._call(self._client.kvstub.Compact, rpc.CompactionRequest(revision=rev, physical=True))
            return rev
        return self._run(go())

    # the watch feed

    def _settle(self, rev: int) -> int:
        """Wait until the feed has delivered ``rev`` and publish it: the writer's watchers see
        the write before the next request does, as with the SQLite store."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._received >= rev or self._closing, self._timeout):
                log.warning("the etcd watch has not delivered revision %d within %.0fs", rev, self._timeout)
        self._drain()
        return rev

    def _drain(self) -> None:
        """Publish what the feed delivered (on the API server's thread, the only one that fans out)."""
        if threading.get_ident() != self._owner:
            return
        self._drain_scheduled = False
        while self._incoming:
            item = self._incoming.popleft()
            if item[0] == "RESET":
                self._window.reset(item[1])
                self._rev = item[1]
                continue
            etype, key, value, prev, prev_rev, rev = item
            self._rev = max(self._rev, rev)
            if not key.startswith(REGISTRY_PREFIX):
                continue
            if self._window.watched(key):
                event = Event(etype, key, json.loads(value), rev, json.loads(prev) if prev is not None else None)
            else:  # nobody watches it now: the window keeps the text, decoded if a watch replays it
                event = Event(etype, key, {}, rev, None if prev is None else {})
            self._window.publish(event, value, prev, prev_rev)

    def _deliver(self, item: tuple[Any, ...], rev: int) -> None:
        """On the client's thread: hand an event to the API server's thread."""
        self._incoming.append(item)
        with self._cond:
            self._received = max(self._received, rev)
            self._cond.notify_all()
        loop = self._main_loop
        if loop is not None and not self._drain_scheduled and not loop.is_closed():
            self._drain_scheduled = True
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._drain)

    async def _feed(self) -> None:
        while not self._closing:
            try:
                stream = await self._client.watch(b"\0", range_end=b"\0", start_revision=self._received + 1,
                                                  prev_kv=True)
                async for ev in stream:
                    kv, rev = ev.kv, ev.kv.mod_revision
                    if ev.kind == "DELETE":
                        prev = ev.prev_kv
                        text = prev.value.decode() if prev is not None and prev.key else "{}"
                        item = ("DELETE", kv.key.decode(), text, text,
                                prev.mod_revision if prev is not None and prev.key else rev, rev)
                    elif kv.version == 1:
                        item = ("PUT", kv.key.decode(), kv.value.decode(), None, None, rev)
                    else:
                        prev = ev.prev_kv
                        has_prev = prev is not None and bool(prev.key)
                        item = ("PUT", kv.key.decode(), kv.value.decode(),
                                prev.value.decode() if has_prev else "{}",
                                prev.mod_revision if has_prev else kv.create_revision, rev)
                    self._deliver(item, rev)
            except asyncio.CancelledError:
                raise
            except RevisionCompactedError:
                # Gone for good behind the feed (it was away longer than etcd keeps history):
                # start again from now; every watcher is told to relist, as the cacher does.
                with contextlib.suppress(Exception):
                    rev = (await self._range(REGISTRY_PREFIX.encode(), count_only=True)).header.revision
                    log.warning("etcd compacted past the watch feed; watchers relist from %d", rev)
                    self._deliver(("RESET", rev), rev)
                    continue
            except Exception as exc:  # noqa: BLE001 - etcd away: try again shortly
                if not self._closing:
                    log.debug("etcd watch interrupted (%s); resuming from %d", exc, self._received + 1)
            await asyncio.sleep(0.5)

    async def _compactor(self, interval: float) -> None:
        """kube-apiserver's compactor: each interval, compact to the revision the previous
        interval recorded, if this server wins the ``compact_rev_key`` transaction."""
        seen_version, last_rev = 0, 0
        while not self._closing:
            await asyncio.sleep(interval)
            try:
                resp = await self._txn(
                    [rpc.Compare(key=COMPACT_KEY, target=rpc.Compare.VERSION, result=rpc.Compare.EQUAL,
                                 version=seen_version)],
                    [rpc.RequestOp(request_put=rpc.PutRequest(key=COMPACT_KEY, value=str(last_rev).encode()))],
                    [rpc.RequestOp(request_range=rpc.RangeRequest(key=COMPACT_KEY))])
                rev = resp.header.revision
                if not resp.succeeded:
                    seen_version = resp.responses[0].response_range.kvs[0].version
                else:
                    seen_version += 1
                    if last_rev:
                        await self._call(self._client.kvstub.Compact, rpc.CompactionRequest(revision=last_rev))
                last_rev = rev
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - next interval
                log.warning("etcd compaction failed: %s", exc)

    def watch(self, prefix: str, from_rev: int) -> AsyncIterator[Event]:
        """Events on keys under ``prefix`` with revision > ``from_rev`` from the window, then live
        (``Compacted`` at once when ``from_rev`` is older than the window)."""
        with contextlib.suppress(RuntimeError):
            self._main_loop = asyncio.get_running_loop()
        self._drain()
        return self._window.watch(prefix, from_rev)

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        with self._cond:
            self._cond.notify_all()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(2)
        self._window.close()
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(2)


def wait_until_ready(config: EtcdConfig, timeout: float = 10.0) -> None:
    """Block until etcd answers a read (used before a daemon starts on it, and by tests)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            EtcdStore(config, timeout=2, compaction_interval=0).close()
            return
        except Exception as exc:  # noqa: BLE001
            last = exc
            time.sleep(0.2)
    raise Unavailable(f"the store (etcd at {config.describe()}) is unavailable: {last}")
