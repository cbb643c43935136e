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
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..api.errors import ApiError, BadRequest

MAX_DEPTH = 256  # levels of nesting accepted in a body (Kubernetes: 10,000; see the module docstring)
KUBERNETES_MAX_DEPTH = 10_000

_ALIAS_LOW, _ALIAS_HIGH = 400_000, 4_000_000  # go-yaml's alias_ratio_range_low/high

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


def load_yaml_all(text: str | bytes) -> list[Any]:
    """Every document of a YAML stream, within the alias and depth bounds (``DecodeError``)."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("the request body is not UTF-8 text") from exc
    if _OPENERS.search(text):
        raise _too_deep("error decoding YAML: ")
    from .decoding_yaml import load_all  # PyYAML and the builder load with the first YAML body

    return load_all(text)


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
    except (ValueError, TypeError) as exc:  # a YAMLError is decoding_yaml.load_all's DecodeError already
        raise DecodeError(f"the request body could not be decoded: {exc}") from None
