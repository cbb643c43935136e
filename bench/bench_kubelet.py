"""Kubelet figures (issue 5): container killed → Running again, beside Docker's own restart policy;
pod created → Running.

Run: ``python bench/bench_kubelet.py [--kills 20] [--creates 50]`` (needs a Docker engine and the
local images). One run, side by side, on a cluster of its own (temporary state folder and port);
writes ``bench/results/kubelet.json``.

- kill → Running: ``--kills`` pods each run ``sleep 3600`` in ``minikube-lite/busybox:1.0``; the
  app container of a different pod is killed each time (SIGKILL to its main process from the
  host), so the restart back-off never applies. Measured from the kill to (a) Docker's ``start`` event of the new
  container and (b) the pod shown Running with RESTARTS 1 by a watch on the API (what kubectl sees).
- Docker ``restart: always``: the same number of identical containers (same image and command, on
  the cluster's network), each killed the same way once (``docker kill`` would count as a manual
  stop, which Docker's restart policy honours by not restarting); measured from the kill to Docker's
  ``start`` event of the same container. The target is the kubelet's (b) ≤ 1.3 × this median.
- created → Running: ``--creates`` single pods created one after another (image present), each
  timed from the POST to the watch event showing it Running; p50 and p99.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import docker
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import api_client, free_port, save_results

from minikube_lite.config import CLUSTER_LABEL, Settings
from minikube_lite.images import ensure_images

IMAGE = "minikube-lite/busybox:1.0"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, Any]:
    return {"median": round(statistics.median(values), 3), "p90": round(pct(values, 0.9), 3),
            "p99": round(pct(values, 0.99), 3), "min": round(min(values), 3), "max": round(max(values), 3),
            "n": len(values)}


class Recorder:
    """First time each key is seen satisfying a condition, fed from a background stream."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()

    def mark(self, key: str) -> None:
        with self.cond:
            self.seen.setdefault(key, time.perf_counter())
            self.cond.notify_all()

    def wait(self, key: str, timeout: float = 30) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: key in self.seen, timeout=timeout):
                raise TimeoutError(key)
            return self.seen[key]


def watch_pods(url: str, rec: Recorder, stop: threading.Event, state_dir: Any = None) -> None:
    """Marks ``<pod>@<restarts>`` when a pod is Running with every container running."""
    with contextlib.suppress(httpx.HTTPError), api_client(state_dir, url, timeout=None) as c, \
            c.stream("GET", "/api/v1/namespaces/default/pods", params={"watch": "true"}) as r:
        for line in r.iter_lines():
            if stop.is_set():
                return
            if not line:
                continue
            obj = json.loads(line).get("object") or {}
            st = obj.get("status") or {}
            cs = st.get("containerStatuses") or []
            if st.get("phase") == "Running" and cs and all("running" in (s.get("state") or {}) for s in cs):
                rec.mark(f"{obj['metadata']['name']}@{cs[0].get('restartCount', 0)}")


def watch_docker(rec: Recorder, labels: list[str], stop: threading.Event) -> None:
    """Marks ``start:<container id>`` for each start event of containers with one of the labels."""
    client = docker.from_env()
    wanted = [tuple(label.split("=", 1)) for label in labels]  # Docker ANDs label filters: match here
    for event in client.events(decode=True, filters={"type": "container", "event": "start"}):
        if stop.is_set():
            return
        attrs = (event.get("Actor") or {}).get("Attributes") or {}
        if any(attrs.get(k) == v for k, v in wanted):
            rec.mark(f"start:{event.get('id')}")


