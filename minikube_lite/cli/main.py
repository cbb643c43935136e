"""The ``minikube-lite`` command: start, stop, status, ip, delete, version, kubectl.

It behaves like minikube's own CLI, so a learner following minikube notes types the same
commands: ``start`` runs the daemon (API server, controllers, kubelet, proxy in one process) in
the background, returns as soon as the API answers and points ``kubectl`` at it; ``stop`` ends the
daemon; ``delete`` removes everything the cluster created on the Docker engine and its state.

Every command takes ``--state-dir``: one folder is one cluster (like a minikube profile), so tests
and several clusters can live side by side without touching the user's.

``start`` must be fast (target: API ready within 1 s of typing it), so this module imports little:
no web framework, no docker SDK on the start path (the engine is pinged over its unix socket with the
standard library), and HTTP to the daemon uses ``http.client``.
"""

from __future__ import annotations

from minikube_lite.cli import prestart

prestart.spawn_if_starting()  # `start`: the daemon's process loads while this one does (prestart.py)

import errno
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from minikube_lite import __version__
from minikube_lite.config import CLUSTER_LABEL, DEFAULT_HOST, DEFAULT_PORT, Settings, default_state_dir

from .procs import pid_alive, terminate

if TYPE_CHECKING:  # imported on first use: `version`, `stop`, and start's own checks need no HTTP client
    import http.client

READY_TIMEOUT = 30.0
READY_POLL = 0.02
STOP_TIMEOUT = 60.0
NAME = "minikube-lite"


# --------------------------------------------------------------------------------------------- helpers

def _say(emoji: str, text: str) -> None:
    click.echo(f"{emoji}  {text}")


def _fail(emoji: str, text: str, code: int = 1) -> None:
    click.echo(f"{emoji}  {text}", err=True)
    sys.exit(code)


def _settings_for(state_dir: str, port: int | None = None, host: str | None = None,
                  store: dict[str, Any] | None = None, **changes: Any) -> Settings:
    """The cluster's saved settings, with any explicitly given port/host/store/image-pull mode (and
    other fields) applied."""
    import dataclasses

    path = Path(state_dir).expanduser().resolve()
    saved = Settings.load(path)
    given = {k: v for k, v in (store or {}).items() if v is not None}
    saved = dataclasses.replace(saved, state_dir=path, port=port if port is not None else saved.port,
                                host=host if host is not None else saved.host, **given)
    return dataclasses.replace(saved, **{k: v for k, v in changes.items() if v is not None})


