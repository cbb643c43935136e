"""The kubelet on the real Docker engine: engine connection lost and back, OOMKilled, security
context, stdin/tty (with the in-memory API of test_kubelet_fakeclient, as test_kubelet_docker).

The engine restart is simulated without touching the shared engine: the kubelet talks to Docker
through a small Unix-socket relay that the test stops (every connection, the event stream
included, breaks; calls fail) and starts again, while the pod's container is killed directly on
the engine meanwhile, as an engine restart would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

import docker

from minikube_lite.kubelet import Kubelet
from tests.e2e.test_kubelet_docker import NODE, SLEEP, Env, env, eventually, image, run_with_kubelet, running

__all__ = ["env", "image"]  # fixtures used below


class SocketRelay:
    """A Unix socket that forwards every connection to the Docker engine's socket, until stopped."""

    def __init__(self, path: Path, target: str) -> None:
        self.path, self.target = path, target
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(self.path))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _engine_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return host.removeprefix("unix://")


def test_kubelet_reconnects_when_the_engine_comes_back(env: Env) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mkl-relay-"))
    relay = SocketRelay(folder / "docker.sock", _engine_socket())
    relay.start()
    client = docker.DockerClient(base_url=f"unix://{relay.path}", timeout=10)

    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("phoenix", [dict(SLEEP)], terminationGracePeriodSeconds=0)
        await eventually(lambda: running(env.api, "phoenix"), what="Running")
        relay.stop()  # the engine "goes away": the event stream and every call break
        await asyncio.sleep(0.5)
        env.app_container("phoenix", "app").kill()  # what died while the kubelet could not see
        await asyncio.sleep(1.0)
        relay.start()  # the engine is back
        pod = await eventually(lambda: running(env.api, "phoenix", restarts=1), timeout=15,
                               what="the pod brought back after the reconnection")
        [cs] = pod["status"]["containerStatuses"]
        assert cs["lastState"]["terminated"]["exitCode"] == 137
        # and Docker events flow again: a second kill is seen at once
        env.app_container("phoenix", "app").kill()
        await eventually(lambda: running(env.api, "phoenix", restarts=2), timeout=15, what="second restart")

    try:
        run_with_kubelet(env, scenario, docker_client=client, resync_seconds=30.0)
    finally:
        relay.stop()
        client.close()


def _terminated(env: Env, name: str) -> dict[str, Any] | None:
    pod = env.api.pod(name) or {}
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    return (statuses[0].get("state") or {}).get("terminated")


def test_memory_limit_is_oom_killed(env: Env) -> None:
    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("hungry", [{"name": "app", "command": [
            "sh", "-c", 'x=$(head -c 100m /dev/zero | tr "\\0" a); echo survived'],
            "resources": {"limits": {"memory": "20Mi"}}}], restartPolicy="Never")
        term = await eventually(lambda: _terminated(env, "hungry"), timeout=30, what="terminated")
        assert term["reason"] == "OOMKilled", term
        assert term["exitCode"] == 137
        assert env.api.pod("hungry")["status"]["phase"] == "Failed"

    run_with_kubelet(env, scenario)


async def _logs(kubelet: Kubelet, pod: str) -> str:
    return b"".join([c async for c in kubelet.logs("default", pod, "app")]).decode()


