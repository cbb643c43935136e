"""Container probes: liveness, readiness and startup, as Kubernetes' prober runs them.

One asyncio task per (pod, container, probe kind) while the container runs, keyed by the
container id so a restarted container starts over. Each task probes on a fixed grid (the
container's start + ``initialDelaySeconds``, then every ``periodSeconds``), each attempt bounded
by ``timeoutSeconds``; ``successThreshold`` consecutive successes or ``failureThreshold``
consecutive failures flip the result. As in Kubernetes:

- readiness starts "not ready" and drives the container's ``ready``, hence the pod's
  ``ContainersReady``/``Ready`` conditions and ``READY 0/1``;
- liveness starts "alive"; when it fails the container is killed (events ``Unhealthy`` then
  ``Killing``) and the restart policy brings it back;
- startup holds liveness and readiness back until it succeeds once, and kills the container when
  it fails ``failureThreshold`` times.

Handlers: ``httpGet`` (asyncio streams from the host to the pod IP: no thread per probe, so 100
pods probed every second cost little), ``tcpSocket`` (a connect), ``exec`` (``docker exec`` in
the kubelet's Docker pool; exit 0 is success), ``grpc`` (the standard health service over h2c is
not spoken here: reported as a probe error).

A result change only queues the pod's key: the sync writes the status, so a readiness change is
visible in about the time of one sync after the probe that saw it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from .base import KubeletBase, pod_key, pod_uid
from .runtime import SANDBOX, ContainerRecord, epoch
from .status import Observed, group_records

log = logging.getLogger(__name__)

KINDS = ("startup", "liveness", "readiness")
USER_AGENT = "kube-probe/1.32"


@dataclass(frozen=True)
class ProbeSpec:
    """A probe's handler and timing, with Kubernetes' defaults."""

    handler: dict[str, Any]
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def parse(cls, probe: dict[str, Any]) -> ProbeSpec:
        return cls(
            handler=probe,
            initial_delay=float(probe.get("initialDelaySeconds") or 0),
            period=float(probe.get("periodSeconds") or 10),
            timeout=float(probe.get("timeoutSeconds") or 1),
            success_threshold=int(probe.get("successThreshold") or 1),
            failure_threshold=int(probe.get("failureThreshold") or 3),
        )


@dataclass
class ProbeState:
    """Results of one container's probes (one container id)."""

    container_id: str
    pod_uid: str = ""
    ready: bool = False
    started: bool = False
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)


