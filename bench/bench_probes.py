"""Probe figures (issue 7): daemon CPU with 100 pods probed every second, readiness latency.

Run: ``python bench/bench_probes.py [--pods 100] [--seconds 20] [--toggles 10]`` (needs a Docker
engine and the local images). It starts a cluster of its own (temporary state folder and port)
and writes ``bench/results/probes.json``.

- cpu: the daemon process's CPU (user + system, from /proc) over ``--seconds``, first with
  ``--pods`` pods running busybox httpd and no probe (the baseline), then with the same pods
  each carrying an ``httpGet`` readiness probe with ``periodSeconds: 1``, once all are Ready.
- readiness latency: on one probed pod the probed file is created / removed with ``docker exec``
  and the time until a watch on the pod shows ``ready`` flip is measured (the pods use ``failureThreshold: 1``
  so one probe decides either way); the target is one probe period (1 s) + 0.2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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

from benchlib import api_client, cpu_seconds, free_port, save_results

from minikube_lite.config import CLUSTER_LABEL, Settings
from minikube_lite.images import ensure_images


def wait(pred: Any, timeout: float = 60.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise TimeoutError("condition not met")


def pod(name: str, probe: bool) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "web", "image": "minikube-lite/busybox:1.0",
        "command": ["sh", "-c", "mkdir -p /www && touch /www/ready && exec httpd -f -p 8080 -h /www"],
        "ports": [{"name": "http", "containerPort": 8080}],
    }
    if probe:
        # failureThreshold 1: one failed probe flips the result, so both edges measure the same path
        container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1,
                                       "failureThreshold": 1}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [container]}}


def ready_count(c: httpx.Client, prefix: str) -> int:
    items = c.get("/api/v1/namespaces/default/pods").json().get("items") or []
    return sum(1 for p in items if p["metadata"]["name"].startswith(prefix)
               and all(s.get("ready") for s in (p.get("status") or {}).get("containerStatuses") or [{}]))


def run_batch(c: httpx.Client, prefix: str, n: int, probe: bool) -> None:
    for i in range(n):
        c.post("/api/v1/namespaces/default/pods", json=pod(f"{prefix}{i}", probe)).raise_for_status()
    wait(lambda: ready_count(c, prefix) == n, 180, 0.5)


def delete_batch(c: httpx.Client, prefix: str, n: int) -> None:
    for i in range(n):
        c.delete(f"/api/v1/namespaces/default/pods/{prefix}{i}", params={"gracePeriodSeconds": 0})
    wait(lambda: not [p for p in c.get("/api/v1/namespaces/default/pods").json().get("items") or []
                      if p["metadata"]["name"].startswith(prefix)], 120, 0.5)


def measure_cpu(pid: int, seconds: float) -> float:
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--toggles", type=int, default=10)
    args = ap.parse_args()
    ensure_images()
    tmp = Path(tempfile.mkdtemp(prefix="mkl-bench-probes-"))
    settings = Settings(state_dir=tmp / "state", port=free_port())
    env = dict(os.environ, KUBECONFIG=str(tmp / "kubeconfig"))
    results: dict[str, Any] = {"pods": args.pods, "period_s": 1}
    subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "start", "--port", str(settings.port),
                    "--state-dir", str(settings.state_dir)], check=True, env=env, capture_output=True)
    try:
        c = api_client(settings.state_dir, settings.server_url, timeout=30)
        wait(lambda: c.get("/api/v1/nodes").json().get("items"), 30)
        pid = int(settings.pid_file.read_text())

        run_batch(c, "plain-", args.pods, probe=False)
        time.sleep(3)
        results["cpu_percent_without_probes"] = round(measure_cpu(pid, args.seconds), 2)
        delete_batch(c, "plain-", args.pods)

        run_batch(c, "probed-", args.pods, probe=True)
        time.sleep(3)
        results["cpu_percent_with_probes"] = round(measure_cpu(pid, args.seconds), 2)

        engine = docker.from_env()
        (ctr,) = engine.containers.list(filters={"label": [f"{CLUSTER_LABEL}={settings.cluster_id}",
                                                           "io.kubernetes.pod.name=probed-0",
                                                           "io.kubernetes.container.name=web"]})

        # A watch (one streaming connection) sees the flip without loading the daemon with polls.
        flips: list[tuple[float, bool]] = []
        changed = threading.Condition()

        def watch() -> None:
            params = {"watch": "true", "fieldSelector": "metadata.name=probed-0"}
            with contextlib.suppress(httpx.HTTPError), \
                    api_client(settings.state_dir, settings.server_url, timeout=None) as w, \
                    w.stream("GET", "/api/v1/namespaces/default/pods", params=params) as r:
                for line in r.iter_lines():
                    if not line:
                        continue
                    obj = json.loads(line).get("object") or {}
                    cs = ((obj.get("status") or {}).get("containerStatuses") or [{}])[0]
                    with changed:
                        flips.append((time.perf_counter(), bool(cs.get("ready"))))
                        changed.notify_all()

        threading.Thread(target=watch, daemon=True).start()
        time.sleep(1.0)
        latencies: dict[bool, list[float]] = {True: [], False: []}
        for i in range(args.toggles * 2):
            want = i % 2 == 1  # first remove (ready -> not ready), then create again
            seen = len(flips)
            t0 = time.perf_counter()
            ctr.exec_run(["touch", "/www/ready"] if want else ["rm", "/www/ready"])
            with changed:
                ok = changed.wait_for(lambda w=want, n=seen: any(r == w for _, r in flips[n:]), timeout=10)
            if not ok:
                raise TimeoutError("the readiness change never showed")
            at = next(t for t, r in flips[seen:] if r == want)
            latencies[want].append(at - t0)
            time.sleep(0.3)
        for want, label in ((True, "became_ready"), (False, "became_unready")):
            values = latencies[want]
            results[f"readiness_{label}_visible_s"] = {
                "median": round(statistics.median(values), 3), "max": round(max(values), 3), "n": len(values),
                "bound_period_plus_0.2": 1.2}
    finally:
        subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "delete", "--state-dir",
                        str(settings.state_dir)], env=env, capture_output=True, check=False)
    save_results("probes", results)


if __name__ == "__main__":
    main()
