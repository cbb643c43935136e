"""Integer ranges of Kubernetes' Go types: ``int32`` unless a field is declared ``int64``.

Kubernetes' fields are Go ``int32`` (ports, replicas, probe timings, modes ...) or ``int64``
(generations, grace periods, user and group ids ...); a number outside its type is refused
before anything else is checked. The models (``api/models.py`` and the kinds' modules) type a
field ``int`` for int32 and ``Int64`` for int64; ``out_of_range`` walks an object along its
model's fields (a plan per model, computed once) and names every integer outside its range, in
go-openapi's wording (``spec.replicas in body must be of type int32: "3000000000"``).
"""

from __future__ import annotations

import types
import typing
from functools import cache
from typing import Annotated, Any, Union

from pydantic import BaseModel

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class _Int64Marker:
    def __repr__(self) -> str:
        return "int64"


INT64_MARK = _Int64Marker()
Int64 = Annotated[int, INT64_MARK]

# a plan: ("int32"|"int64",) or ("model", cls) or ("list", plan) or ("map", plan), or None
Plan = tuple[Any, ...] | None


def _plan_of(tp: Any) -> Plan:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *meta = typing.get_args(tp)
        if base is int and any(m is INT64_MARK for m in meta):
            return ("int64",)
        return _plan_of(base)
    if origin in (Union, types.UnionType):
        plans = [p for p in (_plan_of(a) for a in typing.get_args(tp) if a is not type(None)) if p]
        return plans[0] if len(plans) == 1 else None
    if origin is list:
        inner = _plan_of(typing.get_args(tp)[0])
        return ("list", inner) if inner else None
    if origin is dict:
        inner = _plan_of(typing.get_args(tp)[1])
        return ("map", inner) if inner else None
    if tp is int:
        return ("int32",)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return ("model", tp)
    return None


@cache
def _fields(model: type[BaseModel]) -> dict[str, Plan]:
    out: dict[str, Plan] = {}
    for name, info in model.model_fields.items():
        tp = info.annotation
        if info.metadata:
            tp = Annotated[(tp, *info.metadata)]
        plan = _plan_of(tp)
        if plan:
            out[info.alias or name] = plan
    return out


def out_of_range(model: type[BaseModel], obj: Any) -> list[tuple[str, int, str]]:
    """``(path, value, "int32"|"int64")`` for each integer of ``obj`` outside its Go type."""
    found: list[tuple[str, int, str]] = []
    stack: list[tuple[Plan, Any, str]] = [(("model", model), obj, "")]
    while stack:
        plan, value, path = stack.pop()
        if plan is None:
            continue
        kind = plan[0]
        if kind in ("int32", "int64"):
            low, high = INT32 if kind == "int32" else INT64
            if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
                found.append((path, value, kind))
        elif kind == "model" and isinstance(value, dict):
            fields = _fields(plan[1])
            for key, sub in value.items():
                if key in fields:
                    stack.append((fields[key], sub, f"{path}.{key}" if path else key))
        elif kind == "list" and isinstance(value, list):
            stack.extend((plan[1], v, f"{path}[{i}]") for i, v in enumerate(value))
        elif kind == "map" and isinstance(value, dict):
            stack.extend((plan[1], v, f"{path}[{k}]") for k, v in value.items())
    return sorted(found)
