"""The ``--ha`` front's health checks (cli/front.py), against real sockets on loopback.

One backend answers ``/readyz`` and echoes; the other accepts connections and never answers
(what a SIGSTOPped API server does). The front must take the hung one out after FALL checks,
close the connections it held, send new ones to the healthy one, and bring it back after RISE.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from minikube_lite.cli import front


class FakeServer:
    """``GET /readyz`` -> 200 (or nothing while ``hung``); anything else is echoed."""

    def __init__(self) -> None:
        self.hung = False
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while line := await reader.readline():
                while self.hung:
                    await asyncio.sleep(0.01)
                if line.startswith(b"GET /readyz"):
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    await writer.drain()
                    writer.close()
                    return
                writer.write(line)
                await writer.drain()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]


async def _echo_through(port: int, text: bytes = b"hello\n", timeout: float = 2.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(text)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()


def test_readyz_check() -> None:
    async def go() -> None:
        s = FakeServer()
        port = await s.start()
        assert await front.readyz("127.0.0.1", port, None)
        s.hung = True
        assert not await front.readyz("127.0.0.1", port, None, timeout=0.2)
        s.hung = False
        assert s.server is not None
        s.server.close()
        await s.server.wait_closed()
        assert not await front.readyz("127.0.0.1", port, None)  # refused

    asyncio.run(go())


def test_hung_server_taken_out_and_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(front, "INTER", 0.05)
    monkeypatch.setattr(front, "CHECK_TIMEOUT", 0.2)

    async def go() -> None:
        a, b = FakeServer(), FakeServer()
        pa, pb = await a.start(), await b.start()
        f = front.Front([("127.0.0.1", pa), ("127.0.0.1", pb)])
        srv = await asyncio.start_server(f.handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        checks = asyncio.create_task(f.check_forever())
        try:
            assert await _echo_through(port) == b"hello\n"  # server a takes it
            held_r, held_w = await asyncio.open_connection("127.0.0.1", port)  # a session on a
            held_w.write(b"x\n")
            assert await held_r.readline() == b"x\n"
            a.hung = True  # accepts, never answers: SIGSTOP
            for _ in range(100):
                if not f.backends[0].up:
                    break
                await asyncio.sleep(0.02)
            assert not f.backends[0].up and f.backends[1].up
            assert await asyncio.wait_for(held_r.read(), 1.0) == b""  # its session was closed
            assert await _echo_through(port) == b"hello\n"  # new ones go to b
            assert f.backends[f.current] is f.backends[1]
            a.hung = False
            for _ in range(100):
                if f.backends[0].up:
                    break
                await asyncio.sleep(0.02)
            assert f.backends[0].up
        finally:
            checks.cancel()
            srv.close()
            for s in (a, b):
                assert s.server is not None
                s.server.close()

    asyncio.run(go())


def test_one_failed_check_is_not_enough() -> None:
    f = front.Front([("127.0.0.1", 1), ("127.0.0.1", 2)])
    b = f.backends[0]
    f.observe(b, False)
    assert b.up  # FALL is 2
    f.observe(b, True)
    f.observe(b, False)
    assert b.up  # not in a row
    f.observe(b, False)
    assert not b.up
    assert f._order() == [1]
    f.backends[1].up = False
    assert f._order() == [0, 1]  # everything out: each is tried
