"""PATCH bodies: strategic merge patch, JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

kubectl never sends whole objects when it changes one: ``kubectl apply`` (client-side), ``kubectl
edit``, ``kubectl label``, ``kubectl scale`` and friends send a PATCH whose ``Content-Type`` says
how to read it. This module turns ``(stored object, patch body, content type)`` into the patched
object. The API server then validates and stores it, so everything here is pure: no I/O, the inputs
are never mutated, and the result never shares containers with them.

Strategic merge patch is Kubernetes' own format. It is JSON merge patch (maps merge, ``null``
deletes) plus two things:

* lists that have a *merge key* (``containers`` by ``name``, container ``ports`` by
  ``containerPort``...) are merged element by element instead of being replaced; Kubernetes reads
  those keys from Go struct tags, here they come from the ``_KIND_LISTS`` / ``_POD_SPEC_LISTS``
  tables below (one line per kind or field);
* directives: ``$patch: delete|replace|merge``, ``$setElementOrder/<list>``,
  ``$deleteFromPrimitiveList/<list>`` and ``$retainKeys``. They steer the merge and never appear
  in the result.

Where this differs from Kubernetes, on purpose: ``$patch: delete`` on a nested map removes the key
(Kubernetes leaves ``{}``); directives inside values taken whole from the patch (new maps, replaced
lists) are resolved too, so none can reach storage; kinds not in the table (custom resources) get
their lists replaced instead of a 415. List order follows Kubernetes: ``$setElementOrder`` (or
else the patch list) orders the elements it names, stored elements it does not name keep their
place relative to those, and a new element goes before stored elements that follow it.

Every bad input (malformed JSON, a patch of the wrong shape, a failing JSON patch ``test``) is
reported as an :class:`~minikube_lite.api.errors.ApiError` with a 4xx code; no other exception
escapes the public functions.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

import jsonpatch
import jsonpointer

from minikube_lite.api import register
from minikube_lite.api.errors import ApiError, BadRequest, Invalid, UnsupportedMediaType, cause
from minikube_lite.api.mergekeys import OBJECT_META, PRIMITIVE

from .decoding import Decoded, load_json

__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "MERGE_PATCH",
    "PRIMITIVE",
    "STRATEGIC_MERGE_PATCH",
    "apply_patch",
    "json_merge_patch",
    "json_patch",
    "media_type",
    "merge_key_for",
    "strategic_merge_patch",
]

STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"  # server-side apply: handled by the caller, not here
PATCH_MEDIA_TYPES = (STRATEGIC_MERGE_PATCH, MERGE_PATCH, JSON_PATCH, APPLY_PATCH)

# ---------------------------------------------------------------------------------------------
# Merge-key table
# ---------------------------------------------------------------------------------------------

#: ``(merge key, element) -> identity``: how a caller with more key fields than the merge key
#: tells elements apart (server-side apply: ports by number *and* protocol).
ElementKey = Callable[[str, dict[str, Any]], Any]


def merge_key_for(kind: str, path: str) -> str | None:
    """The merge key of the list at dotted ``path`` (list levels not counted) in objects of ``kind``,
    as the kind declares it in the register (``Kind.merge_keys``); ObjectMeta's lists for a kind
    not registered.

    ``None``: the list is replaced whole. ``PRIMITIVE`` (``""``): a list of scalars merged as a set.
    Example: ``merge_key_for("Deployment", "spec.template.spec.containers.ports") == "containerPort"``.
    """
    return _fields_for(kind).get(path)


def _fields_for(kind: str) -> Mapping[str, str]:
    declared = register.kind_named(kind) if isinstance(kind, str) else None
    return declared.merge_keys if declared is not None else OBJECT_META


# ---------------------------------------------------------------------------------------------
# Error handling
# ---------------------------------------------------------------------------------------------

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _api_errors_only(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Last line of defence: whatever slips through explicit checks becomes a 400, not a 500."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except ApiError:
            raise
        except RecursionError:
            raise BadRequest("the patch or the object is nested too deeply") from None
        except (TypeError, KeyError, ValueError, AttributeError, IndexError, OverflowError) as err:
            raise BadRequest(f"unable to apply the patch: {_clip(str(err))}") from None

    return wrapper


def _short(value: Any, limit: int = 120) -> str:
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(path: str) -> str:
    return path or "<root>"


# ---------------------------------------------------------------------------------------------
# Strategic merge patch
# ---------------------------------------------------------------------------------------------

_PATCH = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder"
_DELETE_FROM = "$deleteFromPrimitiveList"


class _Deleted:
    """Returned by the map merge when ``$patch: delete`` removes the whole map."""


_DELETED = _Deleted()


def _identity(value: Any) -> tuple[Any, ...]:
    """A hashable stand-in for a JSON value, equal exactly when the values are equal as JSON."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("num", value)
    if isinstance(value, str):
        return ("str", value)
    return ("json", json.dumps(value, sort_keys=True, default=str))


