"""Bounded decoding of request bodies (JSON and YAML), as kube-apiserver's decoders bound them.

Kubernetes reads YAML with go-yaml (through sigs.k8s.io/yaml), which refuses a document whose
aliases expand too much ("billion laughs"): once more than 100 of over 1,000 decoded nodes came
from alias expansion, the share of alias-made nodes may be at most 99 % for documents of up to
400,000 decoded nodes, falling linearly to 10 % at 4,000,000 ("yaml: document contains
excessive aliasing"). The same rule is applied here, counting every node an alias stands for,
*before* anything is expanded: a 500-byte bomb is refused after reading 500 bytes.

PyYAML's composer and everything after decoding (validation, merges, JSON encoding) recurse once
per level of nesting, so a deep enough document would end in a RecursionError. Kubernetes stops
at 10,000 levels (Go's encoding/json and go-yaml); minikube-lite stops at ``MAX_DEPTH`` levels,
with a 400 naming the limit, before building anything (no Kubernetes kind comes near: a
Deployment is about 12 levels deep, a CRD's schema a few dozen).

YAML is read from libyaml's event stream (C, iterative) and built here without recursion, so
depth and aliases are counted as the document is read. JSON is read by the standard library
(C), whose own recursion guard ends a deep document early; the decoded value's depth is then
checked. Lone UTF-16 surrogates (``"\\udc80"``) become U+FFFD, as Go's encoding/json does
(invalid surrogates are not an error there), so nothing later fails to encode them.

``run_bounded`` runs a decoder in a small thread pool of its own, so a large body never holds
the event loop that answers every other client.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import yaml

from ..api.errors import ApiError, BadRequest

MAX_DEPTH = 256  # levels of nesting accepted in a body (Kubernetes: 10,000; see the module docstring)
KUBERNETES_MAX_DEPTH = 10_000

_ALIAS_LOW, _ALIAS_HIGH = 400_000, 4_000_000  # go-yaml's alias_ratio_range_low/high

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SURROGATE = re.compile("[\ud800-\udfff]")
# More than MAX_DEPTH brackets in a row (only spaces between): refused before libyaml scans them
# (it takes milliseconds to). Such a run inside a quoted string would be refused too; no
# manifest holds one.
_OPENERS = re.compile(r"(?:[\[{]\s*){" + str(MAX_DEPTH + 1) + "}")
_ESCAPED_SURROGATE = re.compile(r"\\[uU][dD][89a-fA-F]")


class DecodeError(BadRequest):
    """A body that cannot be decoded within the bounds (400 BadRequest)."""


class Decoded:
    """A body already decoded by the HTTP layer, handed on where raw bytes are also accepted."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def allowed_alias_ratio(decoded: int) -> float:
    """The share of decoded nodes that may come from aliases (go-yaml's allowedAliasRatio)."""
    if decoded <= _ALIAS_LOW:
        return 0.99
    if decoded >= _ALIAS_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _ALIAS_LOW) / (_ALIAS_HIGH - _ALIAS_LOW)


def _too_deep(where: str = "") -> DecodeError:
    return DecodeError(f"{where}exceeded max depth of {MAX_DEPTH}: minikube-lite refuses bodies nested more "
                       f"than {MAX_DEPTH} levels deep (Kubernetes: {KUBERNETES_MAX_DEPTH})")


def clean_text(value: str) -> str:
    """A string with lone surrogates replaced by U+FFFD (what Go's decoders make of them)."""
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value


# ---------------------------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------------------------


class _Scalars(yaml.constructor.SafeConstructor):
    """PyYAML's safe scalar constructors, for one scalar at a time; timestamps stay text, as
    sigs.k8s.io/yaml leaves them (a label value ``2024-01-01`` is the string, not a date)."""

    def scalar(self, tag: str, value: str, style: str | None) -> Any:
        node = yaml.ScalarNode(tag, value, style=style)
        if tag == "tag:yaml.org,2002:timestamp":
            return value
        data = self.construct_object(node)
        self.constructed_objects.clear()
        if isinstance(data, str):
            return clean_text(data)
        if isinstance(data, datetime.date | bytes):
            return value
        return data


class _Frame:
    __slots__ = ("anchor", "depth", "is_map", "key", "merges", "nodes", "pending_key", "value")

    def __init__(self, value: Any, anchor: str | None, is_map: bool) -> None:
        self.value = value
        self.anchor = anchor
        self.is_map = is_map
        self.pending_key: Any = _NO_KEY
        self.merges: list[Any] = []
        self.nodes = 1  # decoded nodes in this collection, aliases counted expanded
        self.depth = 1  # levels below and including this collection


_NO_KEY = object()
_MERGE_KEY = object()  # the pending key of a ``<<`` entry
_MERGE = "tag:yaml.org,2002:merge"


