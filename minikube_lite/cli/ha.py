"""``minikube-lite start --ha``: a control plane that outlives one process, on this machine.

What kubeadm's "stacked etcd" HA topology is, made local: three etcd members (Debian's
``etcd-server``, ``scripts/setup.sh --ha`` installs it), two API servers on that etcd, and one
address in front of them (``front.py``, the load balancer kubeadm asks for). The kubeconfig points
at the front, on the usual port; the API servers listen on ports of their own.

* API server 1 is the cluster's daemon (``daemon.pid``), API server 2 ``ha/apiserver-2.pid``; both
  are ``--control-plane-only``: API, scheduler and controllers under the same leader Leases
  (``--leader-elect``), so either takes over within the lease duration when the other dies.
* The first node (``minikube-lite``) is a node agent (``ha/node.pid``; node/agent.py
  ``--control-plane``), as the extra nodes are: its kubelet, and this machine's kube-proxy, DNS
  and ingress controller (node/networking.py), talk to the API through the front, so its pods
  keep being started, and their logs and exec keep working, whichever API server dies. (Kubernetes
  runs no kubelet inside kube-apiserver either.)
* Both run on the same state folder, so they serve the same certificate, trust the same CA and
  sign ServiceAccount tokens with the same key, as kube-apiserver replicas share their PKI.

The ports (etcd's client and peer ports, the two servers') are chosen once and kept in
``ha/ha.json``, so ``stop`` and a later ``start`` find the same members and their data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..store.etcdproc import LocalEtcd, Member, etcd_binary, free_port
from .procs import terminate

MEMBERS = 3


@dataclass
class Plan:
    """Where everything of an HA cluster listens (``ha/ha.json``)."""

    apiservers: list[int]
    etcd: list[tuple[int, int]]  # (client port, peer port) of each member
    token: str = field(default_factory=lambda: f"minikube-lite-{os.getpid()}-{int(time.time())}")

    @classmethod
    def load_or_make(cls, settings: Settings) -> Plan:
        path = ha_dir(settings) / "ha.json"
        if path.exists():
            data = json.loads(path.read_text())
            return cls(list(data["apiservers"]), [tuple(m) for m in data["etcd"]], data["token"])  # type: ignore[misc]
        plan = cls([free_port(), free_port()], [(free_port(), free_port()) for _ in range(MEMBERS)])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"apiservers": plan.apiservers, "etcd": plan.etcd, "token": plan.token}))
        return plan

    @property
    def store(self) -> str:
        return "etcd://" + ",".join(f"127.0.0.1:{c}" for c, _ in self.etcd)


def ha_dir(settings: Settings) -> Path:
    return settings.state_dir / "ha"


def plan_of(settings: Settings) -> Plan | None:
    return Plan.load_or_make(settings) if settings.ha and (ha_dir(settings) / "ha.json").exists() else None


def _etcd(settings: Settings, plan: Plan) -> LocalEtcd:
    etcd = LocalEtcd(ha_dir(settings) / "etcd", 0)
    etcd.token = plan.token
    etcd.members = [Member(f"m{i}", etcd.base_dir / f"m{i}", c, p) for i, (c, p) in enumerate(plan.etcd)]
    return etcd


def _pid_file(settings: Settings, name: str) -> Path:
    return ha_dir(settings) / f"{name}.pid"


def _ours(settings: Settings, pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return str(settings.state_dir).encode() in cmdline and state not in ("Z", "X")


def running(settings: Settings, name: str) -> int | None:
    try:
        pid = int(_pid_file(settings, name).read_text())
    except (OSError, ValueError):
        return None
    return pid if _ours(settings, pid) else None


def _spawn(settings: Settings, name: str, cmd: list[str], env: dict[str, str]) -> None:
    if running(settings, name) is not None:
        return
    with open(ha_dir(settings) / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, env=env)
    proc.returncode = 0  # it lives on in its own session
    _pid_file(settings, name).write_text(f"{proc.pid}\n")


def start_etcd(settings: Settings, timeout: float = 60.0) -> Plan:
    """The three members (kept running across CLI calls), healthy; returns the plan."""
    if etcd_binary() is None:
        raise SystemExit("--ha needs etcd: install it with scripts/setup.sh --ha (Debian's etcd-server)")
    plan = Plan.load_or_make(settings)
    etcd = _etcd(settings, plan)
    etcd.base_dir.mkdir(parents=True, exist_ok=True)
    for m in etcd.members:
        name = f"etcd-{m.name}"
        if running(settings, name) is None:
            etcd.start_member(m)
            assert m.proc is not None
            m.proc.returncode = 0
            _pid_file(settings, name).write_text(f"{m.proc.pid}\n")
    deadline = time.monotonic() + timeout
    while not all(m.healthy() for m in etcd.members):
        if time.monotonic() > deadline:
            raise SystemExit(f"the etcd members did not become healthy within {timeout:.0f}s: see "
                             f"{etcd.base_dir}/m*.log")
        time.sleep(0.1)
    return plan


def start_others(settings: Settings, plan: Plan, daemon_cmd: list[str], env: dict[str, str]) -> None:
    """The pods' network, API server 2 and the front (API server 1 is started by ``start`` as any
    cluster's daemon). The network is made first: both servers' node IPAM cut its subnet into the
    nodes' pod ranges, and neither server runs a node that would make it. So is the servers'
    certificate for the kubelets."""
    from minikube_lite.auth.nodecerts import apiserver_kubelet_client
    from minikube_lite.config import CLUSTER_LABEL
    from minikube_lite.proxy.hostnet import ensure_network

    ensure_network(settings.network_name, settings.cluster_id, CLUSTER_LABEL)
    # made here, once: two servers starting together would each write it, and one could load the
    # other's key with its own certificate
    apiserver_kubelet_client(settings.state_dir)
    second = list(daemon_cmd)
    second[second.index("--port") + 1] = str(plan.apiservers[1])
    _spawn(settings, "apiserver-2", second, env)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "", "::") else settings.host
    _spawn(settings, "front", [sys.executable, "-m", "minikube_lite.cli.front", "--state-dir", str(settings.state_dir),
                               "--listen", f"{settings.host}:{settings.port}",
                               *(a for p in plan.apiservers for a in ("--backend", f"{host}:{p}"))], env)


def own_address(settings: Settings) -> Settings:
    """Where API server 1 itself listens (its port, not the front's)."""
    import dataclasses

    return dataclasses.replace(settings, port=Plan.load_or_make(settings).apiservers[0])


def start_node(settings: Settings, env: dict[str, str]) -> None:
    """The first node's agent (once the API answers: it registers the node at once)."""
    from minikube_lite.node import PRIMARY
    from minikube_lite.node.networking import ensure_client_certs

    ensure_client_certs(settings.state_dir)  # kube-proxy's, DNS's and ingress's, from the CA here
    _spawn(settings, "node", [sys.executable, "-m", "minikube_lite.node", "--state-dir", str(settings.state_dir),
                              "--name", PRIMARY, "--control-plane"], env)


def node_log(settings: Settings, lines: int = 15) -> str:
    """The end of the first node's agent log, for a start whose node did not become Ready."""
    path = ha_dir(settings) / "node.log"
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"\nLast lines of {path} (the node's agent):\n" + "\n".join(tail)


def stop_rest(settings: Settings) -> list[str]:
    """The first node's agent (its containers go with it), API server 2, the front, then the etcd
    members (API server 1 is stopped as any cluster's daemon). What stopped."""
    stopped = []
    for name in ("node", "apiserver-2", "front", *(f"etcd-m{i}" for i in range(MEMBERS))):
        pid = running(settings, name)
        if pid is not None:
            terminate(pid, 30.0)
            stopped.append(name)
        _pid_file(settings, name).unlink(missing_ok=True)
    return stopped


def status(settings: Settings, server_ready: Any) -> dict[str, Any]:
    """The members and servers of an HA cluster, for ``minikube-lite status``."""
    plan = plan_of(settings)
    if plan is None:
        return {}
    etcd = _etcd(settings, plan)
    members = [{"name": m.name, "client": f"127.0.0.1:{m.client_port}",
                "state": "Running" if m.healthy() else "Stopped"} for m in etcd.members]
    leader = etcd.leader()
    for m in members:
        if leader is not None and m["name"] == leader.name:
            m["leader"] = True
    servers = [{"name": f"apiserver-{i + 1}", "address": f"https://127.0.0.1:{p}",
                "state": "Running" if server_ready(p) else "Stopped"} for i, p in enumerate(plan.apiservers)]
    front = "Running" if running(settings, "front") is not None else "Stopped"
    node = "Running" if running(settings, "node") is not None else "Stopped"
    return {"etcd": members, "apiservers": servers, "front": front, "node": node}
