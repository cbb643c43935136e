"""The learner's notes (shared/seed), step by step, with the real kubectl and Docker.

apply the pod and the NodePort service, get pods / services with Kubernetes' columns, open
localhost:31515, docker kill the container and watch the master bring it back, apply again
(unchanged / configured), every output format, delete. One test, in order, because each step
builds on the one before, exactly as the notes do.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path

import httpx

from .conftest import Cluster, pod_running, wait_for

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "seed"


def _table(out: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in out.strip().splitlines()]


def test_seed_walkthrough(cluster: Cluster, tmp_path: Path) -> None:
    info = cluster.kubectl("cluster-info").stdout
    assert f"Kubernetes control plane is running at {cluster.url}" in info

    assert cluster.kubectl("apply", "-f", str(SEED / "client-pod.yaml")).stdout.strip() == "pod/client-pod created"
    assert (cluster.kubectl("apply", "-f", str(SEED / "client-node-port.yaml")).stdout.strip()
            == "service/client-node-port created")

    wait_for(lambda: pod_running(cluster, "client-pod", 0), timeout=15, what="client-pod Running")
    rows = _table(cluster.kubectl("get", "pods").stdout)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows[1][:4] == ["client-pod", "1/1", "Running", "0"]
    assert re.fullmatch(r"\d+s", rows[1][4])

    rows = _table(cluster.kubectl("get", "services").stdout)
    assert rows[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    by_name = {r[0]: r for r in rows[1:]}
    node_port = by_name["client-node-port"]
    assert node_port[1] == "NodePort" and node_port[3] == "<none>" and node_port[4] == "3050:31515/TCP"
    assert re.fullmatch(r"10\.\d+\.\d+\.\d+", node_port[2])
    assert by_name["kubernetes"][1:5] == ["ClusterIP", "10.96.0.1", "<none>", "443/TCP"]

    # localhost:31515 is answered by the container on its port 3000
    page = wait_for(lambda: _get("http://localhost:31515/"), timeout=10, what="the NodePort to answer")
    assert "multi-client" in page

    # docker kill: the master brings the pod back, RESTARTS 1
    (container,) = [c for c in cluster.containers("client-pod") if c.labels.get("io.kubernetes.container.name")
                    == "client"]
    seen = _watch_pod_states(cluster, "client-pod")
    killed_at = time.monotonic()
    container.kill()
    wait_for(lambda: pod_running(cluster, "client-pod", 1), timeout=5, interval=0.02, what="pod back after kill")
    assert time.monotonic() - killed_at < 2.0
    # as on a real node, the crash itself is reported before the restart (kubectl -w shows 0/1 Error)
    wait_for(lambda: ("terminated", False, 0) in seen and ("running", True, 1) in seen, timeout=5,
             what=f"the crash and the restart in the pod's watch stream: {seen}")
    rows = _table(cluster.kubectl("get", "pods").stdout)
    assert rows[1][:3] == ["client-pod", "1/1", "Running"] and rows[1][3].startswith("1")
    wait_for(lambda: _get("http://localhost:31515/"), timeout=10, what="the NodePort after the restart")

    # declarative updates
    assert (cluster.kubectl("apply", "-f", str(SEED / "client-pod.yaml")).stdout.strip()
            == "pod/client-pod unchanged")
    edited = tmp_path / "client-pod.yaml"
    edited.write_text((SEED / "client-pod.yaml").read_text().replace("component: web",
                                                                      "component: web\n    tier: frontend"))
    assert cluster.kubectl("apply", "-f", str(edited)).stdout.strip() == "pod/client-pod configured"
    assert cluster.pod("client-pod")["metadata"]["labels"] == {"component": "web", "tier": "frontend"}

    # every output format
    assert "kind: Pod" in cluster.kubectl("get", "pods", "-o", "yaml").stdout
    assert '"kind": "List"' in cluster.kubectl("get", "pods", "-o", "json").stdout
    wide = _table(cluster.kubectl("get", "pods", "-o", "wide").stdout)
    assert wide[0][:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", wide[1][5]) and wide[1][6] == cluster.settings.node_name
    _check_watch(cluster)

    # delete the whole folder: both objects and their containers are gone
    out = cluster.kubectl("delete", "-f", str(SEED), timeout=60).stdout
    assert 'pod "client-pod" deleted' in out and 'service "client-node-port" deleted' in out
    assert cluster.containers("client-pod", all=True) == []
    assert "client-pod" not in cluster.kubectl("get", "pods").stdout


def _watch_pod_states(cluster: Cluster, name: str) -> list[tuple[str, bool, int]]:
    """Collect (state, ready, restarts) of the pod's container from a watch, in a thread."""
    seen: list[tuple[str, bool, int]] = []
    started = threading.Event()

    def run() -> None:
        url = f"{cluster.url}/api/v1/namespaces/default/pods"
        params = {"watch": "true", "fieldSelector": f"metadata.name={name}", "timeoutSeconds": "10"}
        with httpx.stream("GET", url, params=params, timeout=15, verify=cluster.ssl_context()) as r:
            for line in r.iter_lines():
                started.set()
                for cs in json.loads(line)["object"].get("status", {}).get("containerStatuses") or []:
                    seen.append((next(iter(cs["state"])), cs["ready"], cs["restartCount"]))

    threading.Thread(target=run, daemon=True).start()
    started.wait(5)
    return seen


def _get(url: str) -> str | None:
    try:
        r = httpx.get(url, timeout=2)
        return r.text if r.status_code == 200 else None
    except httpx.HTTPError:
        return None


def _check_watch(cluster: Cluster) -> None:
    """`kubectl get pods -w` prints the list, then a line for each change."""
    cmd = [*cluster.kubectl_cmd(), "get", "pods", "-w"]
    proc = subprocess.Popen(cmd, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(30, proc.kill)  # a missing line must fail the test, not hang it
    watchdog.start()
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        assert header.split()[:3] == ["NAME", "READY", "STATUS"]
        # the list first (other tests' pods may share the namespace), then one line per change
        while not (line := proc.stdout.readline()).startswith("client-pod"):
            assert line, "the watch ended before listing client-pod"
        cluster.kubectl("label", "pod", "client-pod", "watched=yes")
        while not (line := proc.stdout.readline()).startswith("client-pod"):
            assert line, "the watch ended without showing the change"
        assert "Running" in line
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait()
