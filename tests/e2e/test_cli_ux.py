"""What a newcomer sees from the ``minikube-lite`` command, on a real cluster and Docker engine.

One private cluster walks the life cycle a learner goes through: ``start`` (minikube's progress
lines ending in "Done! kubectl is now configured ..."), a second ``start``, another cluster on
the same port, ``status`` per component, ``dashboard --url``, ``logs``, ``stop``, ``stop`` again,
``status`` of a stopped cluster, ``delete``. The Docker-socket errors run the real CLI against a
socket that refuses (no engine; permission denied, with the capabilities dropped).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import free_port, wait_for


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", *args], check=False, env=env,
                          capture_output=True, text=True, timeout=90)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
    e.update(KUBECONFIG=str(tmp_path / "kubeconfig"), HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return e


def test_life_cycle_messages(env: dict[str, str], tmp_path: Path) -> None:
    from minikube_lite.images import ensure_images

    ensure_images()
    state, port = str(tmp_path / "state"), free_port()
    sd = ["--state-dir", state]
    try:
        out = cli(env, "start", "--port", str(port), *sd)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0].startswith("😄  minikube-lite v") and "Using the Docker engine" in lines[1]
        assert any("API server ready in" in line for line in lines)
        assert 'Done! kubectl is now configured to use "minikube-lite" cluster' in out.stdout
        assert "minikube-lite dashboard --url" in lines[-1]

        again = cli(env, "start", *sd)
        assert again.returncode == 0 and "is already running at" in again.stdout

        other = cli(env, "start", "--port", str(port), "--state-dir", str(tmp_path / "other"))
        assert other.returncode == 1
        assert f"Port {port}" in other.stderr and "another minikube-lite cluster" in other.stderr
        assert "Choose a free port: minikube-lite start --port" in other.stderr

        def status() -> subprocess.CompletedProcess[str]:
            return cli(env, "status", *sd)

        st = wait_for(lambda: (s := status()).returncode == 0 and s, timeout=30, what="status all Running")
        node_ip = cli(env, "ip", *sd).stdout.strip()
        assert st.stdout.splitlines() == ["minikube-lite", "type: Control Plane", "host: Running",
                                          "kubelet: Running", "apiserver: Running", "kubeconfig: Configured",
                                          f"apiserver address: https://127.0.0.1:{port} (this machine only)",
                                          f"service ports: 127.0.0.1, {node_ip} (this machine only)"]

        url = cli(env, "dashboard", "--url", *sd).stdout.strip()
        token = cli(env, "token", *sd).stdout.strip()
        assert url == f"https://127.0.0.1:{port}/dashboard/#token={token}"
        page = httpx.get(url, timeout=10, verify=str(tmp_path / "state" / "certs" / "ca.crt"))
        assert page.status_code == 200 and "minikube-lite dashboard" in page.text

        logs = cli(env, "logs", *sd)
        assert logs.returncode == 0 and "--- minikube-lite start" in logs.stdout

        stop = cli(env, "stop", *sd)
        assert stop.returncode == 0 and "1 node stopped." in stop.stdout
        stop2 = cli(env, "stop", *sd)
        assert stop2.returncode == 0 and "not running" in stop2.stdout and "minikube-lite start" in stop2.stdout
        stopped = status()
        assert stopped.returncode != 0 and "apiserver: Stopped" in stopped.stdout
        assert 'To start a cluster, run: "minikube-lite start"' in stopped.stdout
        ip = cli(env, "ip", *sd)
        assert ip.returncode == 1 and "minikube-lite start" in ip.stderr
    finally:
        gone = cli(env, "delete", *sd)
    assert gone.returncode == 0 and "Removed all traces" in gone.stdout


def test_no_docker_engine(env: dict[str, str], tmp_path: Path) -> None:
    env["DOCKER_HOST"] = f"unix://{tmp_path}/docker.sock"
    out = cli(env, "start", "--state-dir", str(tmp_path / "s"), "--port", str(free_port()))
    assert out.returncode == 1
    assert "The Docker engine is not running" in out.stderr and "sudo dockerd" in out.stderr
    st = cli(env, "status", "--state-dir", str(tmp_path / "s"))
    assert "host: Stopped" in st.stdout and st.returncode != 0


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to drop the capability that bypasses file permissions")
def test_permission_denied_on_the_docker_socket(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        os.chown(path, 65534, 65534)
        os.chmod(path, 0o600)
        env["DOCKER_HOST"] = f"unix://{path}"
        out = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", sys.executable, "-m",
                              "minikube_lite.cli.main", "start", "--state-dir", str(tmp_path / "s"),
                              "--port", str(free_port())], check=False, env=env, capture_output=True, text=True,
                             timeout=60)
    assert out.returncode == 1
    assert "Permission denied on the Docker socket" in out.stderr and "usermod -aG docker" in out.stderr
