"""A second machine on this one, for the tests and benches of nodes that join over the network.

What stands in for the other machine: a ``dockerd`` of its own (test_engine_restart's OwnEngine:
its own data root, socket, address pool, no iptables rules) started under ``unshare --net``, so
it has a network namespace of its own, and a veth pair between that namespace and the machine's
(a /30 of 10.234.0.0/16 no route of the machine uses). The agent runs in the namespace too
(``nsenter --net=/proc/<dockerd>/ns/net``; ``ip netns exec`` would remount /sys and break
dockerd), talks to its engine through the Unix socket and to the master over the veth, and the
master reaches its kubelet endpoint at the namespace's end of the veth: every packet goes
between addresses of namespaces made here. ``remove()`` undoes all of it (the agent, the engine,
the link, the folder); nothing else on the machine is touched.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker

from minikube_lite.config import Settings
from minikube_lite.kubelet.podnet import _host_routes

from .conftest import Cluster, free_port, wait_for
from .test_engine_restart import OwnEngine

LINK_BASE = ipaddress.ip_network("10.234.0.0/16")


def _free_link(also_taken: tuple[ipaddress.IPv4Network, ...] = ()) -> ipaddress.IPv4Network:
    taken = [*_host_routes(), *also_taken]
    subnets = list(LINK_BASE.subnets(new_prefix=30))
    for net in random.sample(subnets, 200):
        if not any(net.overlaps(t) for t in taken):
            return net
    raise AssertionError("no free /30 in 10.234.0.0/16 for the test's veth")


def _ip(*args: str, netns_pid: int | None = None) -> None:
    cmd = ["ip", *args] if netns_pid is None else ["nsenter", f"--net=/proc/{netns_pid}/ns/net", "--", "ip", *args]
    subprocess.run(cmd, check=True, capture_output=True, text=True)


class RemoteMachine:
    """Another machine: its engine in its own network namespace, linked to this one by a veth
    (``peer``: linked to that machine's namespace instead, which is then its way to everything)."""

    def __init__(self, peer: RemoteMachine | None = None, *, iptables: bool = False) -> None:
        self.engine = OwnEngine(iptables=iptables)
        self.peer = peer
        self.tag = secrets.token_hex(3)
        self.host_link, self.ns_link = f"mkr{self.tag}h", f"mkr{self.tag}n"
        self.link = net = _free_link((peer.link,) if peer is not None else ())
        hosts = list(net.hosts())
        self.host_ip, self.ip, self.prefix = str(hosts[0]), str(hosts[1]), net.prefixlen
        self.agent: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> Path:
        return self.engine.root

    @property
    def pid(self) -> int:
        assert self.engine.proc is not None
        return self.engine.proc.pid

    def docker(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.engine.host, timeout=30)

    def start(self) -> None:
        if self.engine.proc is None:  # (it may have been started already, side by side with another)
            self.engine.start()
        near = self.peer.pid if self.peer is not None else None  # where the veth's other end is
        _ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.ns_link, netns_pid=near)
        _ip("link", "set", self.ns_link, "netns", str(self.pid), netns_pid=near)
        _ip("addr", "add", f"{self.host_ip}/{self.prefix}", "dev", self.host_link, netns_pid=near)
        _ip("link", "set", self.host_link, "up", netns_pid=near)
        if self.peer is not None:
            # the peer is one machine with one address: its packets to this one leave from the address
            # it advertises (a VXLAN packet from another source than the swarm peer's is dropped)
            _ip("route", "replace", str(self.link), "dev", self.host_link, "src", self.peer.ip, netns_pid=near)
        for args in (("link", "set", "lo", "up"), ("addr", "add", f"{self.ip}/{self.prefix}", "dev", self.ns_link),
                     ("link", "set", self.ns_link, "up"), ("route", "add", "default", "via", self.host_ip)):
            _ip(*args, netns_pid=self.pid)

    def cut_network(self, cut: bool = True) -> None:
        """Lose (or get back) the network between the two machines: every packet on the namespace's
        end of the veth is dropped (its own netfilter tables; open TCP connections survive, as
        with a pulled cable); ``cut=False`` removes exactly those rules."""
        op = "-A" if cut else "-D"
        for chain, flag in (("INPUT", "-i"), ("OUTPUT", "-o")):
            subprocess.run(self.nsenter("iptables", "-w", op, chain, flag, self.ns_link, "-j", "DROP"),
                           check=True, capture_output=True, text=True)

    def swarm_state(self) -> str:
        client = self.docker()
        try:
            return str((client.info().get("Swarm") or {}).get("LocalNodeState") or "")
        finally:
            client.close()

    def load_images(self, *refs: str) -> None:
        """Copy images of the machine's engine to this one (docker save | docker load)."""
        shared, mine = docker.from_env(timeout=120), self.docker()
        try:
            for ref in refs:
                mine.images.load(b"".join(shared.images.get(ref).save(named=True)))
        finally:
            shared.close()
            mine.close()

    def nsenter(self, *cmd: str) -> list[str]:
        return ["nsenter", f"--net=/proc/{self.pid}/ns/net", "--", *cmd]

    def start_agent(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """``minikube-lite agent ARGS`` on the other machine (its network namespace, its engine)."""
        log = open(self.root / "agent.log", "ab")  # noqa: SIM115 - kept open by the agent
        full_env = {**os.environ, **(env or {}), "DOCKER_HOST": self.engine.host}
        self.agent = subprocess.Popen(self.nsenter(sys.executable, "-m", "minikube_lite.cli.main", "agent", *args),
                                      stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=full_env,
                                      start_new_session=True)
        log.close()
        return self.agent

    def agent_log(self) -> str:
        try:
            return (self.root / "agent.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop_agent(self, sig: int = signal.SIGTERM) -> None:
        if self.agent is None or self.agent.poll() is not None:
            self.agent = None
            return
        self.agent.send_signal(sig)
        try:
            self.agent.wait(30)
        except subprocess.TimeoutExpired:
            self.agent.kill()
            self.agent.wait(10)
        self.agent = None

    def containers(self, **filters: Any) -> list[Any]:
        client = self.docker()
        try:
            return client.containers.list(all=True, filters=filters, ignore_removed=True)
        finally:
            client.close()

    def remove(self) -> None:
        self.stop_agent()
        self.engine.remove()  # the namespace goes with its last process, and the veth with it
        if self.peer is None:
            subprocess.run(["ip", "link", "del", self.host_link], capture_output=True, check=False)


def wait_agent(machine: RemoteMachine, predicate: Any, timeout: float, what: str) -> Any:
    """wait_for, failing at once with the agent's log when the agent exited."""
    def check() -> Any:
        if machine.agent is not None and machine.agent.poll() is not None:
            raise AssertionError(f"the agent exited ({machine.agent.returncode}):\n{machine.agent_log()}")
        return predicate()
    try:
        return wait_for(check, timeout=timeout, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- agent log ---\n{machine.agent_log()}") from None


class NsCluster(Cluster):
    """A cluster whose CLI (and so its daemon) runs in the master machine's namespace and engine."""

    machine: RemoteMachine
    start_output: str = ""

    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = self.machine.nsenter(sys.executable, "-m", "minikube_lite.cli.main", *args,
                                   "--state-dir", str(self.settings.state_dir))
        proc = subprocess.run(cmd, env={**self.env, "DOCKER_HOST": self.machine.engine.host}, capture_output=True,
                              text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc


@contextlib.contextmanager
def multi_host_cluster(root: Path, master: RemoteMachine) -> Iterator[NsCluster]:
    """``start --multi-host`` of a cluster of its own in ``master``'s namespace, on its engine,
    listening on the namespace's end of the veth; ``delete`` at the end."""
    settings = Settings(state_dir=(root / "state").resolve(), port=free_port(), host=master.ip)
    env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
    env.update(KUBECONFIG=str(root / "kubeconfig"), KUBECACHEDIR=str(root / "kubecache"), HOME=str(root / "home"))
    (root / "home").mkdir(exist_ok=True)
    c = NsCluster(settings, root / "kubeconfig", root / "kubecache", env)
    c.machine = master
    try:
        c.start_output = c.cli("start", "--port", str(settings.port), "--host", master.ip, "--multi-host").stdout
        yield c
    finally:
        c.cli("delete", check=False)


def join_agent(cluster: Cluster, far: RemoteMachine, name: str, data_dir: Path) -> None:
    """``minikube-lite agent`` on ``far`` with the join command ``node token`` prints; waits for Ready."""
    out = cluster.cli("node", "token", "--ttl", "1h").stdout.strip()
    m = re.fullmatch(r"minikube-lite agent --server (https://\S+) --token (\S+) --discovery-token-ca-cert-hash (\S+)",
                     out)
    assert m, out
    far.start_agent("--server", m.group(1), "--token", m.group(2), "--discovery-token-ca-cert-hash", m.group(3),
                    "--name", name, "--data-dir", str(data_dir))

    def ready() -> bool:
        node = cluster.get(f"/api/v1/nodes/{name}") or {}
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (node.get("status") or {}).get("conditions") or [])
    wait_agent(far, ready, timeout=60, what=f"node {name} Ready")
