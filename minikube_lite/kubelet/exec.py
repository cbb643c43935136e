"""``kubectl exec`` and ``attach``, the kubelet's half: ``docker exec`` / ``docker attach`` sockets.

The API server's exec endpoint (apiserver/exec.py) speaks kubectl's WebSocket protocol; this
module gives it an ``ExecSession``: output chunks tagged stdout (1) or stderr (2), a way to
write stdin and to close it (half-closing the hijacked Docker connection, which the process
sees as end of file), terminal resizes, and the exit code at the end. Docker multiplexes
stdout and stderr on one socket with 8-byte frame headers unless a TTY is asked for, then the
bytes are raw. The socket is read in a thread of its own (the Docker SDK hands out a blocking
socket) and the chunks are passed to the event loop through a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import threading
from typing import Any

import docker.errors

from minikube_lite.api.errors import BadRequest, NotFound

from .base import KubeletBase, pod_uid
from .runtime import SANDBOX
from .status import group_records

log = logging.getLogger(__name__)

STDOUT, STDERR = 1, 2


class ExecSession:
    """One running ``docker exec`` with its attached streams."""

    def __init__(self, api: Any, exec_id: str, raw: Any, *, tty: bool,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._api = api
        self.exec_id = exec_id
        self._raw = raw  # what the SDK returned (keeps the HTTP response alive)
        self._sock: socket.socket = getattr(raw, "_sock", raw)
        self.tty = tty
        self._loop = loop
        self._chunks: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._thread = threading.Thread(target=self._pump, name="kubelet-exec", daemon=True)
        self._thread.start()

    def _deliver(self, item: tuple[int, bytes] | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens any more
            self._loop.call_soon_threadsafe(self._chunks.put_nowait, item)

    def _recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            part = self._sock.recv(n - len(buf))
            if not part:
                return buf
            buf += part
        return buf

    def _pump(self) -> None:
        try:
            while True:
                if self.tty:
                    data = self._sock.recv(65536)
                    if not data:
                        break
                    self._deliver((STDOUT, data))
                    continue
                header = self._recv_exact(8)
                if len(header) < 8:
                    break
                stream, size = header[0], struct.unpack(">I", header[4:])[0]
                data = self._recv_exact(size)
                if data:
                    self._deliver((STDERR if stream == 2 else STDOUT, data))
                if len(data) < size:
                    break
        except OSError as e:
            log.debug("exec stream ended: %s", e)
        finally:
            self._deliver(None)

    async def output(self) -> Any:
        """Async iterator of (channel, bytes) until the process closes its output."""
        while (item := await self._chunks.get()) is not None:
            yield item

    async def write_stdin(self, data: bytes) -> None:
        if data:
            await asyncio.to_thread(self._sock.sendall, data)

    async def close_stdin(self) -> None:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self._sock.shutdown, socket.SHUT_WR)

    async def resize(self, width: int, height: int) -> None:
        if not self.tty or width <= 0 or height <= 0:
            return
        try:
            await asyncio.to_thread(self._api.exec_resize, self.exec_id, height=height, width=width)
        except docker.errors.APIError as e:  # the process may have just ended
            log.debug("exec resize failed: %s", e)

    async def exit_code(self, timeout: float = 5.0) -> int | None:
        """The process's exit code, once Docker reports it ended (None if it still runs)."""
        deadline = self._loop.time() + timeout
        while True:
            info = await asyncio.to_thread(self._api.exec_inspect, self.exec_id)
            if not info.get("Running"):
                code = info.get("ExitCode")
                return int(code) if code is not None else None
            if self._loop.time() >= deadline:
                return None
            await asyncio.sleep(0.02)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(Exception):
            self._raw.close()


async def running_container(kubelet: KubeletBase, namespace: str, pod: str, container: str) -> Any:
    """The latest attempt of ``container`` in ``namespace/pod`` if it runs; kubelet's errors otherwise."""
    known = kubelet._pods.get(f"{namespace}/{pod}")
    if known is None:
        raise NotFound("pods", pod)
    records = await kubelet._docker(kubelet.runtime.pod_containers_of, namespace, pod, pod_uid(known))
    attempts = group_records(r for r in records if r.name != SANDBOX).get(container, [])
    target = attempts[-1] if attempts else None
    if target is None or not target.running:
        raise BadRequest(f'container not found ("{container}")')
    return target


class Exec(KubeletBase):
    async def exec_session(self, namespace: str, pod: str, container: str, command: list[str], *,
                           stdin: bool, tty: bool) -> ExecSession:
        """Start ``command`` in the running ``container`` of ``namespace/pod``; errors before it starts."""
        if not command:
            raise BadRequest("you must specify at least one command for the container")
        target = await running_container(self, namespace, pod, container)
        api = self.runtime.docker.api

        def start() -> tuple[str, Any]:
            exec_id = api.exec_create(target.id, command, stdout=True, stderr=True, stdin=stdin, tty=tty)["Id"]
            return exec_id, api.exec_start(exec_id, tty=tty, socket=True)

        try:
            exec_id, raw = await self._docker(start)
        except docker.errors.APIError as e:
            raise BadRequest(f"failed to exec in container: {e.explanation or e}") from e
        return ExecSession(api, exec_id, raw, tty=tty, loop=asyncio.get_running_loop())


class AttachSession(ExecSession):
    """``docker attach`` to a container's main process, the ``kubectl attach`` / ``run -it`` stream."""

    def __init__(self, api: Any, container_id: str, raw: Any, *, tty: bool, stdin_once: bool,
                 loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(api, "", raw, tty=tty, loop=loop)
        self.container_id = container_id
        self.stdin_once = stdin_once

    async def close_stdin(self) -> None:
        # Closing our half ends the process's stdin only when it was created with stdinOnce (as in
        # Kubernetes); otherwise the process keeps its stdin, which another attach can use.
        if self.stdin_once:
            await super().close_stdin()

    async def resize(self, width: int, height: int) -> None:
        if not self.tty or width <= 0 or height <= 0:
            return
        try:
            await asyncio.to_thread(self._api.resize, self.container_id, height=height, width=width)
        except docker.errors.APIError as e:
            log.debug("attach resize failed: %s", e)

    async def exit_code(self, timeout: float = 5.0) -> int | None:
        return 0  # attach reports no exit code: kubectl reads the container's status afterwards


class Attach(KubeletBase):
    async def attach_session(self, namespace: str, pod: str, container: str, *, stdin: bool) -> AttachSession:
        """Attach to the running ``container`` of ``namespace/pod`` (its stdin only if ``stdin``)."""
        target = await running_container(self, namespace, pod, container)
        api = self.runtime.docker.api

        def open_it() -> tuple[dict[str, Any], Any]:
            config = api.inspect_container(target.id)["Config"]
            params = {"stdin": 1 if stdin and config.get("OpenStdin") else 0, "stdout": 1, "stderr": 1, "stream": 1}
            return config, api.attach_socket(target.id, params=params)

        try:
            config, raw = await self._docker(open_it)
        except docker.errors.APIError as e:
            raise BadRequest(f"failed to attach to container: {e.explanation or e}") from e
        return AttachSession(api, target.id, raw, tty=bool(config.get("Tty")),
                             stdin_once=bool(config.get("StdinOnce")), loop=asyncio.get_running_loop())
