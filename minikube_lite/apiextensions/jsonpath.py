"""The JSONPath of client-go (k8s.io/client-go/util/jsonpath), as CRD printer columns use it.

A CRD column's ``jsonPath`` is parsed as the template ``{<path>}`` and evaluated with missing
keys allowed. The subset here is the one kubectl's documentation shows: ``.a.b``, ``['a.b']``,
``[0]``, ``[-1]``, ``[1:3]``, ``[*]``, ``..name`` (recursive descent) and filters
``[?(@.type=="Ready")]`` with ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` or bare existence.
``find`` returns every match in document order; ``text`` prints one value as jsonpath does
(strings bare, objects and lists as JSON).
"""

from __future__ import annotations

import json
import operator
import re
from functools import lru_cache
from typing import Any

_TOKEN = re.compile(r"""
    \.\.(?P<recursive>[A-Za-z0-9_\-$]+|\*)   # ..name
  | \.(?P<field>[A-Za-z0-9_\-$]+|\*)         # .name or .*
  | \[\s*(?P<bracket>[^\]]*?)\s*\]          # [...]
""", re.VERBOSE)
_FILTER = re.compile(r"""^\?\(\s*@(?P<path>(?:\.[A-Za-z0-9_\-$]+|\[[^\]]*\])*)\s*
                         (?:(?P<op>==|!=|<=|>=|<|>)\s*(?P<value>.+?))?\s*\)$""", re.VERBOSE)


_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}


class JSONPathError(ValueError):
    pass


Step = tuple[str, Any]


@lru_cache(maxsize=256)
def parse(path: str) -> tuple[Step, ...]:
    """``path`` (``.status.conditions[0].type``; surrounding ``{}`` optional) as steps."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1].strip()
    p = p.removeprefix("$")
    steps: list[Step] = []
    pos = 0
    while pos < len(p):
        m = _TOKEN.match(p, pos)
        if not m:
            raise JSONPathError(f"unrecognized character in action: {p[pos:]!r}")
        if m.group("recursive") is not None:
            steps.append(("recursive", m.group("recursive")))
        elif m.group("field") is not None:
            steps.append(("field", m.group("field")))
        else:
            steps.append(_bracket(m.group("bracket")))
        pos = m.end()
    return tuple(steps)


def _bracket(text: str) -> Step:
    if text == "*":
        return ("field", "*")
    if text[:1] in ("'", '"') and text[-1:] == text[:1]:
        return ("field", text[1:-1])
    if text.startswith("?"):
        m = _FILTER.match(text)
        if not m:
            raise JSONPathError(f"unrecognized filter: {text}")
        value = m.group("value")
        literal: Any = None
        if value is not None:
            value = value.strip()
            if value[:1] in ("'", '"'):
                literal = value[1:-1]
            else:
                try:
                    literal = json.loads(value)
                except ValueError as e:
                    raise JSONPathError(f"unrecognized filter value: {value}") from e
        return ("filter", (parse(m.group("path")) if m.group("path") else (), m.group("op"), literal))
    if ":" in text:
        parts = [x.strip() for x in text.split(":")]
        try:
            nums = tuple(int(x) if x else None for x in parts[:3])
        except ValueError as e:
            raise JSONPathError(f"invalid array slice: {text}") from e
        return ("slice", nums)
    try:
        return ("index", int(text))
    except ValueError:
        if "," in text:
            return ("union", tuple(x.strip().strip("'\"") for x in text.split(",")))
        return ("field", text)


def find(obj: Any, path: str) -> list[Any]:
    """Every value ``path`` selects in ``obj`` (missing keys select nothing)."""
    current = [obj]
    for kind, arg in parse(path):
        nxt: list[Any] = []
        for value in current:
            nxt.extend(_step(value, kind, arg))
        current = nxt
    return current


def _step(value: Any, kind: str, arg: Any) -> list[Any]:
    if kind == "field":
        if arg == "*":
            if isinstance(value, dict):
                return list(value.values())
            return list(value) if isinstance(value, list) else []
        return [value[arg]] if isinstance(value, dict) and arg in value else []
    if kind == "union":
        return [value[k] for k in arg if isinstance(value, dict) and k in value]
    if kind == "index":
        if isinstance(value, list) and -len(value) <= arg < len(value):
            return [value[arg]]
        return []
    if kind == "slice":
        if not isinstance(value, list):
            return []
        start, stop, *step = arg + (None,) * (3 - len(arg))
        return value[slice(start, stop, step[0] if step else None)]
    if kind == "recursive":
        out: list[Any] = []
        _descend(value, arg, out)
        return out
    if kind == "filter":
        sub, op, literal = arg
        items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else []
        return [item for item in items if _matches(item, sub, op, literal)]
    return []


def _descend(value: Any, name: str, out: list[Any]) -> None:
    if isinstance(value, dict):
        if name == "*":
            out.extend(value.values())
        elif name in value:
            out.append(value[name])
        for v in value.values():
            _descend(v, name, out)
    elif isinstance(value, list):
        for v in value:
            _descend(v, name, out)


def _matches(item: Any, sub: tuple[Step, ...], op: str | None, literal: Any) -> bool:
    found = [item]
    for kind, arg in sub:
        found = [r for v in found for r in _step(v, kind, arg)]
    if op is None:
        return bool(found)
    if not found:
        return False
    left = found[0]
    try:
        return bool(_OPS[op](left, literal))
    except TypeError:
        return False


def text(value: Any) -> str:
    """One value as jsonpath prints it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
