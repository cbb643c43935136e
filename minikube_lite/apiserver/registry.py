"""The API server's storage layer: every create, read, update, patch, delete and watch.

The HTTP handlers (app.py) and the in-process client (client/local.py) both come here, so
kubectl and the controllers see exactly the same rules: validation, defaults, allocation,
uid / creationTimestamp / generation, optimistic concurrency on resourceVersion, status
written only through ``/status``, graceful deletion of pods and finalizers.

The reads (get, list, watch) are mixed in from ``reads.py``; the writes are here.

All methods but ``watch`` are synchronous: the store answers in well under a millisecond,
and they run on the event loop so that writes and the watch fan-out stay in one order.
"""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ..api import register, unsupported
from ..api.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Conflict,
    Invalid,
    NotFound,
    UnsupportedMediaType,
    cause,
)
from ..api.resources import Resource
from ..api.times import now_rfc3339
from ..store.base import Entry, Guard, GuardMismatch, KeyExists, KeyNotFound, RevisionMismatch, Store
from . import ssa
from .decoding import Decoded, load_yaml
from .patch import STRATEGIC_MERGE_PATCH, apply_patch, strategic_merge_patch
from .reads import Cached, RegistryReads

Obj = dict[str, Any]

# Kinds without a spec whose generation still counts changes (configmaps, secrets ...) are
# left alone; generation is bumped on spec changes only.
FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"
_CACHE_LIMIT = 200_000  # objects; beyond this the cache starts again empty (memory guard)
_EVENT_CACHE = 4096  # recent watch events whose shared object is kept for all watchers
_OPTIMISTIC_MSG = "the object has been modified; please apply your changes to the latest version and try again"


