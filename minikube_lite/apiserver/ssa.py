"""Field ownership: ``metadata.managedFields`` and server-side apply.

Kubernetes records, per field manager (``kubectl``, ``kubectl-client-side-apply``,
``kubectl-edit``, a controller ...) and operation (``Apply`` or ``Update``), the set of fields
that manager last set, in the ``FieldsV1`` format::

    {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
     "f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}}}}}

``f:<name>`` is a field of an object, ``k:<json>`` an element of a list merged by key (the
merge keys of ``patch.py``), ``v:<json>`` a value of a list of scalars kept as a set, and
``.`` marks that the node itself (a list element, or a map of user keys such as labels) is
owned. Other lists are atomic: owned whole as one leaf.

Here a field set is a Python ``set`` of paths (tuples of those path elements); FieldsV1 is
only the wire form. With it:

- an Update (PUT, or a PATCH that is not apply) gives its manager the fields it changed and
  takes them from every other manager;
- an Apply (``application/apply-patch+yaml``) makes its manager own exactly the fields of the
  applied configuration. A field another manager owns with a different value is a conflict
  (409, one cause per field naming the manager) unless ``force=true``, which moves the
  ownership. A field the manager applied before and no longer applies is removed from the
  object when no other manager owns it.

Kubernetes derives all this from the OpenAPI schema (structured-merge-diff). This module
works from the objects alone plus the merge-key table, which is enough for the kinds served
here: maps of user keys (labels, annotations, selectors, data ...) are listed in ``_MAPS``, and
the lists keyed by more than their strategic-merge key (ports: number and protocol) in
``mergekeys.LIST_MAP_KEYS``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from ..api.errors import ApiError, BadRequest
from ..api.mergekeys import KEY_DEFAULTS, PRIMITIVE, list_keys
from ..api.resources import Resource
from ..api.times import now_rfc3339
from .patch import merge_key_for

Obj = dict[str, Any]
Path = tuple[str, ...]
FieldSet = set[Path]

_MISSING = object()

def _key_of(element: Obj, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: element.get(k, KEY_DEFAULTS.get(k)) for k in keys}

#: Maps whose keys are data, not schema fields: the map node itself is owned (``.``).
_MAPS = frozenset({"labels", "annotations", "nodeSelector", "selector", "matchLabels", "data", "stringData",
                   "binaryData", "limits", "requests", "capacity", "allocatable", "overhead"})

#: Metadata Kubernetes never tracks in managedFields.
_UNTRACKED_META = frozenset({"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                             "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
                             "generateName"})


def _key_json(element: Obj, mkey: str) -> str:
    return "k:" + json.dumps(_key_of(element, list_keys(mkey)), separators=(",", ":"), sort_keys=True)


# -- object -> field set ---------------------------------------------------------------------


def fields_of(obj: Obj, kind: str, *, status: bool = False) -> FieldSet:
    """The field set of ``obj``: everything but identity metadata, and only ``status`` when
    ``status`` is true (the /status subresource), else everything but ``status``."""
    out: FieldSet = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if (key == "status") != status:
            continue
        if key == "metadata":
            if not isinstance(value, dict):
                continue
            for mk, mv in value.items():
                if mk not in _UNTRACKED_META:
                    _walk(mv, ("f:metadata", f"f:{mk}"), f"metadata.{mk}", mk, kind, out)
            continue
        _walk(value, (f"f:{key}",), key, key, kind, out)
    return out


def _walk(value: Any, path: Path, dotted: str, name: str, kind: str, out: FieldSet) -> None:
    if isinstance(value, dict):
        if not value or name in _MAPS:
            out.add(path)
        for k, v in value.items():
            _walk(v, (*path, f"f:{k}"), f"{dotted}.{k}", k, kind, out)
        return
    if isinstance(value, list):
        mkey = merge_key_for(kind, dotted)
        if mkey == PRIMITIVE and all(not isinstance(v, (dict, list)) for v in value):
            if not value:
                out.add(path)
            for v in value:
                out.add((*path, "v:" + json.dumps(v, separators=(",", ":"))))
            return
        if mkey and all(isinstance(v, dict) and mkey in v for v in value) and value:
            for element in value:
                epath = (*path, _key_json(element, mkey))
                out.add(epath)
                for k, v in element.items():
                    _walk(v, (*epath, f"f:{k}"), f"{dotted}.{k}", k, kind, out)
            return
    out.add(path)  # a scalar, or an atomic list


# -- FieldsV1 <-> field set ------------------------------------------------------------------


def to_fields_v1(fields: Iterable[Path]) -> Obj:
    root: Obj = {}
    members: list[Obj] = []
    for path in sorted(fields):
        node = root
        for element in path:
            node = node.setdefault(element, {})
        members.append(node)
    for node in members:
        if any(k != "." for k in node):
            node["."] = {}
    return _sorted(root)


def _sorted(node: Obj) -> Obj:
    return {k: _sorted(node[k]) for k in sorted(node, key=lambda k: (k != ".", k))}


def from_fields_v1(tree: Any, prefix: Path = ()) -> FieldSet:
    out: FieldSet = set()
    if not isinstance(tree, dict):
        return out
    for key, child in tree.items():
        if key == ".":
            if prefix:
                out.add(prefix)
            continue
        path = (*prefix, str(key))
        if not child:
            out.add(path)
        else:
            out |= from_fields_v1(child, path)
    return out


# -- reading and removing by path ------------------------------------------------------------


def _step(value: Any, element: str) -> Any:
    kind, _, arg = element.partition(":")
    if kind == "f":
        return value.get(arg, _MISSING) if isinstance(value, dict) else _MISSING
    if not isinstance(value, list):
        return _MISSING
    try:
        want = json.loads(arg)
    except ValueError:
        return _MISSING
    if kind == "k" and isinstance(want, dict):
        for item in value:
            if isinstance(item, dict) and all(item.get(k, KEY_DEFAULTS.get(k, _MISSING)) == v
                                              for k, v in want.items()):
                return item
    elif kind == "v":
        for item in value:
            if item == want:
                return item
    return _MISSING


def value_at(obj: Any, path: Path) -> Any:
    for element in path:
        obj = _step(obj, element)
        if obj is _MISSING:
            break
    return obj


def remove_path(obj: Obj, path: Path) -> None:
    parent = value_at(obj, path[:-1])
    if parent is _MISSING:
        return
    last = path[-1]
    kind, _, arg = last.partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(arg, None)
    elif isinstance(parent, list):
        target = _step(parent, last)
        if target is not _MISSING:
            parent.remove(target)


def readable(path: Path) -> str:
    """``.spec.containers[name="web"].image``: how Kubernetes prints a field in a conflict."""
    out = ""
    for element in path:
        kind, _, arg = element.partition(":")
        if kind == "f":
            out += f".{arg}"
        elif kind == "k":
            try:
                keys = json.loads(arg)
                out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
            except ValueError:
                out += f"[{arg}]"
        else:
            out += f"[={arg}]"
    return out


def _leaves(fields: FieldSet) -> FieldSet:
    prefixes = {p[:i] for p in fields for i in range(1, len(p))}
    return {p for p in fields if p not in prefixes}


# -- managedFields entries -------------------------------------------------------------------


def _entry_id(entry: Obj) -> tuple[str, str, str]:
    return (str(entry.get("manager", "")), str(entry.get("operation", "")), str(entry.get("subresource", "")))


def decode(managed: Any) -> list[tuple[Obj, FieldSet]]:
    """Entries of ``metadata.managedFields`` with their field sets (malformed ones are a 400)."""
    if managed is None:
        return []
    if not isinstance(managed, list):
        raise BadRequest("metadata.managedFields must be a list")
    out = []
    for entry in managed:
        if not isinstance(entry, dict) or not isinstance(entry.get("manager", ""), str):
            raise BadRequest("metadata.managedFields: each entry must be an object with a manager")
        out.append((entry, from_fields_v1(entry.get("fieldsV1"))))
    return out


def encode(entries: list[tuple[Obj, FieldSet]]) -> list[Obj]:
    result = []
    for entry, fields in entries:
        if not fields:
            continue
        e = {k: v for k, v in entry.items() if k != "fieldsV1"}
        e["fieldsType"] = "FieldsV1"
        e["fieldsV1"] = to_fields_v1(fields)
        result.append(e)
    return result


def _new_entry(manager: str, operation: str, res: Resource, subresource: str | None) -> Obj:
    entry: Obj = {"manager": manager, "operation": operation, "apiVersion": res.api_version, "time": now_rfc3339(),
                  "fieldsType": "FieldsV1"}
    if subresource:
        entry["subresource"] = subresource
    return entry


def base_entries(old_meta: Obj, request_meta: Obj) -> list[tuple[Obj, FieldSet]]:
    """What an update starts from: the stored entries, unless the request set its own
    (``[]`` clears them, as in Kubernetes)."""
    requested = request_meta.get("managedFields")
    if requested is None or requested == old_meta.get("managedFields"):
        return decode(old_meta.get("managedFields"))
    return decode(requested)


def record_update(res: Resource, old: Obj | None, new: Obj, manager: str, *, subresource: str | None = None,
                  base: list[tuple[Obj, FieldSet]] | None = None) -> list[Obj]:
    """managedFields after ``manager`` wrote ``new`` over ``old`` (None for a create)."""
    status = subresource == "status"
    new_fields = fields_of(new, res.kind, status=status)
    entries = list(base or [])
    if old is None:
        changed = new_fields
        removed: FieldSet = set()
    else:
        old_fields = fields_of(old, res.kind, status=status)
        leaves = _leaves(new_fields)
        changed = {p for p in new_fields
                   if p not in old_fields or (p in leaves and value_at(old, p) != value_at(new, p))}
        removed = old_fields - new_fields
    if not changed and not removed:
        return encode(entries)
    me = (manager, "Update", subresource or "")
    out: list[tuple[Obj, FieldSet]] = []
    mine: tuple[Obj, FieldSet] | None = None
    for entry, fields in entries:
        if _entry_id(entry) == me:
            mine = (entry, fields)
            continue
        out.append((entry, fields - changed - removed))
    owned = (mine[1] if mine else set()) - removed | changed
    entry = dict(mine[0]) if mine else _new_entry(manager, "Update", res, subresource)
    entry["time"] = now_rfc3339()
    if mine:
        out.insert(entries.index(mine), (entry, owned))
    else:
        out.append((entry, owned))
    return encode(out)


class ApplyConflict(ApiError):
    code = 409
    reason = "Conflict"


def apply(res: Resource, live: Obj, applied: Obj, manager: str, *, force: bool,
          merge: Any) -> tuple[Obj, list[Obj]]:
    """Server-side apply of ``applied`` over ``live``: the merged object and its managedFields.

    ``merge(base, applied)`` merges the configuration into the object (strategic merge, with
    list elements told apart by :func:`element_key`).
    """
    applied_fields = fields_of(applied, res.kind)
    entries = decode(live.get("metadata", {}).get("managedFields"))
    me = (manager, "Apply", "")
    previous: FieldSet = set()
    others: list[tuple[Obj, FieldSet]] = []
    for entry, fields in entries:
        if _entry_id(entry) == me:
            previous = fields
        elif entry.get("subresource"):
            continue
        else:
            others.append((entry, fields))
    conflicts: dict[Path, list[str]] = {}
    for leaf in _leaves(applied_fields):
        for entry, fields in others:
            if leaf in fields and value_at(live, leaf) != value_at(applied, leaf):
                conflicts.setdefault(leaf, []).append(str(entry.get("manager", "")))
    if conflicts and not force:
        raise _conflict_error(res, live, conflicts)
    owned_by_others: FieldSet = set()
    for _, fields in others:
        owned_by_others |= fields - set(conflicts)
    merged = copy.deepcopy(live)
    dropped = previous - applied_fields - owned_by_others
    for path in sorted(dropped, key=len):
        if not any(path[:i] in dropped for i in range(1, len(path))):  # an element goes whole
            remove_path(merged, path)
    merged = merge(merged, applied)
    new_entries: list[tuple[Obj, FieldSet]] = []
    placed = False
    for entry, fields in entries:
        if _entry_id(entry) == me:
            e = dict(entry)
            if fields != applied_fields:
                e["time"] = now_rfc3339()
            new_entries.append((e, applied_fields))
            placed = True
        elif entry.get("subresource"):
            new_entries.append((entry, fields))
        else:
            new_entries.append((entry, fields - set(conflicts)))
    if not placed:
        new_entries.append((_new_entry(manager, "Apply", res, None), applied_fields))
    return merged, encode(new_entries)


def element_key(mkey: str, element: Obj) -> str:
    """A keyed list element's identity by all its schema key fields (for the strategic merge)."""
    return json.dumps(_key_of(element, list_keys(mkey)), sort_keys=True)


def created_by_apply(res: Resource, applied: Obj, manager: str) -> list[Obj]:
    return encode([(_new_entry(manager, "Apply", res, None), fields_of(applied, res.kind))])


def _conflict_error(res: Resource, live: Obj, conflicts: dict[Path, list[str]]) -> ApiError:
    by_manager: dict[str, list[Path]] = {}
    causes = []
    for path in sorted(conflicts):
        for manager in conflicts[path]:
            by_manager.setdefault(manager, []).append(path)
            causes.append({"reason": "FieldManagerConflict",
                           "message": f'conflict with "{manager}"', "field": readable(path)})
    n = len(conflicts)
    parts = []
    for manager, paths in by_manager.items():
        if len(paths) == 1:
            parts.append(f'conflict with "{manager}" using {res.api_version}: {readable(paths[0])}')
        else:
            lines = "\n".join(f"- {readable(p)}" for p in paths)
            parts.append(f'conflicts with "{manager}" using {res.api_version}:\n{lines}')
    message = f"Apply failed with {n} conflict{'s' if n != 1 else ''}: " + "\n".join(parts)
    name = (live.get("metadata") or {}).get("name", "")
    return ApplyConflict(message, details={"name": name, "kind": res.plural, "causes": causes})
