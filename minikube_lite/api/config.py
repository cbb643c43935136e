"""core/v1 ConfigMap and Secret: schemas, validation, defaults and ``kubectl get`` columns.

The two kinds that carry configuration into pods. Everything the API server needs to know about
them lives here, declared as ``Kind`` values (``KINDS``) for ``api/register.py``. The rules follow
``pkg/apis/core/validation`` (``ValidateConfigMap``, ``ValidateSecret`` and their updates):

- every key of ``data``/``binaryData``/``stringData`` is a valid config key (``[-._a-zA-Z0-9]+``,
  at most 253 characters, not ``.``/``..``, not starting with ``..``);
- the whole payload is at most 1 MiB;
- Secret ``data`` and ConfigMap ``binaryData`` hold base64; a value that is not is refused naming
  its key (real kube-apiserver refuses it while decoding, with a 400 and no key; a 422 naming the
  key tells the user more and is what this project promises);
- a Secret's ``stringData`` is folded into ``data`` (base64-encoded, winning over ``data`` on the
  same key) when the object is written and is never stored, as the v1 conversion does;
- ``immutable: true`` freezes ``data``/``binaryData`` (and the flag itself); a Secret's ``type``
  never changes; some Secret types require keys (``tls.crt``/``tls.key``, ...).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

from minikube_lite.api.kind import Kind
from minikube_lite.api.models import TypedObject
from minikube_lite.api.resources import Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, name
from minikube_lite.api.validation import ErrorList, regex_error

#: the Go package of this module's types, for their OpenAPI definition names (apiserver/schemas.py)
OPENAPI_PACKAGE = "io.k8s.api.core.v1"

MAX_SIZE = 1024 * 1024  # core.MaxSecretSize, also the ConfigMap limit
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE = re.compile("^" + _CONFIG_KEY_FMT + "$")
_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")

SECRET_TYPES_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


# --- models ------------------------------------------------------------------------------------


class ConfigMap(TypedObject):
    """ConfigMap holds configuration data for pods to consume."""

    data: dict[str, str] | None = None
    """Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'."""
    binaryData: dict[str, str] | None = None
    """BinaryData contains the binary data, base64-encoded. Its keys may not overlap with those of data."""
    immutable: bool | None = None
    """Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated (only object metadata can be modified)."""


class Secret(TypedObject):
    """Secret holds secret data of a certain type."""

    data: dict[str, str] | None = None
    """Data contains the secret data, each value base64-encoded."""
    stringData: dict[str, str] | None = None
    """stringData allows specifying non-binary secret data in string form. It is merged into data on write and never output when reading."""
    type: str | None = None
    """Used to facilitate programmatic handling of secret data, e.g. Opaque or kubernetes.io/tls."""
    immutable: bool | None = None
    """Immutable, if set to true, ensures that data stored in the Secret cannot be updated."""




# --- validation ----------------------------------------------------------------------------------


