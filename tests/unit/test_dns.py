"""The cluster DNS server's answers (zone built from Service/Endpoints dicts) and its forwarding,
over real UDP and TCP sockets on loopback, with a local fake upstream resolver."""

from __future__ import annotations

import asyncio
import socket
import struct

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from minikube_lite.dns.records import build_zone, pod_record
from minikube_lite.dns.server import DNSServer, _udp_query


def _svc(name: str, ns: str = "default", cip: str | None = "10.96.1.2", **spec: object) -> dict:
    s: dict = {"metadata": {"name": name, "namespace": ns}, "spec": {"ports": [{"name": "http", "port": 80}], **spec}}
    if cip:
        s["spec"]["clusterIP"] = cip
    return s


def _eps(name: str, ips: list[str], ns: str = "default", hostname: str | None = None) -> dict:
    addrs = [{"ip": ip, **({"hostname": hostname} if hostname else {})} for ip in ips]
    return {"metadata": {"name": name, "namespace": ns},
            "subsets": [{"addresses": addrs, "ports": [{"name": "http", "port": 8080}]}]}


def _server(upstreams: list[tuple[str, int]] | None = None) -> DNSServer:
    srv = DNSServer(None, address="127.0.0.1", port=0, upstreams=upstreams or [], forward_timeout=0.5)
    srv.zone = build_zone(
        [_svc("redis"), _svc("db", cip="None"), _svc("ext", cip=None, type="ExternalName", externalName="example.org"),
         _svc("api", ns="shop", cip="10.96.3.4")],
        [_eps("db", ["172.18.0.5", "172.18.0.6"]), _eps("redis", ["172.18.0.9"])])
    return srv


def _ask(srv: DNSServer, name: str, qtype: str = "A") -> DNSRecord:
    reply = asyncio.run(srv.handle(DNSRecord.question(name, qtype).pack()))
    assert reply is not None
    return DNSRecord.parse(reply)


def _ips(reply: DNSRecord) -> list[str]:
    return sorted(str(r.rdata) for r in reply.rr if r.rtype == QTYPE.A)


def test_cluster_ip_names() -> None:
    srv = _server()
    assert _ips(_ask(srv, "redis.default.svc.cluster.local")) == ["10.96.1.2"]
    assert _ips(_ask(srv, "API.shop.svc.cluster.local.")) == ["10.96.3.4"]


def test_headless_answers_endpoint_ips() -> None:
    assert _ips(_ask(_server(), "db.default.svc.cluster.local")) == ["172.18.0.5", "172.18.0.6"]


def test_unknown_names_in_zone_are_nxdomain_and_existing_names_without_type_are_empty() -> None:
    srv = _server()
    assert _ask(srv, "nope.default.svc.cluster.local").header.rcode == RCODE.NXDOMAIN
    assert _ask(srv, "redis.default.svc.cluster.local.default.svc.cluster.local").header.rcode == RCODE.NXDOMAIN
    aaaa = _ask(srv, "redis.default.svc.cluster.local", "AAAA")
    assert aaaa.header.rcode == RCODE.NOERROR and not aaaa.rr
    # an intermediate name (the namespace) exists
    assert _ask(srv, "default.svc.cluster.local").header.rcode == RCODE.NOERROR


def test_srv_and_cname_and_pod_records() -> None:
    srv = _server()
    rep = _ask(srv, "_http._tcp.redis.default.svc.cluster.local", "SRV")
    assert rep.rr and rep.rr[0].rdata.port == 80
    cname = _ask(srv, "ext.default.svc.cluster.local")
    assert str(cname.rr[0].rdata) == "example.org."
    assert pod_record("10-1-2-3.default.pod.cluster.local") == "10.1.2.3"
    assert _ips(_ask(srv, "172-18-0-5.default.pod.cluster.local")) == ["172.18.0.5"]


def test_forwarding_to_upstream_and_servfail_without_one() -> None:
    async def scenario() -> tuple[DNSRecord, DNSRecord, DNSRecord]:
        loop = asyncio.get_running_loop()

        class Upstream(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.t = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                q = DNSRecord.parse(data)
                r = q.reply()
                r.add_answer(RR(q.q.qname, QTYPE.A, rdata=A("192.0.2.77"), ttl=60))
                self.t.sendto(r.pack(), addr)  # type: ignore[attr-defined]

        up, _ = await loop.create_datagram_endpoint(Upstream, local_addr=("127.0.0.1", 0))
        up_port = up.get_extra_info("sockname")[1]
        srv = _server([("127.0.0.1", up_port)])
        await srv.start()
        try:
            # over UDP, through the server's real socket
            raw = await asyncio.wait_for(_udp_query("127.0.0.1", srv.port, DNSRecord.question("example.com").pack()), 3)
            via_udp = DNSRecord.parse(raw)
            # over TCP, a cluster name
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            q = DNSRecord.question("redis.default.svc.cluster.local").pack()
            writer.write(struct.pack("!H", len(q)) + q)
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            via_tcp = DNSRecord.parse(await reader.readexactly(size))
            writer.close()
        finally:
            await srv.close()
            up.close()
        # no upstream answering: SERVFAIL
        dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dead.bind(("127.0.0.1", 0))
        lonely = _server([dead.getsockname()])
        failed = DNSRecord.parse(await lonely.handle(DNSRecord.question("example.com").pack()) or b"")
        dead.close()
        return via_udp, via_tcp, failed

    via_udp, via_tcp, failed = asyncio.run(scenario())
    assert _ips(via_udp) == ["192.0.2.77"]
    assert _ips(via_tcp) == ["10.96.1.2"]
    assert failed.header.rcode == RCODE.SERVFAIL
