"""The kubelet endpoint's own HTTP/1.1 server (kubelet/httpserver.py) over a real socket: keep-alive,
chunked answers, HEAD, request bodies (with ``Expect: 100-continue``), a malformed request, a client
that goes away mid-answer, a handler that fails, and an ASGI WebSocket (accept, echo, close, denial)."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
from typing import Any

import pytest
import websockets.sync.client

from minikube_lite.kubelet.httpserver import Server


class App:
    def __init__(self) -> None:
        self.cancelled = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await self.websocket(scope, receive, send)
            return
        path = scope["path"]
        if path == "/fail":
            raise RuntimeError("boom")
        if path == "/echo":
            body = b""
            while True:
                m = await receive()
                body += m.get("body", b"")
                if not m.get("more_body"):
                    break
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            for i in range(3):
                await send({"type": "http.response.body", "body": b"line %d\n" % i, "more_body": True})
            try:
                await asyncio.sleep(3600)  # a follow with nothing more to say, until the client goes
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        body = f"{scope['method']} {path}?{scope['query_string'].decode()}".encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        if scope["path"] == "/deny":
            await send({"type": "websocket.http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "websocket.http.response.body", "body": b'{"kind":"Status"}'})
            return
        await send({"type": "websocket.accept", "subprotocol": scope["subprotocols"][0]})
        while True:
            m = await receive()
            if m["type"] == "websocket.disconnect":
                return
            if m.get("text") == "bye":
                await send({"type": "websocket.close", "code": 1000})
                return
            await send({"type": "websocket.send", "bytes": m.get("bytes") or m["text"].encode()})


@pytest.fixture
def served() -> Any:
    app = App()
    loop = asyncio.new_event_loop()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)

    async def upgrade(*args: Any) -> None:
        raise AssertionError("no SPDY here")

    server = Server(app, upgrade, keepalive=30)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(sock, None), loop).result(5)
    yield app, sock.getsockname()[1]
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_keep_alive_head_bodies_and_chunked_answers(served: Any) -> None:
    app, port = served
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for path, seen in (("/a?x=1", b"GET /a?x=1"), ("/b%20c", b"GET /b c?")):  # one connection for both
        conn.request("GET", path)
        r = conn.getresponse()
        assert r.status == 200 and r.read() == seen
    conn.request("HEAD", "/h")
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("content-length") == "8" and r.read() == b""
    conn.request("POST", "/echo", body=b"x" * 1_000_000)
    assert conn.getresponse().read() == b"x" * 1_000_000
    conn.request("GET", "/fail")
    assert conn.getresponse().status == 500
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/stream")
    r = conn.getresponse()
    assert r.getheader("transfer-encoding") == "chunked"
    assert r.readline() == b"line 0\n" and r.readline() == b"line 1\n" and r.readline() == b"line 2\n"
    conn.close()  # the client goes: what it followed ends
    assert app.cancelled.wait(5)


def test_expect_100_continue_and_a_malformed_request(served: Any) -> None:
    _, port = served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 100 ")
        s.sendall(b"abc")
        answer = b""
        while not answer.endswith(b"abc"):
            answer += s.recv(1000)
        assert answer.startswith(b"HTTP/1.1 200 ")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400 ")


def test_websocket_accept_echo_close_and_denial(served: Any) -> None:
    _, port = served
    with websockets.sync.client.connect(f"ws://127.0.0.1:{port}/ws", subprotocols=["v5.channel.k8s.io"],
                                        open_timeout=5) as ws:
        assert ws.subprotocol == "v5.channel.k8s.io"
        ws.send(b"\x01hello")
        assert ws.recv(5) == b"\x01hello"
        ws.send("bye")
        with pytest.raises(websockets.exceptions.ConnectionClosedOK):
            ws.recv(5)
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        websockets.sync.client.connect(f"ws://127.0.0.1:{port}/deny", open_timeout=5)
    assert refused.value.response.status_code == 400 and refused.value.response.body == b'{"kind":"Status"}'
