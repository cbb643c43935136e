"""Validation of manifests as kube-apiserver does it on create and update.

Two stages, in Kubernetes' order:

1. *Decoding*: the manifest's shape is checked against the models in ``models.py``. Unknown
   fields are handled per the request's ``fieldValidation`` (Strict refuses them with Kubernetes'
   ``strict decoding error`` wording, Warn drops them and warns, Ignore drops them); a value of
   the wrong type (``image: 5``) is an ``Invalid`` naming the field.
2. *Validation*: the semantic rules of ``pkg/apis/core/validation`` (names, ports, enums,
   references between fields), every broken rule one cause with a Kubernetes field path such as
   ``spec.containers[0].image`` and a message worded as Kubernetes words it.

This module is the generic part (``apimachinery/pkg/util/validation`` and ``ValidateObjectMeta``),
a leaf with public names: each kind's own rules live in its module and are declared on its
``Kind`` (``api/kind.py``); ``register.validate`` runs decoding, ObjectMeta and the kind's rules.
Nothing here defaults, reorders or coerces: the object returned is the user's own, minus any
dropped unknown fields.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from minikube_lite.api import errors
from minikube_lite.api.intrange import out_of_range
from minikube_lite.api.models import MAP_FIELDS
from minikube_lite.api.resources import Resource

FIELD_VALIDATION_MODES = ("Strict", "Warn", "Ignore")
NODE_PORT_RANGE = (30000, 32767)
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024

# --- Kubernetes' name rules (apimachinery/pkg/util/validation) ----------------------------------

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_RE = {fmt: re.compile("^" + fmt + "$") for fmt in (
    _DNS1123_LABEL_FMT, _DNS1123_SUBDOMAIN_FMT, _DNS1035_LABEL_FMT, _QUALIFIED_NAME_FMT, _LABEL_VALUE_FMT)}


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """Kubernetes' RegexError wording (including its double space before "or")."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    out = msg + " (e.g. "
    for i, ex in enumerate(examples):
        if i:
            out += " or "
        out += f"'{ex}', "
    return out + f"regex used for validation is '{fmt}')"


_DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                      "and must start and end with an alphanumeric character")
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                          "'-' or '.', and must start and end with an alphanumeric character")
_DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                      "an alphabetic character, and end with an alphanumeric character")
_QUALIFIED_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                       "with an alphanumeric character")
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                    "or '.', and must start and end with an alphanumeric character")


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _RE[_DNS1123_LABEL_FMT].match(value):
        errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _RE[_DNS1123_SUBDOMAIN_FMT].match(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _RE[_DNS1035_LABEL_FMT].match(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """A label/annotation key: ``[prefix/]name``, prefix a DNS subdomain, name at most 63 characters."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    else:
        return ["a qualified name " + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name",
                                                   "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not _RE[_QUALIFIED_NAME_FMT].match(name):
        errs.append("name part " + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name",
                                                "123-abc"))
    return errs


def is_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _RE[_LABEL_VALUE_FMT].match(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else ["must be between 1 and 65535, inclusive"]


def is_valid_port_name(name: str) -> list[str]:
    """An IANA_SVC_NAME (named container and service ports)."""
    errs = []
    if len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not re.match(r"^[-a-z0-9]+$", name):
        errs.append("must contain only alphanumeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_ip(value: str) -> list[str]:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    return []


NameRule = Callable[[str], list[str]]


# --- quantities ----------------------------------------------------------------------------

# --- collecting causes ---------------------------------------------------------------------

def show_value(value: Any) -> str:
    """A value as Kubernetes prints it in ``Invalid value: ...`` (strings quoted)."""
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


class ErrorList:
    """The causes of one ``Invalid``, written like Kubernetes' field.ErrorList."""

    def __init__(self) -> None:
        self.causes: list[dict[str, str]] = []

    def add(self, path: str, reason: str, message: str) -> None:
        self.causes.append(errors.cause(path, message, reason))

    def required(self, path: str, detail: str = "") -> None:
        self.add(path, "FieldValueRequired", "Required value" + (f": {detail}" if detail else ""))

    def invalid(self, path: str, value: Any, detail: str) -> None:
        self.add(path, "FieldValueInvalid", f"Invalid value: {show_value(value)}: {detail}")

    def not_supported(self, path: str, value: Any, supported: list[str]) -> None:
        values = ", ".join(json.dumps(s) for s in supported)
        self.add(path, "FieldValueNotSupported", f"Unsupported value: {show_value(value)}: supported values: {values}")

    def duplicate(self, path: str, value: Any) -> None:
        self.add(path, "FieldValueDuplicate", f"Duplicate value: {show_value(value)}")

    def forbidden(self, path: str, detail: str) -> None:
        self.add(path, "FieldValueForbidden", f"Forbidden: {detail}")

    def not_found(self, path: str, value: Any) -> None:
        self.add(path, "FieldValueNotFound", f"Not found: {show_value(value)}")

    def too_long(self, path: str, limit: int) -> None:
        self.add(path, "FieldValueTooLong", f"Too long: may not be more than {limit} bytes")

    def each(self, path: str, value: Any, messages: list[str]) -> None:
        for msg in messages:
            self.invalid(path, value, msg)

    def present(self, path: str, value: Any, validate: Callable[[Any], list[str]]) -> bool:
        """``value`` is required and must pass ``validate`` (its messages): whether it was given."""
        if not value:
            self.required(path)
            return False
        self.each(path, value, validate(value))
        return True

    def enum(self, path: str, value: Any, supported: list[str]) -> None:
        """``value`` (when given) must be one of ``supported``."""
        if value is not None and value not in supported:
            self.not_supported(path, value, sorted(supported))


# --- stage 1: decoding (shape, types, unknown fields) -------------------------------------------

def k8s_path(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a Kubernetes field path: ``spec.containers[0].image``,
    ``metadata.labels[app]``."""
    out = ""
    prev: Any = None
    for part in loc:
        if isinstance(part, int) or (isinstance(prev, str) and prev in MAP_FIELDS):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
        prev = part
    return out


_TYPE_NAMES = {
    "int_type": "integer", "string_type": "string", "bool_type": "boolean", "list_type": "array",
    "dict_type": "object", "model_type": "object", "float_type": "number", "int_or_string_type":
    "integer or string", "quantity_type": "quantity",
}


def _drop(obj: dict[str, Any], loc: tuple[Any, ...]) -> None:
    node: Any = obj
    for part in loc[:-1]:
        node = node[part]
    if isinstance(node, dict):
        node.pop(loc[-1], None)


def decode(resource: Resource, model: type[BaseModel], obj: dict[str, Any],
           field_validation: str) -> tuple[dict[str, Any], list[str]]:
    """Stage 1: ``obj`` checked against ``model``; unknown fields refused, dropped or warned about."""
    if field_validation not in FIELD_VALIDATION_MODES:
        raise errors.BadRequest(f'invalid fieldValidation directive "{field_validation}", '
                                'must be one of "Ignore", "Warn", "Strict"')
    if not isinstance(obj, dict):
        raise errors.BadRequest(f"{resource.kind} in version \"{resource.version}\" cannot be handled as a "
                                f"{resource.kind}: the object must be a JSON object")
    unknown: list[tuple[Any, ...]] = []
    bad = ErrorList()
    try:
        model.model_validate(obj)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            path = k8s_path(loc)
            if err["type"] == "extra_forbidden":
                unknown.append(loc)
            elif err["type"] in _TYPE_NAMES:
                bad.add(path, "FieldValueTypeInvalid",
                        f"Invalid value: {show_value(err.get('input'))}: must be of type {_TYPE_NAMES[err['type']]}")
            else:
                bad.invalid(path, err.get("input"), err["msg"])
    if not bad.causes:
        for path, value, bits in out_of_range(model, obj):
            bad.add(path, "FieldValueTypeInvalid",
                    f'Invalid value: {value}: {path} in body must be of type {bits}: "{value}"')
    name = name_of(obj)
    if bad.causes:
        raise errors.Invalid(resource.kind, name, bad.causes, resource.group)
    warnings: list[str] = []
    if not unknown:
        return copy.deepcopy(obj), warnings
    unknown.sort(key=lambda loc: _document_order(obj, loc))
    paths = [f'unknown field "{k8s_path(loc)}"' for loc in unknown]
    if field_validation == "Strict":
        raise errors.BadRequest(
            f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
            f"strict decoding error: {', '.join(paths)}")
    cleaned = copy.deepcopy(obj)
    # Deepest first, so dropping one never shifts the path of another.
    for loc in sorted(unknown, key=len, reverse=True):
        _drop(cleaned, loc)
    if field_validation == "Warn":
        warnings.extend(paths)
    return cleaned, warnings


def _document_order(obj: Any, loc: tuple[Any, ...]) -> tuple[int, ...]:
    """Where ``loc`` sits in the manifest as written, so unknown fields are listed in the order
    the decoder meets them, as Kubernetes lists them."""
    order: list[int] = []
    node = obj
    for part in loc:
        if isinstance(node, dict):
            keys = list(node)
            order.append(keys.index(part) if part in keys else len(keys))
        elif isinstance(node, list) and isinstance(part, int):
            order.append(part)
        else:
            break
        node = node[part] if isinstance(node, dict) and part in node or isinstance(node, list) else None
    return tuple(order)


def name_of(obj: Any) -> str:
    if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
        name = obj["metadata"].get("name") or obj["metadata"].get("generateName") or ""
        return name if isinstance(name, str) else ""
    return ""


# --- stage 2: semantic rules ---------------------------------------------------------------------

def validate_labels(errs: ErrorList, labels: dict[str, str] | None, path: str) -> None:
    """Keys qualified names, values label values (a label map or a map selector)."""
    for key, value in (labels or {}).items():
        errs.each(path, key, is_qualified_name(key))
        errs.each(path, value, is_label_value(value))



_SELECTOR_OPS = ["In", "NotIn", "Exists", "DoesNotExist"]


def validate_label_selector(errs: ErrorList, selector: dict[str, Any], path: str) -> None:
    """``ValidateLabelSelector``: matchLabels and matchExpressions (an empty selector is allowed
    here; kinds that refuse one say so themselves)."""
    validate_labels(errs, selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        p = f"{path}.matchExpressions[{i}]"
        op, values = expr.get("operator"), expr.get("values") or []
        if not expr.get("key"):
            errs.required(f"{p}.key")
        errs.enum(f"{p}.operator", op, _SELECTOR_OPS)
        if op in ("In", "NotIn") and not values:
            errs.required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'")
        if op in ("Exists", "DoesNotExist") and values:
            errs.forbidden(f"{p}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")


def validate_meta(errs: ErrorList, resource: Resource, meta: dict[str, Any] | None,
                  name_rule: NameRule = is_dns1123_subdomain) -> None:
    """ObjectMeta's rules (ValidateObjectMeta); ``name_rule`` checks metadata.name of this kind."""
    meta = meta or {}
    name, generate = meta.get("name"), meta.get("generateName")
    if generate:
        # A prefix may end with "-": check it as a name with that dash masked.
        masked = generate[:-1] + "a" if generate.endswith("-") else generate
        errs.each("metadata.generateName", generate, name_rule(masked))
    if not name:
        if not generate:
            errs.required("metadata.name", "name or generateName is required")
    else:
        errs.each("metadata.name", name, name_rule(name))
    if resource.namespaced and meta.get("namespace"):
        errs.each("metadata.namespace", meta["namespace"], is_dns1123_label(meta["namespace"]))
    if (meta.get("generation") or 0) < 0:
        errs.invalid("metadata.generation", meta["generation"], "must be greater than or equal to 0")
    validate_labels(errs, meta.get("labels"), "metadata.labels")
    annotations = meta.get("annotations") or {}
    total = 0
    for key, value in annotations.items():
        errs.each("metadata.annotations", key, is_qualified_name(key.lower()))
        total += len(key) + len(value)
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.too_long("metadata.annotations", TOTAL_ANNOTATION_SIZE_LIMIT)
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        p = f"metadata.ownerReferences[{i}]"
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                errs.required(f"{p}.{key}")
    for i, fin in enumerate(meta.get("finalizers") or []):
        errs.each(f"metadata.finalizers[{i}]", fin, is_qualified_name(fin))


def normalized(value: Any) -> Any:
    """Kubernetes' semantic equality treats an empty list or map like an absent one."""
    if isinstance(value, dict):
        out = {k: normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def differences(old: Any, new: Any, path: str) -> list[str]:
    """``path: old -> new`` lines for every leaf that differs (for "may not change" messages)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in list(old) + [k for k in new if k not in old]:
            out += differences(old.get(key), new.get(key), f"{path}.{key}")
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new)):
            out += differences(a, b, f"{path}[{i}]")
        return out
    return [] if old == new else [f"{path}: {show_value(old)} -> {show_value(new)}"]


