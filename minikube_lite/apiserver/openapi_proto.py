"""The OpenAPI v2 document as protobuf: gnostic's ``openapi.v2.Document`` (what kubectl 1.27/1.28 parse).

kubectl asks ``/openapi/v2`` for ``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and
parses gnostic's messages (github.com/google/gnostic-models, openapiv2/OpenAPIv2.proto); the field
numbers below are that .proto's. Only the messages the generated document uses are written, with
the wire primitives of ``protowire.py``. Vendor extensions are ``NamedAny`` whose ``Any.yaml``
holds the value as JSON text (JSON is YAML).
"""

from __future__ import annotations

import json
import struct
from typing import Any

from .protowire import FIXED64, VARINT, length_delimited, tag
from .protowire import encode_varint as _varint

_key = tag
_bytes = length_delimited


def _s(field: int, value: str | None) -> bytes:
    return _bytes(field, value.encode()) if value else b""


def _ss(field: int, values: list[str] | None) -> bytes:
    return b"".join(_bytes(field, v.encode()) for v in values or [])


def _b(field: int, value: bool | None) -> bytes:
    return _key(field, VARINT) + b"\x01" if value else b""


def _i(field: int, value: int | None) -> bytes:
    return _key(field, VARINT) + _varint(int(value)) if value else b""


def _d(field: int, value: float | None) -> bytes:
    return _key(field, FIXED64) + struct.pack("<d", float(value)) if value else b""


def _m(field: int, data: bytes) -> bytes:
    return _bytes(field, data)


def _enc_any(value: Any) -> bytes:
    # Any { google.protobuf.Any value = 1; string yaml = 2; } -- JSON text is valid YAML.
    return _s(2, json.dumps(value, separators=(",", ":")))


def _enc_named_any(name: str, value: Any) -> bytes:
    # NamedAny { string name = 1; Any value = 2; }
    return _s(1, name) + _m(2, _enc_any(value))


def _enc_extensions(field: int, obj: dict[str, Any]) -> bytes:
    return b"".join(_m(field, _enc_named_any(k, v)) for k, v in obj.items() if k.startswith("x-"))


def _enc_schema(s: dict[str, Any]) -> bytes:
    out = _s(1, s.get("$ref")) + _s(2, s.get("format")) + _s(3, s.get("title")) + _s(4, s.get("description"))
    if "default" in s:
        out += _m(5, _enc_any(s["default"]))
    out += _d(7, s.get("maximum")) + _d(9, s.get("minimum"))
    out += _i(11, s.get("maxLength")) + _i(12, s.get("minLength")) + _s(13, s.get("pattern"))
    out += _i(14, s.get("maxItems")) + _i(15, s.get("minItems")) + _b(16, s.get("uniqueItems"))
    out += _ss(19, s.get("required"))
    out += b"".join(_m(20, _enc_any(v)) for v in s.get("enum", []))
    if "additionalProperties" in s:
        ap = s["additionalProperties"]
        # AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2; } }
        item = (_key(2, 0) + (b"\x01" if ap else b"\x00")) if isinstance(ap, bool) else _m(1, _enc_schema(ap))
        out += _m(21, item)
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        out += _m(22, _ss(1, types))  # TypeItem { repeated string value = 1; }
    if "items" in s:
        items = s["items"] if isinstance(s["items"], list) else [s["items"]]
        out += _m(23, b"".join(_m(1, _enc_schema(x)) for x in items))  # ItemsItem { repeated Schema schema = 1; }
    out += b"".join(_m(24, _enc_schema(x)) for x in s.get("allOf", []))
    if "properties" in s:
        # Properties { repeated NamedSchema additional_properties = 1; }, NamedSchema { name = 1; value = 2; }
        props = b"".join(_m(1, _s(1, name) + _m(2, _enc_schema(sub))) for name, sub in s["properties"].items())
        out += _m(25, props)
    out += _b(27, s.get("readOnly"))
    if "example" in s:
        out += _m(30, _enc_any(s["example"]))
    return out + _enc_extensions(31, s)


