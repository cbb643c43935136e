"""``minikube-lite node add|list|stop|start|delete`` and ``start --nodes N``: minikube's node verbs.

The first node (``minikube-lite``, the control plane) is the daemon's own kubelet; every other
node (``minikube-lite-m02``, ``-m03`` ...) is a node agent, its own process
(``python -m minikube_lite.node``, node/agent.py), with a folder ``<state>/nodes/<name>/`` for its
pid, log and kubelet files. A node's folder is what makes it part of the cluster: ``start`` brings
back every agent whose folder is there, ``stop`` stops them all, ``node delete`` removes the folder
and the Node object (its pods are then removed by the pod garbage collector, as in Kubernetes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from minikube_lite.config import Settings
from minikube_lite.node import PRIMARY, extra_nodes, node_dir, node_names

from .procs import terminate

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def _main() -> Any:
    from minikube_lite.cli import main

    return main


def pid_file(settings: Settings, name: str) -> Any:
    return node_dir(settings.state_dir, name) / "agent.pid"


def log_file(settings: Settings, name: str) -> Any:
    return node_dir(settings.state_dir, name) / "agent.log"


def agent_pid(settings: Settings, name: str) -> int | None:
    """The pid of the node's running agent (a stale pid file is removed)."""
    m = _main()
    path = pid_file(settings, name)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    if m.pid_alive(pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return pid
        if name.encode() in cmdline and str(settings.state_dir).encode() in cmdline:
            return pid
    path.unlink(missing_ok=True)
    return None


#: glibc's malloc gives each thread that allocates an arena of its own (up to 8 per core); the agent's
#: Docker calls run on a pool of threads, and two arenas serve a process this small as well (-2.5 MB)
AGENT_ENV = {"MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2")}


def agent_command(settings: Settings, name: str) -> list[str]:
    return [sys.executable, "-m", "minikube_lite.node", "--state-dir", str(settings.state_dir), "--name", name]