class _Builder:
    """Builds the Python value of each document from parser events, iteratively."""

    def __init__(self, resolver: Any) -> None:
        self.resolver = resolver
        self.scalars = _Scalars()
        self.reset()

    def reset(self) -> None:
        self.anchors: dict[str, tuple[Any, int, int]] = {}  # name -> (value, nodes, depth)
        self.open_anchors: set[str] = set()
        self.stack: list[_Frame] = []
        self.decoded = 0
        self.aliased = 0
        self.shared = False  # an alias or a merge put one collection in several places
        self.result: Any = None

    def _count(self, nodes: int, aliased: bool) -> None:
        self.decoded += nodes
        if aliased:
            self.aliased += nodes
            if (self.aliased > 100 and self.decoded > 1000
                    and self.aliased / self.decoded > allowed_alias_ratio(self.decoded)):
                raise DecodeError("error decoding YAML: yaml: document contains excessive aliasing (aliases "
                                  f"expand to more than {allowed_alias_ratio(self.decoded):.0%} of "
                                  f"{self.decoded} nodes, the limit Kubernetes' YAML decoder sets)")

    def _add(self, value: Any, nodes: int, depth: int, is_merge_key: bool = False) -> None:
        """Put a finished value (scalar, collection, or alias) into the enclosing collection."""
        if not self.stack:
            self.result = value
            return
        top = self.stack[-1]
        top.nodes += nodes
        top.depth = max(top.depth, depth + 1)
        if not top.is_map:
            top.value.append(value)
        elif top.pending_key is _NO_KEY:
            if isinstance(value, list | dict):
                value = _hashable_key(value)
            top.pending_key = _MERGE_KEY if is_merge_key else value
        else:
            if top.pending_key is _MERGE_KEY:
                top.merges.append(value)
            else:
                top.value[top.pending_key] = value
            top.pending_key = _NO_KEY

    def event(self, ev: Any) -> None:
        if isinstance(ev, yaml.ScalarEvent):
            self._count(1, False)
            tag = ev.tag
            if tag is None or tag == "!":
                tag = self.resolver.resolve(yaml.ScalarNode, ev.value, ev.implicit)
            merge = tag == _MERGE and bool(self.stack) and self.stack[-1].is_map \
                and self.stack[-1].pending_key is _NO_KEY
            value = ev.value if merge else self.scalars.scalar(tag, ev.value, ev.style)
            if ev.anchor:
                self.anchors[ev.anchor] = (value, 1, 0)
            self._add(value, 1, 0, is_merge_key=merge)
        elif isinstance(ev, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            self._count(1, False)
            if len(self.stack) >= MAX_DEPTH:
                raise _too_deep("error decoding YAML: ")
            is_map = isinstance(ev, yaml.MappingStartEvent)
            self.stack.append(_Frame({} if is_map else [], ev.anchor, is_map))
            if ev.anchor:
                self.open_anchors.add(ev.anchor)
        elif isinstance(ev, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            frame = self.stack.pop()
            value = frame.value
            if frame.merges:
                value = _merged(frame.merges, value, ev)
                self.shared = True
            if frame.anchor:
                self.open_anchors.discard(frame.anchor)
                self.anchors[frame.anchor] = (value, frame.nodes, frame.depth)
            self._add(value, frame.nodes, frame.depth)
        elif isinstance(ev, yaml.AliasEvent):
            if ev.anchor in self.open_anchors:
                raise DecodeError(f"error decoding YAML: yaml: anchor '{ev.anchor}' value contains itself")
            if ev.anchor not in self.anchors:
                raise DecodeError(f"error decoding YAML: yaml: unknown anchor '{ev.anchor}' referenced")
            value, nodes, depth = self.anchors[ev.anchor]
            self._count(nodes, True)  # refused here, before anything is copied
            if len(self.stack) + depth > MAX_DEPTH:
                raise _too_deep("error decoding YAML: ")
            # Each use must end up its own copy, as go-yaml decodes each alias anew (later changes
            # to one place, defaults or merges, must not show up in another). The copies are made
            # once the document is accepted (``_unshare``), so a bomb refused half-way costs no copy.
            if isinstance(value, list | dict):
                self.shared = True
            self._add(value, nodes, depth)


def _unshare(value: Any) -> Any:
    """A deep copy of decoded YAML in which no list or mapping appears twice (what go-yaml makes
    of aliases: each use decoded anew), iteratively (``copy.deepcopy`` and pickle keep shared
    objects shared, and recurse)."""
    if not isinstance(value, list | dict):
        return value
    root: Any = {} if isinstance(value, dict) else []
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        src, dst = stack.pop()
        is_map = isinstance(dst, dict)
        for k, v in (src.items() if is_map else enumerate(src)):
            if isinstance(v, dict):
                c: Any = {}
                stack.append((v, c))
            elif isinstance(v, list):
                c = []
                stack.append((v, c))
            else:
                c = v
            if is_map:
                dst[k] = c
            else:
                dst.append(c)
    return root


def _hashable_key(value: Any) -> Any:
    raise DecodeError("error decoding YAML: a mapping key must be a scalar, not a "
                      f"{'list' if isinstance(value, list) else 'mapping'}")


def _merged(merges: list[Any], explicit: dict[Any, Any], ev: Any) -> dict[Any, Any]:
    """``<<: *base`` / ``<<: [*a, *b]``: keys of the mapping win, then earlier merged maps."""
    sources: list[Any] = []
    for m in merges:
        sources.extend(m if isinstance(m, list) else [m])
    out: dict[Any, Any] = {}
    for src in reversed(sources):
        if not isinstance(src, dict):
            raise DecodeError(f"error decoding YAML{_where(ev)}: map merge requires map or sequence of maps "
                              "as the value")
        out.update(src)  # shared until the document is accepted (``_unshare``)
    out.update(explicit)
    return out


def _where(ev_or_exc: Any) -> str:
    mark = getattr(ev_or_exc, "problem_mark", None) or getattr(ev_or_exc, "start_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def load_yaml_all(text: str | bytes) -> list[Any]:
    """Every document of a YAML stream, within the alias and depth bounds (``DecodeError``)."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("the request body is not UTF-8 text") from exc
    if _OPENERS.search(text):
        raise _too_deep("error decoding YAML: ")
    loader = _Loader(text)
    builder = _Builder(loader)
    docs: list[Any] = []
    try:
        while True:
            ev = loader.get_event()
            if ev is None or isinstance(ev, yaml.StreamEndEvent):
                break
            if isinstance(ev, yaml.DocumentStartEvent):
                builder.reset()
            elif isinstance(ev, yaml.DocumentEndEvent):
                docs.append(_unshare(builder.result) if builder.shared else builder.result)
            elif not isinstance(ev, yaml.StreamStartEvent):
                builder.event(ev)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise DecodeError(f"error parsing YAML{_where(exc)}: {problem}") from None
    except RecursionError:
        raise _too_deep("error decoding YAML: ") from None
    finally:
        loader.dispose()
    return docs


def load_yaml(text: str | bytes) -> Any:
    """One YAML document (the first; ``None`` for an empty body)."""
    docs = load_yaml_all(text)
    return docs[0] if docs else None


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise DecodeError(f"error decoding JSON: {name} is not a JSON value")


def check_depth(value: Any, where: str = "") -> Any:
    """``value`` unchanged when it nests at most ``MAX_DEPTH`` levels; strings with lone
    surrogates are replaced by cleaned copies on the way."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > MAX_DEPTH:
                raise _too_deep(where)
            for k, v in list(node.items()):
                if isinstance(k, str) and _SURROGATE.search(k):
                    del node[k]
                    node[clean_text(k)] = v
                if isinstance(v, str):
                    if _SURROGATE.search(v):
                        node[clean_text(k) if isinstance(k, str) else k] = clean_text(v)
                elif isinstance(v, dict | list):
                    stack.append((v, depth + 1))
        elif isinstance(node, list):
            if depth > MAX_DEPTH:
                raise _too_deep(where)
            for i, v in enumerate(node):
                if isinstance(v, str):
                    if _SURROGATE.search(v):
                        node[i] = clean_text(v)
                elif isinstance(v, dict | list):
                    stack.append((v, depth + 1))
    return value


def load_json(text: str | bytes, *, what: str = "error decoding JSON") -> Any:
    """A JSON value within the depth bound; NaN/Infinity refused, lone surrogates as U+FFFD."""
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DecodeError("the request body is not UTF-8 text") from exc
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise DecodeError(f"{what}: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise _too_deep(f"{what}: ") from None
    if isinstance(value, dict | list) and (text.count("[") + text.count("{") > MAX_DEPTH
                                           or _ESCAPED_SURROGATE.search(text)):
        check_depth(value, f"{what}: ")
    elif isinstance(value, str):
        value = clean_text(value)
    return value


# ---------------------------------------------------------------------------------------------
# Off the event loop
# ---------------------------------------------------------------------------------------------

_T = TypeVar("_T")
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="decode")
_SMALL = 16 * 1024  # bodies below this are decoded in place: a thread hop would cost more


async def run_bounded(fn: Callable[..., _T], body: bytes, *args: Any) -> _T:
    """``fn(body, *args)`` in the decoding pool (in place for a small body without aliases).

    The pool has two threads (the machine's cores); whatever waits beyond them is bounded by the
    API server's in-flight limit. Errors other than API errors leave as a 400, never a 500.
    """
    try:
        if len(body) < _SMALL and b"*" not in body:
            return fn(body, *args)
        return await asyncio.get_running_loop().run_in_executor(_POOL, fn, body, *args)
    except ApiError:
        raise
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, TypeError, yaml.YAMLError) as exc:
        raise DecodeError(f"the request body could not be decoded: {exc}") from None
