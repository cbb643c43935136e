"""The store's contract, in the manner of etcd (and of k3s's kine).

Keys are strings (``/registry/<group>/<plural>/<namespace>/<name>``); values are JSON-able
dicts the store never looks inside. One global revision counts every write; each key
remembers the revision that last wrote it (``mod_rev``), which the API server shows as
``metadata.resourceVersion``. ``watch`` replays what happened after a revision, in order,
then follows live writes; a start older than the kept window raises ``Compacted``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..api.errors import ApiError


class StoreError(Exception):
    pass


class KeyExists(StoreError):
    pass


class KeyNotFound(StoreError):
    pass


class RevisionMismatch(StoreError):
    """The key was written since the revision the caller expected."""


class GuardMismatch(StoreError):
    """The write's guard key (an allocator's, see ``Guard``) was written since the caller read it:
    what the caller computed from it is stale; compute again and retry."""


#: ``(key, mod_rev, value)``: write ``value`` to ``key`` in the same transaction as the object,
#: only if ``key`` still has ``mod_rev`` (0: absent). kube-apiserver's allocators keep their
#: range in one ``RangeAllocation`` object updated on its revision; a Service write guarded by
#: the allocator key cannot commit an allocation computed from a view another writer changed.
Guard = tuple[str, int, dict[str, Any]]


class StoreFull(StoreError):
    """A write the disk had no room for; nothing of it was kept (the transaction rolled back)."""


class StoreDamaged(StoreError):
    """The store's file is not a sound database: the daemon refuses to start on it."""


class Compacted(StoreError):
    """A watch asked for a revision older than the window of events kept in memory."""


class Unavailable(StoreError, ApiError):
    """The store cannot be reached or has no quorum: the request fails with 503 (or 504 when it
    timed out) and a Status that says so, never a 500 and never a hang past the store's timeout.

    It is an ``ApiError`` so the HTTP layer and the in-process client report it as they report
    any other failure, without the registry knowing which store it runs on."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        ApiError.__init__(self, message, code=504 if timeout else 503,
                          reason="Timeout" if timeout else "ServiceUnavailable",
                          details={"retryAfterSeconds": 1})


@dataclass(frozen=True)
class Entry:
    key: str
    value: dict[str, Any]
    mod_rev: int
    create_rev: int


@dataclass(frozen=True)
class Event:
    type: Literal["PUT", "DELETE"]
    key: str
    value: dict[str, Any]  # the new value, or for DELETE the last value before the delete
    rev: int
    prev: dict[str, Any] | None = None  # value before this write (None for a create)

    @property
    def created(self) -> bool:
        return self.type == "PUT" and self.prev is None


class Store(Protocol):
    @property
    def revision(self) -> int: ...

    def get(self, key: str) -> Entry | None: ...

    def list(self, prefix: str) -> tuple[list[Entry], int]: ...

    def create(self, key: str, value: dict[str, Any], *, guard: Guard | None = None) -> int: ...

    def update(self, key: str, value: dict[str, Any], expected_rev: int | None = None, *,
               guard: Guard | None = None) -> int: ...

    def delete(self, key: str, expected_rev: int | None = None) -> tuple[Entry, int]: ...

    def watch(self, prefix: str, from_rev: int) -> AsyncIterator[Event]: ...

    def close(self) -> None: ...
