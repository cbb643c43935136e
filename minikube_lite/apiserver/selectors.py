"""Label and field selectors, as ``?labelSelector=`` and ``?fieldSelector=`` spell them.

Label selectors take Kubernetes' whole syntax: ``a=b``, ``a==b``, ``a!=b``,
``a in (x,y)``, ``a notin (x)``, ``a`` (exists), ``!a`` (does not exist); a comma is AND.
Field selectors take ``=``, ``==`` and ``!=`` on the fields Kubernetes supports for a kind;
any other field is refused as kube-apiserver refuses it. A parsed selector is a predicate
on the object dict.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..api.errors import BadRequest
from ..api.labels import label_selector_from_map, matches_selector

__all__ = ["label_selector_from_map", "matches_selector", "parse_field_selector", "parse_label_selector"]

Predicate = Callable[[dict[str, Any]], bool]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_KEY_RE = re.compile(rf"^{_KEY}$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


def _split_top(selector: str) -> list[str]:
    """Split on commas that are not inside a parenthesised set."""
    parts, depth, cur = [], 0, []
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise BadRequest(f"unable to parse requirement: unbalanced parenthesis in {selector!r}")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise BadRequest(f"unable to parse requirement: unbalanced parenthesis in {selector!r}")
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def _check_key(key: str) -> str:
    if not key or len(key) > 317 or not _KEY_RE.match(key):
        raise BadRequest(f'unable to parse requirement: invalid label key "{key}"')
    return key


def _check_value(value: str) -> str:
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise BadRequest(f'unable to parse requirement: invalid label value: "{value}"')
    return value


_SET_RE = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQ_RE = re.compile(r"^(?P<key>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")


def _requirement(text: str) -> Predicate:
    if not text:
        raise BadRequest("unable to parse requirement: empty requirement")
    m = _SET_RE.match(text)
    if m:
        key = _check_key(m["key"])
        values = {_check_value(v.strip()) for v in m["values"].split(",")}
        if m["op"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    m = _EQ_RE.match(text)
    if m:
        key, value = _check_key(m["key"]), _check_value(m["value"])
        if m["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: key in labels and labels[key] == value
    if text.startswith("!"):
        key = _check_key(text[1:].strip())
        return lambda labels: key not in labels
    key = _check_key(text)
    return lambda labels: key in labels


def parse_label_selector(selector: str | None) -> Predicate | None:
    """A predicate on an object's ``metadata.labels``, or None for "everything"."""
    if selector is None or not selector.strip():
        return None
    reqs = [_requirement(part) for part in _split_top(selector)]

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r(labels) for r in reqs)

    return match


# Fields each kind can be selected on (beyond metadata.name and metadata.namespace).
FIELD_LABELS: dict[str, set[str]] = {
    "pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "events": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
               "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
               "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    "secrets": {"type"},
    "namespaces": {"status.phase"},
    "nodes": {"spec.unschedulable"},
    "replicasets": {"status.replicas"},
}


def field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict):  # events' "source" selects on the component
        return str(cur.get("component", ""))
    return str(cur)


def parse_field_selector(selector: str | None, plural: str) -> Predicate | None:
    if selector is None or not selector.strip():
        return None
    allowed = {"metadata.name", "metadata.namespace"} | FIELD_LABELS.get(plural, set())
    reqs: list[tuple[str, str, bool]] = []
    for part in selector.split(","):
        part = part.strip()
        m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", part)
        if not m:
            raise BadRequest(f'invalid selector: \'{selector}\'; can\'t understand \'{part}\'')
        field, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
        if field not in allowed:
            raise BadRequest(f'field label not supported: {field}')
        reqs.append((field, value, op == "!="))

    def match(obj: dict[str, Any]) -> bool:
        return all((field_value(obj, f) != v) if neg else (field_value(obj, f) == v) for f, v, neg in reqs)

    return match


def single_name(selector: str | None) -> str | None:
    """The name a field selector pins (``metadata.name=x``), used to narrow a store scan."""
    if not selector:
        return None
    for part in selector.split(","):
        m = re.match(r"^\s*metadata\.name\s*==?\s*(\S+)\s*$", part)
        if m:
            return m.group(1)
    return None
