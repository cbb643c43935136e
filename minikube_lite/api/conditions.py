"""An object's ``status.conditions``: the one of a type, and whether it is ``True``.

One place for what Kubernetes has as ``GetPodCondition``/``IsPodReady`` (pkg/api/v1/pod),
``GetNodeCondition`` (pkg/controller/util/node) and ``meta.FindStatusCondition``: the first
condition of the type counts, and only the status ``"True"`` is true.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def find(conditions: list[Obj] | None, ctype: str) -> Obj | None:
    """The first of ``conditions`` of type ``ctype``, or None."""
    for c in conditions or []:
        if c.get("type") == ctype:
            return c
    return None


def condition(obj: Obj, ctype: str) -> Obj | None:
    """The condition of type ``ctype`` in ``obj``'s status, or None."""
    return find((obj.get("status") or {}).get("conditions"), ctype)


def is_true(obj: Obj, ctype: str) -> bool:
    c = condition(obj, ctype)
    return c is not None and c.get("status") == "True"


def ready(obj: Obj) -> bool:
    """A pod's or a node's ``Ready`` condition is ``True`` (no condition: not ready)."""
    return is_true(obj, "Ready")