def is_config_map_key(key: str) -> list[str]:
    """Kubernetes' IsConfigMapKey: what may name a file in a configMap/secret volume."""

    errs = []
    if len(key) > 253:
        errs.append("must be no more than 253 characters")
    if not _CONFIG_KEY_RE.match(key):
        errs.append(regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                 _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def decode_base64(value: str) -> bytes:
    """Decode as Go's ``encoding/json`` decodes a ``[]byte`` (standard alphabet, padded; line
    breaks ignored). Raises ``ValueError("illegal base64 data at input byte N")``."""
    text = value.replace("\r", "").replace("\n", "")
    for i, ch in enumerate(text):
        if ch not in _BASE64_ALPHABET:
            raise ValueError(f"illegal base64 data at input byte {i}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pad = text.find("=")
        raise ValueError(f"illegal base64 data at input byte {pad if pad >= 0 else len(text)}") from None


def _check_keys(errs: ErrorList, field: str, values: dict[str, str] | None) -> None:
    for key in values or {}:
        errs.each(f"{field}[{key}]", key, is_config_map_key(key))


def _check_base64(errs: ErrorList, field: str, values: dict[str, str] | None) -> int:
    """Checks every value is base64; returns the decoded size."""
    size = 0
    for key, value in (values or {}).items():
        try:
            size += len(decode_base64(value))
        except ValueError as exc:
            errs.invalid(f"{field}[{key}]", "<secret contents redacted>" if field == "data" else value, str(exc))
    return size


def _check_size(errs: ErrorList, size: int) -> None:
    if size > MAX_SIZE:
        errs.add("", "FieldValueTooLong", f"Too long: must have at most {MAX_SIZE} bytes")


def validate_configmap(errs: ErrorList, obj: dict[str, Any]) -> None:
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    _check_keys(errs, "data", data)
    _check_keys(errs, "binaryData", binary)
    for key in binary:
        if key in data:
            errs.invalid(f"binaryData[{key}]", key, "duplicate of key present in data")
    size = sum(len(v.encode()) for v in data.values()) + _check_base64(errs, "binaryData", binary)
    _check_size(errs, size)


def validate_secret(errs: ErrorList, obj: dict[str, Any]) -> None:
    data, string_data = obj.get("data") or {}, obj.get("stringData") or {}
    _check_keys(errs, "data", data)
    # stringData is folded into data before Kubernetes validates, so its keys are reported there.
    _check_keys(errs, "data", {k: v for k, v in string_data.items() if k not in data})
    size = _check_base64(errs, "data", {k: v for k, v in data.items() if k not in string_data})
    size += sum(len(v.encode()) for v in string_data.values())
    _check_size(errs, size)
    stype = obj.get("type") or "Opaque"
    keys = set(data) | set(string_data)
    if stype == "kubernetes.io/service-account-token":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            errs.required("metadata.annotations[kubernetes.io/service-account.name]")
    elif stype == "kubernetes.io/basic-auth" and "username" not in keys and "password" not in keys:
        errs.required("data[username]")
        errs.required("data[password]")
    for key in SECRET_TYPES_REQUIRED_KEYS.get(stype, ()):
        if key not in keys:
            errs.required(f"data[{key}]")


def _validate_immutable(errs: ErrorList, old: dict[str, Any], new: dict[str, Any], fields: tuple[str, ...]) -> None:
    if not old.get("immutable"):
        return
    if not new.get("immutable"):
        errs.forbidden("immutable", "field is immutable when `immutable` is set")
    for field in fields:
        if (old.get(field) or {}) != (new.get(field) or {}):
            errs.forbidden(field, "field is immutable when `immutable` is set")


def validate_configmap_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    _validate_immutable(errs, old, new, ("data", "binaryData"))


def validate_secret_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    old_type, new_type = old.get("type") or "Opaque", new.get("type") or "Opaque"
    if old_type != new_type:
        errs.invalid("type", new_type, "field is immutable")
    _validate_immutable(errs, old, new, ("data",))


UPDATE_VALIDATORS = {"ConfigMap": validate_configmap_update, "Secret": validate_secret_update}


# --- defaults ----------------------------------------------------------------------------------


def default_secret(obj: dict[str, Any]) -> None:
    """``type: Opaque`` when unset, and ``stringData`` folded into ``data`` (base64), then dropped."""
    if not obj.get("type"):
        obj["type"] = "Opaque"
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.get("data") or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(value.encode()).decode()
        obj["data"] = data




# --- tables --------------------------------------------------------------------------------------


def columns() -> dict[str, list[dict[str, Any]]]:

    data = column("Data", "Data contains the configuration data. Each key must consist of alphanumeric "
                        "characters, '-', '_' or '.'.")
    return {
        "ConfigMap": [NAME_COLUMN, data, AGE_COLUMN],
        "Secret": [NAME_COLUMN, column("Type", "Used to facilitate programmatic handling of secret data."), data, AGE_COLUMN],
    }


def configmap_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    return [name(obj), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age(obj, now)]


def secret_cells(obj: dict[str, Any], now: datetime) -> list[Any]:

    return [name(obj), obj.get("type") or "", len(obj.get("data") or {}), age(obj, now)]


# --- the kinds -----------------------------------------------------------------------------------

_COLUMNS = columns()

CONFIGMAP = Kind(
    Resource("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    model=ConfigMap, validate=validate_configmap, validate_update=validate_configmap_update,
    columns=_COLUMNS["ConfigMap"], cells=configmap_cells,
)
SECRET = Kind(
    Resource("", "v1", "secrets", "secret", "Secret", True),
    model=Secret, validate=validate_secret, validate_update=validate_secret_update, default=default_secret,
    columns=_COLUMNS["Secret"], cells=secret_cells,
)
KINDS = [CONFIGMAP, SECRET]
