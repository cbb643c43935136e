"""`start`'s head start (cli/prestart.py): the daemon's process spawned before the CLI's imports,
waiting for its command line; real processes, no engine needed."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from minikube_lite.cli import prestart


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(prestart, "_waiting", None)
    monkeypatch.setattr(prestart, "_spawned", False)
    yield
    prestart.discard()


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return value


def spawn_waiting(state: Path) -> Any:
    """What ``minikube-lite start --state-dir STATE`` spawns first: the waiting daemon."""
    prestart.spawn_if_starting(["minikube-lite", "start", "--state-dir", str(state)])
    waiting = prestart._waiting
    assert waiting is not None
    return waiting


def _spawned_for(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> list[list[str]]:
    calls: list[list[str]] = []

    class Recorder:
        def __init__(self, cmd: list[str], **kwargs: Any) -> None:
            calls.append(cmd)
            self.args, self.stdin, self.returncode = cmd, None, None

        def poll(self) -> int:
            return 0

    monkeypatch.setattr(prestart.subprocess, "Popen", Recorder)
    monkeypatch.setattr(prestart.atexit, "register", lambda f: f)
    monkeypatch.setattr(prestart, "_spawned", False)
    prestart.spawn_if_starting(argv)
    monkeypatch.setattr(prestart, "_waiting", None)
    return calls


def test_only_start_of_the_cli_itself_spawns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cli = str(Path(prestart.__file__).with_name("main.py"))
    assert _spawned_for(monkeypatch, [cli, "status"]) == []
    assert _spawned_for(monkeypatch, [cli, "start", "--help"]) == []
    assert _spawned_for(monkeypatch, [cli, "start", "--foreground"]) == []
    assert _spawned_for(monkeypatch, ["/usr/bin/pytest", "start"]) == []  # CliRunner tests: not the CLI
    monkeypatch.chdir(tmp_path)
    [cmd] = _spawned_for(monkeypatch, ["/usr/local/bin/minikube-lite", "start", "--state-dir", "a", "--port", "1",
                                       "--state-dir=b/../c"])
    # the state folder as main._settings_for resolves it (the last one given), in the process's cmdline
    assert cmd == [sys.executable, "-m", "minikube_lite.daemon", "--state-dir", str((tmp_path / "c").resolve()),
                   prestart.FLAG]
    monkeypatch.setenv("MINIKUBE_LITE_HOME", str(tmp_path / "home"))
    [cmd] = _spawned_for(monkeypatch, [cli, "start"])
    assert cmd[4] == str((tmp_path / "home").resolve())


def test_waiting_daemon_dismissed_touches_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    prestart.spawn_if_starting(["minikube-lite", "start", "--state-dir", str(state)])
    proc = prestart._waiting
    assert proc is not None and proc.poll() is None
    # (the kernel fills /proc/PID/cmdline a moment after the exec Popen waited for)
    cmdline = wait_for(lambda: Path(f"/proc/{proc.pid}/cmdline").read_bytes(), timeout=5, what="its cmdline")
    assert state.resolve().as_posix() in cmdline.decode()
    assert proc.stdin is not None
    proc.stdin.close()  # what the CLI's exit does: end-of-file
    assert proc.wait(timeout=30) == 0
    assert not state.exists()
    prestart._waiting = None


def test_command_handed_to_the_waiting_daemon_runs_with_its_output_in_the_log(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    waiting = spawn_waiting(state)
    log_path = state / "daemon.log"
    cmd = [sys.executable, "-m", "minikube_lite.daemon", "--state-dir", str(state.resolve()),
           "--authorization-mode", "Nobody"]  # refused before anything is opened: a quick, visible end
    with open(log_path, "ab") as log:
        log.write(b"--- header ---\n")
        log.flush()
        proc = prestart.launch(cmd, log, prestart.daemon_env())
    assert proc is waiting and prestart._waiting is None
    assert proc.wait(timeout=30) != 0
    text = log_path.read_text()
    assert text.startswith("--- header ---\n")
    assert "--authorization-mode: 'Nobody' is not one of RBAC, AlwaysAllow" in text


def test_other_command_is_spawned_and_the_waiting_daemon_ended(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    waiting = spawn_waiting(state)
    with open(state / "daemon.log", "ab") as log:
        proc = prestart.launch([sys.executable, "-c", "print('stub daemon')"], log, prestart.daemon_env())
    assert proc is not waiting
    assert proc.wait(timeout=30) == 0
    assert waiting.poll() is not None  # dismissed
    assert (state / "daemon.log").read_text() == "stub daemon\n"
    # a daemon for another state folder is not this waiting one's to run either
    prestart._spawned = False
    other = spawn_waiting(state)
    with open(state / "daemon.log", "ab") as log:
        proc = prestart.launch([sys.executable, "-m", "minikube_lite.daemon", "--state-dir", str(tmp_path),
                                "--authorization-mode", "Nobody"], log, prestart.daemon_env())
    assert proc is not other
    assert proc.wait(timeout=30) != 0
    assert other.poll() is not None


def test_waiting_daemon_is_the_same_by_its_state_folder_wherever_the_flag_is(tmp_path: Path) -> None:
    """``launch`` hands the command to the waiting process only for the daemon of the same state
    folder, read from either command line by its flag, not by a position in it."""

    class Waiting:
        def __init__(self, *args: str) -> None:
            self.args = [sys.executable, "-m", "minikube_lite.daemon", *args]

        def poll(self) -> None:
            return None

    state, other = str((tmp_path / "s").resolve()), str((tmp_path / "o").resolve())
    cmd = [sys.executable, "-m", "minikube_lite.daemon", "--port", "1", "--state-dir", state]
    for waiting in (Waiting("--state-dir", state, prestart.FLAG), Waiting(prestart.FLAG, "--state-dir", state),
                    Waiting(f"--state-dir={state}")):
        assert prestart._same_daemon(waiting, cmd)  # type: ignore[arg-type]
    assert not prestart._same_daemon(Waiting("--state-dir", other, prestart.FLAG), cmd)  # type: ignore[arg-type]
    assert not prestart._same_daemon(Waiting("--state-dir", state), [sys.executable, "-c", "pass"])  # type: ignore[arg-type]


_NEW_MODULES = """
import json, sys
import minikube_lite.daemon as d
before = set(sys.modules)
if sys.argv[1] == "preload":
    d._preload_serving()
