"""The reading half of the registry: get, list (pages, selectors, resourceVersion semantics), watch.

kube-apiserver's generic store answers reads from its watch cache: a list at a resourceVersion,
pages consistent with their first page (a continue token older than the window is 410 Expired),
watches that start from a revision, optional initial events ending in a bookmark. Here the
store's window plays the cache's role. ``Registry`` (``registry.py``) mixes these methods in;
they read only what the registry holds (``store``, the object cache, ``_prefix`` ...).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from ..api import register
from ..api.errors import (
    ApiError,
    BadRequest,
    Gone,
    Invalid,
    NotFound,
    cause,
)
from ..api.resources import Resource
from ..store.base import Compacted, Entry, Store
from .selectors import parse_field_selector, parse_label_selector, single_name

Obj = dict[str, Any]


_CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent list result. You can "
                     "start a new list without the continue parameter.")


class Cached:
    """One stored object as the HTTP layer serves it: decoded once, encoded once, never changed.

    Lists and watch streams over HTTP share these instead of decoding and copying every object
    for every request and every watcher; anything that may change an object gets a copy."""

    __slots__ = ("_json", "_lines", "mod_rev", "obj")

    def __init__(self, mod_rev: int, obj: Obj) -> None:
        self.mod_rev = mod_rev
        self.obj = obj
        self._json: bytes | None = None
        self._lines: dict[str, bytes] = {}

    def json(self) -> bytes:
        if self._json is None:
            self._json = json.dumps(self.obj, separators=(",", ":")).encode()
        return self._json

    def watch_line(self, etype: str) -> bytes:
        """``{"type": ..., "object": ...}`` and a newline: one line of a watch stream."""
        line = self._lines.get(etype)
        if line is None:
            line = self._lines[etype] = b'{"type":"' + etype.encode() + b'","object":' + self.json() + b"}\n"
        return line


class RegistryReads:
    """get / list / watch of ``Registry`` (mixed in; ``self`` is the registry)."""

    store: Store

    def _get_entry(self, res: Resource, namespace: str | None, name: str) -> Entry:
        entry = self.store.get(self._key(res, namespace, name))
        if entry is None:
            raise NotFound(res.plural, name, res.group)
        return entry

    # reads

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj:
        return self._served(res, self._out(self._get_entry(res, namespace, name)))

    def list(
        self,
        res: Resource,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        shared: bool = False,
    ) -> tuple[list[Any], str, str | None]:
        """Items, the list's resourceVersion, and a continue token when ``limit`` cut the list.

        ``shared``: items are ``Cached`` (read-only, shared with other readers) instead of
        objects of the caller's own."""
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, res.plural)
        prefix = self._prefix(res, namespace)
        start_after = None
        if continue_token:
            try:
                token = json.loads(base64.urlsafe_b64decode(continue_token.encode()))
                start_after, token_rv = token["start"], token["rv"]
            except Exception as exc:
                raise BadRequest(f"continue key is not valid: {continue_token!r}") from exc
            if not isinstance(start_after, str) or not isinstance(token_rv, int):
                raise BadRequest(f"continue key is not valid: {continue_token!r}")
        else:
            token_rv = None
        if limit is not None and limit < 0:
            raise BadRequest(f"limit must not be negative: {limit}")
        name = single_name(field_selector)
        list_revisions = getattr(self.store, "list_revisions", None) if shared else None
        rows: list[tuple[str, Any]]
        entries_at = getattr(self.store, "entries_at", None)
        snapshot = token_rv is not None and token_rv < self.store.revision and entries_at is not None
        if name is not None and (namespace or not res.namespaced):
            entry = self.store.get(prefix + name)
            rows, rev = ([(entry.key, entry)] if entry else []), self.store.revision
        elif snapshot:
            # a later page: the objects as they were at the first page's revision, as etcd serves it
            try:
                rows, rev = [(e.key, e) for e in entries_at(prefix, token_rv)], token_rv
            except Compacted as exc:
                raise Gone(_CONTINUE_EXPIRED) from exc
        elif list_revisions is not None:
            rows, rev = list_revisions(prefix)
        else:
            entries, rev = self.store.list(prefix)
            rows = [(e.key, e) for e in entries]
        items: list[Any] = []
        next_token = None
        last_key = start_after or ""
        for key, row in rows:
            if start_after is not None and key <= start_after:
                continue
            item: Any
            if shared and snapshot:
                item = Cached(row.mod_rev, self._out(row))  # an old version: not for the shared cache
                obj = item.obj
            elif shared:
                item = self._cached(key, row if isinstance(row, int) else row.mod_rev)
                if item is None:
                    continue
                obj = item.obj
            else:
                item = obj = self._out(row)
            if labels and not labels(obj):
                continue
            if fields and not fields(obj):
                continue
            if limit and len(items) >= limit:
                next_token = base64.urlsafe_b64encode(
                    json.dumps({"start": last_key, "rv": rev}).encode()).decode()
                break
            items.append(item)
            last_key = key
        # Every page reports the first page's resourceVersion, and later pages show the objects as
        # they were then (a token older than the store's history is 410 Expired, as Kubernetes).
        if token_rv is not None:
            rev = token_rv
            if next_token:
                next_token = base64.urlsafe_b64encode(json.dumps({"start": last_key, "rv": rev}).encode()).decode()
        if register.kind_for(res).convert is not None:
            items = [self._served(res, item) for item in items]
        return items, str(rev), next_token

    def check_read_version(self, resource_version: str | None, match: str | None, *, watch: bool = False,
                           send_initial_events: bool = False) -> None:
        """``resourceVersion`` / ``resourceVersionMatch`` of a GET, LIST or WATCH, as Kubernetes checks them.

        Reads are served from the latest state (what kube-apiserver's watch cache does for
        ``resourceVersion=0`` or ``NotOlderThan``); an ``Exact`` older revision is not kept (410),
        a revision from the future is a 504 ``Too large resource version``.
        """
        if match is not None and match not in ("", "Exact", "NotOlderThan"):
            raise Invalid("ListOptions", "", [cause("resourceVersionMatch", f'Unsupported value: "{match}": '
                                                   'supported values: "Exact", "NotOlderThan"',
                                                   "FieldValueNotSupported")], "meta.k8s.io")
        if match and not resource_version and not send_initial_events:
            raise Invalid("ListOptions", "", [cause("resourceVersionMatch", "Forbidden: resourceVersionMatch is "
                                                   "forbidden unless resourceVersion is provided",
                                                   "FieldValueForbidden")], "meta.k8s.io")
        if match and watch and not send_initial_events:
            raise Invalid("ListOptions", "", [cause("resourceVersionMatch", "Forbidden: resourceVersionMatch is "
                                                   "forbidden for watch unless sendInitialEvents is provided",
                                                   "FieldValueForbidden")], "meta.k8s.io")
        if not resource_version:
            return
        try:
            wanted = int(resource_version)
        except ValueError as exc:
            raise BadRequest(f'invalid resource version "{resource_version}"') from exc
        if match == "Exact" and wanted == 0:
            raise Invalid("ListOptions", "", [cause("resourceVersionMatch", 'Forbidden: resourceVersionMatch "exact" '
                                                   'is forbidden for resourceVersion "0"', "FieldValueForbidden")],
                          "meta.k8s.io")
        current = self.store.revision
        if wanted > current and not watch:
            raise ApiError(f"Too large resource version: {wanted}, current: {current}", code=504, reason="Timeout",
                           details={"causes": [{"reason": "ResourceVersionTooLarge",
                                                "message": "Too large resource version"}], "retryAfterSeconds": 1})
        if match == "Exact" and wanted != current:
            raise Gone(f"too old resource version: {wanted} ({current})")

    async def watch(
        self,
        res: Resource,
        namespace: str | None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        send_initial_events: bool | None = None,
        shared: bool = False,
    ) -> AsyncIterator[tuple[str, Any]]:
        """(type, object) pairs: ADDED / MODIFIED / DELETED as seen through the selectors.

        Without a resourceVersion (or "0") the current objects come first as ADDED. An object
        that stops matching the selectors is DELETED for this watcher, one that starts matching
        is ADDED, as kube-apiserver's watch cache does.
        """
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, res.plural)

        def matches(obj: Obj | None) -> bool:
            if obj is None:
                return False
            return (labels is None or labels(obj)) and (fields is None or fields(obj))

        prefix = self._prefix(res, namespace)
        initial: list[Obj] = []
        end_marker = None
        if send_initial_events or (send_initial_events is None and resource_version in (None, "", "0")):
            items, rv, _ = self.list(res, namespace, label_selector=label_selector,
                                     field_selector=field_selector, shared=shared)
            initial, from_rev = items, int(rv)
            if send_initial_events:  # the WatchList protocol: a bookmark says the initial state is complete
                end_marker = {"metadata": {"resourceVersion": rv,
                                           "annotations": {"k8s.io/initial-events-end": "true"}}}
        elif not resource_version or resource_version == "0":
            from_rev = self.store.revision
        else:
            try:
                from_rev = int(resource_version)
            except ValueError as exc:
                raise BadRequest(f'invalid resource version "{resource_version}"') from exc
        try:
            stream = self.store.watch(prefix, from_rev)
        except Compacted as exc:
            raise Gone(f"too old resource version: {from_rev} ({self.store.revision})") from exc
        events = self._watch_stream(initial, stream, matches, end_marker, shared)
        if register.kind_for(res).convert is None:
            return events
        return self._served_events(res, events)

    async def _served_events(self, res: Resource, events: AsyncIterator[tuple[str, Any]]
                             ) -> AsyncIterator[tuple[str, Any]]:
        async for etype, obj in events:
            yield etype, (obj if etype == "BOOKMARK" else self._served(res, obj))

    async def _watch_stream(self, initial: list[Any], stream: AsyncIterator[Any], matches: Any,
                            end_marker: Obj | None = None, shared: bool = False) -> AsyncIterator[tuple[str, Any]]:
        """Objects of the caller's own, or with ``shared`` ``Cached`` ones common to all watchers."""
        for obj in initial:
            yield "ADDED", obj
        if end_marker is not None:
            yield "BOOKMARK", end_marker
        try:
            async for ev in stream:
                new: Any
                if shared:
                    new = self.event_object(ev.value, ev.rev)
                    value = new.obj
                else:
                    new = value = self._shared_out(ev.value, ev.rev)
                if ev.type == "DELETE":
                    if matches(value):
                        yield "DELETED", new
                    continue
                old_match = ev.prev is not None and matches(ev.prev)
                new_match = matches(value)
                if new_match and old_match:
                    yield "MODIFIED", new
                elif new_match:
                    yield "ADDED", new
                elif old_match:
                    yield "DELETED", new
        except Compacted as exc:
            raise Gone(str(exc)) from exc

    # writes
