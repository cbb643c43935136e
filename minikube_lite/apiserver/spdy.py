"""SPDY/3.1 framing and streams, the server half that kubectl's streaming commands need.

Kubernetes' streaming subresources (``pods/exec``, ``pods/attach``, ``pods/portforward``) were
built on SPDY/3.1 (Go's ``moby/spdystream``): kubectl up to 1.29 (exec, attach) and 1.30
(port-forward) only speak it, and kubectl 1.31+ tunnels the same SPDY frames inside a WebSocket
for port-forward. No maintained Python SPDY implementation exists (PyPI's ``spdy-py`` 0.2.0 only
reads frames and was last released in 2021), so the minimal subset is written here, after the
SPDY/3 draft: the frame layout, the zlib header compression primed with the spec's dictionary
(``spdy_dictionary.py``), and streams opened by the client (SYN_STREAM, answered by SYN_REPLY),
data with FIN, RST_STREAM, PING echo and GOAWAY. Flow-control frames (SETTINGS, WINDOW_UPDATE)
are read and ignored, exactly as spdystream does on both ends; back-pressure comes from TCP.

``SpdySession`` is transport-agnostic: bytes go in through ``feed`` and out through the
``write`` callable, so one class serves the raw upgraded TCP connection and the WebSocket tunnel.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import zlib
from collections.abc import Callable
from typing import Any

from .spdy_dictionary import HEADER_DICTIONARY

log = logging.getLogger(__name__)

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
RST_CANCEL = 5
MAX_DATA = 64 * 1024  # bytes of one data frame we send (spdystream reads any size up to 16 MiB)
BACKLOG = 1 << 20  # bytes a stream may hold unread before the connection is no longer read


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3.1."""


