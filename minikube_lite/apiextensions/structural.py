"""Is a CRD's ``openAPIV3Schema`` a *structural* schema? (apiextensions-apiserver's pkg/apiserver/schema)

Kubernetes prunes, defaults and publishes a custom kind from its schema, so it asks that the
schema say, outside any ``anyOf`` / ``allOf`` / ``oneOf`` / ``not``, the type of every field it
names (the "structure"); the logical junctors may only add value checks. A schema that breaks
this is refused when the CRD is written, with one cause per offending place worded as
kube-apiserver words it (``...properties[spec].type: Required value: must not be empty for
specified object fields``), sorted as kube-apiserver sorts them.

The walk is over the plain JSON dicts of the CRD: a typed mirror of JSONSchemaProps would be a
second description of the same data. Also here: the checks of the OpenAPI v3 subset a CRD may
use at all (no ``$ref``, ``patternProperties``, ``type: null`` ...).
"""

from __future__ import annotations

import re
from typing import Any

from ..api.validation import ErrorList

Schema = dict[str, Any]

_ROOT, _ITEM, _FIELD = "root", "item", "field"
OPENAPI_TYPES = ["array", "boolean", "integer", "number", "object", "string"]
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
_JUNCTORS = ("allOf", "anyOf", "oneOf")
_EXTENSIONS = ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
               "x-kubernetes-int-or-string")


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


def schema_errors(schema: Schema, path: str, *, status_subresource: bool = False) -> list[dict[str, str]]:
    """Every reason ``schema`` (a version's ``openAPIV3Schema``) is refused, as 422 causes."""
    errs = ErrorList()
    if not isinstance(schema, dict):
        errs.invalid(path, "", "must be an object")
        return errs.causes
    if schema.get("nullable") is True:
        errs.forbidden(path + ".nullable", "nullable cannot be true at the root")
    if status_subresource and schema.get("type") not in (None, "object"):
        errs.invalid(path + ".type", schema.get("type"),
                     'only "object" is allowed as the type at the root of the schema if the status '
                     "subresource is enabled")
    _standard(errs, schema, path, in_meta=False)
    if errs.causes:
        return errs.causes
    structural = ErrorList()
    _invariants(structural, schema, _ROOT, path)
    _completeness(structural, schema, schema, path, path)
    structural.causes.sort(key=lambda c: f"{c['field']}: {c['message']}")
    return structural.causes


# --- the OpenAPI subset a CRD may use (specStandardValidatorV3) ---------------------------------

def _standard(errs: ErrorList, s: Any, path: str, *, in_meta: bool) -> None:
    if not isinstance(s, dict):
        return
    t = s.get("type")
    if t == "null":
        errs.forbidden(path + ".type", "type cannot be set to null, use nullable as an alternative")
    elif t is not None and t not in OPENAPI_TYPES:
        errs.not_supported(path + ".type", t, OPENAPI_TYPES)
    for word, what in (("id", "id"), ("additionalItems", "additionalItems"),
                       ("patternProperties", "patternProperties"), ("definitions", "definitions"),
                       ("dependencies", "dependencies"), ("$ref", "$ref")):
        if s.get(word) not in (None, {}, ""):
            errs.forbidden(f"{path}.{word}", f"{what} is not supported")
    if isinstance(s.get("items"), list):
        errs.forbidden(path + ".items", "items must be a schema object and not an array")
    if in_meta and s.get("x-kubernetes-embedded-resource"):
        errs.forbidden(path + ".x-kubernetes-embedded-resource", "must not be used inside of resource meta")
    if s.get("uniqueItems") is True:
        errs.forbidden(path + ".uniqueItems",
                       "uniqueItems cannot be set to true since the runtime complexity becomes quadratic")
    props = s.get("properties")
    if isinstance(props, dict) and props and isinstance(s.get("additionalProperties"), dict):
        errs.forbidden(path + ".additionalProperties", "additionalProperties and properties are mutual exclusive")
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.invalid(path + ".x-kubernetes-preserve-unknown-fields", False, "must be true or undefined")
    for k, sub in (props or {}).items() if isinstance(props, dict) else ():
        _standard(errs, sub, key(path + ".properties", k), in_meta=in_meta or k == "metadata")
    if isinstance(s.get("items"), dict):
        _standard(errs, s["items"], path + ".items", in_meta=in_meta)
    if isinstance(s.get("additionalProperties"), dict):
        _standard(errs, s["additionalProperties"], path + ".additionalProperties", in_meta=in_meta)
    for j in _JUNCTORS:
        for i, sub in enumerate(s.get(j) or []):
            _standard(errs, sub, f"{path}.{j}[{i}]", in_meta=in_meta)
    if isinstance(s.get("not"), dict):
        _standard(errs, s["not"], path + ".not", in_meta=in_meta)


