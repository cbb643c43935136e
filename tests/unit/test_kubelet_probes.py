"""Probe decisions without Docker: defaults, port names, the HTTP request, handlers against local servers."""

from __future__ import annotations

import asyncio

import pytest

from minikube_lite.kubelet.probes import ProbeSpec, http_request, probe_http, probe_tcp, resolve_port
from minikube_lite.kubelet.runtime import ContainerRecord
from minikube_lite.kubelet.status import Observed, container_status


def test_probe_defaults_are_kubernetes() -> None:
    spec = ProbeSpec.parse({"httpGet": {"port": 80}})
    assert (spec.initial_delay, spec.period, spec.timeout, spec.success_threshold, spec.failure_threshold) == \
        (0.0, 10.0, 1.0, 1, 3)


def test_resolve_port_by_number_or_name() -> None:
    container = {"ports": [{"name": "http", "containerPort": 8080}]}
    assert resolve_port(80, container) == 80
    assert resolve_port("9000", container) == 9000
    assert resolve_port("http", container) == 8080
    with pytest.raises(ValueError, match="unknown port name"):
        resolve_port("grpc", container)


def test_http_request_headers() -> None:
    raw = http_request("10.0.0.5", 8080, "/healthz", [{"name": "Host", "value": "example.com"},
                                                     {"name": "X-Custom", "value": "1"}]).decode()
    lines = raw.split("\r\n")
    assert lines[0] == "GET /healthz HTTP/1.1"
    assert "Host: example.com" in lines and "X-Custom: 1" in lines
    assert "User-Agent: kube-probe/1.32" in lines and raw.endswith("\r\n\r\n")
    assert "Host: 10.0.0.5:8080" in http_request("10.0.0.5", 8080, "/", []).decode()


def test_http_and_tcp_probes_against_a_local_server() -> None:
    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            line = await reader.readline()
            code = "200 OK" if b" /ok " in line else "503 Service Unavailable"
            writer.write(f"HTTP/1.1 {code}\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            assert await probe_http("127.0.0.1", port, "/ok", [], "HTTP", 1.0) == (True, "")
            assert await probe_http("127.0.0.1", port, "/bad", [], "HTTP", 1.0) == \
                (False, "HTTP probe failed with statuscode: 503")
            assert (await probe_tcp("127.0.0.1", port, 1.0))[0]
        ok, message = await probe_http("127.0.0.1", port, "/", [], "HTTP", 1.0)
        assert not ok and "connection refused" in message
        ok, message = await probe_tcp("127.0.0.1", port, 1.0)
        assert not ok and "connection refused" in message

    asyncio.run(main())


def test_observed_probe_results_drive_ready_and_started() -> None:
    running = ContainerRecord(id="c1", docker_name="d", name="app", namespace="default", pod="p", pod_uid="u",
                              restart_count=0, status="running", started_at="2024-01-01T00:00:00Z")
    spec = {"name": "app", "image": "img"}
    assert container_status(spec, [running], None)["ready"] is True
    unready = container_status(spec, [running], None, Observed(ready={"app": False}))
    assert unready["ready"] is False and unready["started"] is True
    starting = container_status(spec, [running], None, Observed(ready={"app": True}, started={"app": False}))
    assert starting["ready"] is False and starting["started"] is False
