"""The CLI's learner-facing messages and the ``logs`` / ``dashboard`` / ``version`` commands.

Decisions only: the Docker socket, the daemon and the browser are replaced where needed (the
end-to-end ``tests/e2e/test_cli_ux.py`` runs the same commands against a real cluster). Every
error message must say what to do next.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from minikube_lite.cli import main as cli_main


def run(*args: str) -> Any:
    return CliRunner().invoke(cli_main.cli, list(args), catch_exceptions=False)


def test_tail_lines_reads_only_the_end(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    log.write_text("".join(f"line {i} " + "x" * 2000 + "\n" for i in range(200)))
    lines, size = cli_main._tail_lines(log, 60)
    assert len(lines) == 60 and lines[0].startswith("line 140 ") and lines[-1].startswith("line 199 ")
    assert size == log.stat().st_size
    assert cli_main._tail_lines(log, 0)[0] == []
    assert len(cli_main._tail_lines(log, 1000)[0]) == 200


def test_logs_without_a_cluster_says_how_to_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_main.cli, ["logs", "--state-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "minikube-lite start" in result.output and "No log at" in result.output


def test_logs_prints_the_last_lines(tmp_path: Path) -> None:
    (tmp_path / "daemon.log").write_text("".join(f"entry {i}\n" for i in range(100)))
    result = run("logs", "--state-dir", str(tmp_path), "-n", "3")
    assert result.output.splitlines() == ["entry 97", "entry 98", "entry 99"]


def test_logs_follow_prints_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    log.write_text("old\n")
    proc = subprocess.Popen([sys.executable, "-m", "minikube_lite.cli.main", "logs", "-f", "--state-dir",
                             str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "old\n"
        time.sleep(0.3)
        with open(log, "a") as f:
            f.write("new line\n")
        assert proc.stdout.readline() == "new line\n"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_dashboard_url_and_no_display(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli_main, "_require_running", lambda settings: None)
    monkeypatch.setattr(cli_main, "http_get", lambda settings, path, timeout=2.0: (200, b"<html>"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    state = str(tmp_path / "s")
    from minikube_lite.auth import pki

    pki.ensure_client(tmp_path / "s")
    url = f"https://127.0.0.1:8443/dashboard/#token={pki.admin_token(tmp_path / 's')}"
    result = run("dashboard", "--url", "--state-dir", state)
    assert result.output == url + "\n"
    result = run("dashboard", "--state-dir", state)
    assert f"open {url} in a browser" in result.output


def test_dashboard_not_served_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli_main, "_require_running", lambda settings: None)
    monkeypatch.setattr(cli_main, "http_get", lambda settings, path, timeout=2.0: (404, b""))
    result = CliRunner().invoke(cli_main.cli, ["dashboard", "--url", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1 and "minikube-lite logs" in result.output


def test_dashboard_needs_a_running_cluster(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_main.cli, ["dashboard", "--url", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1 and 'To start a cluster, run: "minikube-lite start"' in result.output


def test_version_short_and_long() -> None:
    assert run("version", "--short").output == "v0.1.0\n"
    out = run("version").output
    assert "kubernetes API: v1." in out and "python:" in out


def test_stop_when_not_running_says_what_to_do(tmp_path: Path) -> None:
    result = run("stop", "--state-dir", str(tmp_path))
    assert result.exit_code == 0
    assert "not running" in result.output and "minikube-lite start" in result.output


class _DeniedSocket:
    def __init__(self, *args: Any) -> None:
        pass

    def settimeout(self, t: float) -> None:
        pass

    def connect(self, path: str) -> None:
        raise PermissionError(13, "Permission denied")

    def close(self) -> None:
        pass


def test_permission_denied_on_the_docker_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    monkeypatch.setattr(cli_main.socket, "socket", _DeniedSocket)
    with pytest.raises(cli_main.EngineProblem) as info:
        cli_main.docker_ping()
    assert "Permission denied" in str(info.value) and "usermod -aG docker" in str(info.value)


def test_no_engine_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    with pytest.raises(cli_main.EngineProblem) as info:
        cli_main.docker_ping()
    assert "not running" in str(info.value) and "dockerd" in str(info.value)


def test_port_in_use_suggests_a_free_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli_main, "docker_ping", lambda timeout=3.0: "99.0-test")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kc"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli_main.cli, ["start", "--port", str(port), "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert f"Port {port} on 127.0.0.1 is already in use by another program" in result.output
    suggested = int(result.output.split("--port ")[1].split()[0])
    assert suggested > port