def start_agent(settings: Settings, name: str) -> int:
    """Start the node's agent unless it runs; its pid."""
    pid = agent_pid(settings, name)
    if pid is not None:
        return pid
    d = node_dir(settings.state_dir, name)
    d.mkdir(parents=True, exist_ok=True)
    with open(log_file(settings, name), "ab") as log:
        log.write(f"--- node agent start {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        log.flush()
        proc = subprocess.Popen(agent_command(settings, name), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
                                env={**_main()._daemon_env(), **AGENT_ENV})
    proc.returncode = 0  # it lives on in its own session
    pid_file(settings, name).write_text(f"{proc.pid}\n")
    return proc.pid


def stop_agent(settings: Settings, name: str, timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM the node's agent and wait (SIGKILL after ``timeout``); False when it was not running."""
    pid = agent_pid(settings, name)
    if pid is None:
        return False
    terminate(pid, timeout)
    pid_file(settings, name).unlink(missing_ok=True)
    return True


def node_ready(settings: Settings, name: str, since: str = "") -> bool:
    """Ready, and (with ``since``, an RFC 3339 time) its Lease renewed since then: the agent just
    started is the one answering, not the Ready condition its predecessor left."""
    m = _main()
    node = m.get_json(settings, f"/api/v1/nodes/{name}") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in (node.get("status") or {}).get("conditions") or [])
    if ready and since:
        lease = m.get_json(settings, f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}") or {}
        return str((lease.get("spec") or {}).get("renewTime") or "") >= since
    return ready


def now_rfc3339() -> str:
    """Now as a MicroTime, comparable (as a string) with a Lease's renewTime."""
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def wait_ready(settings: Settings, names: list[str], t0: float, since: str = "") -> None:
    m = _main()
    deadline = time.monotonic() + READY_TIMEOUT
    pending = list(names)
    while pending:
        pending = [n for n in pending if not node_ready(settings, n, since)]
        if not pending:
            break
        for n in pending:
            if agent_pid(settings, n) is None:
                m._fail("❌", f'The agent of node "{n}" exited. Last lines of {log_file(settings, n)}:\n'
                              f"{_tail(settings, n)}")
        if time.monotonic() > deadline:
            m._fail("⌛", f"Node(s) {', '.join(pending)} did not become Ready within {READY_TIMEOUT:.0f}s")
        time.sleep(0.02)
    for n in names:
        m._say("✅", f'Node "{n}" Ready in {time.monotonic() - t0:.2f}s')


def _tail(settings: Settings, name: str, lines: int = 20) -> str:
    try:
        return "\n".join(log_file(settings, name).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_nodes(settings: Settings, count: int | None) -> tuple[list[str], str]:
    """``start``: start every extra node's agent and those up to ``count`` (with the daemon, side by side
    with the control plane's own node); the names and when, for :func:`wait_nodes`."""
    wanted = set(extra_nodes(settings.state_dir))
    if count is not None:
        wanted |= set(node_names(count)[1:])
    names = sorted(wanted)
    since = now_rfc3339()
    for name in names:
        start_agent(settings, name)
    return names, since


def wait_nodes(settings: Settings, started: tuple[list[str], str], t0: float) -> None:
    names, since = started
    if names:
        wait_ready(settings, names, t0, since)


def ensure_nodes(settings: Settings, count: int | None, t0: float) -> None:
    wait_nodes(settings, start_nodes(settings, count), t0)


def stop_all(settings: Settings) -> int:
    """``stop`` / ``delete``: stop every node agent; how many ran."""
    return sum(stop_agent(settings, n) for n in extra_nodes(settings.state_dir))


def _require_running(settings: Settings) -> None:
    m = _main()
    if m.running_pid(settings) is None:
        m._fail("🤷", f'"{m.NAME}" is not running (state: {settings.state_dir}). Start it: minikube-lite start')


def full_name(name: str) -> str:
    """A node's name from minikube's short form too (``node stop m02``, ``ip -n m02``)."""
    if name.startswith("m") and name[1:].isdigit():
        return f"{PRIMARY}-{name}"
    return name


def _check_name(settings: Settings, name: str) -> None:
    m = _main()
    if name == PRIMARY:
        m._fail("❌", f'"{PRIMARY}" is the control-plane node (the daemon\'s own): use minikube-lite stop/start')
    if name not in extra_nodes(settings.state_dir):
        m._fail("🤷", f'Node "{name}" does not exist (nodes: {", ".join([PRIMARY, *extra_nodes(settings.state_dir)])})')


@click.group()
def node() -> None:
    """Add, list, stop, start and delete the cluster's nodes."""


def _state_dir_option(f: Any) -> Any:
    return _main().state_dir_option(f)


@node.command("add")
@_state_dir_option
def add(state_dir: str) -> None:
    """Add a node (its own kubelet process): minikube-lite-m02, -m03 ..."""
    m = _main()
    t0 = time.monotonic()
    settings = m._settings_for(state_dir)
    _require_running(settings)
    have = set(extra_nodes(settings.state_dir))
    i = 2
    while node_names(i)[-1] in have:
        i += 1
    name = node_names(i)[-1]
    m._say("😄", f'Adding node {name} to cluster "{m.NAME}"')
    start_agent(settings, name)
    wait_ready(settings, [name], t0)
    m._say("🏄", f'Successfully added {name} to "{m.NAME}"!')


@node.command("list")
@_state_dir_option
def list_nodes(state_dir: str) -> None:
    """Each node's name and address, as minikube node list prints them."""
    m = _main()
    settings = m._settings_for(state_dir)
    joined = sorted(n["metadata"]["name"] for n in (m.get_json(settings, "/api/v1/nodes") or {}).get("items") or [])
    names = [PRIMARY, *extra_nodes(settings.state_dir)]
    for name in [*names, *(n for n in joined if n not in names)]:  # and those joined from other machines
        obj = m.get_json(settings, f"/api/v1/nodes/{name}") or {}
        ip = next((a.get("address") for a in (obj.get("status") or {}).get("addresses") or []
                   if a.get("type") == "InternalIP"), "")
        click.echo(f"{name}\t{ip}")


@node.command("stop")
@click.argument("name")
@_state_dir_option
def stop(name: str, state_dir: str) -> None:
    """Stop a node: its agent and its containers, as when the machine is switched off."""
    name = full_name(name)
    m = _main()
    settings = m._settings_for(state_dir)
    _check_name(settings, name)
    if not stop_agent(settings, name):
        m._say("🤷", f'Node "{name}" is not running')
        return
    m._say("🛑", f'Successfully stopped node "{name}"')


@node.command("start")
@click.argument("name")
@_state_dir_option
def start(name: str, state_dir: str) -> None:
    """Start a stopped node again."""
    name = full_name(name)
    m = _main()
    t0 = time.monotonic()
    settings = m._settings_for(state_dir)
    _require_running(settings)
    _check_name(settings, name)
    since = now_rfc3339()
    start_agent(settings, name)
    wait_ready(settings, [name], t0, since)
    m._say("😄", f'Successfully started node "{name}"!')


@node.command("delete")
@click.argument("name")
@_state_dir_option
def delete(name: str, state_dir: str) -> None:
    """Delete a node: its agent, its containers, its Node object and its credentials."""
    name = full_name(name)
    m = _main()
    settings = m._settings_for(state_dir)
    remote = (name != PRIMARY and name not in extra_nodes(settings.state_dir)
              and m.get_json(settings, f"/api/v1/nodes/{name}") is not None)  # joined from another machine
    if not remote:
        _check_name(settings, name)
    m._say("🔥", f'Deleting node "{name}" from cluster "{m.NAME}"')
    obj = m.get_json(settings, f"/api/v1/nodes/{name}") if not remote else None
    stop_agent(settings, name)
    if obj is not None:
        _drop_address(settings, obj)  # an agent killed with SIGKILL could not take it away
    if not remote:
        _remove_containers(settings, name)  # a stopped node keeps its (exited) containers
    if m.running_pid(settings) is not None:
        from minikube_lite.cli.join import revoke_node_credentials

        for what in revoke_node_credentials(settings, name):  # a node that joined with a token
            m._say("🔒", f"Revoked {what}")
        conn = m._connection(settings, 5.0)
        try:
            conn.request("DELETE", f"/api/v1/nodes/{name}", headers={"Accept": "application/json"})
            conn.getresponse().read()
        except OSError as exc:
            click.echo(f"⚠️  Could not delete the Node object: {exc}", err=True)
        finally:
            conn.close()
    shutil.rmtree(node_dir(settings.state_dir, name), ignore_errors=True)
    from minikube_lite.auth.nodecerts import node_files

    for f in node_files(settings.state_dir, name):
        f.unlink(missing_ok=True)
    m._say("💀", f'Node "{name}" was successfully deleted.')


def _drop_address(settings: Settings, node: dict[str, Any]) -> None:
    """Take the node's own address (kubelet/nodeaddress.py) off the cluster's bridge, if still there."""
    from minikube_lite.kubelet.podnet import node_address
    from minikube_lite.proxy.hostnet import find_bridge, remove_node_address

    cidr = (node.get("spec") or {}).get("podCIDR")
    ips = {a.get("address") for a in (node.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"}
    if not cidr or node_address(cidr) not in ips:
        return  # the gateway (or an address not ours): never removed
    bridge = find_bridge(settings.network_name)
    if bridge:
        remove_node_address(bridge, node_address(cidr))


def _remove_containers(settings: Settings, name: str) -> None:
    try:
        import docker

        client = docker.from_env()
    except Exception as exc:  # noqa: BLE001 - no engine: nothing we could remove
        click.echo(f"⚠️  Could not reach the Docker engine ({exc}); the containers of {name} are left", err=True)
        return
    try:
        from minikube_lite.kubelet.cleanup import remove_node_containers

        if n := remove_node_containers(client, settings.cluster_id, name):
            _main()._say("🔥", f"Removed {n} container(s) of {name}")
    finally:
        client.close()
