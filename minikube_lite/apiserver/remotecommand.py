"""exec and attach over SPDY/3.1 (``v4.channel.k8s.io``), the protocol of kubectl 1.27 to 1.29.

Kubernetes' remotecommand protocol over SPDY: after the upgrade (upgrade.py) kubectl opens one
stream per channel, each with a ``streamType`` header: ``error`` always, then ``stdin``,
``stdout``, ``stderr`` (not with a TTY) as asked, and ``resize`` with a TTY (a series of JSON
``{"Width":..,"Height":..}`` objects). The server starts the process once the expected streams
are there, copies bytes, and at the end writes the same ``Status`` that the WebSocket form sends
on channel 3 (v4: JSON; ``NonZeroExitCode`` carries the exit code) on the error stream. The
sessions (``docker exec`` / ``docker attach``) and the checks are exec.py's, shared with the
WebSocket form of kubectl 1.30+.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from ..api.errors import ApiError
from .exec import STDERR, STDOUT, StreamRequest, check_request, final_status, open_session
from .spdy import SpdySession, Stream

log = logging.getLogger(__name__)

SPDY_PROTOCOLS = ("v4.channel.k8s.io",)
STREAMS_TIMEOUT = 30.0  # Kubernetes' kubelet waits as long for the client's streams


def _expected(req: StreamRequest) -> set[str]:
    wanted = {"error"}
    for kind, on in (("stdin", req.stdin), ("stdout", req.stdout), ("stderr", req.stderr and not req.tty),
                     ("resize", req.tty)):
        if on:
            wanted.add(kind)
    return wanted


async def _collect(session: SpdySession, wanted: set[str]) -> dict[str, Stream] | None:
    streams: dict[str, Stream] = {}
    async with asyncio.timeout(STREAMS_TIMEOUT):
        while not wanted <= streams.keys():
            stream = await session.streams.get()
            if stream is None:
                return None
            await session.reply(stream)
            streams[stream.header("streamtype")] = stream
    return streams


async def serve(app: Any, req: StreamRequest, session: SpdySession) -> None:
    try:
        streams = await _collect(session, _expected(req))
    except TimeoutError:
        log.info("%s of %s/%s: the client did not open its streams", "attach" if req.attach else "exec",
                 req.namespace, req.name)
        return
    if streams is None:
        return
    error = streams["error"]
    try:
        process = await open_session(app, req)
    except ApiError as e:
        await error.write(json.dumps(e.status()).encode())
        await error.close()
        return
    tty = req.tty or getattr(process, "tty", False)

    async def stdin() -> None:
        stream = streams.get("stdin")
        if stream is None:
            return
        while (data := await stream.read()) is not None:
            await process.write_stdin(data)
        await process.close_stdin()

    async def resize() -> None:
        stream, buffer, decoder = streams.get("resize"), "", json.JSONDecoder()
        if stream is None:
            return
        while (data := await stream.read()) is not None:
            buffer += data.decode(errors="replace")
            while buffer.strip():
                try:
                    size, end = decoder.raw_decode(buffer.lstrip())
                except ValueError:
                    break
                buffer = buffer.lstrip()[end:]
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    await process.resize(int(size.get("Width", 0)), int(size.get("Height", 0)))

    async def output() -> None:
        async for channel, data in process.output():
            if channel == STDERR and not tty and "stderr" in streams:
                await streams["stderr"].write(data)
            elif (channel == STDOUT or tty) and "stdout" in streams:
                await streams["stdout"].write(data)

    helpers = [asyncio.create_task(stdin(), name="spdy stdin"), asyncio.create_task(resize(), name="spdy resize")]
    try:
        await output()
        code = await process.exit_code()
        await error.write(json.dumps(final_status(req, code)).encode())
        for stream in streams.values():
            await stream.close()
    finally:
        for task in helpers:
            task.cancel()
        for task in helpers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        process.close()


async def _prepare(app: Any, namespace: str, name: str, query: dict[str, list[str]], attach: bool) -> Any:
    req = StreamRequest.parse(namespace, name, query, attach=attach)
    check_request(app, req)  # no such pod or container: the Status is the reply, before the upgrade

    async def run(session: SpdySession) -> None:
        await serve(app, req, session)
    return run


async def prepare_exec(app: Any, namespace: str, name: str, query: dict[str, list[str]]) -> Any:
    return await _prepare(app, namespace, name, query, attach=False)


async def prepare_attach(app: Any, namespace: str, name: str, query: dict[str, list[str]]) -> Any:
    return await _prepare(app, namespace, name, query, attach=True)
