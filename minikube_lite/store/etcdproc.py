"""Local etcd members on this machine: Debian's ``etcd-server`` (3.4) started in a folder on
free ports, one member or a cluster of several, as ``etcd`` itself is started by hand
(``--initial-cluster`` listing every member's peer URL).

Used by the tests and benchmarks, which start their own etcd and remove it afterwards, and
by anyone who wants a throw-away etcd to point ``minikube-lite start --store`` at
(``python -m minikube_lite.store.etcdproc --dir DIR [--members 3]``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Self


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def etcd_binary() -> str | None:
    return shutil.which("etcd") or next((p for p in ("/usr/bin/etcd", "/usr/sbin/etcd") if os.path.exists(p)), None)


class Member:
    def __init__(self, name: str, data_dir: Path, client_port: int, peer_port: int) -> None:
        self.name, self.data_dir = name, data_dir
        self.client_port, self.peer_port = client_port, peer_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.scheme = "http"

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def status(self, context: ssl.SSLContext | None = None) -> dict[str, Any] | None:
        """etcd's maintenance status (its member id and the leader's), through the JSON gateway."""
        req = urllib.request.Request(self.client_url + "/v3/maintenance/status", data=b"{}", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=1, context=context) as resp:
                return json.loads(resp.read())
        except (OSError, ValueError):
            return None

    def healthy(self, context: ssl.SSLContext | None = None) -> bool:
        try:
            with urllib.request.urlopen(self.client_url + "/health", timeout=1, context=context) as resp:
                return b'"true"' in resp.read()
        except OSError:
            return False


class LocalEtcd:
    """``members`` etcd processes forming one cluster; ``url`` is the ``--store`` value."""

    def __init__(self, base_dir: Path, members: int = 1, *, tls: bool = False) -> None:
        binary = etcd_binary()
        if binary is None:
            raise FileNotFoundError("etcd is not installed (Debian: apt-get install etcd-server)")
        self.binary = binary
        self.base_dir = base_dir
        self.members = [Member(f"m{i}", base_dir / f"m{i}", free_port(), free_port()) for i in range(members)]
        self.token = f"minikube-lite-{os.getpid()}-{int(time.time() * 1000)}"
        self.pki = None
        if tls:  # clients must present a certificate of the CA (etcd's --client-cert-auth)
            from .etcdtls import make_pki

            self.pki = make_pki(base_dir / "pki")
            for m in self.members:
                m.scheme = "https"

    @property
    def url(self) -> str:
        return ("https://" if self.pki else "etcd://") + ",".join(f"127.0.0.1:{m.client_port}" for m in self.members)

    def start_member(self, m: Member, *, state: str = "new") -> None:
        m.data_dir.mkdir(parents=True, exist_ok=True)
        cluster = ",".join(f"{o.name}={o.peer_url}" for o in self.members)
        log = open(self.base_dir / f"{m.name}.log", "ab")  # noqa: SIM115 - handed to the child
        m.proc = subprocess.Popen(
            [self.binary, "--name", m.name, "--data-dir", str(m.data_dir),
             "--listen-client-urls", m.client_url, "--advertise-client-urls", m.client_url,
             "--listen-peer-urls", m.peer_url, "--initial-advertise-peer-urls", m.peer_url,
             "--initial-cluster", cluster, "--initial-cluster-state", state,
             "--initial-cluster-token", self.token, "--logger", "zap", "--log-level", "warn",
             "--heartbeat-interval", "100", "--election-timeout", "1000", *self._tls_flags()],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()

    def _tls_flags(self) -> list[str]:
        if self.pki is None:
            return []
        return ["--cert-file", str(self.pki.server_cert), "--key-file", str(self.pki.server_key),
                "--trusted-ca-file", str(self.pki.ca), "--client-cert-auth"]

    def start(self, timeout: float = 30.0) -> LocalEtcd:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        for m in self.members:
            self.start_member(m)
        self.wait_healthy(self.members, timeout)
        return self

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.pki is None:
            return None
        ctx = ssl.create_default_context(cafile=str(self.pki.ca))
        ctx.load_cert_chain(str(self.pki.client_cert), str(self.pki.client_key))
        return ctx

    def wait_healthy(self, members: list[Member], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        ctx = self.ssl_context()
        while time.monotonic() < deadline:
            if all(m.healthy(ctx) for m in members):
                return
            for m in members:
                if m.proc is not None and m.proc.poll() is not None:
                    log = (self.base_dir / f"{m.name}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"etcd member {m.name} exited ({m.proc.returncode}): {log}")
            time.sleep(0.1)
        raise TimeoutError(f"etcd did not become healthy within {timeout:g}s")

    def leader(self) -> Member | None:
        for m in self.members:
            st = m.status(self.ssl_context())
            if st and st.get("leader") and st.get("leader") == st.get("header", {}).get("member_id"):
                return m
        return None

    def kill(self, m: Member) -> None:
        """kill -9 one member (its data stays; ``restart`` brings it back into the cluster)."""
        if m.proc is not None and m.proc.poll() is None:
            m.proc.send_signal(signal.SIGKILL)
            m.proc.wait(10)

    def pause(self, m: Member, paused: bool = True) -> None:
        """SIGSTOP / SIGCONT one member: it keeps its connections but answers nothing (a hung etcd)."""
        if m.proc is not None and m.proc.poll() is None:
            m.proc.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)

    def restart(self, m: Member) -> None:
        self.start_member(m, state="existing")

    def stop(self) -> None:
        for m in self.members:
            if m.proc is not None and m.proc.poll() is None:
                m.proc.send_signal(signal.SIGCONT)
                m.proc.terminate()
        for m in self.members:
            if m.proc is not None:
                try:
                    m.proc.wait(10)
                except subprocess.TimeoutExpired:
                    m.proc.kill()
                    m.proc.wait(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m minikube_lite.store.etcdproc",
                                     description="Run a local etcd (Debian's etcd-server) until interrupted.")
    parser.add_argument("--dir", type=Path, required=True, help="folder for the members' data and logs")
    parser.add_argument("--members", type=int, default=1)
    args = parser.parse_args(argv)
    etcd = LocalEtcd(args.dir, args.members).start()
    print(etcd.url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    etcd.stop()


if __name__ == "__main__":
    main()
