"""Validation of manifests as kube-apiserver does it on create and update.

Two stages, in Kubernetes' order:

1. *Decoding*: the manifest's shape is checked against the models in ``models.py``. Unknown
   fields are handled per the request's ``fieldValidation`` (Strict refuses them with Kubernetes'
   ``strict decoding error`` wording, Warn drops them and warns, Ignore drops them); a value of
   the wrong type (``image: 5``) is an ``Invalid`` naming the field.
2. *Validation*: the semantic rules of ``pkg/apis/core/validation`` (names, ports, enums,
   references between fields), every broken rule one cause with a Kubernetes field path such as
   ``spec.containers[0].image`` and a message worded as Kubernetes words it.

Nothing here defaults, reorders or coerces: the object returned is the user's own, minus any
dropped unknown fields. ``validate_update`` adds the immutability rules of updates.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from minikube_lite.api import errors
from minikube_lite.api.models import MAP_FIELDS, QUANTITY_RE, model_for
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


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
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
        errs.append(_regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _RE[_DNS1123_SUBDOMAIN_FMT].match(value):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _RE[_DNS1035_LABEL_FMT].match(value):
        errs.append(_regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
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
        return ["a qualified name " + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name",
                                                   "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not _RE[_QUALIFIED_NAME_FMT].match(name):
        errs.append("name part " + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name",
                                                "123-abc"))
    return errs


def is_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _RE[_LABEL_VALUE_FMT].match(value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
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


_NAME_RULES = {"Namespace": is_dns1123_label, "Service": is_dns1035_label}


# --- quantities ----------------------------------------------------------------------------

_SUFFIX = {
    "": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18, "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}


def parse_quantity(value: float | str) -> Decimal:
    """A Kubernetes resource quantity ("100m", "128Mi", "1e3", 0.5) as a number; ValueError if malformed."""
    if isinstance(value, bool):
        raise TypeError("not a quantity")
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    m = QUANTITY_RE.match(value)
    if not m:
        raise ValueError("not a quantity")
    number, suffix = m.group(1), m.group(2) or ""
    sign = -1 if value.startswith("-") else 1
    if suffix[:1] in ("e", "E"):
        return sign * Decimal(number) * Decimal(10) ** int(suffix[1:])
    return sign * Decimal(number) * _SUFFIX[suffix]


# --- collecting causes ---------------------------------------------------------------------

def _show(value: Any) -> str:
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
        self.add(path, "FieldValueInvalid", f"Invalid value: {_show(value)}: {detail}")

    def not_supported(self, path: str, value: Any, supported: list[str]) -> None:
        values = ", ".join(json.dumps(s) for s in supported)
        self.add(path, "FieldValueNotSupported", f"Unsupported value: {_show(value)}: supported values: {values}")

    def duplicate(self, path: str, value: Any) -> None:
        self.add(path, "FieldValueDuplicate", f"Duplicate value: {_show(value)}")

    def forbidden(self, path: str, detail: str) -> None:
        self.add(path, "FieldValueForbidden", f"Forbidden: {detail}")

    def not_found(self, path: str, value: Any) -> None:
        self.add(path, "FieldValueNotFound", f"Not found: {_show(value)}")

    def too_long(self, path: str, limit: int) -> None:
        self.add(path, "FieldValueTooLong", f"Too long: may not be more than {limit} bytes")

    def each(self, path: str, value: Any, messages: list[str]) -> None:
        for msg in messages:
            self.invalid(path, value, msg)

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


def _decode(resource: Resource, obj: dict[str, Any], field_validation: str) -> tuple[dict[str, Any], list[str]]:
    if field_validation not in FIELD_VALIDATION_MODES:
        raise errors.BadRequest(f'invalid fieldValidation directive "{field_validation}", '
                                'must be one of "Ignore", "Warn", "Strict"')
    if not isinstance(obj, dict):
        raise errors.BadRequest(f"{resource.kind} in version \"{resource.version}\" cannot be handled as a "
                                f"{resource.kind}: the object must be a JSON object")
    unknown: list[tuple[Any, ...]] = []
    bad = ErrorList()
    try:
        model_for(resource.kind).model_validate(obj)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            path = k8s_path(loc)
            if err["type"] == "extra_forbidden":
                unknown.append(loc)
            elif err["type"] in _TYPE_NAMES:
                bad.add(path, "FieldValueTypeInvalid",
                        f"Invalid value: {_show(err.get('input'))}: must be of type {_TYPE_NAMES[err['type']]}")
            else:
                bad.invalid(path, err.get("input"), err["msg"])
    name = _name_of(obj)
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


def _name_of(obj: Any) -> str:
    if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
        name = obj["metadata"].get("name") or obj["metadata"].get("generateName") or ""
        return name if isinstance(name, str) else ""
    return ""


# --- stage 2: semantic rules ---------------------------------------------------------------------

def _validate_labels(errs: ErrorList, labels: dict[str, str] | None, path: str) -> None:
    for key, value in (labels or {}).items():
        errs.each(path, key, is_qualified_name(key))
        errs.each(path, value, is_label_value(value))


def _validate_meta(errs: ErrorList, resource: Resource, meta: dict[str, Any] | None) -> None:
    meta = meta or {}
    name_rule = _NAME_RULES.get(resource.kind, is_dns1123_subdomain)
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
    _validate_labels(errs, meta.get("labels"), "metadata.labels")
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


def _validate_resources(errs: ErrorList, res: dict[str, Any] | None, path: str) -> None:
    if not res:
        return
    parsed: dict[str, dict[str, Decimal]] = {}
    for kind in ("limits", "requests"):
        parsed[kind] = {}
        for rname, qty in (res.get(kind) or {}).items():
            p = f"{path}.{kind}[{rname}]"
            errs.each(p, rname, is_qualified_name(rname))
            try:
                value = parse_quantity(qty)
            except (ValueError, TypeError, ArithmeticError):
                errs.invalid(p, qty, "must be a valid quantity")
                continue
            if value < 0:
                errs.invalid(p, qty, "must be greater than or equal to 0")
            parsed[kind][rname] = value
    for rname, req in parsed["requests"].items():
        lim = parsed["limits"].get(rname)
        if lim is not None and req > lim:
            errs.invalid(f"{path}.requests[{rname}]", res["requests"][rname],
                         f"must be less than or equal to {rname} limit of {res['limits'][rname]}")


def _validate_probe(errs: ErrorList, probe: dict[str, Any] | None, path: str, *, liveness: bool) -> None:
    if probe is None:
        return
    handlers = [k for k in ("exec", "httpGet", "tcpSocket", "grpc") if probe.get(k) is not None]
    if not handlers:
        errs.required(path, "must specify a handler type")
    elif len(handlers) > 1:
        errs.forbidden(f"{path}.{handlers[1]}", "may not specify more than 1 handler type")
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        value = probe.get(key)
        if value is not None and value < 0:
            errs.invalid(f"{path}.{key}", value, "must be greater than or equal to 0")
    if liveness and probe.get("successThreshold") not in (None, 1):
        errs.invalid(f"{path}.successThreshold", probe["successThreshold"], "must be 1")
    _validate_handler_ports(errs, probe, path)


def _validate_handler_ports(errs: ErrorList, handler: dict[str, Any], path: str) -> None:
    for key in ("httpGet", "tcpSocket"):
        action = handler.get(key)
        if action is None:
            continue
        port = action.get("port")
        if port is None:
            errs.required(f"{path}.{key}.port")
        elif isinstance(port, int):
            errs.each(f"{path}.{key}.port", port, is_valid_port_num(port))
        else:
            errs.each(f"{path}.{key}.port", port, is_valid_port_name(port))
    scheme = (handler.get("httpGet") or {}).get("scheme")
    errs.enum(f"{path}.httpGet.scheme", scheme, ["HTTP", "HTTPS"])
    grpc = handler.get("grpc")
    if grpc is not None:
        errs.each(f"{path}.grpc.port", grpc.get("port") or 0, is_valid_port_num(grpc.get("port") or 0))


def _validate_container(errs: ErrorList, c: dict[str, Any], path: str, volumes: set[str], *,
                        init: bool) -> None:
    name = c.get("name")
    if not name:
        errs.required(f"{path}.name")
    else:
        errs.each(f"{path}.name", name, is_dns1123_label(name))
    image = c.get("image")
    if not image:
        errs.required(f"{path}.image")
    elif image != image.strip():
        errs.invalid(f"{path}.image", image, "must not have leading or trailing whitespace")
    port_names: set[str] = set()
    for i, port in enumerate(c.get("ports") or []):
        p = f"{path}.ports[{i}]"
        if port.get("name"):
            errs.each(f"{p}.name", port["name"], is_valid_port_name(port["name"]))
            if port["name"] in port_names:
                errs.duplicate(f"{p}.name", port["name"])
            port_names.add(port["name"])
        cp = port.get("containerPort")
        if not cp:
            errs.required(f"{p}.containerPort")
        else:
            errs.each(f"{p}.containerPort", cp, is_valid_port_num(cp))
        if port.get("hostPort"):
            errs.each(f"{p}.hostPort", port["hostPort"], is_valid_port_num(port["hostPort"]))
        errs.enum(f"{p}.protocol", port.get("protocol"), ["TCP", "UDP", "SCTP"])
        if port.get("hostIP"):
            errs.each(f"{p}.hostIP", port["hostIP"], is_valid_ip(port["hostIP"]))
    for i, env in enumerate(c.get("env") or []):
        p = f"{path}.env[{i}]"
        ename = env.get("name")
        if not ename:
            errs.required(f"{p}.name")
        elif "=" in ename or not all(32 <= ord(ch) < 127 for ch in ename):
            errs.invalid(f"{p}.name", ename, "a valid environment variable name must consist only of printable "
                         "ASCII characters other than '='")
        source = env.get("valueFrom")
        if source is not None:
            kinds = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
                     if source.get(k) is not None]
            if env.get("value"):
                errs.invalid(f"{p}.valueFrom", "", "may not be specified when `value` is not empty")
            if not kinds:
                errs.invalid(f"{p}.valueFrom", "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                             "`configMapKeyRef` or `secretKeyRef`")
            elif len(kinds) > 1:
                errs.invalid(f"{p}.valueFrom", "", "may not have more than one field specified at a time")
            for key in ("configMapKeyRef", "secretKeyRef"):
                ref = source.get(key)
                if ref is not None and not ref.get("key"):
                    errs.required(f"{p}.valueFrom.{key}.key")
            if source.get("fieldRef") is not None and not source["fieldRef"].get("fieldPath"):
                errs.required(f"{p}.valueFrom.fieldRef.fieldPath")
    mount_paths: set[str] = set()
    for i, vm in enumerate(c.get("volumeMounts") or []):
        p = f"{path}.volumeMounts[{i}]"
        if not vm.get("name"):
            errs.required(f"{p}.name")
        elif vm["name"] not in volumes:
            errs.not_found(f"{p}.name", vm["name"])
        mp = vm.get("mountPath")
        if not mp:
            errs.required(f"{p}.mountPath")
        elif mp in mount_paths:
            errs.invalid(f"{p}.mountPath", mp, "must be unique")
        else:
            mount_paths.add(mp)
        errs.enum(f"{p}.mountPropagation", vm.get("mountPropagation"), ["Bidirectional", "HostToContainer", "None"])
    _validate_resources(errs, c.get("resources"), f"{path}.resources")
    _validate_probe(errs, c.get("livenessProbe"), f"{path}.livenessProbe", liveness=True)
    _validate_probe(errs, c.get("startupProbe"), f"{path}.startupProbe", liveness=True)
    _validate_probe(errs, c.get("readinessProbe"), f"{path}.readinessProbe", liveness=False)
    for hook in ("postStart", "preStop"):
        handler = (c.get("lifecycle") or {}).get(hook)
        if handler is not None:
            if not any(handler.get(k) is not None for k in ("exec", "httpGet", "tcpSocket", "sleep")):
                errs.required(f"{path}.lifecycle.{hook}", "must specify a handler type")
            _validate_handler_ports(errs, handler, f"{path}.lifecycle.{hook}")
    errs.enum(f"{path}.imagePullPolicy", c.get("imagePullPolicy"), ["Always", "IfNotPresent", "Never"])
    errs.enum(f"{path}.terminationMessagePolicy", c.get("terminationMessagePolicy"),
              ["File", "FallbackToLogsOnError"])
    restart = c.get("restartPolicy")
    if restart is not None:
        if init:
            errs.enum(f"{path}.restartPolicy", restart, ["Always"])
        else:
            errs.forbidden(f"{path}.restartPolicy", "may not be set for non-init containers")


_VOLUME_SOURCES = (
    "emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim", "projected", "downwardAPI", "nfs",
    "csi", "ephemeral", "image", "awsElasticBlockStore", "gcePersistentDisk", "gitRepo", "iscsi", "glusterfs",
    "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "azureDisk", "vsphereVolume",
    "quobyte", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
)


def _validate_pod_spec(errs: ErrorList, spec: dict[str, Any] | None, path: str = "spec") -> None:
    spec = spec or {}
    volumes: set[str] = set()
    for i, vol in enumerate(spec.get("volumes") or []):
        p = f"{path}.volumes[{i}]"
        vname = vol.get("name")
        if not vname:
            errs.required(f"{p}.name")
        else:
            errs.each(f"{p}.name", vname, is_dns1123_label(vname))
            if vname in volumes:
                errs.duplicate(f"{p}.name", vname)
            volumes.add(vname)
        sources = [s for s in _VOLUME_SOURCES if vol.get(s) is not None]
        if not sources:
            errs.required(p, "must specify a volume type")
        elif len(sources) > 1:
            errs.forbidden(f"{p}.{sources[1]}", "may not specify more than 1 volume type")
        if vol.get("hostPath") is not None and not vol["hostPath"].get("path"):
            errs.required(f"{p}.hostPath.path")
        if vol.get("persistentVolumeClaim") is not None and not vol["persistentVolumeClaim"].get("claimName"):
            errs.required(f"{p}.persistentVolumeClaim.claimName")
    containers = spec.get("containers") or []
    if not containers:
        errs.required(f"{path}.containers")
    names: set[str] = set()
    for field_name, init in (("initContainers", True), ("containers", False), ("ephemeralContainers", False)):
        for i, c in enumerate(spec.get(field_name) or []):
            p = f"{path}.{field_name}[{i}]"
            _validate_container(errs, c, p, volumes, init=init and field_name == "initContainers")
            if c.get("name"):
                if c["name"] in names:
                    errs.duplicate(f"{p}.name", c["name"])
                names.add(c["name"])
    errs.enum(f"{path}.restartPolicy", spec.get("restartPolicy"), ["Always", "OnFailure", "Never"])
    errs.enum(f"{path}.dnsPolicy", spec.get("dnsPolicy"),
              ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"])
    if spec.get("dnsPolicy") == "None" and not spec.get("dnsConfig"):
        errs.required(f"{path}.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None")
    _validate_labels(errs, spec.get("nodeSelector"), f"{path}.nodeSelector")
    for key in ("serviceAccountName", "nodeName", "priorityClassName", "runtimeClassName"):
        if spec.get(key):
            errs.each(f"{path}.{key}", spec[key], is_dns1123_subdomain(spec[key]))
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            errs.each(f"{path}.{key}", spec[key], is_dns1123_label(spec[key]))
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and not 1 <= ads <= 2**31 - 1:
        errs.invalid(f"{path}.activeDeadlineSeconds", ads, "must be between 1 and 2147483647, inclusive")
    for i, tol in enumerate(spec.get("tolerations") or []):
        p = f"{path}.tolerations[{i}]"
        if tol.get("key"):
            errs.each(f"{p}.key", tol["key"], is_qualified_name(tol["key"]))
        op = tol.get("operator")
        errs.enum(f"{p}.operator", op, ["Equal", "Exists"])
        if op == "Exists" and tol.get("value"):
            errs.invalid(f"{p}.operator", tol["value"], "value must be empty when `operator` is 'Exists'")
        if not tol.get("key") and op != "Exists":
            errs.invalid(f"{p}.operator", op or "", "operator must be Exists when `key` is empty, which means "
                         '"match all values and all keys"')
        errs.enum(f"{p}.effect", tol.get("effect") or None, ["NoSchedule", "PreferNoSchedule", "NoExecute"])
    for i, secret in enumerate(spec.get("imagePullSecrets") or []):
        if not secret.get("name"):
            errs.required(f"{path}.imagePullSecrets[{i}].name")
    for i, gate in enumerate(spec.get("readinessGates") or []):
        ctype = gate.get("conditionType") or ""
        errs.each(f"{path}.readinessGates[{i}].conditionType", ctype, is_qualified_name(ctype))
    errs.enum(f"{path}.preemptionPolicy", spec.get("preemptionPolicy"), ["Never", "PreemptLowerPriority"])
    errs.enum(f"{path}.os.name", (spec.get("os") or {}).get("name"), ["linux", "windows"])
    for i, alias in enumerate(spec.get("hostAliases") or []):
        errs.each(f"{path}.hostAliases[{i}].ip", alias.get("ip") or "", is_valid_ip(alias.get("ip") or ""))
    _validate_resources(errs, spec.get("resources"), f"{path}.resources")


def _validate_pod(errs: ErrorList, obj: dict[str, Any]) -> None:
    _validate_pod_spec(errs, obj.get("spec"))


_SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]


def _validate_service(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    errs.enum("spec.type", spec.get("type"), _SERVICE_TYPES)
    cluster_ip = spec.get("clusterIP") or ""
    cluster_ips = spec.get("clusterIPs") or []
    headless = cluster_ip == "None" or (cluster_ips[:1] == ["None"])
    ports = spec.get("ports") or []
    if stype == "ExternalName":
        ext = spec.get("externalName")
        if not ext:
            errs.required("spec.externalName")
        else:
            errs.each("spec.externalName", ext, is_dns1123_subdomain(ext.rstrip(".")))
        if cluster_ip or cluster_ips:
            errs.forbidden("spec.clusterIPs", "may not be set for ExternalName services")
    elif not ports and not headless:
        errs.required("spec.ports")
    if stype != "ExternalName":
        for i, ip in enumerate(cluster_ips):
            if ip != "None":
                errs.each(f"spec.clusterIPs[{i}]", ip, is_valid_ip(ip))
        if cluster_ip and cluster_ip != "None" and not cluster_ips:
            errs.each("spec.clusterIPs[0]", cluster_ip, is_valid_ip(cluster_ip))
        if cluster_ip and cluster_ips and cluster_ips[0] != cluster_ip:
            errs.invalid("spec.clusterIPs", cluster_ips, "first value must match `clusterIP`")
    if headless and stype in ("NodePort", "LoadBalancer"):
        errs.invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {stype} services")
    names: set[str] = set()
    seen_ports: set[tuple[int, str]] = set()
    node_ports: set[tuple[int, str]] = set()
    for i, sp in enumerate(ports):
        p = f"spec.ports[{i}]"
        pname = sp.get("name")
        if not pname:
            if len(ports) > 1:
                errs.required(f"{p}.name")
        else:
            errs.each(f"{p}.name", pname, is_dns1123_label(pname))
            if pname in names:
                errs.duplicate(f"{p}.name", pname)
            names.add(pname)
        port = sp.get("port") or 0
        errs.each(f"{p}.port", port, is_valid_port_num(port))
        protocol = sp.get("protocol") or "TCP"
        errs.enum(f"{p}.protocol", sp.get("protocol"), ["TCP", "UDP", "SCTP"])
        target = sp.get("targetPort")
        if isinstance(target, int) and target != 0:
            errs.each(f"{p}.targetPort", target, is_valid_port_num(target))
        elif isinstance(target, str) and target:
            errs.each(f"{p}.targetPort", target, is_valid_port_name(target))
        node_port = sp.get("nodePort") or 0
        if node_port:
            if stype in ("ClusterIP", "ExternalName"):
                errs.forbidden(f"{p}.nodePort", f"may not be used when `type` is '{stype}'")
            elif not NODE_PORT_RANGE[0] <= node_port <= NODE_PORT_RANGE[1]:
                errs.invalid(f"{p}.nodePort", node_port, "provided port is not in the valid range. The range of "
                             f"valid ports is {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}")
            elif (node_port, protocol) in node_ports:
                errs.duplicate(f"{p}.nodePort", node_port)
            node_ports.add((node_port, protocol))
        if port and (port, protocol) in seen_ports:
            errs.duplicate(p, {"port": port, "protocol": protocol})
        seen_ports.add((port, protocol))
    _validate_labels(errs, spec.get("selector"), "spec.selector")
    errs.enum("spec.sessionAffinity", spec.get("sessionAffinity"), ["ClientIP", "None"])
    timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
    if timeout is not None and not 0 < timeout <= 86400:
        errs.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                     "must be greater than 0 and less than 86400")
    etp = spec.get("externalTrafficPolicy")
    errs.enum("spec.externalTrafficPolicy", etp, ["Cluster", "Local"])
    externally = stype in ("NodePort", "LoadBalancer") or bool(spec.get("externalIPs"))
    if etp and not externally:
        errs.invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services")
    errs.enum("spec.internalTrafficPolicy", spec.get("internalTrafficPolicy"), ["Cluster", "Local"])
    errs.enum("spec.ipFamilyPolicy", spec.get("ipFamilyPolicy"),
              ["SingleStack", "PreferDualStack", "RequireDualStack"])
    families = spec.get("ipFamilies") or []
    for i, fam in enumerate(families):
        errs.enum(f"spec.ipFamilies[{i}]", fam, ["IPv4", "IPv6"])
        if fam in families[:i]:
            errs.duplicate(f"spec.ipFamilies[{i}]", fam)
    for i, ip in enumerate(spec.get("externalIPs") or []):
        errs.each(f"spec.externalIPs[{i}]", ip, is_valid_ip(ip))
    if spec.get("loadBalancerSourceRanges") and stype != "LoadBalancer":
        errs.forbidden("spec.loadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'")
    for i, cidr in enumerate(spec.get("loadBalancerSourceRanges") or []):
        try:
            ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            errs.invalid(f"spec.loadBalancerSourceRanges[{i}]", cidr,
                         "must be a valid IP address or CIDR, (e.g. 10.9.8.0/24 or 2001:db8::/64)")


def _validate_namespace(errs: ErrorList, obj: dict[str, Any]) -> None:
    for i, fin in enumerate((obj.get("spec") or {}).get("finalizers") or []):
        errs.each(f"spec.finalizers[{i}]", fin, is_qualified_name(fin))
    errs.enum("status.phase", (obj.get("status") or {}).get("phase") or None, ["Active", "Terminating"])


def _validate_node(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    for i, taint in enumerate(spec.get("taints") or []):
        p = f"spec.taints[{i}]"
        key = taint.get("key") or ""
        errs.each(f"{p}.key", key, is_qualified_name(key))
        if not taint.get("effect"):
            errs.required(f"{p}.effect")
        else:
            errs.enum(f"{p}.effect", taint["effect"], ["NoSchedule", "PreferNoSchedule", "NoExecute"])
    for key in ("podCIDR",):
        if spec.get(key):
            try:
                ipaddress.ip_network(spec[key], strict=False)
            except ValueError:
                errs.invalid(f"spec.{key}", spec[key], "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")


def _validate_event(errs: ErrorList, obj: dict[str, Any]) -> None:
    ns = (obj.get("metadata") or {}).get("namespace") or ""
    involved = obj.get("involvedObject") or {}
    ins = involved.get("namespace") or ""
    if not obj.get("eventTime") and ns and ins and ns != ins:
        errs.invalid("involvedObject.namespace", ins, "does not match event.namespace")
    if obj.get("count") is not None and obj["count"] < 0:
        errs.invalid("count", obj["count"], "must be greater than or equal to 0")


_KIND_RULES = {
    "Pod": _validate_pod,
    "Service": _validate_service,
    "Namespace": _validate_namespace,
    "Node": _validate_node,
    "Event": _validate_event,
}

# apps/v1 Deployment and ReplicaSet (schemas and rules in api/apps.py)
from minikube_lite.api import apps as _apps
from minikube_lite.api.models import MODELS as _MODELS

_MODELS.update(_apps.MODELS)
_KIND_RULES.update({"Deployment": _apps.validate_deployment, "ReplicaSet": _apps.validate_replicaset})
_UPDATE_RULES = {"Deployment": _apps.validate_update, "ReplicaSet": _apps.validate_update}
# ConfigMap, Secret, Endpoints, EndpointSlice, PVC, PV, StorageClass (api/config.py, endpoints.py, storage.py)
from minikube_lite.api import config as _config
from minikube_lite.api import coordination as _coordination
from minikube_lite.api import cronjob as _cronjob
from minikube_lite.api import daemonset as _daemonset
from minikube_lite.api import endpoints as _endpoints
from minikube_lite.api import job as _job
from minikube_lite.api import networking as _networking
from minikube_lite.api import replicationcontroller as _rc
from minikube_lite.api import statefulset as _statefulset
from minikube_lite.api import storage as _storage

for _kinds in (_config, _endpoints, _storage, _networking, _coordination, _job, _cronjob, _statefulset, _daemonset,
               _rc):
    _MODELS.update(_kinds.MODELS)
    _KIND_RULES.update(_kinds.VALIDATORS)
    _UPDATE_RULES.update(_kinds.UPDATE_VALIDATORS)


def validate(resource: Resource, obj: dict[str, Any], *,
             field_validation: str = "Strict") -> tuple[dict[str, Any], list[str]]:
    """Check a manifest (already parsed) as the API server does on create and update.

    Returns ``(cleaned object, warnings)``: the user's object untouched except for unknown fields
    dropped under ``Warn``/``Ignore``. Raises ``errors.BadRequest`` for unknown fields under
    ``Strict`` (Kubernetes' ``strict decoding error: unknown field "spec.contianers"``) and
    ``errors.Invalid`` (422) with one cause per bad field otherwise.
    """
    cleaned, warnings = _decode(resource, obj, field_validation)
    errs = ErrorList()
    _validate_meta(errs, resource, cleaned.get("metadata"))
    rule = _KIND_RULES.get(resource.kind)
    if rule is not None:
        rule(errs, cleaned)
    if errs.causes:
        raise errors.Invalid(resource.kind, _name_of(cleaned), errs.causes, resource.group)
    return cleaned, warnings


# --- updates ---------------------------------------------------------------------------------

_UPDATABLE_POD_FIELDS = (
    "`spec.containers[*].image`,"
    "`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _normalized(value: Any) -> Any:
    """Kubernetes' semantic equality treats an empty list or map like an absent one."""
    if isinstance(value, dict):
        out = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def _differences(old: Any, new: Any, path: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in list(old) + [k for k in new if k not in old]:
            out += _differences(old.get(key), new.get(key), f"{path}.{key}")
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new)):
            out += _differences(a, b, f"{path}[{i}]")
        return out
    return [] if old == new else [f"{path}: {_show(old)} -> {_show(new)}"]


