"""The YAML half of bounded decoding (decoding.py): PyYAML's event stream built into plain values.

Split from decoding.py so that PyYAML and these classes load with the first YAML body, not with
the API server (kubectl sends JSON or protobuf; YAML comes from ``POST /apply`` and curl). The
bounds, aliases and error wording are decoding.py's docstring's.
"""

from __future__ import annotations

import datetime
from typing import Any

import yaml

from .decoding import MAX_DEPTH, DecodeError, _too_deep, allowed_alias_ratio, clean_text

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def load_all(text: str) -> list[Any]:
    """Every document of a YAML stream (text already checked by ``decoding.load_yaml_all``)."""
    loader: Any = None
    docs: list[Any] = []
    try:
        loader = _Loader(text)  # PyYAML's own (no libyaml) reads the text here: a ReaderError
        builder = _Builder(loader)
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
        if loader is not None:
            loader.dispose()
    return docs
