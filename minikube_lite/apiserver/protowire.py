"""The protobuf wire format (varints, tags, length-delimited fields): the one codec of the API server.

Two things speak protobuf here: request bodies of typed clients (``application/vnd.kubernetes.protobuf``,
decoded by ``protobuf.py`` with the generated field tables) and the OpenAPI v2 document kubectl
downloads (gnostic's ``openapi.v2.Document``, encoded by ``openapi_proto.py``). Both use these few
functions of https://protobuf.dev/programming-guides/encoding/ instead of the ``protobuf`` package and
generated classes: the message sets are fixed and small, and the server stays free of a compiled
dependency. Malformed input is a ``BadRequest`` (400), never an exception of another kind.
"""

from __future__ import annotations

from typing import Any

from minikube_lite.api.errors import BadRequest

#: field number -> [(wire type, value)] of one message, in wire order
Fields = dict[int, list[tuple[int, Any]]]

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


def encode_varint(n: int) -> bytes:
    """A base-128 varint; negative numbers as their 64-bit two's complement (as Go's int64)."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
    """The key of a field: its number and wire type."""
    return encode_varint(field << 3 | wire_type)


def length_delimited(field: int, data: bytes) -> bytes:
    """A length-delimited field (wire type 2): strings, bytes and embedded messages."""
    return tag(field, LENGTH_DELIMITED) + encode_varint(len(data)) + data


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BadRequest("protobuf: truncated or overlong varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def read_fields(data: bytes) -> Fields:
    """The raw fields of one message: number -> [(wire type, value)]."""
    out: Fields = {}
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 1:
            if pos + 8 > len(data):
                raise BadRequest("protobuf: truncated 64-bit field")
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = read_varint(data, pos)
            if pos + n > len(data):
                raise BadRequest("protobuf: truncated length-delimited field")
            value, pos = data[pos:pos + n], pos + n
        elif wire == 5:
            if pos + 4 > len(data):
                raise BadRequest("protobuf: truncated 32-bit field")
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise BadRequest(f"protobuf: unsupported wire type {wire}")
        out.setdefault(num, []).append((wire, value))
    return out
