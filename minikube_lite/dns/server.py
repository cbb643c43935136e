"""The cluster DNS server (CoreDNS' job): answers for ``cluster.local``, forwards the rest.

Pods are created with this server as their DNS (kubelet ``dns_server``); Docker's embedded
resolver in each container (127.0.0.11) passes it every name that is not a container's. It
listens on UDP and TCP at the cluster DNS address (10.96.0.10, as kubeadm and minikube use),
bound with ``IP_FREEBIND`` so it can start before the proxy has put that address on the bridge.

The zone (dns/records.py) is rebuilt from the Service and Endpoints informers on every change,
so a new Service or a pod leaving a headless Service shows at once (TTL 5 s). Names outside
the zone go to the host's resolvers (``/etc/resolv.conf``), tried in order with a timeout;
none answering gives SERVFAIL. The message codec is ``dnslib``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import struct
from pathlib import Path
from typing import Any

from dnslib import CNAME, QTYPE, RCODE, RR, SRV, A, DNSRecord

from ..client.base import Client
from ..client.informer import Informer
from .records import ZONE, Zone, build_zone, pod_record

log = logging.getLogger(__name__)

TTL = 5
IP_FREEBIND = 15  # linux/in.h


def host_resolvers(path: str = "/etc/resolv.conf", *, exclude: set[str] | None = None) -> list[tuple[str, int]]:
    out = []
    try:
        for line in Path(path).read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver" and parts[1] not in (exclude or set()) \
                    and parts[1] != "127.0.0.11":
                out.append((parts[1], 53))
    except OSError:
        pass
    return out


class DNSServer:
    def __init__(self, client: Client | None, *, address: str, port: int = 53,
                 upstreams: list[tuple[str, int]] | None = None, zone: str = ZONE,
                 forward_timeout: float = 2.0) -> None:
        self.client = client
        self.address = address
        self.port = port
        self.zone_name = zone
        self.upstreams = upstreams if upstreams is not None else host_resolvers(exclude={address})
        self.forward_timeout = forward_timeout
        self.zone = Zone()
        self.services = Informer(client, "services") if client is not None else None
        self.endpoints = Informer(client, "endpoints") if client is not None else None
        self._dirty = asyncio.Event()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self.bound = asyncio.Event()
        for inf in (self.services, self.endpoints):
            if inf is not None:
                inf.add_handler(lambda _t, _o: self._dirty.set())

    # ---- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        tasks: list[asyncio.Task[Any]] = []
        try:
            await self.start()
            if self.services is not None and self.endpoints is not None:
                tasks = [asyncio.create_task(self.services.run()), asyncio.create_task(self.endpoints.run())]
                while True:
                    await self._dirty.wait()
                    self._dirty.clear()
                    self.rebuild()
            else:
                await asyncio.Event().wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.close()

    def rebuild(self) -> None:
        assert self.services is not None and self.endpoints is not None
        self.zone = build_zone(self.services.list(), self.endpoints.list(), self.zone_name)

    def _socket(self, kind: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        sock.bind((self.address, self.port))
        sock.setblocking(False)
        return sock

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        wanted = self.port
        for attempt in range(20):
            udp = self._socket(socket.SOCK_DGRAM)
            self.port = udp.getsockname()[1]
            try:
                tcp = self._socket(socket.SOCK_STREAM)
                break
            except OSError as e:
                udp.close()
                # an ephemeral UDP port (port 0) whose TCP twin is taken: try another pair
                if wanted != 0 or e.errno != errno.EADDRINUSE or attempt == 19:
                    raise
                self.port = wanted
        self._udp, _ = await loop.create_datagram_endpoint(lambda: _UDP(self), sock=udp)
        tcp.listen(64)
        self._tcp = await asyncio.start_server(self._tcp_client, sock=tcp)
        self.bound.set()
        log.info("cluster DNS on %s:%d (udp+tcp), forwarding to %s", self.address, self.port, self.upstreams)

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 1)
            self._tcp = None

    # ---- answering --------------------------------------------------------------------------

    def answer_local(self, request: DNSRecord) -> DNSRecord | None:
        """The reply for a name in our zone; None when the name is outside it (forward)."""
        qname = str(request.q.qname).rstrip(".").lower()
        if qname != self.zone_name and not qname.endswith("." + self.zone_name):
            return None
        reply = request.reply()
        reply.header.aa = 1
        qtype = request.q.qtype
        z = self.zone
        pod_ip = pod_record(qname, self.zone_name)
        if pod_ip is not None:
            if qtype in (QTYPE.A, QTYPE.ANY):
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(pod_ip), ttl=TTL))
            return reply
        if qname in z.cname:
            reply.add_answer(RR(request.q.qname, QTYPE.CNAME, rdata=CNAME(z.cname[qname] + "."), ttl=TTL))
            return reply
        if qname not in z.names and qname != self.zone_name:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if qtype in (QTYPE.A, QTYPE.ANY):
            for ip in z.a.get(qname, []):
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(ip), ttl=TTL))
        if qtype in (QTYPE.SRV, QTYPE.ANY):
            for port, target in z.srv.get(qname, []):
                reply.add_answer(RR(request.q.qname, QTYPE.SRV, rdata=SRV(0, 100, port, target + "."), ttl=TTL))
                for ip in z.a.get(target, []):
                    reply.add_ar(RR(target + ".", QTYPE.A, rdata=A(ip), ttl=TTL))
        return reply  # e.g. AAAA on an IPv4-only cluster: the name exists, the answer is empty

    async def handle(self, data: bytes, *, tcp: bool = False) -> bytes | None:
        try:
            request = DNSRecord.parse(data)
        except Exception:  # noqa: BLE001 - a malformed packet gets no answer, as any server
            return None
        local = self.answer_local(request)
        if local is not None:
            return local.pack()
        forwarded = await self.forward(data, tcp=tcp)
        if forwarded is not None:
            return forwarded
        reply = request.reply()
        reply.header.rcode = RCODE.SERVFAIL
        return reply.pack()

    async def forward(self, data: bytes, *, tcp: bool = False) -> bytes | None:
        for host, port in self.upstreams:
            try:
                if tcp:
                    return await asyncio.wait_for(_tcp_query(host, port, data), self.forward_timeout)
                return await asyncio.wait_for(_udp_query(host, port, data), self.forward_timeout)
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                continue
        return None

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                reply = await self.handle(await reader.readexactly(size), tcp=True)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        asyncio.get_running_loop().create_task(self._reply(data, addr))

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.server.handle(data)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


class _OneShot(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def _udp_query(host: str, port: int, data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_OneShot, remote_addr=(host, port))
    try:
        transport.sendto(data)
        return await proto.reply
    finally:
        transport.close()


async def _tcp_query(host: str, port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(struct.pack("!H", len(data)) + data)
        await writer.drain()
        size = struct.unpack("!H", await reader.readexactly(2))[0]
        return await reader.readexactly(size)
    finally:
        writer.close()
