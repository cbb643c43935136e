"""``minikube-lite start``'s head start: the daemon's process begins loading before the CLI has
parsed its flags.

Nothing of Kubernetes: kube-apiserver is a Go binary that starts in milliseconds, while this API
server spends most of its start importing Python (FastAPI, pydantic, the kinds;
docs/performance.md). The CLI, before it may spawn the daemon, spends its own ~0.1 s importing
click and checking the engine, the port and the certificates. Those two need not run one after
the other: for ``start`` the CLI spawns first thing (``spawn_if_starting``, called before
``cli/main.py`` imports click)

    python -m minikube_lite.daemon --state-dir DIR --args-from-stdin

That process imports the daemon's modules, then waits on its stdin for the command line the CLI
settles on after its checks (``launch``: one JSON line), redirects its output to the cluster's
log and runs it. On end-of-file instead (the cluster already runs, a check failed, ``--help``,
the CLI died) it exits having touched nothing: it opens no store, no port and no file before the
command arrives, and its own session keeps the terminal's Ctrl-C away from it, as from the daemon.
A CLI that will not launch it ends it (``discard``, also at exit).

``/proc/PID/cmdline`` names the state folder from the start, so ``stop`` and ``status`` recognise
the daemon by it as before (main._is_our_daemon). A command that is not ``python -m
minikube_lite.daemon`` for the same folder (tests stub the daemon) is spawned as before and the
waiting process dismissed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

FLAG = "--args-from-stdin"
_DAEMON = ("-m", "minikube_lite.daemon")
_CLI_NAMES = ("minikube-lite", "main.py")  # the console script, ``python -m minikube_lite.cli.main``

_waiting: subprocess.Popen[bytes] | None = None
_spawned = False


def daemon_env() -> dict[str, str]:
    """The daemon's environment: this package first on its path, unbuffered output, and no
    pydantic plugins (their discovery reads every installed package's metadata at the first
    model; the daemon's models are internal validators: docs/performance.md)."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    pkg_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _state_dir(argv: list[str]) -> str:
    """``--state-dir`` as click will read it (last one wins), resolved as main._settings_for does."""
    value = ""
    for i, arg in enumerate(argv):
        if arg == "--state-dir" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--state-dir="):
            value = arg.split("=", 1)[1]
    if not value:
        from minikube_lite.config import default_state_dir

        value = str(default_state_dir())
    return str(Path(value).expanduser().resolve())


def spawn_if_starting(argv: list[str] | None = None) -> None:
    """When this process is the ``minikube-lite start`` command (and not its ``--help`` or
    ``--foreground``), spawn the waiting daemon now. Once per process."""
    global _waiting, _spawned
    argv = sys.argv if argv is None else argv
    if _spawned or len(argv) < 2 or Path(argv[0]).name not in _CLI_NAMES or argv[1] != "start":
        return
    _spawned = True
    if any(a in ("-h", "--help", "--foreground") for a in argv[2:]):
        return
    try:
        _waiting = subprocess.Popen(
            [sys.executable, *_DAEMON, "--state-dir", _state_dir(argv[2:]), FLAG], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
            env=daemon_env())
    except OSError:
        _waiting = None
    else:
        atexit.register(discard)  # a `start` that ends before launch(): the cluster runs, a check failed


def discard() -> None:
    """Dismiss the waiting daemon. It has opened nothing yet (no store, port or file), so it is
    simply ended rather than left to finish loading for nothing."""
    global _waiting
    proc, _waiting = _waiting, None
    if proc is None:
        return
    with contextlib.suppress(OSError):
        proc.stdin.close()  # type: ignore[union-attr]
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)


def _same_daemon(proc: subprocess.Popen[bytes], cmd: list[str]) -> bool:
    """``proc`` waits (still alive) for exactly this command: the daemon of the same state folder."""
    if proc.poll() is not None or cmd[:3] != [sys.executable, *_DAEMON] or "--state-dir" not in cmd:
        return False
    return _state_dir(cmd[3:]) == _state_dir(list(proc.args)[3:])  # type: ignore[arg-type]


def launch(cmd: list[str], log: IO[bytes], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Run the daemon ``cmd`` with its output appended to ``log``: handed to the waiting process
    when it is this very daemon for the same state folder, else spawned as a new process."""
    global _waiting
    proc, _waiting = _waiting, None
    warm = proc is not None and _same_daemon(proc, cmd)
    if warm:
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.write(json.dumps({"argv": cmd[3:], "log": log.name}).encode() + b"\n")
            proc.stdin.close()
            return proc
        except OSError:  # it died meanwhile: a fresh one says why in the log
            pass
    if proc is not None:  # another command (tests stub the daemon), or it died: dismiss it
        _waiting = proc
        discard()
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, close_fds=True, env=env)


def await_command(state_dir: Path) -> list[str] | None:
    """In the waiting daemon: the command line ``launch`` sends (its output now goes to the log),
    or None on end-of-file or a command for another state folder."""
    line = sys.stdin.buffer.readline()
    try:
        msg: dict[str, Any] = json.loads(line) if line.strip() else {}
    except ValueError:
        return None
    argv, log = msg.get("argv"), msg.get("log")
    if not isinstance(argv, list) or not isinstance(log, str):
        return None
    if "--state-dir" not in argv or Path(argv[argv.index("--state-dir") + 1]).resolve() != state_dir.resolve():
        return None
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(null)
    return [str(a) for a in argv]