def _toleration_key(tol: dict[str, Any]) -> tuple[Any, ...]:
    return (tol.get("key") or "", tol.get("operator") or "Equal", tol.get("value") or "", tol.get("effect") or "")


def _validate_pod_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    from minikube_lite.api.defaults import apply_defaults_to_pod_spec

    old_spec = copy.deepcopy(old.get("spec") or {})
    new_spec = copy.deepcopy(new.get("spec") or {})
    apply_defaults_to_pod_spec(old_spec)
    apply_defaults_to_pod_spec(new_spec)
    for key in ("containers", "initContainers"):
        if len(old_spec.get(key) or []) != len(new_spec.get(key) or []):
            errs.forbidden(f"spec.{key}", "pod updates may not add or remove containers")
            return
    old_ads, new_ads = old_spec.get("activeDeadlineSeconds"), new_spec.get("activeDeadlineSeconds")
    if old_ads is not None:
        if new_ads is None:
            errs.invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value")
        elif new_ads > old_ads:
            errs.invalid("spec.activeDeadlineSeconds", new_ads, "must be less than or equal to previous value")
    new_tols = {_toleration_key(t) for t in new_spec.get("tolerations") or []}
    for tol in old_spec.get("tolerations") or []:
        if _toleration_key(tol) not in new_tols:
            errs.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds")
            break
    munged = copy.deepcopy(new_spec)
    for key in ("containers", "initContainers"):
        for new_c, old_c in zip(munged.get(key) or [], old_spec.get(key) or []):
            new_c["image"] = old_c.get("image")
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        munged.pop(key, None)
        if key in old_spec:
            munged[key] = old_spec[key]
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if old_spec.get("schedulingGates"):
        # Gated pods may gain nodeSelector entries and affinity (Kubernetes allows additions).
        munged["nodeSelector"] = old_spec.get("nodeSelector")
        munged["affinity"] = old_spec.get("affinity")
    old_n, new_n = _normalized(old_spec), _normalized(munged)
    if old_n != new_n:
        diff = "\n".join("  " + d for d in _differences(old_n, new_n, "spec")[:20])
        errs.forbidden("spec", f"pod updates may not change fields other than {_UPDATABLE_POD_FIELDS}\n{diff}")