class _Smp:
    """One strategic-merge-patch application: knows the kind, walks original and patch together."""

    def __init__(self, kind: str, element_key: ElementKey | None = None) -> None:
        self.fields = _fields_for(kind)
        self.element_key = element_key

    def _key(self, mkey: str, element: dict[str, Any]) -> tuple[Any, ...]:
        """The identity of a keyed list element: its merge key's value, or ``element_key``'s."""
        if self.element_key is not None:
            return _identity(self.element_key(mkey, element))
        return _identity(element[mkey])

    # -- maps ----------------------------------------------------------------------------------

    def merge_map(self, original: dict[str, Any], patch: dict[str, Any], path: str) -> dict[str, Any] | _Deleted:
        """Merge ``patch`` into ``original`` (a private copy, modified in place) and return it."""
        if _PATCH in patch:
            directive = patch[_PATCH]
            if directive == "delete":
                return _DELETED
            if directive == "replace":
                rest = {k: v for k, v in patch.items() if k != _PATCH}
                return self.merge_map({}, rest, path)
            if directive != "merge":
                raise BadRequest(f"{_where(path)}: unknown $patch directive {_short(directive)} "
                                 '(expected "delete", "replace" or "merge")')

        self._retain_keys(original, patch, path)

        order_lists: dict[str, list[Any]] = {}
        for key, value in patch.items():
            if not isinstance(key, str):
                raise BadRequest(f"{_where(path)}: object keys must be strings, got {_short(key)}")
            if key.startswith(_SET_ORDER):
                order_lists[self._directive_field(key, _SET_ORDER, value, path)] = value
            elif key.startswith(_DELETE_FROM):
                field = self._directive_field(key, _DELETE_FROM, value, path)
                current = original.get(field)
                if isinstance(current, list):
                    gone = {_identity(v) for v in value}
                    original[field] = [v for v in current if _identity(v) not in gone]

        for key, value in patch.items():
            if key in (_PATCH, _RETAIN_KEYS) or key.startswith((_SET_ORDER, _DELETE_FROM)):
                continue
            sub = f"{path}.{key}" if path else key
            if value is None:
                original.pop(key, None)
            elif isinstance(value, dict):
                current = original.get(key)
                merged = self.merge_map(current if isinstance(current, dict) else {}, value, sub)
                if merged is _DELETED:
                    original.pop(key, None)
                else:
                    original[key] = merged
            elif isinstance(value, list):
                current = original.get(key)
                original[key] = self.merge_list(current if isinstance(current, list) else [], value, sub,
                                                order_lists.get(key))
            else:
                original[key] = value

        # $setElementOrder for a list the patch does not otherwise touch: only reorder it.
        for field, order in order_lists.items():
            if field in patch or not isinstance(original.get(field), list):
                continue
            sub = f"{path}.{field}" if path else field
            mkey = self.fields.get(sub)
            if mkey is not None:
                current = original[field]
                original[field] = self._ordered(current, order, current, mkey, sub)
        return original

    @staticmethod
    def _directive_field(key: str, prefix: str, value: Any, path: str) -> str:
        field = key[len(prefix) + 1:] if key.startswith(prefix + "/") else ""
        if not field:
            raise BadRequest(f"{_where(path)}: malformed directive {key!r}: expected {prefix}/<field>")
        if not isinstance(value, list):
            raise BadRequest(f"{_where(path)}: {key} must be a list, got {_short(value)}")
        return field

    @staticmethod
    def _retain_keys(original: dict[str, Any], patch: dict[str, Any], path: str) -> None:
        if _RETAIN_KEYS not in patch:
            return
        keep = patch[_RETAIN_KEYS]
        if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
            raise BadRequest(f"{_where(path)}: $retainKeys must be a list of field names, got {_short(keep)}")
        for key, value in patch.items():
            if value is None or not isinstance(key, str) or key.startswith("$"):
                continue
            if key not in keep:
                raise BadRequest(f"{_where(path)}: field {key!r} is set by the patch but missing from "
                                 f"$retainKeys {_short(keep)}")
        for key in [k for k in original if k not in keep]:
            del original[key]

    # -- lists ---------------------------------------------------------------------------------

    def merge_list(self, original: list[Any], patch: list[Any], path: str, order: list[Any] | None) -> list[Any]:
        mkey = self.fields.get(path)
        if mkey is None:
            return self.fresh_list(patch, path)
        if mkey == PRIMITIVE:
            return self._merge_primitives(original, patch, path, order)
        return self._merge_by_key(original, patch, path, mkey, order)

    def fresh_list(self, patch: list[Any], path: str) -> list[Any]:
        """A list taken whole from the patch, with any directives inside it resolved."""
        out: list[Any] = []
        for item in patch:
            if isinstance(item, dict):
                merged = self.merge_map({}, item, path)
                if merged is not _DELETED:
                    out.append(merged)
            elif isinstance(item, list):
                out.append(self.fresh_list(item, path))
            else:
                out.append(item)
        return out

    def _merge_primitives(self, original: list[Any], patch: list[Any], path: str,
                          order: list[Any] | None) -> list[Any]:
        replace = False
        items: list[Any] = []
        for item in patch:
            if isinstance(item, dict) and _PATCH in item:
                if item[_PATCH] == "replace":
                    replace = True
                    continue
                raise BadRequest(f"{_where(path)}: a list of values only accepts {{\"$patch\": \"replace\"}} "
                                 f"as a directive (use $deleteFromPrimitiveList/ to remove values), "
                                 f"got {_short(item)}")
            items.append(item)
        fresh = self.fresh_list(items, path)
        merged: list[Any] = []
        seen: set[tuple[Any, ...]] = set()
        for value in ([] if replace else original) + fresh:
            ident = _identity(value)
            if ident not in seen:
                seen.add(ident)
                merged.append(value)
        return self._ordered(merged, fresh if order is None else order,
                             fresh if replace else original, PRIMITIVE, path)

    def _merge_by_key(self, original: list[Any], patch: list[Any], path: str, mkey: str,
                      order: list[Any] | None) -> list[Any]:
        replace = False
        deletes: set[tuple[Any, ...]] = set()
        items: list[dict[str, Any]] = []
        for item in patch:
            if not isinstance(item, dict):
                raise BadRequest(f"{_where(path)}: list elements must be objects (merged by {mkey!r}), "
                                 f"got {_short(item)}")
            if _PATCH in item:
                directive = item[_PATCH]
                if directive == "replace":
                    replace = True
                    continue
                if directive == "delete":
                    if mkey not in item:
                        raise BadRequest(f"{_where(path)}: $patch: delete element {_short(item)} lacks the "
                                         f"merge key {mkey!r}")
                    deletes.add(self._key(mkey, item))
                    continue
                if directive != "merge":
                    raise BadRequest(f"{_where(path)}: unknown $patch directive {_short(directive)} "
                                     '(expected "delete", "replace" or "merge")')
                if mkey not in item:
                    continue  # a bare {"$patch": "merge"}: merging is the default already
            if mkey not in item:
                raise BadRequest(f"{_where(path)}: element {_short(item)} does not contain the merge key "
                                 f"{mkey!r}")
            items.append(item)

        def ident(element: Any) -> tuple[Any, ...] | None:
            return self._key(mkey, element) if isinstance(element, dict) and mkey in element else None

        merged: list[Any] = [] if replace else [e for e in original if ident(e) not in deletes]
        position = {ident(e): i for i, e in reversed(list(enumerate(merged))) if ident(e) is not None}
        for item in items:
            i = position.get(ident(item))
            if i is None:
                result = self.merge_map({}, item, path)
                if result is not _DELETED:
                    position[ident(item)] = len(merged)
                    merged.append(result)
            else:
                result = self.merge_map(merged[i], item, path)
                merged[i] = {} if result is _DELETED else result
        return self._ordered(merged, items if order is None else order,
                             items if replace else original, mkey, path)

    # -- order ---------------------------------------------------------------------------------

    def _ordered(self, merged: list[Any], order: list[Any], server_order: list[Any], mkey: str,
                 path: str) -> list[Any]:
        """Order ``merged`` the way Kubernetes does.

        Elements named in ``order`` (``$setElementOrder``, else the patch list itself) follow that
        order; the others ("server-only") keep their order from the stored list; the two runs are
        then interleaved so that server-only elements keep their place relative to the named ones
        that were already in the stored list. New elements come right after the named ones before them.
        """
        def ident(element: Any) -> tuple[Any, ...] | None:
            if mkey == PRIMITIVE:
                return _identity(element)
            if isinstance(element, dict) and mkey in element:
                return self._key(mkey, element)
            return None

        wanted: dict[tuple[Any, ...], int] = {}
        for i, element in enumerate(order):
            if mkey != PRIMITIVE and not (isinstance(element, dict) and mkey in element):
                raise BadRequest(f"{_where(path)}: $setElementOrder element {_short(element)} does not contain "
                                 f"the merge key {mkey!r}")
            wanted.setdefault(_identity(element) if mkey == PRIMITIVE else self._key(mkey, element), i)
        stored: dict[tuple[Any, ...], int] = {}
        for i, element in enumerate(server_order):
            key = ident(element)
            if key is not None:
                stored.setdefault(key, i)

        def rank(element: Any, table: dict[tuple[Any, ...], int]) -> int | None:
            key = ident(element)
            return None if key is None else table.get(key)

        named = [e for e in merged if rank(e, wanted) is not None]
        server_only = [e for e in merged if rank(e, wanted) is None]
        named.sort(key=lambda e: rank(e, wanted) or 0)
        big = len(server_order)
        server_only.sort(key=lambda e: (r if (r := rank(e, stored)) is not None else big))

        out: list[Any] = []
        i = j = 0
        while i < len(server_only) or j < len(named):
            if j >= len(named):
                out.append(server_only[i])
                i += 1
            elif i >= len(server_only):
                out.append(named[j])
                j += 1
            else:
                left, right = rank(server_only[i], stored), rank(named[j], stored)
                if left is not None and right is not None and left < right:
                    out.append(server_only[i])
                    i += 1
                else:
                    out.append(named[j])
                    j += 1
        return out