# --- structural invariants (validateStructuralInvariants) ----------------------------------------

def _is_int_or_string_any_of(s: Schema) -> bool:
    return s.get("anyOf") == _INT_OR_STRING


def _is_int_or_string_all_of(s: Schema) -> bool:
    all_of = s.get("allOf") or []
    return bool(all_of) and isinstance(all_of[0], dict) and all_of[0].get("anyOf") == _INT_OR_STRING


def _invariants(errs: ErrorList, s: Schema, lvl: str, path: str) -> None:
    if not isinstance(s, dict):
        return
    t = s.get("type") or ""
    items = s.get("items")
    if t == "array" and items is None:
        errs.required(path + ".items", "must be specified")
    if isinstance(items, dict):
        _invariants(errs, items, _ITEM, path + ".items")
    for k, sub in (s.get("properties") or {}).items():
        _invariants(errs, sub, _FIELD, key(path + ".properties", k))
    add = s.get("additionalProperties")
    if add is not None:
        if lvl == _ROOT:
            errs.forbidden(path + ".additionalProperties", "must not be used at the root")
        if isinstance(add, dict):
            _invariants(errs, add, _FIELD, path + ".additionalProperties")

    ios = bool(s.get("x-kubernetes-int-or-string"))
    preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(s.get("x-kubernetes-embedded-resource"))
    if ios and preserve:
        errs.invalid(path + ".x-kubernetes-preserve-unknown-fields", True,
                     "must be false if x-kubernetes-int-or-string is true")
    if ios and embedded:
        errs.invalid(path + ".x-kubernetes-embedded-resource", True,
                     "must be false if x-kubernetes-int-or-string is true")

    skip_any_of = _is_int_or_string_any_of(s)
    skip_first_all_of = _is_int_or_string_all_of(s)
    _value_validation(errs, s, skip_any_of, skip_first_all_of, path)

    if embedded and t != "object":
        if not t:
            errs.required(path + ".type", "must be object if x-kubernetes-embedded-resource is true")
        else:
            errs.invalid(path + ".type", t, "must be object if x-kubernetes-embedded-resource is true")
    elif not t and not ios and not preserve:
        detail = {_ROOT: "must not be empty at the root", _ITEM: "must not be empty for specified array items",
                  _FIELD: "must not be empty for specified object fields"}[lvl]
        errs.required(path + ".type", detail)
    if embedded and isinstance(add, dict):
        errs.forbidden(path + ".additionalProperties", "must not be used if x-kubernetes-embedded-resource is set")
    if lvl == _ROOT and t and t != "object":
        errs.invalid(path + ".type", t, "must be object at the root")

    check_meta = lvl == _ROOT or embedded
    props = s.get("properties") or {}
    for name in ("kind", "apiVersion"):
        if name in props and check_meta and (props[name] or {}).get("type") != "string":
            errs.invalid(key(path + ".properties", name) + ".type", (props[name] or {}).get("type", ""),
                         "must be string")
    if "metadata" in props:
        _metadata(errs, props["metadata"] or {}, check_meta, lvl, key(path + ".properties", "metadata"))
    if embedded and not preserve and not props:
        errs.required(path + ".properties", "must not be empty if x-kubernetes-embedded-resource is true "
                                            "without x-kubernetes-preserve-unknown-fields")


def _metadata(errs: ErrorList, s: Schema, check_meta: bool, lvl: str, path: str) -> None:
    if check_meta and s.get("type") != "object":
        errs.invalid(path + ".type", s.get("type", ""), "must be object")
    if lvl != _ROOT:
        return
    rest = {k: v for k, v in s.items() if k not in ("type", "default", "description")}
    props = rest.pop("properties", None) or {}
    if set(props) - {"name", "generateName"} or rest:
        errs.forbidden(path, "must not specify anything other than name and generateName, but metadata is "
                             "implicitly specified")