def _primary_cluster_ip(spec: dict[str, Any]) -> str:
    ips = spec.get("clusterIPs") or []
    return (ips[0] if ips else "") or spec.get("clusterIP") or ""


def _validate_service_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if "ExternalName" in (old_spec.get("type"), new_spec.get("type")):
        return
    old_ip, new_ip = _primary_cluster_ip(old_spec), _primary_cluster_ip(new_spec)
    # An empty clusterIP in the update means "keep it": the API server carries the old one over.
    if old_ip and new_ip and old_ip != new_ip:
        shown = "[]string{" + ", ".join(json.dumps(ip) for ip in (new_spec.get("clusterIPs") or [new_ip])) + "}"
        errs.add("spec.clusterIPs[0]", "FieldValueInvalid", f"Invalid value: {shown}: may not change once set")


def validate_update(resource: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
    """The immutability rules of an update (``new`` is already validated with ``validate``).

    Pod: the spec is immutable except container and init container images,
    activeDeadlineSeconds (may only shrink) and tolerations (additions). Service: the cluster IP
    may not change once set, except to or from ExternalName. Raises ``errors.Invalid``.
    """
    errs = ErrorList()
    if resource.kind == "Pod":
        _validate_pod_update(errs, old, new)
    elif resource.kind == "Service":
        _validate_service_update(errs, old, new)
    elif resource.kind in _UPDATE_RULES:
        _UPDATE_RULES[resource.kind](errs, old, new)
    if errs.causes:
        raise errors.Invalid(resource.kind, _name_of(new) or _name_of(old), errs.causes, resource.group)
