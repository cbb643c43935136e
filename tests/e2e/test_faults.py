"""Faults, on the real daemon and Docker engine: kill -9 during a write storm and during a
rollout, a full disk under the state folder, a damaged store file.

The two kill -9 tests share one cluster of their own (``killable``: each leaves the daemon running
again, and they touch different kinds); the full disk and the damaged store need a cluster each."""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Cluster, pod_running, running_cluster, wait_for

CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: steady
spec:
  replicas: 3
  selector: {matchLabels: {app: steady}}
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}
  template:
    metadata: {labels: {app: steady}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: minikube-lite/busybox:1.0
          command: ["sleep", "3600"]
          env: [{name: ROUND, value: "{round}"}]
"""


def _kill_daemon(cluster: Cluster) -> None:
    pid = int(cluster.settings.pid_file.read_text())
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: cluster.get("/readyz") is None, timeout=5, what="the daemon to die")


@pytest.fixture(scope="module")
def killable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("killable")) as cluster:
        yield cluster


def test_kill_9_during_a_write_storm_loses_no_acknowledged_write(killable: Cluster) -> None:
    cluster = killable
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        i = 0
        with cluster.http(timeout=5) as c:
            while not stop.is_set():
                name = f"storm-{n}-{i}"
                i += 1
                try:
                    r = c.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": name}, "data": {"i": str(i)}})
                except httpx.TransportError:
                    return  # the daemon is gone
                if r.status_code == 201:
                    with lock:
                        acknowledged.append(name)

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(writer, n) for n in range(6)]
        wait_for(lambda: len(acknowledged) > 200, timeout=30, what="writes to flow")
        _kill_daemon(cluster)
        stop.set()
        for f in futures:
            f.result()
    cluster.cli("start")
    with cluster.http() as c:
        stored = {i["metadata"]["name"] for i in c.get(CMS).json()["items"]}
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"


def _app_containers(cluster: Cluster) -> list[tuple[str, str]]:
    return sorted((c.labels.get("io.kubernetes.pod.name", ""), c.labels.get("io.kubernetes.pod.uid", ""))
                  for c in cluster.containers() if c.labels.get("io.kubernetes.container.name") == "main")


def _rolled_out(cluster: Cluster, round_: str) -> bool:
    dep = cluster.get("/apis/apps/v1/namespaces/default/deployments/steady") or {}
    status = dep.get("status") or {}
    if dep.get("metadata", {}).get("generation") != status.get("observedGeneration"):
        return False
    if not (status.get("updatedReplicas") == status.get("replicas") == status.get("availableReplicas") == 3):
        return False
    pods = (cluster.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dsteady") or {}).get("items", [])
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return len(pods) == 3 and all(p["spec"]["containers"][0]["env"][0]["value"] == round_ for p in live) and \
        all(pod_running(cluster, p["metadata"]["name"]) for p in live)


def test_kill_9_during_a_rollout_ends_with_exactly_replicas_pods(killable: Cluster, tmp_path: Path) -> None:
    cluster = killable
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(DEPLOYMENT.replace("{round}", "1"))
    cluster.kubectl("apply", "-f", str(manifest))
    wait_for(lambda: _rolled_out(cluster, "1"), timeout=60, what="the first rollout")
    manifest.write_text(DEPLOYMENT.replace("{round}", "2"))
    cluster.kubectl("apply", "-f", str(manifest))
    wait_for(lambda: len(_app_containers(cluster)) > 3 or any(
        p["spec"]["containers"][0]["env"][0]["value"] == "2"
        for p in (cluster.get("/api/v1/namespaces/default/pods") or {}).get("items", [])),
        timeout=30, interval=0.02, what="the rollout to start")
    _kill_daemon(cluster)
    cluster.cli("start")
    wait_for(lambda: _rolled_out(cluster, "2"), timeout=90, what="the rollout to finish after the restart")
    pods = cluster.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dsteady")["items"]
    expected = sorted((p["metadata"]["name"], p["metadata"]["uid"]) for p in pods)
    # exactly one app container per pod, none left over from the pods the rollout replaced
    wait_for(lambda: _app_containers(cluster) == expected, timeout=30,
             what=f"containers {_app_containers(cluster)} to match pods {expected}")
    rs = cluster.get("/apis/apps/v1/namespaces/default/replicasets")["items"]
    assert sorted(r["spec"]["replicas"] for r in rs) == [0, 3]


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs for the full-disk test (needs root): {proc.stderr}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(path: Path) -> Path:
    filler = path / "filler"
    # CI twice saw ENOSPC creating the filler on a disk that df then showed mostly free: something
    # (cause not found; see the session 6 note) held the space for a moment. Wait for it, 10 s at most.
    deadline = time.monotonic() + 10
    while True:
        try:
            f = open(filler, "wb")  # noqa: SIM115 - closed by the with below
            break
        except OSError as exc:
            if exc.errno != errno.ENOSPC or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    with f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    return filler


def test_full_disk_refuses_writes_clearly_and_recovers(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "24m") as disk, running_cluster(disk) as cluster:
        with cluster.http() as c:
            for i in range(20):
                assert c.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"k{i}"},
                                         "data": {"v": "x" * 1000}}).status_code == 201
            filler = _fill(disk)
            refused = None
            for i in range(50):  # the WAL may still have room for a few small writes
                r = c.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"full{i}"},
                                      "data": {"v": "y" * 200_000}})
                if r.status_code != 201:
                    refused = r
                    break
            assert refused is not None, "writes kept succeeding on a full disk"
            assert refused.status_code == 507, refused.text
            body = refused.json()
            assert body["kind"] == "Status" and body["reason"] == "InsufficientStorage"
            assert "Free some space" in body["message"]
            assert c.get("/version").status_code == 200
            names = {i["metadata"]["name"] for i in c.get(CMS).json()["items"]}
            assert {f"k{i}" for i in range(20)} <= names
            filler.unlink()
            r = c.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after"}})
            assert r.status_code == 201, r.text
        cluster.cli("stop")
        db = sqlite3.connect(cluster.settings.db_path)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        cluster.cli("start")
        with cluster.http() as c:
            names = {i["metadata"]["name"] for i in c.get(CMS).json()["items"]}
        assert {f"k{i}" for i in range(20)} | {"after"} <= names


def test_damaged_store_is_refused_at_start_with_what_to_do(tmp_path: Path) -> None:
    with running_cluster(tmp_path) as cluster:
        with cluster.http() as c:
            for i in range(100):
                c.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"},
                                  "data": {"v": "z" * 2000}})
        cluster.cli("stop")
        db = cluster.settings.db_path
        raw = bytearray(db.read_bytes())
        raw[4096 * 4: 4096 * 8] = os.urandom(4096 * 4)
        db.write_bytes(bytes(raw))
        for wal in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            wal.unlink(missing_ok=True)
        proc = cluster.cli("start", check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, out
        assert "is damaged" in out and f"mv {db} {db}.damaged" in out, out
        assert cluster.get("/version") is None  # never serves garbage
        db.rename(db.with_name(db.name + ".damaged"))
        cluster.cli("start")
        assert cluster.get("/version") is not None
