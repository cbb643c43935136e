"""The CLI's processes: is a pid alive, and stopping one as systemd stops a unit.

The daemon, the node agents and the HA parts (API server 2, the front, etcd members) are all
stopped the same way: SIGTERM, wait for the process to go, SIGKILL once the timeout has passed.
A zombie (a child of ours that exited) counts as gone, and is reaped.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def _proc_state(pid: int) -> str | None:
    """The process's state letter from /proc (None when it does not exist)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return "?"
    return stat.rsplit(")", 1)[-1].split()[0]


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except OSError:  # not our child (ChildProcessError), or gone
        pass


def pid_alive(pid: int) -> bool:
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = _proc_state(pid)
    return state is not None and state not in ("Z", "X")


def terminate(pid: int, timeout: float, *, on_kill: str = "") -> bool:
    """SIGTERM ``pid`` and wait until it is gone; SIGKILL after ``timeout`` (printing ``on_kill``
    to stderr when given), then wait up to 5 s more. False when it was not running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            if on_kill:
                import click

                click.echo(on_kill, err=True)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            kill_deadline = time.monotonic() + 5
            while pid_alive(pid) and time.monotonic() < kill_deadline:
                time.sleep(0.02)
            break
        time.sleep(0.02)
    return True
