"""The CRD's conditions: apiextensions-apiserver's naming and establishing controllers.

Kubernetes accepts a CRD's names only when no other CRD of the same group already uses them
(plural, singular and short names share one space, kind and listKind another); it then says
``NamesAccepted=True`` (``NoConflicts``), copies the names to ``status.acceptedNames`` and,
once the kind is served, ``Established=True`` (``InitialNamesAccepted``). A conflict keeps the
previous accepted names and reports e.g. ``PluralConflict: "foos" is already in use``. Here the
two controllers are one function: the kind is served as soon as its names are accepted, so
``Established`` follows in the same write.
"""

from __future__ import annotations

import copy
from typing import Any

from ..api.conditions import condition
from ..api.times import now_rfc3339

Obj = dict[str, Any]


def _used_names(others: list[Obj], group: str) -> tuple[set[str], set[str]]:
    resources: set[str] = set()
    kinds: set[str] = set()
    for crd in others:
        if (crd.get("spec") or {}).get("group") != group:
            continue
        acc = (crd.get("status") or {}).get("acceptedNames") or {}
        resources.update(x for x in (acc.get("plural"), acc.get("singular"), *(acc.get("shortNames") or [])) if x)
        kinds.update(x for x in (acc.get("kind"), acc.get("listKind")) if x)
    return resources, kinds


def _conflict(requested: str | None, accepted: str | None, used: set[str]) -> str | None:
    if requested == accepted or requested not in used:
        return None
    return f'"{requested}" is already in use'


def set_condition(status: Obj, cond: Obj) -> None:
    """SetCRDCondition: replace the condition of the same type; keep its time if nothing changed."""
    conds = status.setdefault("conditions", [])
    for i, old in enumerate(conds):
        if old.get("type") == cond["type"]:
            if all(old.get(k) == cond.get(k) for k in ("status", "reason", "message")):
                return
            if old.get("status") == cond.get("status"):
                cond["lastTransitionTime"] = old.get("lastTransitionTime", cond["lastTransitionTime"])
            conds[i] = cond
            return
    conds.append(cond)


def _cond(ctype: str, status: str, reason: str, message: str) -> Obj:
    return {"type": ctype, "status": status, "lastTransitionTime": now_rfc3339(), "reason": reason, "message": message}


def compute_status(crd: Obj, others: list[Obj]) -> Obj:
    """The CRD's new ``status`` given the other CRDs (``others`` excludes ``crd`` itself)."""
    spec = crd.get("spec") or {}
    status = copy.deepcopy(crd.get("status") or {})
    requested = spec.get("names") or {}
    accepted = status.get("acceptedNames") or {}
    new = dict(accepted)
    resources, kinds = _used_names(others, spec.get("group") or "")
    problem: tuple[str, str] | None = None

    for word, used, reason in (("plural", resources, "PluralConflict"), ("singular", resources, "SingularConflict")):
        if msg := _conflict(requested.get(word), accepted.get(word), used):
            problem = (reason, msg)
        elif requested.get(word) is not None:
            new[word] = requested.get(word)
    if (requested.get("shortNames") or []) != (accepted.get("shortNames") or []):
        have = set(accepted.get("shortNames") or [])
        msgs = [m for s in requested.get("shortNames") or [] if s not in have and (m := _conflict(s, "", resources))]
        if msgs:
            problem = ("ShortNamesConflict", msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]")
        elif requested.get("shortNames"):
            new["shortNames"] = list(requested["shortNames"])
        else:
            new.pop("shortNames", None)
    for word, reason in (("kind", "KindConflict"), ("listKind", "ListKindConflict")):
        if msg := _conflict(requested.get(word), accepted.get(word), kinds):
            problem = (reason, msg)
        elif requested.get(word) is not None:
            new[word] = requested.get(word)
    if requested.get("categories"):
        new["categories"] = list(requested["categories"])
    else:
        new.pop("categories", None)

    status["acceptedNames"] = new
    if problem:
        set_condition(status, _cond("NamesAccepted", "False", *problem))
        if not is_established(crd):
            set_condition(status, _cond("Established", "False", "NotAccepted", "not all names are accepted"))
    else:
        set_condition(status, _cond("NamesAccepted", "True", "NoConflicts", "no conflicts found"))
        set_condition(status, _cond("Established", "True", "InitialNamesAccepted",
                                    "the initial names have been accepted"))
    status.setdefault("storedVersions", [])
    return status


def is_established(crd: Obj) -> bool:
    c = condition(crd, "Established")
    return bool(c and c.get("status") == "True")


def served_names(crd: Obj) -> Obj:
    """The names a CRD is served under: the accepted ones (a conflicting rename keeps the old)."""
    return (crd.get("status") or {}).get("acceptedNames") or {}
