"""Matching a ``LabelSelector`` object (``matchLabels`` + ``matchExpressions``) against labels.

Shared by every component that selects objects from its own cache — ReplicaSets choosing their
pods, Deployments their ReplicaSets, the endpoints controller a Service's pods — as
apimachinery's ``labels`` package is in Kubernetes. The API server's query-string selectors
(``?labelSelector=``) live in ``apiserver/selectors.py``.
"""

from __future__ import annotations

from typing import Any


def label_selector_from_map(match_labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


def matches_selector(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    """A ``LabelSelector`` object (matchLabels + matchExpressions) against labels. Empty matches all."""
    labels = labels or {}
    if not selector:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
