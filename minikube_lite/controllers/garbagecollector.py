"""The garbage collector: deletes (or orphans) the dependents of deleted owners.

Kubernetes' kube-controller-manager runs the same loop. An object names its owners in
``metadata.ownerReferences``; this controller keeps an informer on every kind it can list,
an index owner uid → dependents, and reconciles one object at a time from a work queue:

- an object whose owners are all gone is deleted (Background cascading: the API server
  deleted the owner at once, the dependents follow here);
- an owner being deleted with the ``foregroundDeletion`` finalizer has its dependents deleted
  first; the finalizer is removed (and so the owner deleted) once no dependent with
  ``blockOwnerDeletion: true`` is left;
- an owner being deleted with the ``orphan`` finalizer has its reference removed from every
  dependent, then the finalizer removed.

It only uses the client (list, watch, get, patch, delete), never the store, so it sees exactly
what kubectl sees. An owner missing from the caches is confirmed with a live GET before a
dependent is deleted: informers of different kinds are not in step, and a dependent seen
before its brand-new owner must not be collected.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from ..api import register
from ..api.errors import Conflict, NotFound
from ..api.register import by_kind, resources
from ..api.resources import Resource
from ..client.base import Client
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue

log = logging.getLogger(__name__)

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"

Obj = dict[str, Any]


def _collectable(res: Resource) -> bool:
    return all(v in res.verbs for v in ("list", "watch", "delete", "patch")) and res.plural != "events"


def _name(res: Resource) -> str:
    """How the client names a resource: ``pods``, ``widgets.example.com`` (a plural is only unique
    within its group)."""
    return f"{res.plural}.{res.group}" if res.group else res.plural


def _refs(obj: Obj) -> list[Obj]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [r for r in refs if isinstance(r, dict) and r.get("uid")]


class GarbageCollector:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.informers: dict[str, Informer] = {}
        self.queue = WorkQueue("garbagecollector")
        self.uids: dict[str, tuple[str, str]] = {}  # uid -> (plural, key)
        self.dependents: dict[str, set[tuple[str, str]]] = {}  # owner uid -> {(plural, key)}
        self._owners_of: dict[tuple[str, str], set[str]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._revision = register.revision()
        for name in self._collectable_names():
            self._add_informer(name)

    @staticmethod
    def _collectable_names() -> list[str]:
        names: list[str] = []
        for r in resources():
            if _collectable(r) and _name(r) not in names:
                names.append(_name(r))
        return names

    def _add_informer(self, name: str) -> Informer:
        inf = self.informers[name] = Informer(self.client, name)
        inf.add_handler(lambda t, o, plural=name: self._on_event(plural, t, o))
        return inf

    async def _follow_register(self) -> None:
        """Kinds come and go at run time (CRDs): like kube-controller-manager's garbage collector,
        which re-reads discovery, informers are started and stopped to match the register."""
        while True:
            await asyncio.sleep(0.2)
            if register.revision() == self._revision:
                continue
            self._revision = register.revision()
            wanted = self._collectable_names()
            for name in wanted:
                if name not in self.informers:
                    self._tasks[name] = asyncio.create_task(self._add_informer(name).run(), name=f"gc-{name}")
            for name in [n for n in self.informers if n not in wanted]:
                del self.informers[name]
                task = self._tasks.pop(name, None)
                if task is not None:
                    task.cancel()

    # event handlers: bookkeeping and keys only

    def _on_event(self, plural: str, etype: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = object_key(obj)
        item = (plural, key)
        uid = meta.get("uid")
        for owner in self._owners_of.pop(item, set()):
            deps = self.dependents.get(owner)
            if deps is not None:
                deps.discard(item)
                if not deps:
                    del self.dependents[owner]
            self._enqueue_uid(owner)  # a foreground owner may be waiting for this one
        if etype == "DELETED":
            if uid and self.uids.get(uid) == item:
                del self.uids[uid]
            for dep in list(self.dependents.get(uid or "", ())):
                self.queue.add(json.dumps(dep))
            return
        if uid:
            self.uids[uid] = item
        owners = {r["uid"] for r in _refs(obj)}
        if owners:
            self._owners_of[item] = owners
            for owner in owners:
                self.dependents.setdefault(owner, set()).add(item)
        if owners or meta.get("deletionTimestamp"):
            self.queue.add(json.dumps(item))
        if meta.get("deletionTimestamp"):
            for dep in list(self.dependents.get(uid or "", ())):
                self.queue.add(json.dumps(dep))

    def _enqueue_uid(self, uid: str) -> None:
        item = self.uids.get(uid)
        if item is not None:
            self.queue.add(json.dumps(item))

    # the loop

    async def run(self) -> None:
        try:
            await asyncio.gather(*(inf.run() for inf in list(self.informers.values())), self._work(),
                                 self._follow_register())
        finally:
            for task in self._tasks.values():
                task.cancel()

    async def _work(self) -> None:
        for inf in list(self.informers.values()):
            await inf.synced.wait()
        await self.queue.run(self._reconcile_key, workers=4)

    async def _reconcile_key(self, key: str) -> None:
        plural, obj_key = json.loads(key)
        inf = self.informers.get(plural)
        obj = inf.get(obj_key) if inf else None
        if obj is not None:
            await self.reconcile(plural, obj)

    async def reconcile(self, plural: str, obj: Obj) -> None:
        meta = obj["metadata"]
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp"):
            if ORPHAN in finalizers:
                await self._orphan_dependents(obj)
                await self._remove_finalizer(plural, obj, ORPHAN)
                return
            if FOREGROUND in finalizers:
                if await self._delete_dependents_first(obj):
                    await self._remove_finalizer(plural, obj, FOREGROUND)
                return
        refs = _refs(obj)
        if not refs or meta.get("deletionTimestamp"):
            return
        alive, dangling, waiting = [], [], []
        for ref in refs:
            state = await self._owner_state(obj, ref)
            {"alive": alive, "gone": dangling, "foreground": waiting}[state].append(ref)
        if alive:
            if dangling:  # drop references to owners that no longer exist
                patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": r["uid"]} for r in dangling]}}
                await self._ignore_gone(self.client.patch(plural, meta["name"], patch,
                                                          namespace=meta.get("namespace"), patch_type="strategic"))
            return
        policy = "Foreground" if waiting else "Background"
        log.info("garbage collector: deleting %s %s (%s)", plural, object_key(obj), policy)
        await self._ignore_gone(self.client.delete(plural, meta["name"], namespace=meta.get("namespace"),
                                                   propagation_policy=policy))

    async def _owner_state(self, dependent: Obj, ref: Obj) -> str:
        """``alive``, ``gone`` (absent, or another object of that name) or ``foreground``."""
        res = by_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        if res is None:
            return "alive"  # a kind this server does not serve: never guess it is gone
        ns = (dependent.get("metadata") or {}).get("namespace") if res.namespaced else None
        owner = None
        inf = self.informers.get(_name(res))
        if inf is not None:
            owner = inf.get(f"{ns}/{ref.get('name')}" if ns else str(ref.get("name")))
        if owner is None or owner["metadata"].get("uid") != ref["uid"]:
            try:
                owner = await self.client.get(_name(res), str(ref.get("name")), namespace=ns)
            except NotFound:
                return "gone"
        meta = owner["metadata"]
        if meta.get("uid") != ref["uid"]:
            return "gone"
        if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []):
            return "foreground"
        return "alive"

    def _dependents_of(self, obj: Obj) -> list[tuple[str, Obj]]:
        out = []
        for plural, key in sorted(self.dependents.get(obj["metadata"].get("uid", ""), ())):
            inf = self.informers.get(plural)
            dep = inf.get(key) if inf is not None else None
            if dep is not None:
                out.append((plural, dep))
        return out

    async def _orphan_dependents(self, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        for plural, dep in self._dependents_of(owner):
            meta = dep["metadata"]
            patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid}]}}
            await self._ignore_gone(self.client.patch(plural, meta["name"], patch, namespace=meta.get("namespace"),
                                                      patch_type="strategic"))

    async def _delete_dependents_first(self, owner: Obj) -> bool:
        """Delete the dependents; True once none that blocks the owner's deletion is left."""
        uid = owner["metadata"]["uid"]
        blocking = False
        for plural, dep in self._dependents_of(owner):
            meta = dep["metadata"]
            ref = next((r for r in _refs(dep) if r["uid"] == uid), {})
            if ref.get("blockOwnerDeletion"):
                blocking = True
            if meta.get("deletionTimestamp"):
                continue
            policy = "Foreground" if ref.get("blockOwnerDeletion") else "Background"
            await self._ignore_gone(self.client.delete(plural, meta["name"], namespace=meta.get("namespace"),
                                                       propagation_policy=policy))
        return not blocking

    async def _remove_finalizer(self, plural: str, obj: Obj, finalizer: str) -> None:
        meta = obj["metadata"]
        rest = [f for f in meta.get("finalizers") or [] if f != finalizer]
        patch = {"metadata": {"finalizers": rest or None, "resourceVersion": meta.get("resourceVersion")}}
        try:
            await self._ignore_gone(self.client.patch(plural, meta["name"], patch, namespace=meta.get("namespace"),
                                                      patch_type="merge"))
        except Conflict:
            self.queue.add_after(json.dumps((plural, object_key(obj))), 0.05)  # the informer brings the newer one

    @staticmethod
    async def _ignore_gone(call: Any) -> None:
        try:
            await call
        except NotFound:
            pass