def _value_validation(errs: ErrorList, v: Schema, skip_any_of: bool, skip_first_all_of: bool, path: str) -> None:
    if not skip_any_of:
        for i, sub in enumerate(v.get("anyOf") or []):
            _nested(errs, sub, False, False, f"{path}.anyOf[{i}]")
    for i, sub in enumerate(v.get("allOf") or []):
        _nested(errs, sub, skip_first_all_of and i == 0, False, f"{path}.allOf[{i}]")
    for i, sub in enumerate(v.get("oneOf") or []):
        _nested(errs, sub, False, False, f"{path}.oneOf[{i}]")
    if isinstance(v.get("not"), dict):
        _nested(errs, v["not"], False, False, path + ".not")
    pattern = v.get("pattern")
    if isinstance(pattern, str) and pattern:
        try:
            re.compile(pattern)
        except re.error as e:
            errs.invalid(path + ".pattern", pattern, f"must be a valid regular expression, but isn't: {e}")


def _nested(errs: ErrorList, v: Any, skip_any_of: bool, skip_all_of_any_of: bool, path: str) -> None:
    """A schema under a logic junctor: value validations only, never structure."""
    if not isinstance(v, dict):
        return
    _value_validation(errs, v, skip_any_of, skip_all_of_any_of, path)
    if isinstance(v.get("items"), dict):
        _nested(errs, v["items"], False, False, path + ".items")
    for k, sub in (v.get("properties") or {}).items():
        _nested(errs, sub, False, False, key(path + ".properties", k))
    if v.get("type"):
        errs.forbidden(path + ".type", "must be empty to be structural")
    if v.get("additionalProperties") is not None:
        errs.forbidden(path + ".additionalProperties", "must be undefined to be structural")
    if v.get("default") is not None:
        errs.forbidden(path + ".default", "must be undefined to be structural")
    for word in ("title", "description"):
        if v.get(word):
            errs.forbidden(f"{path}.{word}", "must be empty to be structural")
    if v.get("nullable"):
        errs.forbidden(path + ".nullable", "must be false to be structural")
    for ext in _EXTENSIONS:
        if v.get(ext):
            errs.forbidden(f"{path}.{ext}", "must be false to be structural")
    if v.get("x-kubernetes-list-map-keys"):
        errs.forbidden(path + ".x-kubernetes-list-map-keys", "must be empty to be structural")
    for ext in ("x-kubernetes-list-type", "x-kubernetes-map-type"):
        if v.get(ext) is not None:
            errs.forbidden(f"{path}.{ext}", "must be undefined to be structural")
    if v.get("x-kubernetes-validations"):
        errs.forbidden(path + ".x-kubernetes-validations", "must be empty to be structural")
    if "metadata" in (v.get("properties") or {}):
        errs.forbidden(key(path + ".properties", "metadata"), "must not be specified in a nested context")


# --- completeness: what a junctor names must be named outside it too ------------------------------

def _completeness(errs: ErrorList, v: Schema, s: Schema | None, s_path: str, v_path: str) -> None:
    for j in _JUNCTORS:
        for i, sub in enumerate(v.get(j) or []):
            _nested_completeness(errs, sub, s, s_path, f"{v_path}.{j}[{i}]")
    if isinstance(v.get("not"), dict):
        _nested_completeness(errs, v["not"], s, s_path, v_path + ".not")


def _nested_completeness(errs: ErrorList, v: Any, s: Schema | None, s_path: str, v_path: str) -> None:
    if not isinstance(v, dict):
        return
    if s is None:
        errs.required(s_path, f"because it is defined in {v_path}")
        return
    _completeness(errs, v, s, s_path, v_path)
    if isinstance(v.get("items"), dict):
        items = s.get("items") if isinstance(s.get("items"), dict) else None
        _nested_completeness(errs, v["items"], items, s_path + ".items", v_path + ".items")
    for k, sub in (v.get("properties") or {}).items():
        s_props = s.get("properties") or {}
        if k not in s_props:
            errs.required(key(s_path + ".properties", k),
                          f"because it is defined in {key(v_path + '.properties', k)}")
        else:
            _nested_completeness(errs, sub, s_props[k], key(s_path + ".properties", k),
                                 key(v_path + ".properties", k))
