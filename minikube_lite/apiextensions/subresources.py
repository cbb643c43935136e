"""The ``status`` and ``scale`` subresources of a custom kind (apiextensions-apiserver's
registry/customresource strategy and scale storage).

With ``subresources.status`` the object has two halves written through different doors: the
main resource ignores ``status`` (dropped on create, kept from the stored object on update) and
``/status`` changes nothing but ``status``. ``metadata.generation`` counts changes to everything
but ``metadata`` and ``status`` (without the subresource, to everything but ``metadata``). A
``/status`` write itself is the generic registry's (the stored object with the new status).

With ``subresources.scale`` the kind has an ``autoscaling/v1`` Scale read from and written to the
paths the CRD names (``specReplicasPath``, ``statusReplicasPath``, ``labelSelectorPath``), which
is what ``kubectl scale`` and a HorizontalPodAutoscaler use.
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


def has_status(version: Obj) -> bool:
    sub = version.get("subresources")
    return isinstance(sub, dict) and "status" in sub


def scale_spec(version: Obj) -> Obj | None:
    sub = version.get("subresources")
    if isinstance(sub, dict) and isinstance(sub.get("scale"), dict):
        return sub["scale"]
    return None


def prepare_create(obj: Obj, version: Obj) -> None:
    if has_status(version):
        obj.pop("status", None)


def prepare_update(new: Obj, old: Obj, version: Obj) -> None:
    """A main-resource update: with the status subresource, status stays as stored."""
    if has_status(version):
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)


def generation_changed(new: Obj, old: Obj, version: Obj) -> bool:
    skip = {"metadata", "status"} if has_status(version) else {"metadata"}
    return ({k: v for k, v in new.items() if k not in skip} != {k: v for k, v in old.items() if k not in skip})


# --- scale ----------------------------------------------------------------------------------

def _parts(path: str) -> list[str]:
    return [p for p in path.strip().lstrip(".").split(".") if p]


def get_path(obj: Any, path: str) -> tuple[Any, bool]:
    cur = obj
    for part in _parts(path):
        if not isinstance(cur, dict) or part not in cur:
            return None, False
        cur = cur[part]
    return cur, True


def set_path(obj: Obj, path: str, value: Any) -> None:
    parts = _parts(path)
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = cur[part] = {}
        cur = nxt
    cur[parts[-1]] = value


class ScaleError(ValueError):
    """The object's replicas (or selector) at the CRD's path is not of the type Scale needs."""


def _int_at(obj: Obj, path: str) -> int:
    value, found = get_path(obj, path)
    if not found or value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ScaleError(f".{'.'.join(_parts(path))} accessor error: {value!r} is of the type "
                         f"{type(value).__name__}, expected int64")
    return int(value)


def to_scale(obj: Obj, scale: Obj) -> Obj:
    """The ``autoscaling/v1`` Scale of a custom object."""
    meta = obj.get("metadata") or {}
    status: Obj = {"replicas": _int_at(obj, scale.get("statusReplicasPath") or "")}
    if scale.get("labelSelectorPath"):
        selector, found = get_path(obj, scale["labelSelectorPath"])
        if found and isinstance(selector, str) and selector:
            status["selector"] = selector
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": _int_at(obj, scale.get("specReplicasPath") or "")},
        "status": status,
    }


def apply_scale(obj: Obj, scale: Obj, replicas: int) -> Obj:
    """``obj`` with ``replicas`` written at the spec replicas path (a copy)."""
    out = copy.deepcopy(obj)
    set_path(out, scale.get("specReplicasPath") or ".spec.replicas", replicas)
    return out
