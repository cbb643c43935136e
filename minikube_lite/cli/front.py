"""The TCP front of ``minikube-lite start --ha``: the one address in the kubeconfig, in front of
the two API servers (what a kubeadm HA cluster puts a load balancer such as HAProxy at).

It forwards bytes (TLS passes through untouched: both API servers serve the same certificate
from the shared state folder, so kubectl and the kubelet verify the same CA whichever answers).
Each new connection goes to the server that took the last one; when that server refuses or does
not accept within ``CONNECT_TIMEOUT`` the next one is tried, so a killed API server costs the
connections it held (kubectl's and client-go's requests retry on a new one) and nothing else.
A server that accepts connections but hangs is not detected (no health checks, unlike HAProxy's
``/readyz`` probe): documented in docs/supported.md.

``python -m minikube_lite.cli.front --state-dir S --listen 127.0.0.1:8443 --backend 127.0.0.1:P1
--backend 127.0.0.1:P2`` (the state folder only marks the process as this cluster's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

log = logging.getLogger("minikube_lite.front")

CONNECT_TIMEOUT = 1.0


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


class Front:
    def __init__(self, backends: list[tuple[str, int]]) -> None:
        self.backends = backends
        self.current = 0  # the server that took the last connection

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for step in range(len(self.backends)):
            i = (self.current + step) % len(self.backends)
            host, port = self.backends[i]
            try:
                streams = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
            except (OSError, TimeoutError):
                continue
            if i != self.current:
                log.warning("API server %s:%d takes the connections now", host, port)
                self.current = i
            return streams
        return None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self._connect()
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream

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
            for w in (writer, up_writer):
                w.close()


async def serve(listen: tuple[str, int], backends: list[tuple[str, int]]) -> None:
    front = Front(backends)
    server = await asyncio.start_server(front.handle, listen[0], listen[1], reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m minikube_lite.cli.front")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--backend", action="append", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(_hostport(args.listen), [_hostport(b) for b in args.backend]))


if __name__ == "__main__":
    main()
