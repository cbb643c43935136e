"""The TCP front of ``minikube-lite start --ha``: the one address in the kubeconfig, in front of
the two API servers (what a kubeadm HA cluster puts a load balancer such as HAProxy at).

It forwards bytes (TLS passes through untouched: both API servers serve the same certificate
from the shared state folder, so kubectl and the kubelet verify the same CA whichever answers).
Each new connection goes to the server that took the last one, while that server is up.

Health checks, as kubeadm's HAProxy example configures them (``option httpchk GET /readyz``,
``check check-ssl``, ``inter``/``fall``/``rise``; plus ``on-marked-down shutdown-sessions``):
every ``INTER`` seconds each server is asked ``GET /readyz`` over TLS, verified against the
cluster CA (where kubeadm's example says ``verify none``), anonymously (health is open to
everyone); no ``200`` within ``CHECK_TIMEOUT`` counts as a failure. ``FALL`` failures in a
row take a server out: new connections go to the other, and the connections it held are closed,
so their clients (kubectl, the kubelets' watches) reconnect through the front to the healthy one
instead of waiting on a server that accepts but does not answer (stopped, hung). ``RISE``
successes bring it back. Between checks, a server that refuses or does not accept within
``CONNECT_TIMEOUT`` is skipped for that connection. When every server is out, each is tried.

``python -m minikube_lite.cli.front --state-dir S --listen 127.0.0.1:8443 --backend 127.0.0.1:P1
--backend 127.0.0.1:P2`` (the state folder marks the process as this cluster's and holds the CA
the checks verify the servers with).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import ssl
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("minikube_lite.front")

CONNECT_TIMEOUT = 1.0
INTER = 1.0  # seconds between two checks of a server (HAProxy's inter)
CHECK_TIMEOUT = 2.0  # a check not answered within this fails (HAProxy's timeout check)
FALL = 2  # failed checks in a row that take a server out
RISE = 2  # passed checks in a row that bring it back


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


@dataclass(eq=False)
class Backend:
    host: str
    port: int
    up: bool = True  # as HAProxy, a server starts up and the checks decide
    streak: int = 0  # checks in a row that disagree with ``up``
    sessions: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


def check_context(state_dir: Path | None) -> ssl.SSLContext | None:
    """TLS for the checks: the cluster CA when the state folder has one (else plain HTTP)."""
    ca = state_dir / "certs" / "ca.crt" if state_dir is not None else None
    if ca is None or not ca.exists():
        return None
    return ssl.create_default_context(cafile=str(ca))


async def readyz(host: str, port: int, tls: ssl.SSLContext | None, timeout: float | None = None) -> bool:
    """``GET /readyz`` answered ``200`` within ``timeout`` (default ``CHECK_TIMEOUT``)."""
    async def ask() -> bool:
        reader, writer = await asyncio.open_connection(host, port, ssl=tls,
                                                       server_hostname=host if tls is not None else None)
        try:
            writer.write(f"GET /readyz HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: minikube-lite-front\r\n"
                         "Connection: close\r\n\r\n".encode())
            await writer.drain()
            status = await reader.readline()
            return status.split(b" ", 2)[1:2] == [b"200"]
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    try:
        return await asyncio.wait_for(ask(), CHECK_TIMEOUT if timeout is None else timeout)
    except (OSError, TimeoutError, ValueError):
        return False


class Front:
    def __init__(self, backends: list[tuple[str, int]], tls: ssl.SSLContext | None = None) -> None:
        self.backends = [Backend(h, p) for h, p in backends]
        self.tls = tls
        self.current = 0  # the server that took the last connection

    def observe(self, b: Backend, healthy: bool) -> None:
        """One check's result: FALL failures take ``b`` out (closing its sessions), RISE passes bring it back."""
        if healthy == b.up:
            b.streak = 0
            return
        b.streak += 1
        if b.up and b.streak >= FALL:
            b.up, b.streak = False, 0
            log.warning("API server %s is DOWN (%d failed /readyz checks): closing its %d connections",
                        b.name, FALL, len(b.sessions))
            for w in list(b.sessions):
                w.close()
        elif not b.up and b.streak >= RISE:
            b.up, b.streak = True, 0
            log.warning("API server %s is UP again", b.name)

    async def check_forever(self) -> None:
        async def one(b: Backend) -> None:
            try:
                healthy = await readyz(b.host, b.port, self.tls)
            except Exception:  # a check that breaks counts as failed; the checks go on
                log.exception("checking %s failed", b.name)
                healthy = False
            self.observe(b, healthy)

        while True:
            await asyncio.gather(*(one(b) for b in self.backends))
            await asyncio.sleep(INTER)

    def _order(self) -> list[int]:
        n = len(self.backends)
        ring = [(self.current + step) % n for step in range(n)]
        up = [i for i in ring if self.backends[i].up]
        return up or ring

    async def _connect(self) -> tuple[Backend, asyncio.StreamReader, asyncio.StreamWriter] | None:
        for i in self._order():
            b = self.backends[i]
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(b.host, b.port), CONNECT_TIMEOUT)
            except (OSError, TimeoutError):
                continue
            if i != self.current:
                log.warning("API server %s takes the connections now", b.name)
                self.current = i
            return b, reader, writer
        return None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self._connect()
        if upstream is None:
            writer.close()
            return
        backend, up_reader, up_writer = upstream
        backend.sessions.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError):
                if dst.can_write_eof():
                    dst.write_eof()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            backend.sessions.difference_update((writer, up_writer))
            for w in (writer, up_writer):
                w.close()


async def serve(listen: tuple[str, int], backends: list[tuple[str, int]], state_dir: Path | None = None) -> None:
    front = Front(backends, check_context(state_dir))
    server = await asyncio.start_server(front.handle, listen[0], listen[1], reuse_address=True)
    checks = asyncio.create_task(front.check_forever(), name="health-checks")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    checks.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m minikube_lite.cli.front")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--backend", action="append", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(_hostport(args.listen), [_hostport(b) for b in args.backend], Path(args.state_dir)))


if __name__ == "__main__":
    main()