else:  # the daemon's whole way to serving, the server's own loop left out
    import uvicorn

    async def no_serve(self, sockets=None):
        return None

    uvicorn.Server.serve = no_serve
    d.main(["--state-dir", sys.argv[2], "--port", "0", "--no-kubelet"])
print(json.dumps(sorted(m for m in set(sys.modules) - before if m.startswith("minikube_lite."))))
"""


def test_preload_imports_what_the_way_to_serving_imports(tmp_path: Path) -> None:
    """daemon._SERVING_MODULES (what a waiting daemon imports ahead, cli/prestart.py) is what the
    daemon's way from its command line to serving imports after its module's own imports: every
    module of that way is preloaded, and every module the list names is on it."""
    import json
    import os
    import subprocess

    from minikube_lite import daemon

    def new_modules(*args: str) -> set[str]:
        out = subprocess.run([sys.executable, "-c", _NEW_MODULES, *args], check=True, capture_output=True,
                             text=True, env={**os.environ, **prestart.daemon_env()}, timeout=120).stdout
        return set(json.loads(out.splitlines()[-1]))

    preloaded = new_modules("preload")
    on_the_way = new_modules("serve", str(tmp_path / "state"))
    assert on_the_way <= preloaded, f"imported on the way to serving, not preloaded: {sorted(on_the_way - preloaded)}"
    listed = {f"minikube_lite.{name}" for name in daemon._SERVING_MODULES}
    assert listed <= on_the_way, f"preloaded, not on the way to serving: {sorted(listed - on_the_way)}"
