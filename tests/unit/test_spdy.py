"""SPDY/3.1 framing (apiserver/spdy.py): headers through the shared zlib contexts, streams, ping, FIN."""

from __future__ import annotations

import asyncio
import struct
import zlib

from minikube_lite.apiserver.spdy import (
    FLAG_FIN,
    PING,
    SYN_REPLY,
    SYN_STREAM,
    HeaderCodec,
    SpdySession,
    control_frame,
    data_frame,
)
from minikube_lite.apiserver.spdy_dictionary import HEADER_DICTIONARY


def client_syn(codec: zlib._Compress, stream_id: int, headers: dict[str, str], fin: bool = False) -> bytes:
    block = struct.pack(">I", len(headers))
    for k, v in headers.items():
        block += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
    compressed = codec.compress(block) + codec.flush(zlib.Z_SYNC_FLUSH)
    return control_frame(SYN_STREAM, FLAG_FIN if fin else 0, struct.pack(">IIBB", stream_id, 0, 0, 0) + compressed)


def test_dictionary_is_the_specs() -> None:
    assert len(HEADER_DICTIONARY) == 1423
    assert HEADER_DICTIONARY.startswith(b"\x00\x00\x00\x07options")


def test_header_blocks_round_trip_through_one_context() -> None:
    ours, theirs = HeaderCodec(), HeaderCodec()
    for i in range(3):  # the contexts live across blocks: the second block depends on the first
        assert theirs.decode(ours.encode({"streamType": "data", "port": str(80 + i)})) == {
            "streamtype": ["data"], "port": [str(80 + i)]}
    assert theirs.decode(ours.encode({"x": "a\x00b"})) == {"x": ["a", "b"]}


def test_session_streams_data_ping_and_reply() -> None:
    async def run() -> None:
        sent: list[bytes] = []
        session = SpdySession(sent.append)
        deflate = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, 9, zlib.Z_DEFAULT_STRATEGY, HEADER_DICTIONARY)
        wire = (client_syn(deflate, 1, {"streamtype": "error", "requestid": "0"})
                + client_syn(deflate, 3, {"streamtype": "data", "requestid": "0"})
                + data_frame(3, b"hello") + data_frame(3, b"", fin=True)
                + control_frame(PING, 0, struct.pack(">I", 7)))
        for i in range(0, len(wire), 5):  # frames split anywhere
            await session.feed(wire[i:i + 5])
        error, data = await session.streams.get(), await session.streams.get()
        assert (error.header("streamType"), data.header("streamtype")) == ("error", "data")
        assert await data.read() == b"hello" and await data.read() is None
        assert sent[-1] == control_frame(PING, 0, struct.pack(">I", 7))  # the ping is echoed
        await session.reply(data)
        first = struct.unpack(">I", sent[-1][:4])[0]
        assert first == (0x8000 | 3) << 16 | SYN_REPLY and struct.unpack(">I", sent[-1][8:12])[0] == 3
        await data.write(b"x" * 70000)
        await data.close()
        assert struct.unpack(">I", sent[-2][:4])[0] == 3 and sent[-1] == data_frame(3, b"", fin=True)
        session.finish()
        assert await session.streams.get() is None

    asyncio.run(run())


def test_garbage_is_a_protocol_error_not_a_crash() -> None:
    import pytest

    from minikube_lite.apiserver.spdy import ProtocolError

    async def run() -> None:
        for wire in (control_frame(SYN_STREAM, 0, b"\x00\x01"),  # truncated SYN_STREAM
                     control_frame(SYN_STREAM, 0, struct.pack(">IIBB", 1, 0, 0, 0) + b"not zlib"),
                     struct.pack(">HHI", 0x8000 | 2, 1, 0)):  # SPDY/2
            with pytest.raises(ProtocolError):
                await SpdySession(lambda b: None).feed(wire)

    asyncio.run(run())
