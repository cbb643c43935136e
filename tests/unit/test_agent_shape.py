"""The node agent's process shape (issue 14): what it imports, how its client finds resources, how
its certificates are made without loading ``cryptography`` into it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from minikube_lite.api.errors import BadRequest
from minikube_lite.auth import nodecerts, pki
from minikube_lite.client.http import HTTPClient

ROOT = Path(__file__).resolve().parents[2]

AGENT_IMPORTS = """
import sys
import minikube_lite.node.agent as agent
agent.skip_unused_imports()
import minikube_lite.client.http, minikube_lite.kubelet.kubelet, minikube_lite.kubelet.server
import minikube_lite.proxy.hostnet, minikube_lite.auth.nodecerts
from minikube_lite.apiserver.upgrade import default_handlers, serve_upgrade
from minikube_lite.kubelet.server import KubeletServer, create_app, kubelet_stream_path
from minikube_lite.kubelet.httpserver import Server
agent.parse_args(["--state-dir", "/tmp", "--name", "n"])
app = create_app(None)
Server(app, serve_upgrade, keepalive=1)
default_handlers()
from minikube_lite.client.http import HTTPClient
HTTPClient("https://127.0.0.1:1")
print(" ".join(sorted(m for m in sys.modules if sys.modules[m] is not None)))
"""


def test_agent_imports_none_of_the_api_server() -> None:
    """Everything the agent runs (the kubelet, its endpoint with the SPDY and WebSocket sessions,
    the HTTPS client) loads without FastAPI, pydantic, the kind register or cryptography; the API
    client without httpx, httpcore or anyio; the endpoint without uvicorn (its server is h11's,
    kubelet/httpserver.py) or a WebSocket library (loaded on the first exec/attach/port-forward); its
    command line without click or argparse; quantities without decimal until the first one."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", AGENT_IMPORTS], check=True, capture_output=True, text=True,
                         env=env).stdout.split()
    loaded = set(out)
    for heavy in ("fastapi", "pydantic", "starlette", "cryptography", "minikube_lite.api.register",
                  "minikube_lite.api.models", "minikube_lite.client.local", "rich", "charset_normalizer",
                  "httpx", "httpcore", "anyio", "websockets", "wsproto", "uvicorn", "httptools", "click", "argparse",
                  "decimal", "platform"):
        assert heavy not in loaded, f"{heavy} is imported by the node agent"
    assert {"minikube_lite.kubelet.kubelet", "minikube_lite.kubelet.httpserver", "h11"} <= loaded