def _connect_host(host: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


_CONTEXTS: dict[Path, Any] = {}


def _connection(settings: Settings, timeout: float) -> http.client.HTTPConnection:
    """An HTTPS connection that trusts the cluster CA and presents the admin certificate."""
    import http.client

    host = _connect_host(settings.host)
    if not settings.secure:
        return http.client.HTTPConnection(host, settings.port, timeout=timeout)
    ctx = _CONTEXTS.get(settings.state_dir)
    if ctx is None:
        from minikube_lite.auth.pki import client_context

        ctx = _CONTEXTS[settings.state_dir] = client_context(settings.state_dir)
    return http.client.HTTPSConnection(host, settings.port, timeout=timeout, context=ctx)


def http_get(settings: Settings, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET ``path`` from the daemon; raises OSError when nothing answers (or not in HTTP)."""
    import http.client

    conn = _connection(settings, timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    except http.client.HTTPException as exc:
        raise OSError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()


def api_ready(settings: Settings, timeout: float = 2.0) -> bool:
    try:
        status, _body = http_get(settings, "/readyz", timeout=timeout)
    except OSError:
        return False
    return status == 200


def _someone_serves_readyz(settings: Settings) -> bool:
    """Whether an API server (another cluster's: its CA is not ours) answers /readyz on that port."""
    import http.client
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(_connect_host(settings.host), settings.port, timeout=0.5, context=ctx)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def get_json(settings: Settings, path: str) -> dict[str, Any] | None:
    try:
        status, body = http_get(settings, path)
    except OSError:
        return None
    if status != 200:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# ------------------------------------------------------------------------------------- docker engine

class EngineProblem(Exception):
    """The Docker engine does not answer; the message says what to do."""


def _docker_socket() -> str | None:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        return host[len("unix://"):]
    return None


def docker_ping(timeout: float = 3.0) -> str:
    """Ping the engine; returns its version (``Server`` header) or raises :class:`EngineProblem`."""
    path = _docker_socket()
    if path is None:  # tcp:// or ssh:// engines: let the docker SDK handle them
        try:
            import docker

            client = docker.from_env(timeout=int(timeout) or 1)
            client.ping()
            return str(client.version().get("Version", "?"))
        except Exception as exc:
            raise EngineProblem(
                f"The Docker engine at {os.environ.get('DOCKER_HOST')} does not answer: {exc}\n"
                "    Start it with: sudo dockerd &   (or run scripts/setup.sh)") from exc
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    except PermissionError as exc:
        raise EngineProblem(
            f"Permission denied on the Docker socket {path}: your user may not use the Docker engine.\n"
            "    Fix: sudo usermod -aG docker $USER, then log in again (or run: newgrp docker),\n"
            "    or run minikube-lite as root.") from exc
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise EngineProblem(
            f"The Docker engine is not running (nothing answers on {path}).\n"
            "    Start it with: sudo dockerd &   (or run scripts/setup.sh)") from exc
    except OSError as exc:
        raise EngineProblem(
            f"The Docker engine does not answer on {path}: {exc}\n"
            "    Start it with: sudo dockerd &   (or run scripts/setup.sh)") from exc
    finally:
        sock.close()
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    if not lines or " 200 " not in lines[0] + " ":
        raise EngineProblem(f"The Docker engine on {path} answered the ping with: {lines[0] if lines else '?'}")
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.lower() == "server":  # "Docker/20.10.24+dfsg1 (linux)"
            return value.strip().split(" ")[0].removeprefix("Docker/")
    return "?"


# ----------------------------------------------------------------------------------------- processes

def _is_our_daemon(pid: int, settings: Settings) -> bool:
    """Alive and (when /proc tells) started for this state folder: a recycled pid is not ours."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True
    return str(settings.state_dir).encode() in cmdline


def running_pid(settings: Settings) -> int | None:
    """The pid of this cluster's daemon, or None (a stale pid file is removed)."""
    try:
        pid = int(settings.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if _is_our_daemon(pid, settings):
        return pid
    settings.pid_file.unlink(missing_ok=True)
    return None


def daemon_command(settings: Settings) -> list[str]:
    """How the daemon is started (``python -m minikube_lite.daemon``); tests replace it with a stub."""
    port = settings.port
    if settings.ha:  # API server 1 on a port of its own; the front (cli/front.py) has settings.port
        from minikube_lite.cli import ha

        port = ha.Plan.load_or_make(settings).apiservers[0]
    cmd = [sys.executable, "-m", "minikube_lite.daemon", "--state-dir", str(settings.state_dir),
           "--port", str(port), "--host", settings.host, "--image-pull", settings.image_pull]
    for flag, value in (("--store", settings.store), ("--etcd-cafile", settings.etcd_cafile),
                        ("--etcd-certfile", settings.etcd_certfile), ("--etcd-keyfile", settings.etcd_keyfile)):
        if value:
            cmd += [flag, value]
    if settings.leader_elect:
        cmd.append("--leader-elect")
    if settings.ha:  # the first node is an agent of its own (cli/ha.py), as the others are
        cmd.append("--control-plane-only")
    return cmd


_daemon_env = prestart.daemon_env


def port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    finally:
        sock.close()
    return False


def _log_tail(settings: Settings, offset: int, lines: int = 25) -> str:
    try:
        with open(settings.log_file, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(the log is empty)"


def stop_daemon(settings: Settings, timeout: float | None = None) -> bool:
    """SIGTERM the daemon and wait (SIGKILL after ``timeout``, default 60 s). False when it was not running."""
    timeout = STOP_TIMEOUT if timeout is None else timeout
    pid = running_pid(settings)
    if pid is None:
        return False
    terminate(pid, timeout, on_kill=f"⚠️  The daemon (pid {pid}) did not stop within {timeout:.0f}s: killing it")
    settings.pid_file.unlink(missing_ok=True)
    return True


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return sys.platform


def _write_kubeconfig(settings: Settings) -> None:
    from minikube_lite import kubeconfig

    try:
        kubeconfig.write_context(settings)
    except (kubeconfig.KubeconfigError, OSError) as exc:
        click.echo(f"⚠️  Could not update the kubeconfig: {exc}", err=True)
    _write_cluster_kubeconfig(settings)


def _write_cluster_kubeconfig(settings: Settings) -> Path:
    """A kubeconfig of this cluster alone, in the state folder (for ``minikube-lite kubectl``)."""
    path = settings.state_dir / "kubeconfig"
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    from minikube_lite import kubeconfig

    # JSON is YAML: no need for the yaml module on this path. It holds the admin key: 0600.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(kubeconfig.render(settings), indent=2) + "\n")
    os.chmod(path, 0o600)
    return path


def _store_options(store: str | None, cafile: str | None, certfile: str | None,
                   keyfile: str | None) -> dict[str, str]:
    given = {"store": store, "etcd_cafile": cafile, "etcd_certfile": certfile, "etcd_keyfile": keyfile}
    opts = {k: ("" if v == "sqlite" else str(Path(v).resolve()) if k != "store" and v else v)
            for k, v in given.items() if v is not None}
    if store == "sqlite":  # back to the embedded store: no etcd files either
        opts.update(etcd_cafile="", etcd_certfile="", etcd_keyfile="")
    return opts


def _start_ha_etcd(settings: Settings) -> Settings:
    """``--ha``: the three etcd members first; the store and leader election follow from them."""
    import dataclasses

    from minikube_lite.cli import ha

    _say("🗄️", f"Starting {ha.MEMBERS} etcd members ...")
    try:
        plan = ha.start_etcd(settings)
    except SystemExit as exc:
        _fail("❌", str(exc))
    return dataclasses.replace(settings, store=plan.store, leader_elect=True)


def _ha() -> Any:
    from minikube_lite.cli import ha

    return ha


def _stop_ha(settings: Settings) -> bool:
    """``--ha``: API server 2, the front and the etcd members (after API server 1). Whether any ran."""
    if not settings.ha:
        return False
    from minikube_lite.cli import ha

    stopped = ha.stop_rest(settings)
    if stopped:
        _say("🛑", f"Stopped {', '.join(stopped)}")
    return bool(stopped)


def _check_store(settings: Settings) -> None:
    """A --store that cannot be used fails here, before any daemon starts, with what to do."""
    from minikube_lite.store.factory import etcd_config, is_etcd

    if settings.store in ("", "sqlite"):
        return
    if not is_etcd(settings.store):
        _fail("❌", f"Unknown --store {settings.store!r}: use sqlite or etcd://HOST:PORT[,HOST:PORT...]")
    from minikube_lite.store.base import StoreError
    from minikube_lite.store.etcd import wait_until_ready

    try:
        config = etcd_config(settings)
        wait_until_ready(config, timeout=5)
    except ValueError as exc:
        _fail("❌", f"Bad --store: {exc}")
    except StoreError as exc:
        _fail("❌", f"{exc}\n    Start etcd first, or choose the embedded store: minikube-lite start --store sqlite")
    _say("🗄️", f"Using the store etcd at {config.describe()}")


# ------------------------------------------------------------------------------------------ commands

def state_dir_option(f: Any) -> Any:
    return click.option(
        "--state-dir", default=lambda: str(default_state_dir()), show_default="~/.minikube-lite or $MINIKUBE_LITE_HOME",
        type=click.Path(file_okay=False), help="The cluster's state folder (one folder = one cluster).",
    )(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """minikube-lite: a local Kubernetes on this machine's own Docker engine."""


def _split(values: tuple[str, ...]) -> tuple[str, ...] | None:
    out = tuple(v.strip() for value in values for v in value.split(",") if v.strip())
    return out or None


@cli.command()
@state_dir_option
@click.option("--apiserver-port", "--port", "port", type=int, default=None,
              help=f"API server port (HTTPS) [default: {DEFAULT_PORT}, or as last started]")
@click.option("--host", default=None, help=f"Address the API server listens on [default: {DEFAULT_HOST}]")
@click.option("--apiserver-ips", multiple=True, help="Extra IP addresses in the API server's certificate.")
@click.option("--apiserver-names", multiple=True, help="Extra DNS names in the API server's certificate.")
@click.option("--listen-address", default=None,
              help="Where NodePorts, LoadBalancer ports and the Ingress listen: 0.0.0.0 exposes them to the "
                   "network [default: this machine only (loopback and the node's bridge address)]")
@click.option("--regenerate-certs", is_flag=True,
              help="Make a new cluster CA and new certificates (the kubeconfig is rewritten; old ones stop working).")
@click.option("--foreground", is_flag=True, help="Run the daemon in this process instead of in the background.")
@click.option("--image-pull", type=click.Choice(["local-fallback", "kubernetes"]), default=None,
              help="When a pull fails: run the engine's image of that name with a Warning event (local-fallback), "
                   "or fail with ErrImagePull as Kubernetes does (kubernetes) [default: local-fallback, or as last "
                   "started]")
@click.option("--store", default=None, metavar="sqlite|etcd://HOST:PORT[,HOST:PORT...]",
              help="Where the objects are kept: the embedded SQLite file [default, or as last started], "
                   "or an etcd v3 cluster (kube-apiserver's --etcd-servers).")
@click.option("--etcd-cafile", default=None, type=click.Path(dir_okay=False),
              help="CA bundle that verifies etcd's serving certificates (TLS).")
@click.option("--etcd-certfile", default=None, type=click.Path(dir_okay=False),
              help="Client certificate presented to etcd (TLS).")
@click.option("--etcd-keyfile", default=None, type=click.Path(dir_okay=False), help="Key of --etcd-certfile.")
@click.option("--leader-elect/--no-leader-elect", default=None,
              help="Run the scheduler and controllers only while holding their Lease, so that other API "
                   "servers on the same etcd (python -m minikube_lite.daemon --leader-elect "
                   "--control-plane-only) can take over [default: off, or as last started].")
@click.option("--ha", is_flag=True, default=None,
              help="A control plane that survives one process: three local etcd members (Debian's "
                   "etcd-server: scripts/setup.sh --ha), two leader-elected API servers and a TCP front "
                   "on the API port for kubectl and the kubelet [default: off, or as last started].")
@click.option("--nodes", "-n", "nodes", type=click.IntRange(1, 16), default=None,
              help="How many nodes (the first is the control plane; each other one is a kubelet process).")
@click.option("--multi-host", is_flag=True, default=None,
              help="Let nodes of other machines (minikube-lite agent) reach this machine's pods: the Docker "
                   "engine becomes a swarm manager (docker swarm init, unless it is one) and the cluster gets an "
                   "attachable overlay network; needs --host [default: off, or as last started].")
def start(state_dir: str, port: int | None, host: str | None, apiserver_ips: tuple[str, ...],
          apiserver_names: tuple[str, ...], listen_address: str | None, regenerate_certs: bool,
          foreground: bool, image_pull: str | None, store: str | None, etcd_cafile: str | None,
          etcd_certfile: str | None, etcd_keyfile: str | None, leader_elect: bool | None, ha: bool | None,
          nodes: int | None, multi_host: bool | None) -> None:
    """Start the cluster: the daemon in the background, then point kubectl at it."""
    t0 = time.monotonic()
    opts: dict[str, Any] = _store_options(store, etcd_cafile, etcd_certfile, etcd_keyfile)
    if ha:
        if store is not None or foreground:
            _fail("❌", "--ha runs its own etcd members and processes: it goes with neither --store nor --foreground")
        opts["ha"] = True
    if leader_elect is not None:
        opts["leader_elect"] = leader_elect
    if multi_host:
        opts["multi_host"] = True
    if image_pull is not None:
        opts["image_pull"] = image_pull
    listen = None if listen_address is None else ("" if listen_address in ("127.0.0.1", "localhost") else
                                                  listen_address)
    settings = _settings_for(state_dir, port, host, opts, apiserver_ips=_split(apiserver_ips),
                             apiserver_names=_split(apiserver_names), listen_address=listen, secure=True)
    _refuse_ha_multi_host(settings, ha=bool(ha), multi_host=bool(multi_host))
    _say("😄", f"minikube-lite v{__version__} on {_os_name()}  (state: {settings.state_dir})")
    try:
        engine = docker_ping()
    except EngineProblem as exc:
        _fail("🐳", str(exc))
    _say("✨", f"Using the Docker engine {engine} of this machine")

    pid = running_pid(settings)
    if pid is not None and regenerate_certs:
        _say("🔁", "Stopping the running cluster to replace its certificates ...")
        stop_daemon(settings)
        pid = None
    if pid is not None:
        prestart.discard()  # no new daemon
        saved = Settings.load(settings.state_dir)
        if saved.ha:  # bring back what of the HA control plane is down (etcd members, server 2, front)
            from minikube_lite.cli import ha as ha_mod

            saved = _start_ha_etcd(saved)
            ha_mod.start_others(saved, ha_mod.Plan.load_or_make(saved), daemon_command(saved), _daemon_env())
            ha_mod.start_node(saved, _daemon_env())
        deadline = time.monotonic() + 10
        while not api_ready(saved) and time.monotonic() < deadline and pid_alive(pid):
            time.sleep(READY_POLL)
        if api_ready(saved):
            _say("🏃", f'"{NAME}" is already running at {saved.server_url} (pid {pid})')
            if port is not None and port != saved.port:
                _say("💡", f"To use port {port}, stop it first: minikube-lite stop --state-dir {settings.state_dir}")
            if multi_host and not saved.multi_host:
                _say("💡", f"It runs without --multi-host; to add it, stop it first: "
                           f"minikube-lite stop --state-dir {settings.state_dir}")
            if image_pull is not None and image_pull != saved.image_pull:
                _say("💡", f"It runs with --image-pull={saved.image_pull}; to use {image_pull}, stop it first: "
                           f"minikube-lite stop --state-dir {settings.state_dir}")
            _wait_node_ready(saved, t0, None)
            from minikube_lite.cli.nodes import ensure_nodes

            ensure_nodes(saved, nodes, t0)
            _write_kubeconfig(saved)
            _say("🏄", f'kubectl is now configured to use "{NAME}" cluster and "default" namespace by default')
            return
        _fail("❌", f"The daemon (pid {pid}) runs but its API at {saved.server_url} does not answer.\n"
                    f"    See {saved.log_file}; restart with: minikube-lite stop && minikube-lite start")

    if port_in_use(settings.host, settings.port) and not (settings.ha and _ha().running(settings, "front")):
        free = next((p for p in range(settings.port + 1, settings.port + 100) if not port_in_use(settings.host, p)),
                    settings.port + 1)
        who = ("another minikube-lite cluster (one started with another --state-dir; stop it with "
               "minikube-lite stop --state-dir <its folder>)" if _someone_serves_readyz(settings) else "another program")
        _fail("❌", f"Port {settings.port} on {settings.host} is already in use by {who}.\n"
                    f"    Choose a free port: minikube-lite start --port {free}"
                    + (f" --state-dir {settings.state_dir}" if state_dir != str(default_state_dir()) else ""))

    if settings.ha:
        settings = _start_ha_etcd(settings)
    _check_store(settings)
    settings.save()
    settings.pid_file.unlink(missing_ok=True)
    from minikube_lite.auth import pki
    from minikube_lite.cli.nodes import now_rfc3339

    since = now_rfc3339()  # the node is Ready for this start once its kubelet renewed its Lease after this

    first = not pki.paths(settings.state_dir).ca_crt.exists()
    if first or regenerate_certs:
        _say("🔑", "Generating certificates and keys ...")
    pki.ensure_client(settings.state_dir, regenerate=regenerate_certs)
    if settings.ha:  # made once, before either API server starts: both serve this one
        pki.ensure_serving(settings.state_dir, tuple(i for i in (settings.host, *settings.apiserver_ips)
                                                     if i not in ("0.0.0.0", "::")), settings.apiserver_names)
        from minikube_lite.cli import ha as ha_mod

        plan = ha_mod.Plan.load_or_make(settings)
        ha_mod.start_others(settings, plan, daemon_command(settings), _daemon_env())
        _say("🔀", f"API servers on ports {plan.apiservers[0]} and {plan.apiservers[1]}, "
                   f"kubectl and the kubelet through the front on {settings.server_url}")
    if settings.multi_host:
        _enable_overlay(settings)
    _say("🚀", f"Starting API server on {settings.server_url} ...")
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        _say("⚠️ ", f"The API listens on {settings.host}: other machines can reach it (HTTPS; a client "
                   "certificate or token is required, anonymous users get only /version and health)")

    if foreground:
        _write_kubeconfig(settings)
        settings.pid_file.write_text(f"{os.getpid()}\n")
        _say("🏄", f'kubectl is now configured to use "{NAME}" cluster and "default" namespace by default')
        sys.stdout.flush()
        sys.stderr.flush()
        cmd = daemon_command(settings)
        os.environ.update(_daemon_env())
        os.execv(cmd[0], cmd)

    with open(settings.log_file, "ab") as log:
        log.write(f"--- minikube-lite start {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        log.flush()
        offset = log.tell()
        # the daemon's process was spawned when this command began (prestart.py): it gets its command now
        proc = prestart.launch(daemon_command(settings), log, _daemon_env())
    settings.pid_file.write_text(f"{proc.pid}\n")
    from minikube_lite.cli.nodes import start_nodes, stop_all, wait_nodes

    # the other nodes' kubelets start now, side by side with the daemon: each loads while the API
    # server does and registers its Node once the API answers (node/agent.py waits for it)
    agents = start_nodes(settings, nodes)
    _write_kubeconfig(settings)  # while the daemon boots

    deadline = time.monotonic() + READY_TIMEOUT
    # with --ha the front may answer for the other server: ask this one
    own = _ha().own_address(settings) if settings.ha else settings
    while True:
        if api_ready(own, timeout=1.0):
            break
        code = proc.poll()
        if code is not None:
            settings.pid_file.unlink(missing_ok=True)
            stop_all(settings)
            _fail("❌", f"The daemon exited (code {code}) before its API answered. Last lines of "
                        f"{settings.log_file}:\n{_log_tail(settings, offset)}")
        if time.monotonic() > deadline:
            stop_daemon(settings, timeout=5)
            stop_all(settings)
            _fail("❌", f"The API did not answer within {READY_TIMEOUT:.0f}s. Last lines of "
                        f"{settings.log_file}:\n{_log_tail(settings, offset)}")
        time.sleep(READY_POLL)
    # The daemon lives on in its own session; don't let Popen's finalizer warn about it.
    proc.returncode = 0
    _say("🌟", f"API server ready in {time.monotonic() - t0:.2f}s (pid {proc.pid})")
    if settings.ha:
        _ha().start_node(settings, _daemon_env())
    _wait_node_ready(settings, t0, offset, since)
    wait_nodes(settings, agents, t0)
    if settings.multi_host:
        _wait_overlay(settings, t0, offset)
    sd = f" --state-dir {settings.state_dir}" if state_dir != str(default_state_dir()) else ""
    _say("🏄", f'Done! kubectl is now configured to use "{NAME}" cluster and "default" namespace by default')
    _say("👉", f"Next: kubectl apply -f examples/seed/   ·   watch it live: minikube-lite dashboard --url{sd}")


def node_ready(settings: Settings, since: str = "") -> bool:
    """The node is registered and its Ready condition is True (what `kubectl get nodes` shows as Ready);
    with ``since``, also its Lease renewed since then (see :func:`nodes.node_ready`)."""
    from minikube_lite.cli.nodes import node_ready as ready

    return ready(settings, settings.node_name, since)


def _wait_node_ready(settings: Settings, t0: float, log_offset: int | None, since: str = "") -> None:
    """Return once the node is Ready, as minikube waits for its components: before that the scheduler
    has no node (a pod applied at once would get FailedScheduling) and `ip` / `status` fail. After a
    stop the Node still says Ready (the condition its last kubelet wrote), so a restart waits for
    the new kubelet's first Lease renewal (``since``) too."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not node_ready(settings, since):
        pid = running_pid(settings)
        if pid is None:
            _fail("❌", "The daemon exited before its node became Ready. Last lines of "
                        f"{settings.log_file}:\n{_log_tail(settings, log_offset or 0)}")
        if time.monotonic() > deadline:
            _fail("⌛", f'Node "{settings.node_name}" did not become Ready within {READY_TIMEOUT:.0f}s '
                        f"(the API server runs at {settings.server_url}). Last lines of {settings.log_file}:\n"
                        f"{_log_tail(settings, log_offset or 0)}" + (_ha().node_log(settings) if settings.ha else ""))
        time.sleep(READY_POLL)
    _say("✅", f'Node "{settings.node_name}" Ready in {time.monotonic() - t0:.2f}s')


def _wait_overlay(settings: Settings, t0: float, log_offset: int | None) -> None:
    """``start --multi-host`` is done once the overlay's router runs and its Secret is published
    (node/overlay.py): an agent joining before that would find no overlay and run without one, as a
    node that joins before its CNI is configured has no pod network."""
    from minikube_lite.node.overlay import SECRET_NAME, SECRET_NAMESPACE

    path = f"/api/v1/namespaces/{SECRET_NAMESPACE}/secrets/{SECRET_NAME}"
    deadline = time.monotonic() + READY_TIMEOUT
    while not ((get_json(settings, path) or {}).get("data") or {}).get("router"):
        if time.monotonic() > deadline or running_pid(settings) is None:
            click.echo(f"⚠️  The multi-host network is not ready (no overlay router after {READY_TIMEOUT:.0f}s): nodes "
                       f"that join now reach this machine's pods only. Last lines of {settings.log_file}:\n"
                       f"{_log_tail(settings, log_offset or 0)}", err=True)
            return
        time.sleep(0.1)
    _say("🕸️ ", f"Multi-host network ready in {time.monotonic() - t0:.2f}s: other machines may join "
               f"(minikube-lite node token{'' if settings.state_dir == default_state_dir() else ' --state-dir ' + str(settings.state_dir)})")


@cli.command()
@state_dir_option
def stop(state_dir: str) -> None:
    """Stop the daemon (its pod containers stop with it; the state is kept)."""
    settings = _settings_for(state_dir)
    if running_pid(settings) is None:
        if _stop_ha(settings):
            _say("🛑", "1 node stopped.")
            return
        _say("🤷", f'"{NAME}" is not running (state: {settings.state_dir}): nothing to stop.')
        _say("👉", 'To start a cluster, run: "minikube-lite start"')
        return
    from minikube_lite.cli.nodes import stop_all

    _say("✋", f'Stopping node "{settings.node_name}" ...')
    extra = stop_all(settings)
    stop_daemon(settings)
    _stop_ha(settings)
    _say("🛑", f"{1 + extra} node{'s' if extra else ''} stopped.")


def _status(settings: Settings) -> tuple[dict[str, Any], int]:
    from minikube_lite import kubeconfig

    try:
        docker_ping()
        host = "Running"
    except EngineProblem:
        host = "Stopped"
    pid = running_pid(settings)
    apiserver = "Running" if (pid is not None or settings.ha) and api_ready(settings) else "Stopped"
    kubelet = "Running" if apiserver == "Running" and node_ready(settings) else "Stopped"
    node: dict[str, Any] = (get_json(settings, f"/api/v1/nodes/{settings.node_name}") or {}
                            if apiserver == "Running" else {})
    if apiserver != "Running":
        kube = "Stopped"
    else:
        kube = "Configured" if kubeconfig.current_server() == settings.server_url else "Misconfigured"
    code = (1 if host != "Running" else 0) | (2 if kubelet != "Running" else 0) | (4 if apiserver != "Running" else 0)
    node_ip = next((a.get("address") for a in (node.get("status") or {}).get("addresses") or []
                    if a.get("type") == "InternalIP"), "")
    out: dict[str, Any] = {"Name": NAME, "Host": host, "Kubelet": kubelet, "APIServer": apiserver,
                           "Kubeconfig": kube, "APIServerAddress": f"{settings.server_url} ({_exposure(settings.host)})",
                           "ServicePorts": _ports_exposure(settings, node_ip)}
    if settings.ha:
        import dataclasses

        from minikube_lite.cli import ha

        out["HA"] = ha.status(settings, lambda p: api_ready(dataclasses.replace(settings, port=p), timeout=1.0))
    return out, code


def _worker_status(settings: Settings, apiserver: str) -> tuple[list[dict[str, Any]], int]:
    """Each node agent of this machine as minikube's status shows a worker: its "host" is its
    agent's process (a stopped node: Stopped), its kubelet Running while that agent keeps the
    node Ready; the exit code's bits (1 host, 2 kubelet) are OR-ed over the nodes as minikube does."""
    from minikube_lite.cli import nodes
    from minikube_lite.node import extra_nodes

    out, code = [], 0
    for name in (n for n in extra_nodes(settings.state_dir) if n != settings.node_name):
        host = "Running" if nodes.agent_pid(settings, name) is not None else "Stopped"
        kubelet = "Running" if host == "Running" and apiserver == "Running" and nodes.node_ready(settings, name) \
            else "Stopped"
        code |= (1 if host != "Running" else 0) | (2 if kubelet != "Running" else 0)
        out.append({"Name": name, "Host": host, "Kubelet": kubelet, "APIServer": "Irrelevant",
                    "Kubeconfig": "Irrelevant", "Worker": True})
    return out, code


def _exposure(address: str) -> str:
    return "this machine only" if address in ("127.0.0.1", "localhost", "::1", "") else "reachable from the network"


def _ports_exposure(settings: Settings, node_ip: str) -> str:
    """Where NodePorts, LoadBalancer ports and the Ingress listen (``start --listen-address``)."""
    if settings.listen_address:
        return f"{settings.listen_address} ({_exposure(settings.listen_address)})"
    return ", ".join(a for a in ("127.0.0.1", node_ip) if a) + " (this machine only)"


@cli.command()
@state_dir_option
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def status(state_dir: str, output: str) -> None:
    """Show whether the engine, API server and kubelet run (exit code non-zero when not)."""
    settings = _settings_for(state_dir)
    st, code = _status(settings)
    workers, worker_code = _worker_status(settings, st["APIServer"])
    code |= worker_code
    if output == "json":  # one object for one node, a list for several (as minikube keeps it)
        click.echo(json.dumps([st, *workers] if workers else st))
    else:
        click.echo(f"{NAME}\ntype: Control Plane\nhost: {st['Host']}\nkubelet: {st['Kubelet']}\n"
                   f"apiserver: {st['APIServer']}\nkubeconfig: {st['Kubeconfig']}")
        if st["APIServer"] == "Running":
            click.echo(f"apiserver address: {st['APIServerAddress']}\nservice ports: {st['ServicePorts']}")
        if st.get("HA"):
            hst = st["HA"]
            click.echo(f"front: {hst['front']} ({settings.server_url})")
            for server in hst["apiservers"]:
                click.echo(f"{server['name']}: {server['state']} ({server['address']})")
            click.echo(f"node agent: {hst['node']} ({settings.node_name})")
            for m in hst["etcd"]:
                click.echo(f"etcd {m['name']}: {m['state']} ({m['client']}){' leader' if m.get('leader') else ''}")
        for w in workers:
            click.echo(f"\n{w['Name']}\ntype: Worker\nhost: {w['Host']}\nkubelet: {w['Kubelet']}")
        if st["Kubeconfig"] == "Misconfigured":
            click.echo('\nWARNING: Your kubectl is pointed at another cluster. To fix: minikube-lite start')
        if st["APIServer"] != "Running":
            click.echo('\n👉  To start a cluster, run: "minikube-lite start"')
    sys.exit(code)


def _require_running(settings: Settings) -> None:
    if running_pid(settings) is None or not api_ready(settings):
        _fail("🤷", f'The control plane of "{NAME}" must be running for this command (state: {settings.state_dir})\n'
                    f'👉  To start a cluster, run: "minikube-lite start"')


@cli.command()
@state_dir_option
@click.option("-n", "--node", "node_name", default=None,
              help="The node to get the IP of (minikube ip -n m02). [default: the control plane]")
def ip(state_dir: str, node_name: str | None) -> None:
    """Print a node's IP address (its InternalIP)."""
    settings = _settings_for(state_dir)
    _require_running(settings)
    from minikube_lite.cli.nodes import full_name

    name = full_name(node_name) if node_name else settings.node_name  # minikube's short form too: -n m02
    node = get_json(settings, f"/api/v1/nodes/{name}")
    if node is None:
        _fail("❌", f'The API server does not know node "{name}"')
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == "InternalIP":
            click.echo(addr.get("address"))
            return
    _fail("❌", f'Node "{name}" reports no InternalIP address')


def dashboard_url(settings: Settings) -> str:
    """The page's address; the admin token rides in the fragment (never sent to a server or logged)."""
    scheme = "https" if settings.secure else "http"
    url = f"{scheme}://{_connect_host(settings.host)}:{settings.port}/dashboard/"
    if settings.secure:
        from minikube_lite.auth.pki import admin_token

        url += f"#token={admin_token(settings.state_dir)}"
    return url


@cli.command()
@state_dir_option
@click.option("--url", "url_only", is_flag=True, help="Print the dashboard's URL instead of opening a browser.")
def dashboard(state_dir: str, url_only: bool) -> None:
    """Open the dashboard: a live web page of the cluster, served by the daemon."""
    settings = _settings_for(state_dir)
    _require_running(settings)
    try:
        code, _body = http_get(settings, "/dashboard/")
    except OSError as exc:
        code, _body = 0, str(exc).encode()
    if code != 200:
        _fail("❌", f"The daemon does not serve the dashboard (HTTP {code}); see: minikube-lite logs")
    url = dashboard_url(settings)
    if url_only:
        click.echo(url)
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin"):
        _say("👉", f"No graphical display here: open {url} in a browser on this machine")
        return
    import webbrowser

    _say("🎉", f"Opening {url} in your default browser...")
    if not webbrowser.open(url):
        _say("👉", f"No browser could be started: open {url} yourself")


def _tail_lines(path: Path, count: int) -> tuple[list[str], int]:
    """The last ``count`` lines of ``path`` and the file's size (where following resumes)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        block, data = 64 * 1024, b""
        pos = size
        while pos > 0 and data.count(b"\n") <= count:
            pos = max(0, pos - block)
            f.seek(pos)
            data = f.read(size - pos)
    lines = data.decode("utf-8", "replace").splitlines()
    return (lines[-count:] if count > 0 else []), size


@cli.command()
@state_dir_option
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines as the daemon writes them.")
@click.option("-n", "--length", type=int, default=60, show_default=True, help="How many lines back to show.")
def logs(state_dir: str, follow: bool, length: int) -> None:
    """Print the daemon's own log (API server, controllers, scheduler, kubelet, proxy)."""
    settings = _settings_for(state_dir)
    path = settings.log_file
    if not path.exists():
        _fail("🤷", f"No log at {path}: this cluster was never started in the background.\n"
                    f'👉  To start a cluster, run: "minikube-lite start"')
    lines, pos = _tail_lines(path, length)
    for line in lines:
        click.echo(line)
    if not follow:
        return
    try:
        while True:
            try:
                size = path.stat().st_size
            except FileNotFoundError:  # the cluster was deleted
                return
            if size < pos:  # truncated or recreated: start over
                pos = 0
            if size > pos:
                with open(path, "rb") as f:
                    f.seek(pos)
                    chunk = f.read(size - pos)
                pos = size
                click.echo(chunk.decode("utf-8", "replace"), nl=False)
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass


def _remove_networking(settings: Settings) -> None:
    """Cluster IPs and iptables chains a killed daemon may have left (the daemon removes them on stop)."""
    import asyncio

    from minikube_lite.proxy.proxier import cleanup

    try:
        asyncio.run(cleanup(settings.cluster_id, settings.network_name))
    except Exception as exc:  # noqa: BLE001 - best effort; never stop a delete
        click.echo(f"⚠️  Could not remove the cluster's network rules: {exc}", err=True)


def _delete_docker_objects(settings: Settings) -> None:
    try:
        docker_ping()
        import docker
        import docker.errors

        client = docker.from_env()
    except (EngineProblem, ImportError) as exc:
        click.echo(f"⚠️  Could not reach the Docker engine ({exc}); containers labelled "
                   f"{CLUSTER_LABEL}={settings.cluster_id} may remain", err=True)
        return
    from minikube_lite.kubelet.cleanup import remove_cluster_objects

    try:
        removed = remove_cluster_objects(client, settings.cluster_id, settings.network_name)
        if removed.containers:
            _say("🔥", f"Removed {removed.containers} container(s)")
        for name in removed.networks:
            _say("🔥", f"Removed network {name}")
        for problem in removed.problems:
            click.echo(f"⚠️  Could not remove {problem}", err=True)
        _remove_overlay(settings, client)
    finally:
        client.close()


def _refuse_ha_multi_host(settings: Settings, *, ha: bool, multi_host: bool) -> None:
    """``--multi-host`` needs the node components in the daemon (the overlay's router runs beside its
    kube-proxy), which an HA control plane leaves to its first node's agent: the two are refused
    together, whether from this start's flags or from how the cluster was started before (its
    saved settings), before anything is changed (as minikube refuses a flag an existing profile
    cannot take). An external etcd (--store, one or several members) keeps one daemon with the
    node components, so it goes with --multi-host."""
    if not (settings.ha and settings.multi_host):
        return
    if ha and multi_host:
        _fail("❌", "--multi-host goes with a single API server (not --ha) for now")
    if not (ha or multi_host):  # saved so by a version that did not refuse it
        _fail("❌", f"The cluster in {settings.state_dir} was started with both --ha and --multi-host, which do "
                    f"not go together: delete it (minikube-lite delete --state-dir {settings.state_dir}) and start "
                    "it with one of them")
    how = ("an HA control plane (it was started with --ha)" if multi_host else
           "a multi-host one (it was started with --multi-host)")
    flag = "--multi-host" if multi_host else "--ha"
    _fail("❌", f"The cluster in {settings.state_dir} is {how}: {flag} cannot be added to it, --multi-host goes "
                f"with a single API server (not --ha) for now.\n"
                f"    Start it without {flag}, or delete it first (minikube-lite delete --state-dir "
                f"{settings.state_dir}), or use another --state-dir")


def _enable_overlay(settings: Settings) -> None:
    """``start --multi-host``: swarm mode and the cluster's overlay (node/overlay.py)."""
    import docker

    from minikube_lite.node.overlay import OverlayError, enable, overlay_name

    client = docker.from_env()
    try:
        said = enable(client, settings.state_dir, settings.cluster_id, settings.host)
    except OverlayError as exc:
        _fail("❌", f"Cannot make the multi-host network: {exc}")
    finally:
        client.close()
    _say("🕸️ ", f"Multi-host pod network: {said}; overlay network {overlay_name(settings.cluster_id)}")


def _remove_overlay(settings: Settings, client: Any) -> None:
    """What ``start --multi-host`` added to the engine (``client``, delete's); swarm mode only if
    minikube-lite switched it on."""
    from minikube_lite.node.overlay import STATE_FILE, disable

    if not (settings.state_dir / STATE_FILE).exists():  # enable() writes it whenever it ran
        return
    try:
        for what in disable(client, settings.state_dir, settings.cluster_id):
            _say("🔥", f"Removed {what}" if not what.startswith("(") else what.strip("()"))
    except Exception as exc:  # noqa: BLE001 - the rest of delete goes on
        click.echo(f"⚠️  Could not undo the multi-host network ({exc})", err=True)


@cli.command()
@state_dir_option
def delete(state_dir: str) -> None:
    """Stop the cluster and remove all it created: containers, network, state, kubeconfig context."""
    from minikube_lite import kubeconfig

    settings = _settings_for(state_dir)
    _say("🔥", f'Deleting "{NAME}" (state: {settings.state_dir}) ...')
    from minikube_lite.cli.nodes import stop_all

    stop_all(settings)
    if stop_daemon(settings):
        _say("🛑", "Stopped the daemon")
    _stop_ha(settings)
    _remove_networking(settings)
    _delete_docker_objects(settings)  # the overlay's too
    if settings.state_dir.exists():
        import shutil

        shutil.rmtree(settings.state_dir)
        _say("🔥", f"Removed {settings.state_dir}")
    if kubeconfig.remove_context(only_server=settings.server_url):
        _say("🔥", f'Removed the "{NAME}" context from {kubeconfig.kubeconfig_path()}')
    if settings.store not in ("", "sqlite") and not settings.ha:
        _say("💡", f"The objects in {settings.store} are left there (etcd is not this cluster's to remove): "
                   "etcdctl del --prefix /registry/ removes them")
    _say("💀", f'Removed all traces of the "{NAME}" cluster.')


@cli.command()
@state_dir_option
@click.argument("name")
@click.option("--url", is_flag=True, help="Print the URL(s) only (there is no browser to open here).")
@click.option("-n", "--namespace", default="default", show_default=True)
def service(state_dir: str, name: str, url: bool, namespace: str) -> None:
    """Print the URL(s) of a NodePort or LoadBalancer Service, as ``minikube service --url``."""
    from minikube_lite.proxy.service_url import service_urls

    settings = _settings_for(state_dir)
    _require_running(settings)
    svc = get_json(settings, f"/api/v1/namespaces/{namespace}/services/{name}")
    if svc is None:
        _fail("😿", f'service "{name}" was not found in namespace "{namespace}"')
    node = get_json(settings, f"/api/v1/nodes/{settings.node_name}") or {}
    urls, problem = service_urls(svc, node)
    if problem:
        _fail("😿", problem)
    for u in urls:
        click.echo(u)


@cli.command()
@state_dir_option
def token(state_dir: str) -> None:
    """Print the cluster's admin bearer token (for curl and scripts: -H "Authorization: Bearer ...")."""
    from minikube_lite.auth.pki import admin_token

    settings = _settings_for(state_dir)
    try:
        click.echo(admin_token(settings.state_dir))
    except OSError:
        _fail("🤷", f'No token yet: the cluster was never started (state: {settings.state_dir})\n'
                    f'👉  To start a cluster, run: "minikube-lite start"')


@cli.command()
@click.option("--short", is_flag=True, help="Print just the version number.")
def version(short: bool) -> None:
    """Print the version (and the Kubernetes API version it serves)."""
    if short:
        click.echo(f"v{__version__}")
        return
    from minikube_lite.apiserver.discovery import KUBERNETES_VERSION

    click.echo(f"minikube-lite version: v{__version__}")
    click.echo(f"kubernetes API: {KUBERNETES_VERSION['gitVersion']}  (kubectl 1.27 to 1.33 can talk to it)")
    click.echo(f"python: {sys.version.split()[0]}")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                               "help_option_names": []})
@state_dir_option
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def kubectl(state_dir: str, args: tuple[str, ...]) -> None:
    """Run kubectl against this cluster: minikube-lite kubectl -- get pods"""
    import shutil

    settings = _settings_for(state_dir)
    exe = shutil.which("kubectl")
    if exe is None:
        _fail("❌", "kubectl is not installed (or not on PATH); the API also answers plain HTTP at "
                    f"{settings.server_url}")
    path = _write_cluster_kubeconfig(settings)
    sys.stdout.flush()
    os.execv(exe, [exe, "--kubeconfig", str(path), *args])


def main() -> None:
    cli(prog_name=NAME)


def _add_commands() -> None:
    from minikube_lite.cli.agent import agent
    from minikube_lite.cli.image import image
    from minikube_lite.cli.join import token_command
    from minikube_lite.cli.nodes import node
    from minikube_lite.cli.store_cmd import store

    node.add_command(token_command(state_dir_option))
    cli.add_command(store)
    cli.add_command(node)
    cli.add_command(agent)
    cli.add_command(image)


_add_commands()


if __name__ == "__main__":
    main()