def _random_suffix(n: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes avoids vowels and look-alikes
    return "".join(secrets.choice(alphabet) for _ in range(n))



class Registry(RegistryReads):
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, Cached] = {}
        self._event_objs: dict[int, Cached] = {}

    def _delete_key(self, key: str, expected_rev: int) -> None:
        self.store.delete(key, expected_rev)
        self._cache.pop(key, None)

    def _cached(self, key: str, mod_rev: int) -> Cached | None:
        hit = self._cache.get(key)
        if hit is not None and hit.mod_rev == mod_rev:
            return hit
        entry = self.store.get(key)
        if entry is None:
            return None
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        hit = self._cache[key] = Cached(entry.mod_rev, self._out(entry))
        return hit

    def event_object(self, value: Obj, rev: int) -> Cached:
        """The shared, read-only object of the watch event at ``rev`` (one per write)."""
        hit = self._event_objs.get(rev)
        if hit is None:
            if len(self._event_objs) >= _EVENT_CACHE:
                for old in list(self._event_objs)[: _EVENT_CACHE // 2]:
                    del self._event_objs[old]
            hit = self._event_objs[rev] = Cached(rev, self._shared_out(value, rev))
        return hit

    # keys

    @staticmethod
    def _prefix(res: Resource, namespace: str | None) -> str:
        base = f"/registry/{res.group or 'core'}/{res.plural}/"
        if res.namespaced and namespace:
            base += f"{namespace}/"
        return base

    def _key(self, res: Resource, namespace: str | None, name: str) -> str:
        return self._prefix(res, namespace if res.namespaced else None) + name

    @staticmethod
    def _out(entry: Entry) -> Obj:
        obj = entry.value
        obj.setdefault("metadata", {})["resourceVersion"] = str(entry.mod_rev)
        return obj

    @staticmethod
    def _shared_out(value: Obj, rev: int) -> Obj:
        """A copy safe to hand out while the store's event window keeps the original."""
        obj = copy.deepcopy(value)
        obj.setdefault("metadata", {})["resourceVersion"] = str(rev)
        return obj

    @staticmethod
    def _served(res: Resource, obj: Any) -> Any:
        """An object (or a ``Cached`` one) as served in ``res``'s version: a custom kind stored in
        another version of its CRD gets this version's apiVersion (conversion ``None``)."""
        convert = register.kind_for(res).convert
        if convert is None:
            return obj
        if isinstance(obj, Cached):
            return Cached(obj.mod_rev, convert(obj.obj))
        return convert(obj)

    def _check_identity(self, res: Resource, obj: Any, namespace: str | None) -> Obj:
        if not isinstance(obj, dict):
            raise BadRequest(f"the body of the request must be a {res.kind} object, not {type(obj).__name__}")
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if kind and kind != res.kind:
            raise BadRequest(f'the kind in the data ({kind}) does not match the expected kind ({res.kind})')
        if api_version and api_version != res.api_version:
            raise BadRequest(f"the API version in the data ({api_version}) does not match the expected "
                             f"API version ({res.api_version})")
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise Invalid(res.kind, "", [cause("metadata", "Invalid value: must be an object")])
        if res.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise BadRequest("the namespace of the provided object does not match the namespace "
                                 "sent on the request")
            meta["namespace"] = namespace or body_ns or "default"
        else:
            meta.pop("namespace", None)
        return obj

    def _check_namespace(self, res: Resource, namespace: str, name: str = "") -> None:
        """NamespaceLifecycle admission: no new objects in a missing or terminating namespace."""
        if not res.namespaced:
            return
        entry = self.store.get(f"/registry/core/namespaces/{namespace}")
        if entry is None:
            raise NotFound("namespaces", namespace)
        if entry.value.get("metadata", {}).get("deletionTimestamp"):
            raise ApiError(f'{res.plural} "{name}" is forbidden: unable to create new content in namespace '
                           f"{namespace} because it is being terminated", code=403, reason="Forbidden",
                           details={"name": name, "kind": res.plural,
                                    "causes": [{"reason": "NamespaceTerminating", "message": f"namespace {namespace} "
                                                "is being terminated", "field": "metadata.namespace"}]})

    def create(
        self,
        res: Resource,
        namespace: str | None,
        obj: Any,
        *,
        dry_run: bool = False,
        field_validation: str = "Strict",
        field_manager: str | None = None,
        managed_fields: list[Obj] | None = None,
    ) -> tuple[Obj, list[str]]:
        """POST. ``managed_fields`` (server-side apply) replaces the Update entry of ``field_manager``."""
        for _ in range(_GUARD_RETRIES):
            try:
                return self._create_once(res, namespace, obj, dry_run=dry_run, field_validation=field_validation,
                                         field_manager=field_manager, managed_fields=managed_fields)
            except GuardMismatch:
                continue  # another API server allocated meanwhile: allocate again from the new view
        raise _allocator_busy(res, (obj.get("metadata") or {}).get("name", "") if isinstance(obj, dict) else "")

    def _guard(self, kind: Any) -> Guard | None:
        """The kind's allocator key as read now, before the allocation reads what it reads."""
        key = getattr(kind.strategy, "allocator", None)
        if not key:
            return None
        entry = self.store.get(key)
        return key, entry.mod_rev if entry is not None else 0, kind.strategy.allocator_value

    def _create_once(
        self,
        res: Resource,
        namespace: str | None,
        obj: Any,
        *,
        dry_run: bool,
        field_validation: str,
        field_manager: str | None,
        managed_fields: list[Obj] | None,
    ) -> tuple[Obj, list[str]]:
        obj = self._check_identity(res, copy.deepcopy(obj), namespace)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{_random_suffix()}"
        if not meta.get("name"):
            raise Invalid(res.kind, "", [cause("metadata.name",
                                                "Required value: name or generateName is required",
                                                "FieldValueRequired")])
        kind = register.kind_for(res)
        obj, warnings = register.validate(res, obj, field_validation=field_validation)
        warnings += unsupported.warnings_for(res.kind, obj)
        meta = obj["metadata"]
        ns = meta.get("namespace")
        if res.namespaced:
            self._check_namespace(res, ns, meta["name"])
        register.apply_defaults(res, obj)
        kind.strategy.prepare_create(obj, self)
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(k, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if "spec" in obj:
            meta["generation"] = 1
        meta.pop("managedFields", None)
        if managed_fields is not None:
            meta["managedFields"] = managed_fields
        elif field_manager:
            meta["managedFields"] = ssa.record_update(res, None, obj, field_manager)
        key = self._key(res, ns, meta["name"])
        guard = None if dry_run else self._guard(kind)
        kind.strategy.begin_create(obj, self)
        if dry_run:
            if self.store.get(key) is not None:
                raise AlreadyExists(res.plural, meta["name"], res.group)
            return self._served(res, obj), warnings
        try:
            rev = self.store.create(key, obj, guard=guard) if guard else self.store.create(key, obj)
        except KeyExists as exc:
            raise AlreadyExists(res.plural, meta["name"], res.group) from exc
        meta["resourceVersion"] = str(rev)
        return self._served(res, obj), warnings

    def list_all(self, plural: str, group: str = "") -> list[Obj]:
        """Every stored object of a kind in all namespaces (the ``StoreView`` strategies read)."""
        res = register.by_plural(plural, group)
        if res is None:
            return []
        return [e.value for e in self.store.list(self._prefix(res, None))[0]]

    def update(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        obj: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Strict",
        field_manager: str | None = None,
    ) -> tuple[Obj, list[str]]:
        """PUT. A ``metadata.resourceVersion`` in ``obj`` must match the stored one (else 409)."""
        obj = self._check_identity(res, copy.deepcopy(obj), namespace)
        entry = self._get_entry(res, namespace, name)
        return self._update_from(res, entry, obj, subresource=subresource, dry_run=dry_run,
                                 field_validation=field_validation, field_manager=field_manager)

    def _update_from(self, res: Resource, entry: Entry, obj: Obj, **kw: Any) -> tuple[Obj, list[str]]:
        for _ in range(_GUARD_RETRIES):
            try:
                return self._update_once(res, entry, copy.deepcopy(obj), **kw)
            except GuardMismatch:
                continue  # another API server allocated meanwhile: allocate again from the new view
        raise _allocator_busy(res, entry.value["metadata"]["name"])

    def _update_once(
        self,
        res: Resource,
        entry: Entry,
        obj: Obj,
        *,
        subresource: str | None,
        dry_run: bool,
        field_validation: str,
        field_manager: str | None,
        managed_fields: list[Obj] | None = None,
    ) -> tuple[Obj, list[str]]:
        old = entry.value
        name = old["metadata"]["name"]
        meta = obj.setdefault("metadata", {})
        requested_managed = meta.get("managedFields")
        if meta.get("name") and meta["name"] != name:
            raise BadRequest(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        meta["name"] = name
        rv = meta.get("resourceVersion")
        if rv and rv != str(entry.mod_rev):
            raise Conflict(res.plural, name, _OPTIMISTIC_MSG, res.group)
        warnings: list[str] = []
        kind = register.kind_for(res)
        guard: Guard | None = None
        if subresource == "status":
            new = copy.deepcopy(old)
            for key in kind.status_fields:
                new[key] = obj.get(key, {})
            new, warnings = register.validate(res, new, field_validation=field_validation)
        elif subresource not in (None, ""):
            sub_new = kind.strategy.update_subresource(subresource, old, obj)
            if sub_new is None:
                raise BadRequest(f"subresource {subresource!r} of {res.plural} cannot be updated this way")
            new = sub_new
        else:
            new, warnings = register.validate(res, obj, field_validation=field_validation)
            warnings += unsupported.warnings_for(res.kind, new)
            register.apply_defaults(res, new)
            if kind.status_subresource:
                for key in kind.status_fields:
                    if key in old:
                        new[key] = copy.deepcopy(old[key])
            register.validate_update(res, old, new)
            kind.strategy.prepare_update(new, old, self)
            new_meta = new["metadata"]
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "namespace", "generation"):
                if k in old["metadata"]:
                    new_meta[k] = old["metadata"][k]
                else:
                    new_meta.pop(k, None)
            if old["metadata"].get("deletionTimestamp"):
                # While an object terminates, finalizers may only be removed.
                added = [f for f in new_meta.get("finalizers") or []
                         if f not in (old["metadata"].get("finalizers") or [])]
                if added:
                    raise Invalid(res.kind, name, [cause(
                        "metadata.finalizers", "Forbidden: no new finalizers can be added if the object is "
                        f"being deleted, found new finalizers {json.dumps(added)}", "FieldValueForbidden")])
            guard = None if dry_run else self._guard(kind)
            kind.strategy.begin_update(new, old, self)
            if kind.strategy.generation_changed(new, old):
                new_meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        new["metadata"].pop("resourceVersion", None)
        stored_managed = old["metadata"].get("managedFields")
        if managed_fields is not None:
            base_managed = managed_fields
        elif requested_managed is None or requested_managed == stored_managed or subresource:
            base_managed = stored_managed
        else:  # the request rewrote managedFields ([] clears them), as Kubernetes allows
            base_managed = ssa.encode(ssa.decode(requested_managed))
        if base_managed:
            new["metadata"]["managedFields"] = base_managed
        else:
            new["metadata"].pop("managedFields", None)
        old_cmp = dict(old)
        old_cmp["metadata"] = {k: v for k, v in old["metadata"].items() if k != "resourceVersion"}
        if new == old_cmp:
            return self._out(entry), warnings  # a no-op write keeps the resourceVersion, as Kubernetes does
        meta = new["metadata"]
        if managed_fields is None and field_manager:
            meta["managedFields"] = ssa.record_update(res, old, new, field_manager, subresource=subresource,
                                                      base=ssa.decode(base_managed))
            if not meta["managedFields"]:
                del meta["managedFields"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and kind.strategy.may_vanish(new):
            # The last finalizer is gone: the deletion the object was waiting for happens now.
            if not dry_run:
                try:
                    self._delete_key(entry.key, entry.mod_rev)
                except RevisionMismatch as exc:
                    raise Conflict(res.plural, name, _OPTIMISTIC_MSG, res.group) from exc
            meta["resourceVersion"] = str(entry.mod_rev)
            return self._served(res, new), warnings
        if dry_run:
            meta["resourceVersion"] = str(entry.mod_rev)
            return self._served(res, new), warnings
        try:
            if guard:
                rev = self.store.update(entry.key, new, entry.mod_rev, guard=guard)
            else:
                rev = self.store.update(entry.key, new, entry.mod_rev)
        except RevisionMismatch as exc:
            raise Conflict(res.plural, name, _OPTIMISTIC_MSG, res.group) from exc
        except KeyNotFound as exc:
            raise NotFound(res.plural, name, res.group) from exc
        meta["resourceVersion"] = str(rev)
        return self._served(res, new), warnings

    def patch(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        body: bytes | Decoded,
        content_type: str,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Strict",
        field_manager: str | None = None,
        force: bool = False,
    ) -> tuple[Obj, bool, list[str]]:
        """PATCH with any of the patch types; returns (object, created, warnings).

        ``application/apply-patch+yaml`` (server-side apply) creates the object when absent.
        """
        ctype = content_type.split(";")[0].strip().lower()
        if ctype == "application/apply-patch+yaml":
            applied = body.value if isinstance(body, Decoded) else load_yaml(body)
            applied = self._check_identity(res, applied, namespace)
            if applied["metadata"].get("name") not in (None, name):
                raise BadRequest(f"the name of the object ({applied['metadata']['name']}) does not match "
                                 f"the name on the URL ({name})")
            applied["metadata"]["name"] = name
            if not field_manager:
                raise BadRequest("PATCH: fieldManager is required for apply requests")
            if subresource:
                raise BadRequest(f"server-side apply to the {subresource} subresource is not supported")
            applied["metadata"].pop("managedFields", None)
            entry = self.store.get(self._key(res, namespace, name))
            if entry is None:
                obj, warnings = self.create(
                    res, namespace, applied, dry_run=dry_run, field_validation=field_validation,
                    field_manager=field_manager,
                    managed_fields=ssa.created_by_apply(res, applied, field_manager))
                return obj, True, warnings
            live = self._served(res, self._out(entry))
            precondition = applied["metadata"].get("resourceVersion")
            merged, managed = ssa.apply(res, live, applied, field_manager, force=force,
                                        merge=lambda base, cfg: strategic_merge_patch(
                                            base, cfg, res.kind, element_key=ssa.element_key))
            merged["metadata"].pop("resourceVersion", None)
            if precondition:
                merged["metadata"]["resourceVersion"] = precondition
            merged = self._check_identity(res, merged, namespace)
            obj, warnings = self._update_from(res, entry, merged, subresource=None, dry_run=dry_run,
                                              field_validation=field_validation, field_manager=field_manager,
                                              managed_fields=managed)
            return obj, False, warnings
        else:
            entry = self._get_entry(res, namespace, name)
            if ctype == STRATEGIC_MERGE_PATCH and not register.kind_for(res).strategic_merge:
                raise UnsupportedMediaType(  # a custom kind has no Go struct tags to merge by
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
            current = self._served(res, self._out(entry))
            merged = apply_patch(current, body, ctype, res.kind)
            if not isinstance(merged, dict):
                raise BadRequest("the patch did not produce an object")
            merged = self._check_identity(res, merged, namespace)
            if merged["metadata"].get("resourceVersion") == current["metadata"]["resourceVersion"]:
                merged["metadata"].pop("resourceVersion", None)  # the patch did not ask for a precondition
        merged = self._check_identity(res, merged, namespace)
        obj, warnings = self._update_from(res, entry, merged, subresource=subresource, dry_run=dry_run,
                                          field_validation=field_validation, field_manager=field_manager)
        return obj, False, warnings

    def delete(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        """Returns (object, finished): finished is False while a graceful deletion or finalizers run."""
        entry = self._get_entry(res, namespace, name)
        obj = self._out(entry)
        meta = obj["metadata"]
        if preconditions:
            if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
                raise Conflict(res.plural, name, f"Precondition failed: UID in precondition: "
                                                 f"{preconditions['uid']}, UID in object meta: {meta.get('uid')}")
            if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta["resourceVersion"]:
                raise Conflict(res.plural, name, "Precondition failed: ResourceVersion in precondition: "
                                                 f"{preconditions['resourceVersion']}, ResourceVersion in object "
                                                 f"meta: {meta['resourceVersion']}")
        if propagation_policy not in (None, "", "Background", "Foreground", "Orphan"):
            raise BadRequest(f'invalid propagationPolicy "{propagation_policy}": must be Orphan, '
                             "Background or Foreground")
        if grace_period_seconds is not None and grace_period_seconds < 0:
            grace_period_seconds = 1  # Kubernetes turns a negative grace period into the shortest one
        strategy = register.kind_for(res).strategy
        taken = strategy.delete(obj, _DeleteOps(self, res, entry), dry_run=dry_run)
        if taken is not None:
            return taken
        old_finalizers = list(meta.get("finalizers") or [])
        finalizers = _gc_finalizers(old_finalizers, propagation_policy)
        if finalizers:
            meta["finalizers"] = finalizers
        else:
            meta.pop("finalizers", None)
        if meta.get("deletionTimestamp") and finalizers == old_finalizers and not strategy.graceful:
            return obj, False  # already being deleted: nothing more to do until the finalizers go
        graceful = False
        if strategy.graceful:
            grace = strategy.grace_period(obj, grace_period_seconds)
            graceful = grace > 0
            if graceful:
                current = meta.get("deletionGracePeriodSeconds")
                if current is not None and current <= grace:
                    return obj, False
                meta["deletionGracePeriodSeconds"] = grace
                meta["deletionTimestamp"] = (datetime.now(UTC) + timedelta(seconds=grace)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")
        if meta.get("finalizers"):
            # Marked only: the object goes when its last finalizer is removed (see _update_from).
            if not graceful:
                meta["deletionGracePeriodSeconds"] = 0
                if not meta.get("deletionTimestamp") or strategy.graceful:
                    meta["deletionTimestamp"] = now_rfc3339()
            graceful = True
        if dry_run:
            return obj, not graceful
        if graceful:
            new = copy.deepcopy(obj)
            new["metadata"].pop("resourceVersion", None)
            try:
                rev = self.store.update(entry.key, new, entry.mod_rev)
            except RevisionMismatch as exc:
                raise Conflict(res.plural, name, _OPTIMISTIC_MSG, res.group) from exc
            new["metadata"]["resourceVersion"] = str(rev)
            return new, False
        try:
            self._delete_key(entry.key, entry.mod_rev)
        except RevisionMismatch as exc:
            raise Conflict(res.plural, name, _OPTIMISTIC_MSG, res.group) from exc
        except KeyNotFound as exc:
            raise NotFound(res.plural, name, res.group) from exc
        return obj, True

    def bind(self, namespace: str, name: str, node: str) -> Obj:
        """Set ``spec.nodeName`` of an unbound pod (the ``pods/binding`` subresource)."""
        res = register.by_plural("pods", "")
        assert res is not None
        entry = self._get_entry(res, namespace, name)
        pod = self._out(entry)
        spec = pod.setdefault("spec", {})
        if spec.get("nodeName"):
            if spec["nodeName"] == node:
                return pod
            raise Conflict("pods", name, f"pod {name} is already assigned to node \"{spec['nodeName']}\"")
        if pod["metadata"].get("deletionTimestamp"):
            raise Conflict("pods", name, "pod is being deleted, cannot be assigned to a host")
        spec["nodeName"] = node
        conditions = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": now_rfc3339()})
        pod.setdefault("status", {})["conditions"] = conditions
        pod["metadata"].pop("resourceVersion", None)
        try:
            rev = self.store.update(entry.key, pod, entry.mod_rev)
        except RevisionMismatch as exc:
            raise Conflict("pods", name, _OPTIMISTIC_MSG) from exc
        pod["metadata"]["resourceVersion"] = str(rev)
        return pod

    # bootstrap

    def ensure(self, res: Resource, obj: Obj) -> None:
        """Create ``obj`` unless an object of that name exists (start-up defaults). Another API
        server on the same store creating it at the same moment is the same outcome, not an
        error (kube-apiserver's bootstrap hooks ignore AlreadyExists likewise)."""
        meta = obj["metadata"]
        if self.store.get(self._key(res, meta.get("namespace"), meta["name"])) is None:
            with contextlib.suppress(AlreadyExists):
                self.create(res, meta.get("namespace"), obj, field_validation="Ignore")


#: attempts of a write whose allocator guard moved under it (kube-apiserver's GuaranteedUpdate retries alike)
_GUARD_RETRIES = 20


def _allocator_busy(res: Resource, name: str) -> Conflict:
    return Conflict(res.plural, name, "the allocator was changed by other writers on every attempt; please retry",
                    res.group)


class _DeleteOps:
    """The store operations a strategy that takes over DELETE may use (``kind.DeleteOps``)."""

    def __init__(self, registry: Registry, res: Resource, entry: Entry) -> None:
        self.registry, self.res, self.entry = registry, res, entry

    def remove(self) -> None:
        self.registry._delete_key(self.entry.key, self.entry.mod_rev)

    def mark(self, obj: Obj) -> Obj:
        new = copy.deepcopy(obj)
        new["metadata"].pop("resourceVersion", None)
        try:
            rev = self.registry.store.update(self.entry.key, new, self.entry.mod_rev)
        except RevisionMismatch as exc:
            raise Conflict(self.res.plural, new["metadata"]["name"], _OPTIMISTIC_MSG) from exc
        new["metadata"]["resourceVersion"] = str(rev)
        return new


def _gc_finalizers(finalizers: list[str], policy: str | None) -> list[str]:
    """The finalizers a DELETE leaves for the garbage collector, as kube-apiserver sets them:
    Foreground adds ``foregroundDeletion``, Orphan adds ``orphan``, Background removes both."""
    if not policy:
        return finalizers
    out = [f for f in finalizers if f not in (FOREGROUND_FINALIZER, ORPHAN_FINALIZER)]
    if policy == "Foreground":
        out.append(FOREGROUND_FINALIZER)
    elif policy == "Orphan":
        out.append(ORPHAN_FINALIZER)
    return out
