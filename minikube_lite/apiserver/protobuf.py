"""Decoding of request bodies sent as Kubernetes protobuf (``application/vnd.kubernetes.protobuf``).

kubectl's typed commands (``create namespace``, ``create configmap``, ``create secret``,
``create service``, ``create deployment`` ...) go through client-go's typed clients, which
write built-in kinds as protobuf and do not fall back to JSON on a 415. So the API server reads
them: the ``k8s\\0`` magic, a ``runtime.Unknown`` envelope (apiVersion, kind, raw bytes), then
the object in protobuf wire format, turned into the JSON shape with the field numbers of
``protobuf_tables.py``. Answers stay JSON (client-go accepts either).

Go writes every non-pointer field, zero or not; JSON omits them (``omitempty``). Zero values are
therefore dropped, except for the few pointer fields where zero means something
(``replicas: 0``). Malformed input is a 400, never an exception.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from ..api.errors import BadRequest, UnsupportedMediaType
from ..api.times import rfc3339
from .protobuf_tables import MESSAGES, ROOTS
from .protowire import read_fields as _fields
from .protowire import read_varint as _varint

MAGIC = b"k8s\x00"
_MAX_DEPTH = 64

#: Pointer fields whose zero value is meaningful and so kept.
_KEEP_ZERO = frozenset({"replicas", "gracePeriodSeconds", "revisionHistoryLimit", "terminationGracePeriodSeconds", "parallelism",
                        "backoffLimit", "completions", "runAsUser", "runAsGroup", "fsGroup", "defaultMode",
                        "activeDeadlineSeconds", "minReadySeconds", "progressDeadlineSeconds",
                        "ttlSecondsAfterFinished", "startingDeadlineSeconds", "successfulJobsHistoryLimit",
                        "failedJobsHistoryLimit", "partition"})

def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _scalar(typ: str, wire: int, value: Any) -> Any:
    if typ == "string":
        if wire != 2:
            raise BadRequest("protobuf: a string field is not length-delimited")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest("protobuf: a string field is not UTF-8") from exc
    if typ == "bytes":
        if wire != 2:
            raise BadRequest("protobuf: a bytes field is not length-delimited")
        return base64.b64encode(value).decode()
    if typ == "bool":
        return bool(value) if wire == 0 else _bad(typ)
    if typ in ("int32", "int64", "uint32", "uint64"):
        if wire != 0:
            _bad(typ)
        v = _signed(value)
        return v if typ != "int32" else ((v + (1 << 31)) % (1 << 32)) - (1 << 31)
    if typ == "double":
        return struct.unpack("<d", value)[0] if wire == 1 else _bad(typ)
    if typ == "float":
        return struct.unpack("<f", value)[0] if wire == 5 else _bad(typ)
    raise BadRequest(f"protobuf: unsupported field type {typ}")


def _bad(typ: str) -> Any:
    raise BadRequest(f"protobuf: wrong wire type for a {typ} field")


def _packed(typ: str, data: bytes) -> list[Any]:
    out, pos = [], 0
    while pos < len(data):
        v, pos = _varint(data, pos)
        out.append(_scalar(typ, 0, v))
    return out


def _value(typ: str, wire: int, value: Any, depth: int) -> Any:
    if typ in MESSAGES or typ in _SPECIAL:
        if wire != 2:
            raise BadRequest(f"protobuf: a {typ} message is not length-delimited")
        return _message(value, typ, depth + 1)
    return _scalar(typ, wire, value)


def _time(data: bytes) -> str | None:
    f = _fields(data)
    seconds = _signed(f.get(1, [(0, 0)])[-1][1])
    if not seconds:
        return None
    try:
        return rfc3339(seconds)
    except (OverflowError, OSError, ValueError) as exc:
        raise BadRequest("protobuf: a time is out of range") from exc


def _int_or_string(data: bytes) -> int | str:
    f = _fields(data)
    kind = f.get(1, [(0, 0)])[-1][1]
    if kind == 1:
        return _scalar("string", 2, f.get(3, [(2, b"")])[-1][1])
    return _scalar("int32", 0, f.get(2, [(0, 0)])[-1][1])


def _raw_json(data: bytes) -> Any:
    raw = _fields(data).get(1, [(2, b"")])[-1][1]
    if not isinstance(raw, bytes) or not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise BadRequest("protobuf: embedded raw JSON is not valid") from exc


_SPECIAL = {
    "Time": _time,
    "MicroTime": lambda d: (t := _time(d)) and t.replace("Z", ".000000Z"),
    "Quantity": lambda d: _scalar("string", 2, _fields(d).get(1, [(2, b"")])[-1][1]) or None,
    "IntOrString": _int_or_string,
    "FieldsV1": _raw_json,
    "RawExtension": _raw_json,
    # Go's `type ExtraValue []string`: a message of `repeated string items = 1` on the wire, a list in JSON
    "k8s.io.api.authentication.v1.ExtraValue": lambda d: _strings(d, 1),
    "k8s.io.api.authorization.v1.ExtraValue": lambda d: _strings(d, 1),
    "k8s.io.api.certificates.v1.ExtraValue": lambda d: _strings(d, 1),
}


def _strings(data: bytes, number: int) -> list[str]:
    return [_scalar("string", wire, v) for wire, v in _fields(data).get(number, [])]


def _empty(value: Any, name: str) -> bool:
    if name in _KEEP_ZERO and value == 0 and value is not False:
        return False
    return value is None or value == "" or value == {} or value == [] or value is False or (
        value == 0 and not isinstance(value, bool))


def _message(data: bytes, name: str, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise BadRequest("protobuf: nesting too deep")
    special = _SPECIAL.get(name)
    if special is not None:
        return special(data)
    table = MESSAGES[name]
    out: dict[str, Any] = {}
    for num, values in _fields(data).items():
        spec = table.get(num)
        if spec is None:
            continue  # a field newer than this table: ignored, as protobuf readers do
        field, typ, label = spec
        if label == 2:
            entries = {}
            for wire, raw in values:
                if wire != 2:
                    raise BadRequest(f"protobuf: map {field} entry is not length-delimited")
                entry = _fields(raw)
                key = _scalar("string", 2, entry.get(1, [(2, b"")])[-1][1])
                wire_v, raw_v = entry.get(2, [(2, b"")])[-1]
                entries[key] = _value(typ, wire_v, raw_v, depth)
            value: Any = entries
        elif label == 1:
            items: list[Any] = []
            for wire, raw in values:
                if wire == 2 and typ not in ("string", "bytes") and typ not in MESSAGES and typ not in _SPECIAL:
                    items.extend(_packed(typ, raw))
                else:
                    items.append(_value(typ, wire, raw, depth))
            value = items
        else:
            wire, raw = values[-1]
            value = _value(typ, wire, raw, depth)
        if not _empty(value, field):
            out[field] = value
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """The JSON-shaped object inside a Kubernetes protobuf request body."""
    if not body.startswith(MAGIC):
        raise BadRequest("protobuf: the body does not start with the Kubernetes protobuf magic k8s\\0")
    envelope = _fields(body[len(MAGIC):])
    type_meta = envelope.get(1, [(2, b"")])[-1][1]
    raw = envelope.get(2, [(2, b"")])[-1][1]
    if not isinstance(type_meta, bytes) or not isinstance(raw, bytes):
        raise BadRequest("protobuf: malformed runtime.Unknown envelope")
    tm = _fields(type_meta)
    api_version = _scalar("string", 2, tm.get(1, [(2, b"")])[-1][1])
    kind = _scalar("string", 2, tm.get(2, [(2, b"")])[-1][1])
    root = ROOTS.get((api_version, kind))
    if root is None:
        raise UnsupportedMediaType(f"protobuf bodies of {api_version} {kind} are not supported: send JSON")
    obj = _message(raw, root)
    if not isinstance(obj, dict):
        raise BadRequest("protobuf: the body is not an object")
    return {"apiVersion": api_version, "kind": kind, **obj}
