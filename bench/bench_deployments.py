"""Workload figures (issue 4): Deployment → all Ready vs. Docker directly, idle CPU, scale leaks.

Run: ``python bench/bench_deployments.py [--replicas 20] [--rounds 3]`` (needs a Docker engine and
the local images). It starts a cluster of its own (temporary state folder and port), prints a
table and writes ``bench/results/deployments.json``.

- apply→ready: wall time from ``kubectl apply`` of a Deployment of N replicas (busybox
  ``sleep 3600``) until the API shows N ready replicas, measured side by side with the time the
  Docker SDK takes to create and start the equivalent directly, at the kubelet's parallelism
  (16 threads): N pods = N pause containers plus N app containers joined to their network
  namespace ("pod-equivalent"), and N single containers ("plain"). Each is repeated ``--rounds``
  times, alternating, and the medians are compared.
- idle CPU: the daemon's CPU time over 20 s with 50 Running pods and nothing changing.
- scale 0→50→0, three times: after each round no containers of the cluster, no pods and exactly
  one ReplicaSet remain; the store's key count returns to where it started.
"""

from __future__ import annotations

import argparse
import functools
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import api_client, cpu_seconds, free_port, save_results, sdk_pod_equivalents

from minikube_lite.config import CLUSTER_LABEL, Settings
from minikube_lite.images import ensure_images

IMAGE = "minikube-lite/busybox:1.0"
THREADS = 16


