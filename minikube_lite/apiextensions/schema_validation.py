"""A custom object checked against its version's ``openAPIV3Schema`` (apiextensions-apiserver's
pkg/apiserver/validation, on kube-openapi's validator).

The keyword semantics (minimum/exclusiveMinimum as booleans, multipleOf, enum equality that
keeps ``true`` apart from ``1``, anyOf/allOf/oneOf/not, additionalProperties as map values) are
JSON Schema draft 4's, which is what OpenAPI v3.0 uses: the ``jsonschema`` library's Draft 4
validator does them. Kubernetes' own semantics are hand-written on top, as extended keywords:

- ``type``: ``nullable`` (OpenAPI, not JSON Schema) lets ``null`` through; ``3.0`` is an
  integer (Go decodes JSON numbers so); ``x-kubernetes-int-or-string`` means ``integer,string``;
- ``required``: the missing field is named as the error's path (``spec.size: Required value``);
- ``pattern``: Go's RE2 ``MatchString`` is a search, as Python's ``re.search``;
- formats are not enforced (kube-apiserver only checks a handful, and only on CRDs created
  with them);
- nested ``x-kubernetes-embedded-resource`` objects need ``apiVersion`` and ``kind``.

Each error is then worded as kube-apiserver words it (kube-openapi's messages inside the field
error kinds of ``kubeOpenAPIResultToFieldErrors``), for example
``spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"``.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import ValidationError

from ..api.validation import ErrorList, is_dns1035_label

Schema = dict[str, Any]


def json_type(value: Any) -> str:
    """The JSON type name kube-openapi reports for a decoded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _expected_types(schema: Schema) -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    t = schema.get("type")
    return [t] if isinstance(t, str) and t else []


def _type_matches(value: Any, types: list[str]) -> bool:
    actual = json_type(value)
    if actual in types:
        return True
    if actual == "number" and "integer" in types and float(value).is_integer():
        return True
    return actual == "integer" and "number" in types


def _type(validator: Any, _value: Any, instance: Any, schema: Schema):
    types = _expected_types(schema)
    if not types:
        return
    if instance is None:
        if schema.get("nullable"):
            return
        yield _error("type", validator="type", instance=instance, schema=schema)
        return
    if not _type_matches(instance, types):
        yield _error("type", validator="type", instance=instance, schema=schema)


def _int_or_string(validator: Any, on: Any, instance: Any, schema: Schema):
    if on and "type" not in schema:  # with a type, the type keyword already checked
        yield from _type(validator, on, instance, schema)


def _required(validator: Any, required: Any, instance: Any, schema: Schema):
    if not isinstance(instance, dict):
        return
    for name in required or []:
        if name not in instance:
            yield _error("required", validator="required", path=[name], instance=None, schema=schema)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Schema):
    if isinstance(instance, str) and _compiled(pattern).search(instance) is None:
        yield _error("pattern", validator="pattern", instance=instance, schema=schema)


def _embedded(validator: Any, on: Any, instance: Any, schema: Schema):
    if not on or not isinstance(instance, dict):
        return
    for word in ("apiVersion", "kind"):
        if word not in instance:
            yield _error("required", validator="required", path=[word], instance=None, schema=schema)
        elif not isinstance(instance[word], str):
            yield _error("must be a string", validator="embedded", path=[word], instance=instance[word])
        elif not instance[word]:
            yield _error("must not be empty", validator="embedded", path=[word], instance=instance[word])
    kind = instance.get("kind")
    if isinstance(kind, str) and kind and (msgs := is_dns1035_label(kind.lower())):
        yield _error("may have mixed case, but should otherwise match: " + ",".join(msgs),
                              validator="embedded", path=["kind"], instance=kind)


def _ignore(*_args: Any) -> None:
    return None


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@lru_cache(maxsize=1)
def _validator_class() -> Any:
    """Draft 4 with Kubernetes' keywords (jsonschema is imported on first use: 0.2 s at start)."""
    from jsonschema import Draft4Validator, validators

    return validators.extend(Draft4Validator, validators={
        "type": _type,
        "required": _required,
        "pattern": _pattern,
        "format": _ignore,
        "$ref": _ignore,
        "x-kubernetes-embedded-resource": _embedded,
        "x-kubernetes-int-or-string": _int_or_string,
    })