def resolve_port(port: Any, container: dict[str, Any]) -> int:
    """A probe's ``port``: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"unknown port name {port!r}")


def http_request(host: str, port: int, path: str, headers: list[dict[str, Any]]) -> bytes:
    """The bytes of the GET Kubernetes' prober sends (user headers override Host, User-Agent, Accept)."""
    given = {str(h.get("name", "")).lower(): str(h.get("value", "")) for h in headers if h.get("name")}
    lines = [f"GET {path or '/'} HTTP/1.1",
             f"Host: {given.pop('host', f'{host}:{port}')}",
             f"User-Agent: {given.pop('user-agent', USER_AGENT)}",
             f"Accept: {given.pop('accept', '*/*')}",
             "Connection: close"]
    names = {str(h.get("name", "")).lower(): str(h.get("name")) for h in headers if h.get("name")}
    lines += [f"{names[k]}: {v}" for k, v in given.items() if k != "connection"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")


async def probe_http(host: str, port: int, path: str, headers: list[dict[str, Any]], scheme: str,
                     timeout: float) -> tuple[bool, str]:
    url = f"{scheme.lower()}://{host}:{port}{path or '/'}"
    ctx: ssl.SSLContext | None = None
    if scheme.upper() == "HTTPS":  # Kubernetes does not verify the pod's certificate
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

    async def attempt() -> tuple[bool, str]:
        reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
        try:
            writer.write(http_request(host, port, path, headers))
            line = await reader.readline()
            parts = line.decode("latin-1").split()
            if len(parts) < 2 or not parts[1].isdigit():
                return False, f'Get "{url}": malformed HTTP response {line[:40]!r}'
            code = int(parts[1])
            if 200 <= code < 400:
                return True, ""
            return False, f"HTTP probe failed with statuscode: {code}"
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    try:
        return await asyncio.wait_for(attempt(), timeout)
    except TimeoutError:
        return False, (f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting '
                       "headers)")
    except ConnectionRefusedError:
        return False, f'Get "{url}": dial tcp {host}:{port}: connect: connection refused'
    except OSError as e:
        return False, f'Get "{url}": dial tcp {host}:{port}: {os.strerror(e.errno) if e.errno else e}'


async def probe_tcp(host: str, port: int, timeout: float) -> tuple[bool, str]:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        return False, f"dial tcp {host}:{port}: i/o timeout"
    except ConnectionRefusedError:
        return False, f"dial tcp {host}:{port}: connect: connection refused"
    except OSError as e:
        return False, f"dial tcp {host}:{port}: connect: {os.strerror(e.errno) if e.errno else e}"
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True, ""


class Prober(KubeletBase):
    """Starts and stops the probe tasks of the pods' containers; owns their results."""

    _probes: dict[tuple[str, str], ProbeState]  # (pod uid, container name) -> state
    _kills: set[asyncio.Task[None]]  # kills after failed probes and fast status writes, in flight
    _last_records: dict[str, list[ContainerRecord]]  # uid -> the records of the pod's last sync

    async def _write_status(self, pod: dict[str, Any], records: list[ContainerRecord]) -> None:
        raise NotImplementedError

    def _probe_view(self, uid: str, records: list[ContainerRecord], pod: dict[str, Any]) -> Observed:
        """Readiness and startup results of the pod's current containers, for its status."""
        observed = Observed()
        latest = {name: attempts[-1] for name, attempts in group_records(records).items() if name != SANDBOX}
        for c in (pod.get("spec") or {}).get("containers") or []:
            name = c["name"]
            state = self._probes.get((uid, name))
            record = latest.get(name)
            current = state is not None and record is not None and state.container_id == record.id
            if c.get("startupProbe"):
                observed.started[name] = bool(current and state and state.started)
            if c.get("readinessProbe"):
                observed.ready[name] = bool(current and state and state.ready)
        return observed

    def _sync_probes(self, pod: dict[str, Any], records: list[ContainerRecord]) -> None:
        """Run probe tasks for each running container that has probes; stop those of the others."""
        uid = pod_uid(pod)
        grouped = group_records(records)
        sandboxes = grouped.get(SANDBOX, [])
        pod_ip = sandboxes[-1].ip if sandboxes and sandboxes[-1].running else None
        wanted: set[str] = set()
        for c in (pod.get("spec") or {}).get("containers") or []:
            if not any(c.get(f"{k}Probe") for k in KINDS):
                continue
            attempts = grouped.get(c["name"], [])
            record = attempts[-1] if attempts else None
            if record is None or not record.running or not pod_ip:
                continue
            wanted.add(c["name"])
            key = (uid, c["name"])
            state = self._probes.get(key)
            if state is not None and state.container_id == record.id:
                continue
            if state is not None:
                self._stop_probe_tasks(state)
            state = ProbeState(container_id=record.id, pod_uid=uid, started=not c.get("startupProbe"))
            self._probes[key] = state
            for kind in KINDS:
                if c.get(f"{kind}Probe"):
                    state.tasks[kind] = asyncio.get_running_loop().create_task(
                        self._probe_loop(pod, c, kind, record, pod_ip, state), name=f"probe {kind} {c['name']}")
        for key in [k for k in self._probes if k[0] == uid and k[1] not in wanted]:
            self._stop_probe_tasks(self._probes.pop(key))

    def _forget_probes(self, uid: str) -> None:
        for key in [k for k in self._probes if k[0] == uid]:
            self._stop_probe_tasks(self._probes.pop(key))

    def _stop_all_probes(self) -> None:
        for state in self._probes.values():
            self._stop_probe_tasks(state)
        self._probes.clear()

    @staticmethod
    def _stop_probe_tasks(state: ProbeState) -> None:
        for task in state.tasks.values():
            task.cancel()
        state.tasks.clear()

    async def _run_probe(self, handler: dict[str, Any], container: dict[str, Any], record: ContainerRecord,
                         pod_ip: str, timeout: float) -> tuple[bool, str]:
        if "exec" in handler:
            command = (handler["exec"] or {}).get("command") or []
            try:
                code, output = await asyncio.wait_for(self._docker(self.runtime.exec_output, record.id, command),
                                                      timeout)
            except TimeoutError:
                return False, f"command {command} timed out"
            except Exception as e:  # noqa: BLE001 - e.g. the container died meanwhile
                return False, str(e)
            return code == 0, output.strip()
        if "httpGet" in handler:
            h = handler["httpGet"] or {}
            try:
                port = resolve_port(h.get("port"), container)
            except ValueError as e:
                return False, str(e)
            return await probe_http(h.get("host") or pod_ip, port, h.get("path") or "/", h.get("httpHeaders") or [],
                                    h.get("scheme") or "HTTP", timeout)
        if "tcpSocket" in handler:
            h = handler["tcpSocket"] or {}
            try:
                port = resolve_port(h.get("port"), container)
            except ValueError as e:
                return False, str(e)
            return await probe_tcp(h.get("host") or pod_ip, port, timeout)
        if "grpc" in handler:
            return False, "grpc probes are not supported by minikube-lite"
        return False, "the probe has no handler"

    async def _probe_loop(self, pod: dict[str, Any], container: dict[str, Any], kind: str, record: ContainerRecord,
                          pod_ip: str, state: ProbeState) -> None:
        spec = ProbeSpec.parse(container[f"{kind}Probe"])
        cname, key = container["name"], pod_key(pod)
        label = {"startup": "Startup", "liveness": "Liveness", "readiness": "Readiness"}[kind]
        loop = asyncio.get_running_loop()
        started = epoch(record.started_at) or time.time()
        # The probe grid, in loop time: start + initialDelaySeconds, then every periodSeconds.
        first = loop.time() + max(0.0, started + spec.initial_delay - time.time())
        successes = failures = 0
        result: bool | None = {"readiness": False, "liveness": True, "startup": None}[kind]
        n = 0
        while True:
            due = first + n * spec.period
            if due < loop.time() - spec.period:  # fell behind (a slow probe): skip missed slots, never burst
                n = int((loop.time() - first) // spec.period) + 1
                due = first + n * spec.period
            await asyncio.sleep(max(0.0, due - loop.time()))
            n += 1
            if kind != "startup" and not state.started:
                continue  # the startup probe holds the others back
            ok, message = await self._run_probe(spec.handler, container, record, pod_ip, spec.timeout)
            if ok:
                successes, failures = successes + 1, 0
                threshold = 1 if kind != "readiness" else spec.success_threshold
                if result is not True and successes >= threshold:
                    result = True
                    self._probe_result(state, kind, True, key)
                    if kind == "startup":
                        return  # done: liveness and readiness take over
                continue
            successes, failures = 0, failures + 1
            self._events.record(pod, "Unhealthy", f"{label} probe failed: {message}".rstrip(), type="Warning",
                                container=cname)
            if failures < spec.failure_threshold or result is False:
                continue
            result = False
            if kind == "readiness":
                self._probe_result(state, kind, False, key)
                continue
            self._events.record(pod, "Killing", f"Container {cname} failed {kind} probe, will be restarted",
                                container=cname)
            grace = container[f"{kind}Probe"].get("terminationGracePeriodSeconds")
            if grace is None:
                grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            self._spawn_kill(pod, record, float(grace))
            return

    def _probe_result(self, state: ProbeState, kind: str, ok: bool, key: str) -> None:
        if kind == "readiness":
            state.ready = ok
        elif kind == "startup":
            state.started = ok
        # Fast path: write the status from the records of the last sync, without waiting for Docker
        # (a resync of every pod may hold the Docker pool for a while). A running sync of the pod
        # already computes with the new result, or runs once more (the key is marked dirty).
        pod, records = self._pods.get(key), self._last_records.get(state.pod_uid)
        if self._queue.busy(key) or pod is None or records is None or pod_uid(pod) != state.pod_uid:
            self._queue.add(key)
            return
        task = asyncio.get_running_loop().create_task(self._write_status(pod, records), name=f"probe status {key}")
        self._kills.add(task)
        task.add_done_callback(self._kills.discard)

    def _spawn_kill(self, pod: dict[str, Any], record: ContainerRecord, grace: float) -> None:
        """Stop a container that failed its liveness/startup probe; the restart policy does the rest."""
        async def kill() -> None:
            try:
                await self._stop_container(pod, record, grace, event=False)
            except Exception as e:  # noqa: BLE001 - the next sync sees whatever state it left
                log.warning("could not kill container %s: %s", record.name, e)
        task = asyncio.get_running_loop().create_task(kill(), name=f"probe kill {record.name}")
        self._kills.add(task)
        task.add_done_callback(self._kills.discard)

    async def _stop_container(self, pod: dict[str, Any], record: ContainerRecord, grace: float, *,
                              event: bool = True) -> None:
        raise NotImplementedError