class HeaderCodec:
    """One zlib context per direction for the whole connection, as SPDY/3 requires."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, 9, zlib.Z_DEFAULT_STRATEGY,
                                         HEADER_DICTIONARY)
        self._inflate = zlib.decompressobj(zdict=HEADER_DICTIONARY)

    def encode(self, headers: dict[str, str]) -> bytes:
        block = struct.pack(">I", len(headers))
        for name, value in headers.items():
            n, v = name.lower().encode(), value.encode()
            block += struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v
        return self._deflate.compress(block) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def decode(self, data: bytes) -> dict[str, list[str]]:
        try:
            raw = self._inflate.decompress(data)
        except zlib.error as e:
            raise ProtocolError(f"bad header block: {e}") from e
        headers: dict[str, list[str]] = {}
        try:
            (count,), pos = struct.unpack_from(">I", raw, 0), 4
            for _ in range(count):
                (size,) = struct.unpack_from(">I", raw, pos)
                name = raw[pos + 4:pos + 4 + size].decode().lower()
                pos += 4 + size
                (size,) = struct.unpack_from(">I", raw, pos)
                value = raw[pos + 4:pos + 4 + size].decode()
                pos += 4 + size
                headers.setdefault(name, []).extend(value.split("\x00"))
        except (struct.error, UnicodeDecodeError) as e:
            raise ProtocolError(f"bad header block: {e}") from e
        return headers


def control_frame(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


def data_frame(stream_id: int, data: bytes, fin: bool = False) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(data)) + data


class Stream:
    """One client-opened stream: its headers, the data it received (``read``), a way to answer."""

    def __init__(self, session: SpdySession, stream_id: int, headers: dict[str, list[str]], fin: bool) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self._data: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._queued = 0  # bytes received and not yet read: above BACKLOG, ``feed`` waits
        self._room = asyncio.Event()
        self._room.set()
        self.remote_closed = False
        self.local_closed = False
        if fin:
            self._remote_fin()

    def header(self, name: str) -> str:
        return (self.headers.get(name.lower()) or [""])[0]

    def _remote_fin(self) -> None:
        if not self.remote_closed:
            self.remote_closed = True
            self._data.put_nowait(None)
            self._room.set()

    def _put(self, data: bytes) -> None:
        self._data.put_nowait(data)
        self._queued += len(data)
        if self._queued > BACKLOG:
            self._room.clear()

    async def read(self) -> bytes | None:
        """The next chunk the client sent on this stream; None once it closed its side."""
        data = await self._data.get()
        if data is not None:
            self._queued -= len(data)
            if self._queued <= BACKLOG:
                self._room.set()
        return data

    async def write(self, data: bytes) -> None:
        if self.local_closed or self.session.closed:
            return
        # every frame of the chunk in one write: one lock, one transport call
        await self.session.send(b"".join(data_frame(self.id, data[i:i + MAX_DATA])
                                         for i in range(0, len(data), MAX_DATA)))

    async def close(self) -> None:
        """Half-close: FIN on an empty data frame (what spdystream's Close does)."""
        if not self.local_closed and not self.session.closed:
            self.local_closed = True
            await self.session.send(data_frame(self.id, b"", fin=True))

    async def reset(self) -> None:
        if not self.session.closed:
            self.local_closed = True
            await self.session.send(control_frame(RST_STREAM, 0, struct.pack(">II", self.id, RST_CANCEL)))
        self._remote_fin()


class SpdySession:
    """The server end of one SPDY/3.1 connection; ``streams`` yields each stream the client opens."""

    def __init__(self, write: Callable[[bytes], Any]) -> None:
        self._write = write  # a coroutine function or a plain function taking bytes
        self._buffer = bytearray()
        self._codec = HeaderCodec()
        self.streams: asyncio.Queue[Stream | None] = asyncio.Queue()
        self._open: dict[int, Stream] = {}
        self._lock = asyncio.Lock()
        self.closed = False

    async def send(self, frame: bytes) -> None:
        async with self._lock:  # a frame's bytes never interleave with another's
            if self.closed:
                return
            result = self._write(frame)
            if asyncio.iscoroutine(result):
                await result

    async def reply(self, stream: Stream, headers: dict[str, str] | None = None) -> None:
        """SYN_REPLY: the client's CreateStream waits for it."""
        async with self._lock:
            payload = struct.pack(">I", stream.id) + self._codec.encode(headers or {})
            result = self._write(control_frame(SYN_REPLY, 0, payload))
            if asyncio.iscoroutine(result):
                await result

    async def feed(self, data: bytes) -> None:
        """Bytes from the client: parse every complete frame in them."""
        self._buffer += data
        while len(self._buffer) >= 8:
            first, second = struct.unpack_from(">II", self._buffer, 0)
            length = second & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                return
            payload = bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            flags = second >> 24
            if first & 0x80000000:
                try:
                    await self._control((first >> 16) & 0x7FFF, first & 0xFFFF, flags, payload)
                except struct.error as e:  # a control frame shorter than its type needs
                    raise ProtocolError(f"truncated control frame: {e}") from e
            else:
                stream = self._open.get(first & 0x7FFFFFFF)
                if stream is not None and not stream.remote_closed:
                    if payload:
                        stream._put(payload)
                    if flags & FLAG_FIN:
                        stream._remote_fin()
                    await stream._room.wait()  # a reader that lags stops us reading the connection

    async def _control(self, version: int, kind: int, flags: int, payload: bytes) -> None:
        if version != VERSION:
            raise ProtocolError(f"unsupported SPDY version {version}")
        if kind == SYN_STREAM:
            stream_id = struct.unpack_from(">I", payload, 0)[0] & 0x7FFFFFFF
            stream = Stream(self, stream_id, self._codec.decode(payload[10:]), bool(flags & FLAG_FIN))
            self._open[stream_id] = stream
            await self.streams.put(stream)
        elif kind == HEADERS:
            self._codec.decode(payload[4:])  # keeps the shared zlib context in step
        elif kind == RST_STREAM:
            stream = self._open.pop(struct.unpack_from(">I", payload, 0)[0] & 0x7FFFFFFF, None)
            if stream is not None:
                stream.local_closed = True
                stream._remote_fin()
        elif kind == PING:
            await self.send(control_frame(PING, 0, payload[:4]))
        elif kind == GOAWAY:
            self.finish()
        # SETTINGS and WINDOW_UPDATE: ignored, as spdystream ignores them

    def finish(self) -> None:
        """The connection ended: every stream sees end of data, ``streams`` ends."""
        if self.closed:
            return
        self.closed = True
        for stream in self._open.values():
            stream._remote_fin()
        self.streams.put_nowait(None)

    async def goaway(self) -> None:
        await self.send(control_frame(GOAWAY, 0, struct.pack(">II", 0, 0)))