def sigkill(ctr: Any) -> None:
    """SIGKILL the container's main process from the host, as the OOM killer or a crash would.

    (``docker kill`` would not do for the baseline: Docker counts it as a manual stop and its
    restart policy then leaves the container down.)
    """
    ctr.reload()
    os.kill(int(ctr.attrs["State"]["Pid"]), signal.SIGKILL)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--creates", type=int, default=50)
    args = ap.parse_args()
    ensure_images()
    tmp = Path(tempfile.mkdtemp(prefix="mkl-bench-kubelet-"))
    settings = Settings(state_dir=tmp / "state", port=free_port())
    env = dict(os.environ, KUBECONFIG=str(tmp / "kubeconfig"))
    bench_label = f"io.minikube-lite.bench={secrets.token_hex(4)}"
    engine = docker.from_env()
    results: dict[str, Any] = {}
    stop = threading.Event()
    subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "start", "--port", str(settings.port),
                    "--state-dir", str(settings.state_dir)], check=True, env=env, capture_output=True)
    try:
        c = api_client(settings.state_dir, settings.server_url, timeout=30)
        deadline = time.monotonic() + 30
        while not c.get("/api/v1/nodes").json().get("items") and time.monotonic() < deadline:
            time.sleep(0.1)
        rec = Recorder()
        threading.Thread(target=watch_pods, args=(settings.server_url, rec, stop, settings.state_dir), daemon=True).start()
        threading.Thread(target=watch_docker, args=(rec, [f"{CLUSTER_LABEL}={settings.cluster_id}", bench_label],
                                                    stop), daemon=True).start()
        time.sleep(0.5)

        # pod created -> Running, one at a time
        created = []
        for i in range(args.creates):
            name = f"create-{i}"
            t0 = time.perf_counter()
            c.post("/api/v1/namespaces/default/pods", json={
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "main", "image": IMAGE, "command": ["sleep", "3600"]}]}},
                   ).raise_for_status()
            created.append(rec.wait(f"{name}@0") - t0)
        results["pod_created_to_running_s"] = summary(created)
        for i in range(args.creates):
            c.delete(f"/api/v1/namespaces/default/pods/create-{i}", params={"gracePeriodSeconds": 0})

        # the kubelet: kill -> Running
        names = [f"kill-{i}" for i in range(args.kills)]
        for name in names:
            c.post("/api/v1/namespaces/default/pods", json={
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "main", "image": IMAGE, "command": ["sleep", "3600"]}]}},
                   ).raise_for_status()
        for name in names:
            rec.wait(f"{name}@0", 60)
        time.sleep(1.0)
        to_engine, to_api = [], []
        for name in names:
            (ctr,) = engine.containers.list(filters={"label": [f"{CLUSTER_LABEL}={settings.cluster_id}",
                                                               f"io.kubernetes.pod.name={name}",
                                                               "io.kubernetes.container.name=main"]})
            before = set(rec.seen)
            t0 = time.perf_counter()
            sigkill(ctr)
            api_at = rec.wait(f"{name}@1")
            started = [k for k in rec.seen if k.startswith("start:") and k not in before]
            to_api.append(api_at - t0)
            if started:
                to_engine.append(min(rec.seen[k] for k in started) - t0)
            time.sleep(0.2)
        results["kubelet_kill_to_running_api_s"] = summary(to_api)
        results["kubelet_kill_to_docker_start_s"] = summary(to_engine)

        # Docker's own restart policy on identical containers, killed the same way
        baseline = [engine.containers.run(IMAGE, ["sleep", "3600"], detach=True, labels=dict([bench_label.split("=", 1)]),
                                          restart_policy={"Name": "always"}, network=settings.network_name)
                    for _ in range(args.kills)]
        time.sleep(1.0)
        docker_times = []
        for ctr in baseline:
            key = f"start:{ctr.id}"
            with rec.cond:
                rec.seen.pop(key, None)
            t0 = time.perf_counter()
            sigkill(ctr)
            docker_times.append(rec.wait(key) - t0)
            time.sleep(0.2)
        results["docker_restart_always_kill_to_start_s"] = summary(docker_times)
        results["ratio_kubelet_api_to_docker_median"] = round(
            statistics.median(to_api) / statistics.median(docker_times), 2)
    finally:
        stop.set()
        for ctr in engine.containers.list(all=True, filters={"label": bench_label}):
            ctr.remove(force=True)
        subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "delete", "--state-dir",
                        str(settings.state_dir)], env=env, capture_output=True, check=False)
    save_results("kubelet", results)


if __name__ == "__main__":
    main()