def manifest(name: str, replicas: int) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - {{name: main, image: "{IMAGE}", command: ["sleep", "3600"]}}
"""


class Bench:
    def __init__(self, root: Path) -> None:
        self.settings = Settings(state_dir=root / "state", port=free_port())
        (root / "home").mkdir()
        self.env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
        self.env.update(KUBECONFIG=str(root / "kubeconfig"), KUBECACHEDIR=str(root / "cache"), HOME=str(root / "home"))
        self.docker = docker.from_env()

    @functools.cached_property
    def http(self) -> Any:
        """The API client, made on first use: it trusts the CA that the cluster's start writes."""
        return api_client(self.settings.state_dir, self.settings.server_url, timeout=10)

    def cli(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", *args, "--state-dir",
                        str(self.settings.state_dir)], check=True, env=self.env, capture_output=True)

    def kubectl(self, *args: str, input: str | None = None) -> None:
        subprocess.run(["kubectl", *args], check=True, env=self.env, capture_output=True, text=True, input=input)

    def deployment(self, name: str) -> dict[str, Any]:
        r = self.http.get(f"/apis/apps/v1/namespaces/default/deployments/{name}")
        return r.json() if r.status_code == 200 else {}

    def wait(self, pred: Any, timeout: float = 120, interval: float = 0.02) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(interval)
        raise TimeoutError(str(pred))

    def ready_replicas(self, name: str) -> int:
        return int((self.deployment(name).get("status") or {}).get("readyReplicas", 0))

    def cluster_containers(self) -> list[Any]:
        # The low-level call: listing models inspects each container, which races with removal.
        return self.docker.api.containers(all=True, filters={"label": f"{CLUSTER_LABEL}={self.settings.cluster_id}"})

    def pod_count(self) -> int:
        return len(self.http.get("/api/v1/namespaces/default/pods").json()["items"])

    def daemon_pid(self) -> int:
        return int(self.settings.pid_file.read_text())

    def store_keys(self) -> int:
        """Objects in the store other than events (events pile up by design)."""
        with sqlite3.connect(f"file:{self.settings.db_path}?mode=ro", uri=True) as db:
            return int(db.execute("select count(*) from kv where key not like '/registry/core/events/%'")
                       .fetchone()[0])

    # measurements

    def apply_to_ready(self, name: str, replicas: int) -> float:
        t0 = time.perf_counter()
        self.kubectl("apply", "-f", "-", input=manifest(name, replicas))
        self.wait(lambda: self.ready_replicas(name) >= replicas, interval=0.01)
        elapsed = time.perf_counter() - t0
        self.kubectl("delete", "deployment", name)
        self.wait(lambda: self.pod_count() == 0 and not self.cluster_containers(), timeout=60)
        return elapsed

    def docker_direct(self, replicas: int, *, pod_equivalent: bool) -> float:
        """``replicas`` made straight through the Docker SDK: pod-equivalents (benchlib's yardstick:
        pause + app), or one plain container each."""
        label = {"minikube-lite.bench": "deployments"}
        network = self.settings.network_name
        if pod_equivalent:
            return sdk_pod_equivalents(self.docker, network, ["sleep", "3600"], replicas, threads=THREADS,
                                       label=label)

        def one(_: int) -> Any:
            app = self.docker.containers.create(IMAGE, ["sleep", "3600"], labels=label, network=network)
            app.start()
            return app

        t0 = time.perf_counter()
        with ThreadPoolExecutor(THREADS) as pool:
            made = list(pool.map(one, range(replicas)))
        elapsed = time.perf_counter() - t0
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda c: c.remove(force=True), made))
        return elapsed

    def idle_cpu(self, pods: int, seconds: float = 20.0) -> float:
        self.kubectl("apply", "-f", "-", input=manifest("idle", pods))
        self.wait(lambda: self.ready_replicas("idle") >= pods, timeout=180)
        time.sleep(5)
        pid = self.daemon_pid()
        before = cpu_seconds(pid)
        time.sleep(seconds)
        used = cpu_seconds(pid) - before
        self.kubectl("delete", "deployment", "idle")
        self.wait(lambda: self.pod_count() == 0 and not self.cluster_containers(), timeout=120)
        return used / seconds * 100

    def scale_rounds(self, rounds: int, top: int) -> list[dict[str, Any]]:
        self.kubectl("apply", "-f", "-", input=manifest("scaler", 0))
        time.sleep(1)
        keys0 = self.store_keys()
        results = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            self.kubectl("scale", "deployment", "scaler", f"--replicas={top}")
            self.wait(lambda: self.ready_replicas("scaler") >= top, timeout=180)
            up = time.perf_counter() - t0
            t0 = time.perf_counter()
            self.kubectl("scale", "deployment", "scaler", "--replicas=0")
            self.wait(lambda: self.pod_count() == 0 and not self.cluster_containers(), timeout=180)
            down = time.perf_counter() - t0
            rs = self.http.get("/apis/apps/v1/namespaces/default/replicasets").json()["items"]
            results.append({"up_s": round(up, 2), "down_s": round(down, 2), "pods": self.pod_count(),
                            "containers": len(self.cluster_containers()), "replicasets": len(rs),
                            "store_keys_delta_excluding_events": self.store_keys() - keys0})
        self.kubectl("delete", "deployment", "scaler")
        return results



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle-pods", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="how long the idle CPU is measured")
    args = parser.parse_args()
    ensure_images()
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        b = Bench(Path(tmp))
        b.cli("start", "--port", str(b.settings.port))
        try:
            b.wait(lambda: b.http.get(f"/api/v1/nodes/{b.settings.node_name}").status_code == 200, timeout=30)
            time.sleep(1)
            k8s, pod_eq, plain = [], [], []
            for i in range(args.rounds):
                k8s.append(b.apply_to_ready(f"bench{i}", args.replicas))
                pod_eq.append(b.docker_direct(args.replicas, pod_equivalent=True))
                plain.append(b.docker_direct(args.replicas, pod_equivalent=False))
            cpu = b.idle_cpu(args.idle_pods, args.idle_seconds)
            scale = b.scale_rounds(3, args.idle_pods)
        finally:
            b.cli("delete")
    med = statistics.median
    result = {
        "replicas": args.replicas, "rounds": args.rounds,
        "apply_to_ready_s": [round(x, 2) for x in k8s],
        "docker_pod_equivalent_s": [round(x, 2) for x in pod_eq],
        "docker_plain_s": [round(x, 2) for x in plain],
        "ratio_vs_pod_equivalent": round(med(k8s) / med(pod_eq), 2),
        "ratio_vs_plain": round(med(k8s) / med(plain), 2),
        "idle_cpu_percent_of_core": round(cpu, 2), "idle_pods": args.idle_pods,
        "scale_rounds": scale,
    }
    save_results("deployments", result)


if __name__ == "__main__":
    main()
