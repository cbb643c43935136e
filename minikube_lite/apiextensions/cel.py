"""``x-kubernetes-validations``: CEL rules of a CRD schema (apiextensions-apiserver's schema/cel).

Each rule sits on a schema node and is evaluated on every value at that node with ``self``
bound to the value (and, on update, ``oldSelf`` to the value at the same path in the stored
object; a rule that names ``oldSelf`` is a *transition rule* and is skipped when there is no old
value, unless ``optionalOldSelf``). A rule that is not ``true`` fails with its ``message`` (or
``failed rule: <rule>``), at the node's path plus ``fieldPath``, as the field error its
``reason`` names (``FieldValueInvalid`` by default).

The evaluator is cel-python (``celpy``), a maintained pure-Python CEL: the standard macros
(``has``, ``all``, ``exists``, ``map``, ``filter``), ``size``, ``matches``, ``startsWith`` ...
Kubernetes' CEL libraries beyond the standard (``quantity()``, ``url()``, ``isSorted()``,
``format``) are not there: a rule using one fails to compile, and the CRD is refused with the
compiler's message, as kube-apiserver refuses an unknown function. Cost budgets are not
estimated. Programs are compiled once per rule text.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from ..api.validation import ErrorList

Schema = dict[str, Any]


@lru_cache(maxsize=1)
def _celpy() -> Any:
    """cel-python, imported on first use: it takes about half a second, which a daemon with no
    CEL rules should not pay at start."""
    import celpy

    logging.getLogger("celpy").setLevel(logging.WARNING)
    return celpy


@lru_cache(maxsize=1)
def _env() -> Any:
    return _celpy().Environment()


@lru_cache(maxsize=512)
def _program(rule: str) -> Any:
    env = _env()
    return env.program(env.compile(rule))


def compile_errors(schema: Schema, path: str) -> list[dict[str, str]]:
    """Rules that do not compile, as the causes that refuse the CRD."""
    errs = ErrorList()
    _compile_walk(errs, schema, path)
    return errs.causes


def _compile_walk(errs: ErrorList, s: Any, path: str) -> None:
    if not isinstance(s, dict):
        return
    for i, rule in enumerate(s.get("x-kubernetes-validations") or []):
        rpath = f"{path}.x-kubernetes-validations[{i}]"
        if not isinstance(rule, dict) or not rule.get("rule"):
            errs.required(rpath + ".rule", "rule is not specified")
            continue
        if rule.get("message") is not None and not str(rule["message"]).strip():
            errs.invalid(rpath + ".message", rule["message"], "must be non-empty if specified")
        reason = rule.get("reason")
        if reason is not None and reason not in _REASONS:
            errs.not_supported(rpath + ".reason", reason, sorted(_REASONS))
        try:
            _program(rule["rule"])
        except Exception as e:  # noqa: BLE001 - whatever celpy raises on a rule refuses that rule
            errs.invalid(rpath + ".rule", rule["rule"], f"compilation failed: {str(e).strip()}")
    for k, sub in (s.get("properties") or {}).items():
        _compile_walk(errs, sub, f"{path}.properties[{k}]")
    if isinstance(s.get("items"), dict):
        _compile_walk(errs, s["items"], path + ".items")
    if isinstance(s.get("additionalProperties"), dict):
        _compile_walk(errs, s["additionalProperties"], path + ".additionalProperties")


_REASONS = {"FieldValueInvalid": "invalid", "FieldValueForbidden": "forbidden",
            "FieldValueRequired": "required", "FieldValueDuplicate": "duplicate"}
_MISSING = object()


def has_rules(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    if schema.get("x-kubernetes-validations"):
        return True
    subs = list((schema.get("properties") or {}).values())
    subs += [schema[k] for k in ("items", "additionalProperties") if isinstance(schema.get(k), dict)]
    return any(has_rules(s) for s in subs)


def validate(obj: Any, schema: Schema | None, old: Any = None) -> list[dict[str, str]]:
    """The causes of every failed rule on ``obj`` (``old``: the stored object, on update)."""
    errs = ErrorList()
    if schema and has_rules(schema):
        _walk(errs, obj, _MISSING if old is None else old, schema, "")
    return errs.causes


def _join(path: str, k: str) -> str:
    return f"{path}.{k}" if path else k


def _walk(errs: ErrorList, x: Any, old: Any, s: Schema, path: str) -> None:
    if s.get("x-kubernetes-validations"):
        _rules(errs, x, old, s, path)
    if isinstance(x, dict):
        props = s.get("properties") or {}
        add = s.get("additionalProperties") if isinstance(s.get("additionalProperties"), dict) else None
        for k, v in x.items():
            sub = props.get(k, add)
            if isinstance(sub, dict) and has_rules(sub):
                o = old.get(k, _MISSING) if isinstance(old, dict) else _MISSING
                _walk(errs, v, o, sub, _join(path, k))
    elif isinstance(x, list) and isinstance(s.get("items"), dict) and has_rules(s["items"]):
        for i, v in enumerate(x):  # list items correlate only for map lists: not followed here
            _walk(errs, v, _MISSING, s["items"], f"{path}[{i}]")


def _rules(errs: ErrorList, x: Any, old: Any, s: Schema, path: str) -> None:
    for rule in s.get("x-kubernetes-validations") or []:
        text = rule.get("rule") or ""
        uses_old = "oldSelf" in text
        if uses_old and old is _MISSING and not rule.get("optionalOldSelf"):
            continue
        celpy = _celpy()
        activation: dict[str, Any] = {"self": celpy.json_to_cel(x)}
        if uses_old:
            activation["oldSelf"] = (celpy.json_to_cel(old) if old is not _MISSING
                                     else celpy.celtypes.MapType({}))
        where = path
        if rule.get("fieldPath"):
            where = _join(path, str(rule["fieldPath"]).lstrip("."))
        stype = s.get("type") or ("integer,string" if s.get("x-kubernetes-int-or-string") else "")
        try:
            result = _program(text).evaluate(activation)
        except Exception as e:  # noqa: BLE001 - a CEL run-time error fails the rule, never the request
            errs.invalid(where or ".", stype, f"{_short(e)} evaluating rule: {_rule_text(rule)}")
            continue
        if isinstance(result, celpy.CELEvalError):
            errs.invalid(where or ".", stype, f"{_short(result)} evaluating rule: {_rule_text(rule)}")
            continue
        if result is True or result == celpy.celtypes.BoolType(True):
            continue
        detail = str(rule["message"]).strip() if rule.get("message") else f"failed rule: {_rule_text(rule)}"
        reason = rule.get("reason") or "FieldValueInvalid"
        if reason == "FieldValueForbidden":
            errs.forbidden(where, detail)
        elif reason == "FieldValueRequired":
            errs.required(where, detail)
        elif reason == "FieldValueDuplicate":
            errs.duplicate(where, x)
        elif stype in ("object", "array"):
            errs.add(where, "FieldValueInvalid", f"Invalid value: {detail}")
        else:
            errs.invalid(where, x, detail)


def _rule_text(rule: Schema) -> str:
    return str(rule.get("message") or rule.get("rule") or "").strip()


def _short(e: Any) -> str:
    args = getattr(e, "args", ())
    return str(args[0]) if args else str(e)