_CORE = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod"},
    {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod"},
    {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node"}]}
_GROUPS = {"kind": "APIGroupList", "groups": [
    {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
     "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
    {"name": "coordination.k8s.io", "versions": [{"groupVersion": "coordination.k8s.io/v1", "version": "v1"}],
     "preferredVersion": {"groupVersion": "coordination.k8s.io/v1", "version": "v1"}}]}
_LISTS = {"/api/v1": _CORE, "/apis": _GROUPS,
          "/apis/apps/v1": {"resources": [{"name": "deployments", "namespaced": True, "kind": "Deployment"}]},
          "/apis/coordination.k8s.io/v1": {"resources": [{"name": "leases", "namespaced": True, "kind": "Lease"}]},
          "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1": {"kind": "Lease",
                                                                               "metadata": {"name": "n1"}},
          "/api/v1/nodes/n1": {"kind": "Node", "metadata": {"name": "n1"}}}


class _Server:
    """A real HTTP/1.1 server (keep-alive, chunked watch answers) in a thread, recording what it got."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.requests: list[str] = []
        self.connections = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                outer.connections += 1

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any], close: bool = False) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if close:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                outer.requests.append(f"GET {path}")
                if "watch=1" in query:
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    events = (b'{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n'
                              b'{"type":"MODIFIED","object":{"metadata":{"name":"a"}}}\n'
                              b'{"type":"ERROR","object":{"kind":"Status","status":"Failure","code":410,'
                              b'"reason":"Expired","message":"too old resource version"}}\n')
                    for piece in (events[:30], events[30:70], events[70:]):  # lines split across chunks
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                elif path in _LISTS:
                    self._send(200, _LISTS[path], close="close=1" in query)
                else:
                    self._send(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404,
                                     "message": "not found"})

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Any:
    s = _Server()
    yield s
    s.stop()


def test_http_client_finds_resources_by_discovery_once(server: _Server) -> None:
    client = HTTPClient(server.url)

    async def go() -> None:
        assert (await client.get("nodes", "n1"))["kind"] == "Node"  # cluster-scoped: no namespace in the path
        lease = await client.get("leases.coordination.k8s.io", "n1", namespace="kube-node-lease")
        assert lease["kind"] == "Lease"
        await client.get("leases", "n1", namespace="kube-node-lease")  # a bare plural: core first, then groups
        await client.get("nodes", "n1")
        with pytest.raises(BadRequest, match='resource type "widgets"'):
            await client.get("widgets", "x")
        await client.close()
    asyncio.run(go())
    discovery = [r for r in server.requests if r.split()[1] in ("/api/v1", "/apis") or r.split()[1].count("/") == 3]
    # each list read once; "widgets" looked through the groups not read yet (apps) and failed
    assert sorted(discovery) == sorted(["GET /api/v1", "GET /apis", "GET /apis/coordination.k8s.io/v1",
                                        "GET /apis/apps/v1"])
    assert server.connections == 1  # one keep-alive connection carried them all


def test_http_client_transport_errors_watch_and_reconnects(server: _Server) -> None:
    """Over a real socket: a Status answer becomes its ApiError, a watch's lines are whole events even
    when split across chunks and its ERROR event raises (410: Gone), a connection the server closed
    is not used again, and a server that is not there is a 503 with the address."""
    from minikube_lite.api.errors import ApiError, Gone, NotFound
    from minikube_lite.client.transport import Transport

    client = HTTPClient(server.url)

    async def go() -> None:
        with pytest.raises(NotFound):
            await client.get("pods", "nope", namespace="default")
        seen = []
        with pytest.raises(Gone):
            async for event in client.watch("pods", namespace="default", resource_version="1"):
                seen.append(event.type)
        assert seen == ["ADDED", "MODIFIED"]
        t = Transport(server.url, ssl_context=None, headers={})
        assert (await t.request("GET", "/api/v1", params={"close": "1"})).status_code == 200  # Connection: close
        assert not t._idle
        assert (await t.request("GET", "/api/v1")).json()["kind"] == "APIResourceList"
        await t.close()
        await client.close()
        port = free_port()
        down = HTTPClient(f"http://127.0.0.1:{port}")
        assert not await down.ready()
        with pytest.raises(ApiError, match=f"127.0.0.1:{port}") as e:
            await down.get("nodes", "n1")
        assert e.value.code == 503
        await down.close()
    asyncio.run(go())


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_node_certificates_made_by_a_child_with_a_note(tmp_path: Path, monkeypatch: Any) -> None:
    pki.ensure_client(tmp_path)
    monkeypatch.setattr(nodecerts, "IN_CHILD_PROCESS", True)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    ips = ("10.244.0.1", "127.0.0.1")
    nodecerts.ensure_node_certs(tmp_path, "n-m02", ips)
    d = pki.paths(tmp_path).dir
    for name in ("kubelet-client-n-m02.crt", "kubelet-client-n-m02.key", "kubelet-n-m02.crt", "kubelet-n-m02.key"):
        assert (d / name).exists(), name
    note = json.loads((d / "kubelet-n-m02.json").read_text())
    assert set(note["ips"]) == set(ips) and note["notAfter"] > 0
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((d / "kubelet-n-m02.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(i) for i in sans.get_values_for_type(x509.IPAddress)} == set(ips)
    made = (d / "kubelet-n-m02.crt").stat().st_mtime_ns
    nodecerts.ensure_node_certs(tmp_path, "n-m02", ips)  # the note says it is good: nothing made again
    assert (d / "kubelet-n-m02.crt").stat().st_mtime_ns == made
    nodecerts.kubelet_serving(tmp_path, "n-m02", ("10.244.16.1",))  # a new address: made again
    assert "10.244.16.1" in json.loads((d / "kubelet-n-m02.json").read_text())["ips"]


def test_serving_certificate_child_started_ahead(tmp_path: Path, monkeypatch: Any) -> None:
    """nodecerts.prewarm: at a node's first start the child is started before the node has its
    address; it makes the client certificate at once and signs the serving one when told the
    addresses. A node whose serving certificate exists starts none; one never told exits cleanly."""
    pki.ensure_client(tmp_path)
    monkeypatch.setattr(nodecerts, "IN_CHILD_PROCESS", True)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    d = pki.paths(tmp_path).dir
    nodecerts.prewarm(tmp_path, "n-m03")
    assert (d / "kubelet-client-n-m03.crt").exists() and not (d / "kubelet-n-m03.crt").exists()
    (child,) = nodecerts._warm.values()
    assert child.poll() is None  # waiting for the addresses
    nodecerts.kubelet_serving(tmp_path, "n-m03", ("10.244.2.1", "127.0.0.1"))
    assert child.wait(timeout=30) == 0 and not nodecerts._warm
    assert set(json.loads((d / "kubelet-n-m03.json").read_text())["ips"]) == {"10.244.2.1", "127.0.0.1"}
    nodecerts.prewarm(tmp_path, "n-m03")  # it has one now: nothing started
    assert not nodecerts._warm
    nodecerts.prewarm(tmp_path, "n-m04")
    (unused,) = nodecerts._warm.values()
    nodecerts.discard_warm()
    assert unused.returncode == 0 and not (d / "kubelet-n-m04.crt").exists() and not nodecerts._warm


def test_transport_sends_a_get_again_when_a_kept_connection_was_closed(server: _Server, monkeypatch: Any) -> None:
    """The server closed a kept-alive connection (its idle timeout) in a way not seen before reuse:
    a GET is sent once more on a new connection (Go's Transport does the same); a POST is not, it
    fails with the transport's error (the server may have acted on it)."""
    from minikube_lite.client.transport import Connection, Transport, TransportError

    monkeypatch.setattr(Connection, "usable", lambda self: True)  # as if the FIN had not arrived yet

    async def go() -> None:
        t = Transport(server.url, ssl_context=None, headers={})
        assert (await t.request("GET", "/api/v1")).status_code == 200
        (kept,) = t._idle
        kept.writer.transport.abort()  # the connection is gone under the pool's feet
        await asyncio.sleep(0.05)
        assert (await t.request("GET", "/api/v1")).json()["kind"] == "APIResourceList"
        (kept,) = t._idle
        kept.writer.transport.abort()
        await asyncio.sleep(0.05)
        with pytest.raises(TransportError):
            await t.request("POST", "/api/v1", content=b"{}")
        await t.close()
    asyncio.run(go())
    assert server.connections == 2  # the first, and the one the GET was sent again on


def test_transport_stream_pools_its_connection_only_when_read_to_the_end(server: _Server) -> None:
    """A watch read to its end leaves a connection that takes the next request; one left mid-body
    (a watch given up) cannot carry another and is closed, never pooled."""
    from minikube_lite.client.transport import Transport

    async def go() -> None:
        t = Transport(server.url, ssl_context=None, headers={})
        async with t.stream("GET", "/api/v1/pods", params={"watch": "1"}) as (head, body):
            assert head.status_code == 200
            assert b"ERROR" in b"".join([chunk async for chunk in body])
        (kept,) = t._idle
        async with t.stream("GET", "/api/v1/pods", params={"watch": "1"}) as (head, body):
            assert b"ADDED" in await anext(body)
        assert not t._idle and kept.writer.is_closing()  # the reused connection, left mid-body
        assert (await t.request("GET", "/api/v1")).status_code == 200
        await t.close()
    asyncio.run(go())
    assert server.connections == 2


def test_agent_command_line() -> None:
    from minikube_lite.node.agent import parse_args

    assert parse_args(["--state-dir", "/s", "--name", "n-m02"]) == (Path("/s"), "n-m02", None, False)
    assert parse_args(["--name=n", "--control-plane", "--state-dir=/s", "--server", "https://a:1"]) == (
        Path("/s"), "n", "https://a:1", True)
    for bad in (["--name", "n"], ["--state-dir", "/s", "--name", "n", "--bogus"], ["--state-dir", "/s", "x"]):
        with pytest.raises(SystemExit) as e:
            parse_args(bad)
        assert e.value.code == 2