def _enc_parameter(p: dict[str, Any]) -> bytes:
    """ParametersItem { Parameter parameter = 1; } wrapping Parameter's oneof."""
    if p["in"] == "body":
        # BodyParameter { description 1; name 2; in 3; required 4; Schema schema 5; }
        body = _s(1, p.get("description")) + _s(2, p["name"]) + _s(3, "body") + _b(4, p.get("required"))
        body += _m(5, _enc_schema(p["schema"]))
        param = _m(1, body)  # Parameter.body_parameter = 1
    else:
        # Header (1), FormData (2), Query (3) and Path (4) sub-schemas share required 1, in 2,
        # description 3, name 4; then type/format are 5/6 (header, path) or 6/7 (form data, query).
        sub_field = {"header": 1, "formData": 2, "query": 3, "path": 4}[p["in"]]
        type_field = 6 if sub_field in (2, 3) else 5
        sub = _b(1, p.get("required")) + _s(2, p["in"]) + _s(3, p.get("description")) + _s(4, p["name"])
        sub += _s(type_field, p.get("type")) + _s(type_field + 1, p.get("format"))
        unique_field = {1: 19, 2: 20, 3: 20, 4: 19}[sub_field]
        sub += _b(unique_field, p.get("uniqueItems"))
        param = _m(2, _m(sub_field, sub))  # Parameter.non_body_parameter = 2
    return _m(1, param)


def _enc_operation(o: dict[str, Any]) -> bytes:
    # Operation { tags 1; summary 2; description 3; operation_id 5; produces 6; consumes 7;
    #             parameters 8; Responses responses 9; schemes 10; deprecated 11; vendor_extension 13 }
    out = _ss(1, o.get("tags")) + _s(2, o.get("summary")) + _s(3, o.get("description"))
    out += _s(5, o.get("operationId")) + _ss(6, o.get("produces")) + _ss(7, o.get("consumes"))
    out += b"".join(_m(8, _enc_parameter(p)) for p in o.get("parameters", []))
    codes = b""
    for code, resp in o.get("responses", {}).items():
        # Response { description 1; SchemaItem schema 2; }, SchemaItem { Schema schema = 1; }
        r = _s(1, resp.get("description"))
        if "schema" in resp:
            r += _m(2, _m(1, _enc_schema(resp["schema"])))
        # NamedResponseValue { name 1; ResponseValue value 2 }, ResponseValue { Response response = 1; }
        codes += _m(1, _s(1, code) + _m(2, _m(1, r)))
    out += _m(9, codes)  # Responses { repeated NamedResponseValue response_code = 1; }
    out += _ss(10, o.get("schemes")) + _b(11, o.get("deprecated"))
    return out + _enc_extensions(13, o)


_METHOD_FIELDS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _enc_path_item(item: dict[str, Any]) -> bytes:
    # PathItem { _ref 1; get 2; put 3; post 4; delete 5; options 6; head 7; patch 8; parameters 9; ext 10 }
    out = b""
    for method, field in _METHOD_FIELDS.items():
        if method in item:
            out += _m(field, _enc_operation(item[method]))
    out += b"".join(_m(9, _enc_parameter(p)) for p in item.get("parameters", []))
    return out + _enc_extensions(10, item)


def encode_document(doc: dict[str, Any]) -> bytes:
    # Document { swagger 1; Info info 2; host 3; base_path 4; schemes 5; consumes 6; produces 7;
    #            Paths paths 8; Definitions definitions 9; ...; vendor_extension 16 }
    out = _s(1, doc["swagger"])
    info = doc.get("info", {})
    out += _m(2, _s(1, info.get("title")) + _s(2, info.get("version")) + _s(3, info.get("description")))
    out += _ss(5, doc.get("schemes")) + _ss(6, doc.get("consumes")) + _ss(7, doc.get("produces"))
    # Paths { vendor_extension 1; repeated NamedPathItem path = 2; }, NamedPathItem { name 1; value 2 }
    out += _m(8, b"".join(_m(2, _s(1, path) + _m(2, _enc_path_item(item)))
                          for path, item in doc.get("paths", {}).items()))
    # Definitions { repeated NamedSchema additional_properties = 1; }
    out += _m(9, b"".join(_m(1, _s(1, name) + _m(2, _enc_schema(s)))
                          for name, s in doc.get("definitions", {}).items()))
    return out + _enc_extensions(16, doc)
