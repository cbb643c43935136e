"""Pruning and defaulting of a custom object (apiextensions-apiserver's schema/pruning, schema/defaulting).

kube-apiserver decodes a custom object in three steps before it validates it, and so does this
module, in the same order:

1. ``prune``: fields the schema does not name are dropped, except under
   ``x-kubernetes-preserve-unknown-fields`` and, at the root and in every
   ``x-kubernetes-embedded-resource``, ``apiVersion`` / ``kind`` / ``metadata``. The dropped paths
   are returned (``spec.x``, ``spec.items[0].y``): with ``fieldValidation=Strict`` they refuse the
   request, with ``Warn`` (kubectl's default) they become warnings.
2. ``drop_nulls``: ``null`` in a field that is neither nullable nor defaulted is removed.
3. ``apply_defaults``: a missing field (or a ``null`` one that is not nullable) with a ``default``
   gets a copy of it, deepest fields after their parents, so a defaulted object is defaulted too.

The schemas are the CRD's plain dicts; ``additionalProperties`` (a map's values) is followed
like a property of every key.
"""

from __future__ import annotations

import copy
from typing import Any

Schema = dict[str, Any]
_META_FIELDS = ("apiVersion", "kind", "metadata")


def _join(parent: str, k: str) -> str:
    return f"{parent}.{k}" if parent else k


def _additional(s: Schema) -> Schema | None:
    add = s.get("additionalProperties")
    if isinstance(add, dict):
        return add
    if add is True:
        return {"x-kubernetes-preserve-unknown-fields": True}
    return None


def prune(obj: Any, schema: Schema | None, *, root: bool = True) -> list[str]:
    """Drop what ``schema`` does not describe, in place; return the dropped paths, sorted."""
    unknown: list[str] = []
    s = dict(schema or {})
    if root:
        s["x-kubernetes-embedded-resource"] = True
    _prune(obj, s, "", unknown)
    unknown.sort()
    return unknown


def _prune(x: Any, s: Schema | None, path: str, unknown: list[str]) -> None:
    if s is not None and s.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(x, s, path, unknown)
        return
    if isinstance(x, dict):
        if s is None:
            for k in list(x):
                unknown.append(_join(path, k))
                del x[k]
            return
        props = s.get("properties") or {}
        add = _additional(s)
        embedded = bool(s.get("x-kubernetes-embedded-resource"))
        for k in list(x):
            if embedded and k in _META_FIELDS:
                continue
            if k in props:
                _prune(x[k], props[k], _join(path, k), unknown)
            elif add is not None:
                _prune(x[k], add, _join(path, k), unknown)
            else:
                unknown.append(_join(path, k))
                del x[k]
    elif isinstance(x, list):
        items = s.get("items") if s is not None else None
        for i, v in enumerate(x):
            _prune(v, items if isinstance(items, dict) else None, f"{path}[{i}]", unknown)


def _skip_prune(x: Any, s: Schema, path: str, unknown: list[str]) -> None:
    if isinstance(x, dict):
        props = s.get("properties") or {}
        add = _additional(s)
        embedded = bool(s.get("x-kubernetes-embedded-resource"))
        for k, v in x.items():
            if embedded and k in _META_FIELDS:
                continue
            if k in props:
                _prune(v, props[k], _join(path, k), unknown)
            elif add is not None:
                _prune(v, add, _join(path, k), unknown)
    elif isinstance(x, list):
        items = s.get("items")
        for i, v in enumerate(x):
            if isinstance(items, dict):
                _skip_prune(v, items, f"{path}[{i}]", unknown)


def _field_schema(s: Schema | None, k: str) -> Schema | None:
    if s is None:
        return None
    props = s.get("properties") or {}
    if k in props:
        return props[k]
    return _additional(s)


def drop_nulls(x: Any, s: Schema | None) -> None:
    """PruneNonNullableNullsWithoutDefaults."""
    if isinstance(x, dict):
        for k in list(x):
            fs = _field_schema(s, k)
            if x[k] is None and fs is not None and not fs.get("nullable") and "default" not in fs:
                del x[k]
            else:
                drop_nulls(x[k], fs)
    elif isinstance(x, list):
        items = s.get("items") if s is not None else None
        for v in x:
            drop_nulls(v, items if isinstance(items, dict) else None)


def _non_nullable_null(value: Any, s: Schema | None) -> bool:
    return value is None and s is not None and not s.get("nullable")


def apply_defaults(x: Any, s: Schema | None) -> None:
    if s is None:
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        for k, prop in props.items():
            if not isinstance(prop, dict) or "default" not in prop:
                continue
            if k not in x or _non_nullable_null(x[k], prop):
                x[k] = copy.deepcopy(prop["default"])
        add = _additional(s)
        for k in list(x):
            if k in props:
                apply_defaults(x[k], props[k])
            elif add is not None:
                if _non_nullable_null(x[k], add) and "default" in add:
                    x[k] = copy.deepcopy(add["default"])
                apply_defaults(x[k], add)
    elif isinstance(x, list):
        items = s.get("items")
        if not isinstance(items, dict):
            return
        for i in range(len(x)):
            if _non_nullable_null(x[i], items) and "default" in items:
                x[i] = copy.deepcopy(items["default"])
            apply_defaults(x[i], items)


def decode(obj: dict[str, Any], schema: Schema | None) -> list[str]:
    """Prune, drop nulls and default ``obj`` in place, as kube-apiserver decodes a request body.

    Returns the unknown field paths that were pruned."""
    unknown = prune(obj, schema)
    drop_nulls(obj, schema)
    apply_defaults(obj, schema)
    return unknown
