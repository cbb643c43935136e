"""Two API servers on one etcd, the scheduler and controllers leader-elected (issue 16).

Both daemons run ``--store etcd://... --leader-elect --control-plane-only`` (no node of their
own: no Docker needed). The controllers act only in the daemon holding the
``kube-system/kube-controller-manager`` Lease: a Deployment gets one ReplicaSet and exactly its
replicas, never twice. The leader is killed with SIGKILL in the middle of a storm of writes
spread over both servers: every write either server acknowledged is there afterwards, and the
other server's controllers take over within the lease duration (15 s, kube-controller-manager's
default) plus client-go's retry period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from minikube_lite.store.etcdproc import LocalEtcd, etcd_binary

from .conftest import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
LEASE = 15.0
RETRY = 2.0


class Server:
    def __init__(self, root: Path, name: str, store: str) -> None:
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / f"{name}.log"
        state = root / name
        env = dict(os.environ, MINIKUBE_LITE_LOG="INFO", PYTHONPATH=str(ROOT))
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "minikube_lite.daemon", "--state-dir", str(state), "--port", str(self.port),
                 "--store", store, "--leader-elect", "--control-plane-only", "--no-kubelet",
                 "--insecure-no-auth"],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)

    def ready(self) -> bool:
        try:
            return httpx.get(self.url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def leads(self, lease: str) -> bool:
        return f"became leader of kube-system/{lease}" in self.log.read_text(errors="replace")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalEtcd, list[Server]]]:
    """One etcd and two API servers for the module (the leader-kill test runs last)."""
    tmp_path = tmp_path_factory.mktemp("ha")
    if etcd_binary() is None:
        pytest.fail("etcd is not installed: apt-get install etcd-server (scripts/test.sh does)")
    with LocalEtcd(tmp_path / "etcd") as e:
        both = [Server(tmp_path, "a", e.url), Server(tmp_path, "b", e.url)]
        try:
            wait_for(lambda: all(s.ready() for s in both), timeout=30, what="both API servers ready")
            yield e, both
        finally:
            for s in both:
                if s.proc.poll() is None:
                    s.proc.terminate()
                    s.proc.wait(15)


def _pods(url: str) -> list[dict[str, Any]]:
    return httpx.get(url + "/api/v1/namespaces/default/pods?labelSelector=app%3Dha", timeout=5).json()["items"]


def _deployment(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ha"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "ha"}},
                     "template": {"metadata": {"labels": {"app": "ha"}},
                                  "spec": {"containers": [{"name": "c", "image": "minikube-lite/busybox:1.0"}]}}}}


def _service(name: str, node_port: int | None = None, cluster_ip: str | None = None) -> dict[str, Any]:
    port: dict[str, Any] = {"port": 80, "targetPort": 8080}
    spec: dict[str, Any] = {"type": "NodePort", "selector": {"app": name}, "ports": [port]}
    if node_port:
        port["nodePort"] = node_port
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def test_service_allocation_is_one_transaction_across_servers(servers: tuple[LocalEtcd, list[Server]]) -> None:
    """Both servers are asked at the same moment for the same nodePort and clusterIP (and for
    free ones): exactly one of each pair gets it, the other the 422 kube-apiserver answers, and
    no two stored Services share an address or a port."""
    _, (a, b) = servers
    rounds, go = 12, threading.Barrier(2)
    answers: dict[str, list[int]] = {"a": [], "b": []}

    def hammer(server: Server, tag: str) -> None:
        with httpx.Client(timeout=10) as h:
            for i in range(rounds):
                go.wait(10)
                same = h.post(server.url + "/api/v1/namespaces/default/services",
                              json=_service(f"same-{i}-{tag}", 30100 + i, f"10.96.200.{10 + i}"))
                answers[tag].append(same.status_code)
                assert same.status_code in (201, 422), same.text
                if same.status_code == 422:
                    assert "provided port is already allocated" in same.text or \
                        "provided IP is already allocated" in same.text, same.text
            go.wait(10)
            for i in range(rounds * 3):  # then free ones, from both at once (after: a random pick could
                free = h.post(server.url + "/api/v1/namespaces/default/services",  # take a port asked above)
                              json=_service(f"free-{i}-{tag}"))
                assert free.status_code == 201, free.text

    threads = [threading.Thread(target=hammer, args=(s, t)) for s, t in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers["a"]) == len(answers["b"]) == rounds
    for i in range(rounds):  # exactly one of each pair
        assert sorted((answers["a"][i], answers["b"][i])) == [201, 422], (i, answers)
    items = httpx.get(a.url + "/api/v1/namespaces/default/services", timeout=10).json()["items"]
    ours = [s for s in items if s["metadata"]["name"].startswith(("same-", "free-"))]
    assert len(ours) == rounds * 7
    ips = [s["spec"]["clusterIP"] for s in ours]
    ports = [p["nodePort"] for s in ours for p in s["spec"]["ports"]]
    assert len(set(ips)) == len(ips) and len(set(ports)) == len(ports)


def test_leader_killed_mid_write_storm(servers: tuple[LocalEtcd, list[Server]]) -> None:
    _, (a, b) = servers
    leader = wait_for(lambda: next((s for s in (a, b) if s.leads("kube-controller-manager")), None), timeout=30,
                      what="a controller-manager leader")
    other = b if leader is a else a
    assert not other.leads("kube-controller-manager")
    lease = httpx.get(other.url + "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager",
                      timeout=5).json()
    assert lease["spec"]["leaseDurationSeconds"] == 15 and lease["spec"]["holderIdentity"]

    r = httpx.post(other.url + "/apis/apps/v1/namespaces/default/deployments", json=_deployment(3), timeout=10)
    assert r.status_code == 201, r.text
    wait_for(lambda: len(_pods(other.url)) == 3, timeout=20, what="3 pods made by the leader's controllers")
    time.sleep(3)  # the non-leader's controllers (had they run) would have made more by now
    assert len(_pods(other.url)) == 3
    rs = httpx.get(other.url + "/apis/apps/v1/namespaces/default/replicasets", timeout=5).json()["items"]
    assert len(rs) == 1

    acknowledged: list[str] = []
    stop = threading.Event()

    def storm() -> None:
        i = 0
        with httpx.Client(timeout=5) as h:
            while not stop.is_set() and i < 2000:
                server = (a, b)[i % 2]
                name = f"storm-{i}"
                try:
                    resp = h.post(server.url + "/api/v1/namespaces/default/configmaps",
                                  json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
                    if resp.status_code == 201:
                        acknowledged.append(name)
                except httpx.HTTPError:
                    pass  # the killed server: not acknowledged
                i += 1

    writer = threading.Thread(target=storm)
    writer.start()
    time.sleep(1.0)
    leader.kill()
    killed_at = time.monotonic()
    r = httpx.patch(other.url + "/apis/apps/v1/namespaces/default/deployments/ha", json={"spec": {"replicas": 5}},
                    headers={"Content-Type": "application/merge-patch+json"}, timeout=10)
    assert r.status_code == 200, r.text
    wait_for(lambda: len(_pods(other.url)) == 5, timeout=LEASE + 2 * RETRY + 5, interval=0.1,
             what="the surviving server's controllers to scale the deployment")
    took = time.monotonic() - killed_at
    print(f"\nfailover: the other server's controllers acted {took:.1f}s after the leader was killed")
    assert took <= LEASE + RETRY * 1.2 + 1, took
    assert other.leads("kube-controller-manager")
    stop.set()
    writer.join(30)
    listed = {c["metadata"]["name"] for c in
              httpx.get(other.url + "/api/v1/namespaces/default/configmaps", timeout=10).json()["items"]}
    assert len(acknowledged) > 20 and not set(acknowledged) - listed  # no acknowledged write lost
    time.sleep(2)
    assert len(_pods(other.url)) == 5  # and no controller acted twice
    spec = httpx.get(other.url + "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager",
                     timeout=5).json()["spec"]
    assert spec["leaseTransitions"] >= 1 and spec["holderIdentity"] != lease["spec"]["holderIdentity"]
