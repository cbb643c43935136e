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


class HealthHolder(Holder):
    """A Service's ``healthCheckNodePort`` (a LoadBalancer with ``externalTrafficPolicy: Local``), as
    kube-proxy's service health server answers it on every node: any HTTP request gets 200 while
    this machine has an endpoint of the Service, else 503 (a cloud load balancer then leaves the
    node out), with the count as JSON and in ``X-Load-Balancing-Endpoint-Weight``. HTTP through
    h11 (httpx's own protocol library); no server framework for one fixed answer per port."""

    def __init__(self, host: str | tuple[str, ...], port: int, service: tuple[str, str],
                 count: Callable[[], int]) -> None:
        super().__init__(host, port, "TCP", list)
        self.service = service  # (namespace, name)
        self.count = count

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import json

        import h11

        conn = h11.Connection(h11.SERVER)
        try:
            event = conn.next_event()
            while event is h11.NEED_DATA:
                conn.receive_data(await asyncio.wait_for(reader.read(65536), 10))
                event = conn.next_event()
            if isinstance(event, h11.Request):
                n = self.count()
                body = json.dumps({"service": {"namespace": self.service[0], "name": self.service[1]},
                                   "localEndpoints": n, "serviceProxyHealthy": True}, indent="\t").encode()
                headers = [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff"),
                           ("X-Load-Balancing-Endpoint-Weight", str(n)), ("Content-Length", str(len(body))),
                           ("Connection", "close")]
                writer.write(conn.send(h11.Response(status_code=200 if n else 503, headers=headers)) or b"")
                writer.write(conn.send(h11.Data(data=body)) or b"")
                writer.write(conn.send(h11.EndOfMessage()) or b"")
                await writer.drain()
        except (h11.ProtocolError, OSError, TimeoutError):
            pass
        finally:
            writer.close()


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
