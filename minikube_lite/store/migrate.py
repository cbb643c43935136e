"""Moving a cluster's objects from its SQLite file to etcd (``minikube-lite store migrate``).

What Kubernetes does when an etcd is restored or moved (etcdutl snapshot restore
``--bump-revision``): the objects keep everything they hold -- ``uid``, ``creationTimestamp``,
``generation``, owner references, finalizers -- because the stored values are copied as they
are, and resourceVersions stay monotonic. etcd numbers its revisions itself, one per
transaction, and offers no way to start at a chosen one, so before copying, the migration
writes (and then deletes) a padding key until etcd's revision has passed the SQLite store's
revision. Every object copied then gets a resourceVersion greater than any the cluster ever
handed out, so a client holding an old one cannot mistake a new state for an old one, and a
watch resuming from an old one is answered 410 and relists, as after any API server restart.

Objects are copied in the order they were last written (their SQLite ``mod_rev``), in
transactions of up to 100 creates (etcd's default ``--max-txn-ops`` is 128), each guarded by
``create_revision == 0`` so nothing already in etcd is overwritten. The SQLite file is left as
it was, so ``start --store sqlite`` goes back to the state at the migration.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass

from aetcd import rpc

from .base import StoreError
from .etcd import REGISTRY_PREFIX, EtcdStore
from .sqlite import SQLiteStore

PAD_KEY = b"/minikube-lite/migration/revision-pad"
_BATCH = 100
_PARALLEL = 64
_PAD_STEP = 2000


class MigrationError(StoreError):
    pass


@dataclass(frozen=True)
class Moved:
    objects: int
    sqlite_revision: int
    first_revision: int  # etcd's revision of the first batch copied (> sqlite_revision)
    last_revision: int


def migrate(source: SQLiteStore, target: EtcdStore, progress: Callable[[str], None] = lambda _m: None) -> Moved:
    entries, _ = source.list(REGISTRY_PREFIX)
    old_rev = source.revision
    present = target._run(target._range(REGISTRY_PREFIX.encode(), count_only=True))
    if present.count:
        raise MigrationError(f"etcd at {target.config.describe()} already holds {present.count} objects under "
                             f"{REGISTRY_PREFIX}: migrate into an etcd of this cluster's own (an empty one)")
    rev = present.header.revision
    if rev < old_rev:
        progress(f"Raising etcd's revision from {rev} past {old_rev} (the SQLite store's) ...")
        while rev < old_rev:  # in steps that each finish well within the store's timeout
            rev = target._run(_pad(target, min(_PAD_STEP, old_rev - rev)))
        target._run(target._call(target._client.kvstub.DeleteRange, rpc.DeleteRangeRequest(key=PAD_KEY)))
    entries.sort(key=lambda e: e.mod_rev)
    first = last = 0
    for i in range(0, len(entries), _BATCH):
        batch = entries[i:i + _BATCH]
        keys = [e.key.encode() for e in batch]
        resp = target._run(target._txn(
            [rpc.Compare(key=k, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL, create_revision=0) for k in keys],
            [rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=json.dumps(e.value).encode()))
             for k, e in zip(keys, batch, strict=True)], []))
        if not resp.succeeded:
            raise MigrationError(f"an object of {batch[0].key} .. {batch[-1].key} appeared in etcd meanwhile; "
                                 "nothing after it was copied")
        first = first or resp.header.revision
        last = resp.header.revision
        progress(f"Copied {min(i + _BATCH, len(entries))}/{len(entries)} objects")
    copied, _ = target.list(REGISTRY_PREFIX)
    if [(e.key, e.value) for e in copied] != [(e.key, e.value) for e in sorted(entries, key=lambda e: e.key)]:
        raise MigrationError("etcd does not hold exactly the objects copied")
    return Moved(len(entries), old_rev, first, last)


async def _pad(target: EtcdStore, count: int) -> int:
    """``count`` more revisions in etcd: puts of one key, many in flight at once; etcd's revision after."""
    remaining, last = count, 0

    async def worker() -> None:
        nonlocal remaining, last
        while remaining > 0:
            remaining -= 1
            resp = await target._call(target._client.kvstub.Put, rpc.PutRequest(key=PAD_KEY, value=b"x"))
            last = max(last, resp.header.revision)

    await asyncio.gather(*(worker() for _ in range(min(_PARALLEL, count))))
    return last
