"""Host sockets of the proxy: port holders that can also forward in user space.

Every host port a Service asks for (a ``nodePort``, a LoadBalancer's port) is bound here first,
as kube-proxy's "port opener" does: the bind is what tells us the port is free, and holding it
keeps another program from taking it later. When the kernel forwards (iptables mode) no
connection ever reaches these sockets; without iptables (not root, no binary) the same
listener copies bytes to a ready endpoint, round robin — slower (see bench/) but portable.

A connection for which no endpoint is ready is reset at once: a client sees "connection
refused/reset", never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import struct
from collections.abc import Callable

log = logging.getLogger(__name__)
_BUF = 256 * 1024

Picker = Callable[[], list[tuple[str, int]]]


class Holder:
    """One bound host port (TCP: listening and forwarding; UDP: bound only), on one address or several
    (loopback and the node's bridge address by default: see ``--listen-address``)."""

    def __init__(self, host: str | tuple[str, ...], port: int, protocol: str, picker: Picker) -> None:
        self.hosts = (host,) if isinstance(host, str) else tuple(host)
        self.host = self.hosts[0]
        self.port = port
        self.protocol = protocol
        self.picker = picker
        self._server: asyncio.base_events.Server | None = None
        self._udp: socket.socket | None = None
        self._more: list[socket.socket] = []
        self._counter = itertools.count()

    async def open(self) -> None:
        """Bind the port; raises OSError (EADDRINUSE ...) when another program holds it."""
        if self.protocol == "TCP":
            self._server = await asyncio.start_server(self._handle, host=list(self.hosts), port=self.port,
                                                      reuse_address=True, limit=_BUF)
        else:
            socks: list[socket.socket] = []
            try:
                for host in self.hosts:
                    sock = socket.socket(socket.AF_INET,
                                         socket.SOCK_DGRAM if self.protocol == "UDP" else socket.SOCK_STREAM)
                    socks.append(sock)
                    sock.bind((host, self.port))
            except OSError:
                for sock in socks:
                    sock.close()
                raise
            self._udp, self._more = socks[0], socks[1:]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)
            self._server = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        for sock in self._more:
            sock.close()
        self._more = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        endpoints = self.picker()
        if not endpoints:
            _reset(writer)
            return
        target = endpoints[next(self._counter) % len(endpoints)]
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*target, limit=_BUF), 5)
        except (OSError, TimeoutError):
            _reset(writer)
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        for w in (writer, up_writer):
            w.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(_BUF)
            if not data:
                break
            writer.write(data)
            if writer.transport.get_write_buffer_size() > _BUF:
                await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
    except asyncio.CancelledError:
        writer.close()
        raise
