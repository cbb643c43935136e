"""The ``minikube-lite`` CLI's behaviour and messages, against a stub daemon.

The real daemon is exercised by the end-to-end tests; here a tiny HTTP server (written to a
temporary folder) stands in for it: it answers ``/readyz`` and the node, and exits on SIGTERM
(or ignores it, to test the SIGKILL fallback). The Docker engine is faked where it matters, so
these tests need neither the daemon nor Docker. Every test has its own state folder and
``$KUBECONFIG``: the user's files are never touched.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from minikube_lite.cli import main as cli_main
from minikube_lite.config import Settings

_real_docker_ping = cli_main.docker_ping

STUB_DAEMON = r'''
import argparse, json, os, signal, sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

p = argparse.ArgumentParser()
p.add_argument("--state-dir"); p.add_argument("--port", type=int); p.add_argument("--host")
p.add_argument("--ignore-term", action="store_true"); p.add_argument("--not-ready", action="store_true")
p.add_argument("--crash", action="store_true")
a = p.parse_args()
if a.crash:
    print("Traceback (most recent call last): stub daemon crashed on purpose", flush=True)
    sys.exit(3)
NODE = {"kind": "Node", "metadata": {"name": "minikube-lite"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "addresses": [{"type": "InternalIP", "address": "172.31.0.1"},
                                 {"type": "Hostname", "address": "minikube-lite"}]}}

from datetime import UTC, datetime
# the kubelet of this run renews the node's Lease once it runs (start waits for that, not only Ready)
LEASE = {"kind": "Lease", "metadata": {"name": "minikube-lite", "namespace": "kube-node-lease"},
         "spec": {"renewTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/readyz" and not a.not_ready:
            body = b"ok"
        elif self.path == "/api/v1/nodes/minikube-lite":
            body = json.dumps(NODE).encode()
        elif self.path == "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/minikube-lite":
            body = json.dumps(LEASE).encode()
        else:
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

srv = ThreadingHTTPServer((a.host, a.port), H)
import ssl
from pathlib import Path
from minikube_lite.auth import pki
pki.ensure_serving(Path(a.state_dir))  # HTTPS with the cluster's certificate, as the daemon
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
paths = pki.paths(Path(a.state_dir))
ctx.load_cert_chain(str(paths.server_crt), str(paths.server_key))
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
if a.ignore_term:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, lambda *_: (print("stub: SIGTERM", flush=True), os._exit(0)))
print("stub daemon listening on", a.port, flush=True)
srv.serve_forever()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """A state folder, a private $KUBECONFIG, a stub daemon command and a 'running' Docker engine."""
    stub = tmp_path / "stub_daemon.py"
    stub.write_text(STUB_DAEMON)
    extra: list[str] = []

    def command(settings: Settings) -> list[str]:
        return [sys.executable, str(stub), "--state-dir", str(settings.state_dir), "--port", str(settings.port),
                "--host", settings.host, *extra]

    kc = tmp_path / "kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(kc))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(cli_main, "daemon_command", command)
    monkeypatch.setattr(cli_main, "docker_ping", lambda timeout=3.0: "99.0-test")
    state = tmp_path / "state"
    info: dict[str, object] = {"state": state, "kc": kc, "extra": extra, "port": free_port()}
    yield info
    cli_main.stop_daemon(Settings.load(state.resolve()), timeout=5)


def run(*args: str) -> object:
    return CliRunner().invoke(cli_main.cli, list(args), catch_exceptions=False)


def test_version() -> None:
    result = run("version")
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "minikube-lite version: v0.1.0"


def test_start_status_ip_stop_cycle(env: dict[str, object]) -> None:
    state, port = str(env["state"]), int(env["port"])  # type: ignore[call-overload]
    result = run("start", "--state-dir", state, "--port", str(port))
    assert result.exit_code == 0, result.output
    assert "😄  minikube-lite v0.1.0" in result.output
    assert f"🚀  Starting API server on https://127.0.0.1:{port} ..." in result.output
    assert ('🏄  Done! kubectl is now configured to use "minikube-lite" cluster and "default" namespace by default'
            in result.output)
    settings = Settings.load(Path(state).resolve())
    assert settings.port == port
    pid = int(settings.pid_file.read_text())
    assert cli_main.pid_alive(pid)

    kc = yaml.safe_load(Path(str(env["kc"])).read_text())
    assert kc["current-context"] == "minikube-lite"
    assert kc["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{port}"
    standalone = json.loads((Path(state) / "kubeconfig").read_text())
    assert standalone["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{port}"

    again = run("start", "--state-dir", state)
    assert again.exit_code == 0
    assert "is already running" in again.output
    assert int(settings.pid_file.read_text()) == pid

    status = run("status", "--state-dir", state)
    assert status.exit_code == 0, status.output
    assert status.output.splitlines()[:6] == [
        "minikube-lite", "type: Control Plane", "host: Running", "kubelet: Running", "apiserver: Running",
        "kubeconfig: Configured"]
    as_json = json.loads(run("status", "--state-dir", state, "-o", "json").output)
    assert as_json["APIServer"] == "Running"

    ip = run("ip", "--state-dir", state)
    assert ip.exit_code == 0
    assert ip.output.strip() == "172.31.0.1"

    stop = run("stop", "--state-dir", state)
    assert stop.exit_code == 0
    assert "🛑  1 node stopped." in stop.output
    assert not cli_main.pid_alive(pid)
    assert not settings.pid_file.exists()
    assert "stub: SIGTERM" in settings.log_file.read_text()

    stop2 = run("stop", "--state-dir", state)
    assert stop2.exit_code == 0
    assert "is not running" in stop2.output

    status2 = run("status", "--state-dir", state)
    assert status2.exit_code != 0
    assert "apiserver: Stopped" in status2.output
    assert "kubelet: Stopped" in status2.output

    ip2 = run("ip", "--state-dir", state)
    assert ip2.exit_code != 0
    assert "must be running" in ip2.output and "minikube-lite start" in ip2.output


def test_start_without_docker_engine(env: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main, "docker_ping", _real_docker_ping)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{env['state']}-nothing.sock")
    result = run("start", "--state-dir", str(env["state"]))
    assert result.exit_code == 1
    assert "The Docker engine is not running" in result.output
    assert "sudo dockerd &" in result.output and "scripts/setup.sh" in result.output
    assert not Path(str(env["state"]), "daemon.pid").exists()


class _DeniedSocket:
    def __init__(self, *args: object) -> None:
        pass

    def settimeout(self, t: float) -> None:
        pass

    def connect(self, path: str) -> None:
        raise PermissionError(13, "Permission denied")

    def close(self) -> None:
        pass


def test_docker_permission_denied_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(cli_main.socket, "socket", _DeniedSocket)
    with pytest.raises(cli_main.EngineProblem) as exc:
        _real_docker_ping()
    assert "Permission denied" in str(exc.value)
    assert "usermod -aG docker" in str(exc.value)


def test_docker_ping_reads_engine_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n"
                     b"Content-Length: 2\r\n\r\nOK")
        conn.close()

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    assert _real_docker_ping() == "20.10.24+dfsg1"
    t.join(2)
    server.close()


def test_port_taken_by_another_program(env: dict[str, object]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        result = run("start", "--state-dir", str(env["state"]), "--port", str(port))
    assert result.exit_code == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in result.output
    assert "--port" in result.output


def test_daemon_crash_shows_log(env: dict[str, object]) -> None:
    env["extra"].append("--crash")  # type: ignore[attr-defined]
    result = run("start", "--state-dir", str(env["state"]), "--port", str(env["port"]))
    assert result.exit_code == 1
    assert "The daemon exited (code 3)" in result.output
    assert "stub daemon crashed on purpose" in result.output
    assert not Path(str(env["state"]), "daemon.pid").exists()


def test_daemon_never_ready_times_out(env: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    env["extra"].append("--not-ready")  # type: ignore[attr-defined]
    monkeypatch.setattr(cli_main, "READY_TIMEOUT", 3.0)  # the stub makes its certificate first
    result = run("start", "--state-dir", str(env["state"]), "--port", str(env["port"]))
    assert result.exit_code == 1
    assert "did not answer within" in result.output
    assert "stub daemon listening" in result.output  # the log's last lines
    assert not Path(str(env["state"]), "daemon.pid").exists()


def test_stop_kills_a_daemon_that_ignores_sigterm(env: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    env["extra"].append("--ignore-term")  # type: ignore[attr-defined]
    state = str(env["state"])
    assert run("start", "--state-dir", state, "--port", str(env["port"])).exit_code == 0
    pid = int(Path(state, "daemon.pid").read_text())
    monkeypatch.setattr(cli_main, "STOP_TIMEOUT", 0.5)
    result = run("stop", "--state-dir", state)
    assert result.exit_code == 0
    assert "killing it" in result.output
    assert not cli_main.pid_alive(pid)


def test_stale_pid_file_is_ignored(env: dict[str, object]) -> None:
    state = Path(str(env["state"]))
    state.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (state / "daemon.pid").write_text(f"{dead.pid}\n")
    result = run("stop", "--state-dir", str(state))
    assert "is not running" in result.output
    assert not (state / "daemon.pid").exists()
    # a live process that is not this cluster's daemon (pid reused) is not ours either
    (state / "daemon.pid").write_text(f"{os.getpid()}\n")
    assert cli_main.running_pid(Settings.load(state.resolve())) is None


def test_delete_removes_state_and_context(env: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    state = str(env["state"])
    assert run("start", "--state-dir", state, "--port", str(env["port"])).exit_code == 0
    pid = int(Path(state, "daemon.pid").read_text())

    def no_engine(timeout: float = 3.0) -> str:
        raise cli_main.EngineProblem("engine down (test)")

    monkeypatch.setattr(cli_main, "docker_ping", no_engine)
    result = run("delete", "--state-dir", state)
    assert result.exit_code == 0, result.output
    assert "Could not reach the Docker engine" in result.output
    assert "Removed all traces" in result.output
    assert not Path(state).exists()
    assert not cli_main.pid_alive(pid)
    kc = yaml.safe_load(Path(str(env["kc"])).read_text())
    assert kc["contexts"] == [] and kc["current-context"] == ""


def test_foreground_runs_daemon_in_this_process(env: dict[str, object], tmp_path: Path) -> None:
    """--foreground exec's the daemon: same pid as the CLI, pid file written, SIGTERM ends it."""
    state, port = str(env["state"]), int(env["port"])  # type: ignore[call-overload]
    wrapper = tmp_path / "fg.py"
    wrapper.write_text(
        "import sys\nfrom minikube_lite.cli import main as m\n"
        f"m.daemon_command = lambda s: [sys.executable, {str(tmp_path / 'stub_daemon.py')!r}, '--state-dir',"
        " str(s.state_dir), '--port', str(s.port), '--host', s.host]\n"
        "m.docker_ping = lambda timeout=3.0: 'test'\n"
        "m.main()\n")
    proc = subprocess.Popen([sys.executable, str(wrapper), "start", "--foreground", "--state-dir", state,
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        settings = Settings(state_dir=Path(state).resolve(), port=port)
        deadline = time.monotonic() + 10
        while not cli_main.api_ready(settings) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cli_main.api_ready(settings)
        assert int(settings.pid_file.read_text()) == proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert "Starting API server" in out and "stub: SIGTERM" in out


def test_store_and_leader_elect_reach_the_daemon_and_are_kept(tmp_path: Path) -> None:
    """--store / --etcd-* / --leader-elect are saved with the cluster and passed to the daemon;
    --store sqlite goes back to the embedded store and drops the etcd files."""
    from minikube_lite.cli import main as m

    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    opts = {**m._store_options("etcd://127.0.0.1:2379,127.0.0.1:22379", str(ca), None, None), "leader_elect": True}
    settings = m._settings_for(str(tmp_path / "state"), 8123, None, opts)
    settings.save()
    cmd = m.daemon_command(settings)
    assert cmd[cmd.index("--store") + 1] == "etcd://127.0.0.1:2379,127.0.0.1:22379"
    assert cmd[cmd.index("--etcd-cafile") + 1] == str(ca.resolve()) and "--leader-elect" in cmd
    assert "--etcd-certfile" not in cmd
    again = m._settings_for(str(tmp_path / "state"))  # a later start without the flags keeps them
    assert again.store == settings.store and again.leader_elect and again.etcd_cafile == str(ca.resolve())
    back = m._settings_for(str(tmp_path / "state"), store=m._store_options("sqlite", None, None, None))
    assert back.store == "" and back.etcd_cafile == "" and "--store" not in m.daemon_command(back)


@pytest.mark.parametrize(("saved", "flags", "says"), [
    ({"ha": True}, ["--multi-host"], "is an HA control plane (it was started with --ha): --multi-host cannot be"),
    ({"multi_host": True}, ["--ha"], "is a multi-host one (it was started with --multi-host): --ha cannot be"),
    ({}, ["--ha", "--multi-host"], "--multi-host goes with a single API server (not --ha)"),
    ({"ha": True, "multi_host": True}, [], "was started with both --ha and --multi-host"),
])
def test_multi_host_and_ha_are_refused_by_what_the_cluster_is(
        env: dict[str, object], monkeypatch: pytest.MonkeyPatch,
        saved: dict[str, bool], flags: list[str], says: str) -> None:
    """--multi-host on a cluster started with --ha (or --ha on a multi-host one) is refused as the two
    flags together are: a clear error, and nothing changes (settings, the engine, no daemon)."""
    import dataclasses

    state = Path(str(env["state"])).resolve()
    dataclasses.replace(Settings.load(state), state_dir=state, port=int(str(env["port"])), **saved).save()
    before = (state / "settings.json").read_bytes() if (state / "settings.json").exists() else None
    touched: list[str] = []
    monkeypatch.setattr(cli_main, "_enable_overlay", lambda s: touched.append("overlay"))
    monkeypatch.setattr(cli_main, "_start_ha_etcd", lambda s: touched.append("etcd") or s)
    result = run("start", "--state-dir", str(state), *flags)
    assert result.exit_code == 1, result.output
    assert says in result.output, result.output
    assert not touched and not (state / "daemon.pid").exists()
    if before is not None:
        assert (state / "settings.json").read_bytes() == before
    assert Settings.load(state).ha == bool(saved.get("ha")) and Settings.load(state).multi_host == bool(
        saved.get("multi_host"))
