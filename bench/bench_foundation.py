"""Foundation figures: start → API ready, container killed → pod Running again, idle daemon RSS.

Run: ``python bench/bench_foundation.py [--kills 20] [--starts 10]`` (needs a Docker engine and the
local images: ``python -m minikube_lite.images``). It uses a cluster of its own in a temporary
state folder and port, prints a table, and writes ``bench/results/foundation.json``.

- start: wall time of ``minikube-lite start`` (it returns once ``/readyz`` answers), the engine
  already up; each start follows a ``stop``.
- kill: N pods each running one container; the container of a different pod is killed each time
  (``docker kill``, as the notes do), and the time until the API shows the pod Running again
  with RESTARTS 1 is measured by watching the API.
- rss: VmRSS of the daemon process with the seed's pod and service applied, after 5 s idle.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import api_client, cpu_seconds, free_port, save_results

from minikube_lite.config import CLUSTER_LABEL, Settings
from minikube_lite.images import ensure_images


def cli(settings: Settings, *args: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", *args, "--state-dir", str(settings.state_dir)],
                   check=True, env=env, capture_output=True)
    return time.perf_counter() - t0


def pod_running(c: httpx.Client, name: str, restarts: int) -> bool:
    r = c.get(f"/api/v1/namespaces/default/pods/{name}")
    if r.status_code != 200:
        return False
    st = r.json().get("status") or {}
    cs = st.get("containerStatuses") or []
    return st.get("phase") == "Running" and bool(cs) and all(
        s.get("ready") and "running" in (s.get("state") or {}) and s.get("restartCount") == restarts for s in cs)


def wait(pred, timeout: float = 30.0, interval: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise TimeoutError("condition not met")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--starts", type=int, default=10)
    args = ap.parse_args()
    ensure_images()
    tmp = Path(tempfile.mkdtemp(prefix="mkl-bench-"))
    settings = Settings(state_dir=tmp / "state", port=free_port())
    env = dict(os.environ, KUBECONFIG=str(tmp / "kubeconfig"))
    results: dict[str, object] = {}
    try:
        starts = []
        for i in range(args.starts):
            starts.append(cli(settings, "start", "--port", str(settings.port), env=env))
            if i < args.starts - 1:
                cli(settings, "stop", env=env)
        results["start_to_api_ready_s"] = {"median": statistics.median(starts), "min": min(starts),
                                           "max": max(starts), "n": len(starts)}

        c = api_client(settings.state_dir, settings.server_url, timeout=10)
        wait(lambda: c.get("/api/v1/nodes").json().get("items"), 30)
        names = [f"bench-{i}" for i in range(args.kills)]
        for name in names:
            c.post("/api/v1/namespaces/default/pods", json={
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"containers": [{"name": "main", "image": "minikube-lite/busybox:1.0",
                                         "command": ["sleep", "3600"]}]}}).raise_for_status()
        for name in names:
            wait(lambda n=name: pod_running(c, n, 0), 60)
        engine = docker.from_env()
        kills = []
        for name in names:
            (ctr,) = engine.containers.list(filters={"label": [f"{CLUSTER_LABEL}={settings.cluster_id}",
                                                               f"io.kubernetes.pod.name={name}",
                                                               "io.kubernetes.container.name=main"]})
            t0 = time.perf_counter()
            ctr.kill()
            wait(lambda n=name: pod_running(c, n, 1), 30, 0.002)
            kills.append(time.perf_counter() - t0)
        results["kill_to_running_s"] = {"median": statistics.median(kills), "p90": sorted(kills)[int(len(kills) * .9)],
                                        "min": min(kills), "max": max(kills), "n": len(kills)}
        for name in names:
            c.delete(f"/api/v1/namespaces/default/pods/{name}", params={"gracePeriodSeconds": 0})

        subprocess.run(["kubectl", "--kubeconfig", str(tmp / "kubeconfig"), "--cache-dir", str(tmp / "cache"),
                        "apply", "-f", str(ROOT / "examples" / "seed")], check=True, capture_output=True, env=env)
        wait(lambda: pod_running(c, "client-pod", 0), 30)
        time.sleep(5)
        pid = int(settings.pid_file.read_text())
        results["idle_rss_mb_with_seed"] = round(rss_mb(pid), 1)
        cpu0 = cpu_seconds(pid)
        time.sleep(10)
        results["idle_cpu_percent_of_core"] = round((cpu_seconds(pid) - cpu0) / 10 * 100, 2)
    finally:
        subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "delete", "--state-dir",
                        str(settings.state_dir)], env=env, capture_output=True, check=False)
    save_results("foundation", results)



if __name__ == "__main__":
    main()