def _error(*args: Any, **kwargs: Any) -> ValidationError:
    from jsonschema import ValidationError

    return ValidationError(*args, **kwargs)


def _path(error: ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _num(value: Any) -> str:
    """A number as Go's %v prints it (1, 1.5)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _add(errs: ErrorList, error: ValidationError) -> None:
    """One jsonschema error as kube-apiserver's field error."""
    path = _path(error)
    name = path or "."
    v, inst, s = error.validator, error.instance, error.schema if isinstance(error.schema, dict) else {}
    if v == "required":
        errs.required(path)
    elif v == "type":
        expected = ",".join(_expected_types(s))
        actual = json_type(inst)
        errs.invalid(path, actual, f'{name} in body must be of type {expected}: "{actual}"')
    elif v == "enum":
        values = [x if isinstance(x, str) else json.dumps(x) for x in error.validator_value]
        errs.add(path, "FieldValueNotSupported", f"Unsupported value: {_shown(inst)}: supported values: "
                 + ", ".join(json.dumps(x) for x in values))
    elif v == "maxLength":
        errs.too_long(path, int(error.validator_value))
    elif v in ("maxItems", "maxProperties"):
        n, limit = len(inst), int(error.validator_value)
        errs.add(path, "FieldValueTooMany",
                 f"Too many: {n}: must have at most {limit} item{'s' if limit != 1 else ''}")
    elif v == "embedded":
        errs.invalid(path, inst, error.message)
    else:
        detail = _detail(name, error)
        shown = len(inst) if v in ("minItems", "minProperties") else inst
        errs.invalid(path, shown, detail)


def _shown(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, (dict, list)) else json.dumps(value, separators=(",", ":"))


#: kube-openapi's wording per keyword ({name}: the field's path, {val}: the keyword's value)
_DETAILS = {
    "pattern": "{name} in body should match '{val}'",
    "minLength": "{name} in body should be at least {val} chars long",
    "minItems": "{name} in body should have at least {val} items",
    "minProperties": "{name} in body should have at least {val} properties",
    "multipleOf": "{name} in body should be a multiple of {num}",
    "uniqueItems": "{name} in body shouldn't contain duplicates",
    "anyOf": "{name} in body must validate at least one schema (anyOf)",
    "oneOf": "{name} in body must validate one and only one schema (oneOf)",
    "not": "{name} in body must not validate the schema (not)",
    "additionalProperties": "{name} in body is a forbidden property",
}
#: minimum/maximum: (exclusive wording, inclusive wording), chosen by exclusiveMinimum/Maximum
_BOUNDS = {"minimum": ("greater than", "greater than or equal to"), "maximum": ("less than", "less than or equal to")}


def _detail(name: str, error: ValidationError) -> str:
    v, val, s = error.validator, error.validator_value, error.schema if isinstance(error.schema, dict) else {}
    if v in _BOUNDS:
        exclusive = s.get("exclusiveMinimum" if v == "minimum" else "exclusiveMaximum")
        op = _BOUNDS[v][0 if exclusive else 1]
        return f"{name} in body should be {op} {_num(val)}"
    template = _DETAILS.get(v)
    if template is None:
        return error.message
    return template.format(name=name, val=val, num=_num(val) if v == "multipleOf" else "")


@lru_cache(maxsize=128)
def _validator_for(schema_json: str) -> Any:
    return _validator_class()(json.loads(schema_json))


def validator_for(schema: Schema) -> Any:
    """A compiled validator for ``schema`` (cached by its JSON text: one per CRD version)."""
    return _validator_for(json.dumps(schema, sort_keys=True))


def validate(obj: dict[str, Any], schema: Schema | None) -> list[dict[str, str]]:
    """The 422 causes of ``obj`` against ``schema`` (empty when it is valid)."""
    if not schema:
        return []
    errs = ErrorList()
    for error in sorted(validator_for(schema).iter_errors(obj), key=_order):
        _add(errs, error)
    return errs.causes


def _order(error: ValidationError) -> tuple[str, ...]:
    return tuple(str(p) for p in error.absolute_path)