def test_security_context_on_docker(env: Env) -> None:
    script = ("id -u; id -g; grep CapEff /proc/self/status; (touch /rootfile 2>/dev/null && echo rw) || echo ro; "
              "(ip link add dummy0 type dummy 2>/dev/null && echo netadmin) || echo no-netadmin")

    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("sec", [{"name": "app", "command": ["sh", "-c", script], "securityContext": {
            "runAsUser": 1000, "runAsGroup": 3000, "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]}}}], restartPolicy="Never")
        await env.create_pod("priv", [{"name": "app", "command": ["sh", "-c", script],
                                       "securityContext": {"privileged": True}}], restartPolicy="Never")
        await env.create_pod("netadmin", [{"name": "app", "command": ["sh", "-c", script],
                                           "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}],
                             restartPolicy="Never")
        for name in ("sec", "priv", "netadmin"):
            await eventually(lambda n=name: _terminated(env, n), timeout=30, what=f"{name} finished")
        sec = (await _logs(kubelet, "sec")).split("\n")
        assert sec[0] == "1000" and sec[1] == "3000"
        assert sec[2].split()[1] == "0000000000000000"  # every capability dropped
        assert sec[3] == "ro" and sec[4] == "no-netadmin"
        # privileged reaches Docker; whether it runs depends on the engine (a nested engine without
        # every capability refuses it, and the pod shows the engine's reason, as a node would)
        [priv_ctr] = [c for c in env.containers("priv") if c.labels["io.kubernetes.container.name"] == "app"]
        assert priv_ctr.attrs["HostConfig"]["Privileged"] is True
        term = _terminated(env, "priv")
        if term["reason"] == "ContainerCannotRun":
            assert "operation not permitted" in term["message"]
        else:
            priv = (await _logs(kubelet, "priv")).split("\n")
            assert priv[0] == "0" and priv[3] == "rw" and priv[4] == "netadmin"
        net = (await _logs(kubelet, "netadmin")).split("\n")
        net_admin = 1 << 12  # CAP_NET_ADMIN in the effective set
        assert int(net[2].split()[1], 16) & net_admin
        assert not int(sec[2].split()[1], 16) & net_admin

    run_with_kubelet(env, scenario)


def test_run_as_non_root_and_no_new_privileges(env: Env) -> None:
    """runAsNonRoot with an image that runs as root is CreateContainerConfigError with the kubelet's
    message; with a non-root runAsUser it runs. allowPrivilegeEscalation: false sets NoNewPrivs."""
    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("rooted", [{"name": "app", "command": ["sleep", "3600"],
                                         "securityContext": {"runAsNonRoot": True}}])
        script = "grep NoNewPrivs /proc/self/status; id -u; sleep 3600"
        await env.create_pod("unrooted", [{"name": "app", "command": ["sh", "-c", script],
                                           "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                                               "allowPrivilegeEscalation": False}}])

        def waiting(name: str) -> dict[str, Any] | None:
            cs = ((env.api.pod(name) or {}).get("status") or {}).get("containerStatuses") or [{}]
            return (cs[0].get("state") or {}).get("waiting")

        state = await eventually(lambda: (w := waiting("rooted")) and w.get("reason") == "CreateContainerConfigError"
                                 and w, what="CreateContainerConfigError")
        assert state["message"].startswith("container has runAsNonRoot and image will run as root (pod: \"rooted_default(")
        assert not [c for c in env.containers("rooted") if c.labels.get("io.kubernetes.container.name") == "app"]
        await eventually(lambda: running(env.api, "unrooted"), what="unrooted Running")
        out = await eventually(lambda: (o := b"".join(env.app_container("unrooted", "app").logs(stream=False)
                                                      .splitlines(keepends=True))) and b"1000" in o and o,
                               what="unrooted's output")
        assert out.split() == [b"NoNewPrivs:", b"1", b"1000"]

    run_with_kubelet(env, scenario)


def test_stdin_and_tty_keep_a_shell_running(env: Env) -> None:
    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("shell", [{"name": "app", "command": ["sh"], "stdin": True, "tty": True}])
        await env.create_pod("no-stdin", [{"name": "app", "command": ["sh"]}], restartPolicy="Never")
        await eventually(lambda: running(env.api, "shell"), what="shell running")
        term = await eventually(lambda: _terminated(env, "no-stdin"), timeout=20, what="no-stdin finished")
        assert term["reason"] == "Completed"  # sh with no stdin reads EOF and ends, as on Kubernetes
        await asyncio.sleep(1.0)
        assert running(env.api, "shell")  # with stdin open and a TTY it waits for input
        attrs = env.app_container("shell", "app").attrs["Config"]
        assert attrs["Tty"] is True and attrs["OpenStdin"] is True

    run_with_kubelet(env, scenario)


assert NODE  # the node name the helpers bind pods to