@_api_errors_only
def strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any], kind: str, *,
                          element_key: ElementKey | None = None) -> dict[str, Any]:
    """Apply a Kubernetes strategic merge patch to ``original`` (an object of ``kind``).

    Lists with a merge key (see :func:`merge_key_for`) are merged by that key (or by
    ``element_key``'s identity when given), other lists are replaced, maps merge recursively and
    ``null`` deletes. Directives are honoured and removed.
    """
    if not isinstance(original, dict):
        raise BadRequest("the object to patch must be a JSON object")
    if not isinstance(patch, dict):
        raise BadRequest(f"a strategic merge patch must be a JSON object, got {_short(patch)}")
    result = _Smp(kind, element_key).merge_map(copy.deepcopy(original), patch, "")
    return {} if isinstance(result, _Deleted) else result


# ---------------------------------------------------------------------------------------------
# JSON merge patch (RFC 7386)
# ---------------------------------------------------------------------------------------------

def _merge_7386(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_7386(result.get(key), value)
    return result


@_api_errors_only
def json_merge_patch(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply an RFC 7386 JSON merge patch: maps merge, ``null`` deletes, everything else replaces."""
    if not isinstance(original, dict):
        raise BadRequest("the object to patch must be a JSON object")
    if not isinstance(patch, dict):
        raise BadRequest(f"a merge patch must be a JSON object, got {_short(patch)}")
    return _merge_7386(copy.deepcopy(original), patch)


# ---------------------------------------------------------------------------------------------
# JSON patch (RFC 6902)
# ---------------------------------------------------------------------------------------------

def _object_name(obj: dict[str, Any]) -> tuple[str, str]:
    kind = obj.get("kind")
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return (kind if isinstance(kind, str) and kind else "Object"), (name if isinstance(name, str) else "")


@_api_errors_only
def json_patch(original: dict[str, Any], ops: Any) -> dict[str, Any]:
    """Apply an RFC 6902 JSON patch (a list of ``add/remove/replace/move/copy/test`` operations).

    A malformed patch is a 400 (``BadRequest``); a well-formed one that does not apply to this
    object (failed ``test``, missing path) is a 422 (``Invalid``), as in Kubernetes.
    """
    if not isinstance(original, dict):
        raise BadRequest("the object to patch must be a JSON object")
    if not isinstance(ops, list):
        raise BadRequest(f"a JSON patch must be a list of operations, got {_short(ops)}")
    for i, op in enumerate(ops):
        if not isinstance(op, dict):
            raise BadRequest(f"JSON patch operation {i} must be an object, got {_short(op)}")
        if not isinstance(op.get("op"), str) or not isinstance(op.get("path"), str):
            raise BadRequest(f'JSON patch operation {i} needs string "op" and "path" members: {_short(op)}')
        if op["op"] in ("move", "copy") and not isinstance(op.get("from"), str):
            raise BadRequest(f'JSON patch operation {i} ({op["op"]}) needs a string "from" member: {_short(op)}')
    try:
        compiled = jsonpatch.JsonPatch(copy.deepcopy(ops))
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as err:
        raise BadRequest(f"invalid JSON patch: {_clip(str(err))}") from None
    try:
        result = compiled.apply(copy.deepcopy(original), in_place=True)
    except jsonpatch.InvalidJsonPatch as err:
        raise BadRequest(f"invalid JSON patch: {_clip(str(err))}") from None
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as err:
        kind, name = _object_name(original)
        raise Invalid(kind, name, [cause("", f"the JSON patch does not apply: {_clip(str(err))}")]) from None
    if not isinstance(result, dict):
        raise BadRequest(f"the JSON patch turned the object into a non-object: {_short(result)}")
    return result


# ---------------------------------------------------------------------------------------------
# Dispatch on Content-Type
# ---------------------------------------------------------------------------------------------

_ACCEPTED = f"{JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}, {STRATEGIC_MERGE_PATCH}"


def _decode(body: bytes | str | Decoded) -> Any:
    if isinstance(body, Decoded):  # decoded (within bounds, off the event loop) by the HTTP layer
        return body.value
    if not isinstance(body, str | bytes | bytearray | memoryview):
        raise BadRequest("the patch body must be bytes")
    if not (body.strip() if isinstance(body, str) else bytes(body).strip()):
        raise BadRequest("the patch body is empty")
    return load_json(body, what="invalid JSON in the patch body")


def media_type(content_type: str | None) -> str:
    """``"application/merge-patch+json; charset=utf-8"`` -> ``"application/merge-patch+json"``."""
    if not isinstance(content_type, str):
        return ""
    return content_type.split(";", 1)[0].strip().lower()


@_api_errors_only
def apply_patch(original: dict[str, Any], body: bytes, content_type: str, kind: str) -> dict[str, Any]:
    """Patch ``original`` with the request ``body``, read according to its ``Content-Type``.

    ``application/apply-patch+yaml`` (server-side apply) is the caller's business and, like any
    other type not listed here, is answered with 415 UnsupportedMediaType.
    """
    handlers: dict[str, Callable[[Any], dict[str, Any]]] = {
        STRATEGIC_MERGE_PATCH: lambda p: strategic_merge_patch(original, p, kind),
        MERGE_PATCH: lambda p: json_merge_patch(original, p),
        JSON_PATCH: lambda p: json_patch(original, p),
    }
    handler = handlers.get(media_type(content_type))
    if handler is None:
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format {_short(content_type)} - "
            f"accepted media types include: {_ACCEPTED}")
    return handler(_decode(body))
