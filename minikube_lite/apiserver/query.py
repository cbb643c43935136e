"""Query parameters read as kube-apiserver reads them (its ``url.Values`` conversions).

kube-apiserver decodes a request's query into the verb's options type (``ListOptions``,
``DeleteOptions``, ``PodLogOptions`` ...) before anything else, so a malformed value is a
400 whatever the request would have done: integers are Go's ``strconv.ParseInt(s, 10, 64)``
(``strconv.ParseInt: parsing "abc": invalid syntax``, ``... value out of range``), booleans are
false only for ``false`` and ``0`` (any other value, even empty, is true), and parameters an
options type does not know are ignored. ``check`` validates every parameter of the verb at the
start of a request; ``go_int64`` / ``go_bool`` are what the handlers then read values with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..api.errors import BadRequest

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_DIGITS = re.compile(r"[+-]?[0-9]+")

_LIST = {"timeoutSeconds": "int", "limit": "int", "watch": "bool", "allowWatchBookmarks": "bool",
         "sendInitialEvents": "bool"}
_WRITE = {"force": "bool"}  # dryRun, fieldManager and fieldValidation are checked where read
_DELETE = {"gracePeriodSeconds": "int", "orphanDependents": "bool"}
_LOG = {"sinceSeconds": "int", "tailLines": "int", "limitBytes": "int", "follow": "bool", "previous": "bool",
        "timestamps": "bool", "insecureSkipTLSVerifyBackend": "bool"}
_BY_VERB: dict[str, dict[str, str]] = {
    "list": _LIST, "watch": _LIST, "deletecollection": {**_LIST, **_DELETE}, "delete": _DELETE,
    "create": _WRITE, "update": _WRITE, "patch": _WRITE, "log": _LOG,
}


def parse_int64(value: str) -> int:
    """Go's ``strconv.ParseInt(value, 10, 64)``, with its error text."""
    if not _DIGITS.fullmatch(value):
        raise BadRequest(f'strconv.ParseInt: parsing "{_quote(value)}": invalid syntax')
    number = int(value)
    if not INT64_MIN <= number <= INT64_MAX:
        raise BadRequest(f'strconv.ParseInt: parsing "{_quote(value)}": value out of range')
    return number


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def go_int64(value: str | None) -> int | None:
    """An integer parameter: ``None`` when absent, else parsed as Go parses it."""
    return None if value is None else parse_int64(value)


def go_bool(value: str | None) -> bool:
    """A boolean parameter as Kubernetes converts it: absent, ``false`` and ``0`` are false."""
    return value is not None and value != "0" and value.lower() != "false"


def check(query: Mapping[str, str], verb: str) -> None:
    """Refuse (400) the first malformed parameter the verb's options type would decode."""
    for name, kind in _BY_VERB.get(verb, {}).items():
        value = query.get(name)
        if value is not None and kind == "int":
            parse_int64(value)
