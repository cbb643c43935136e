"""Workload-kind figures (issue 12): Jobs vs. Docker directly, CronJob lateness, StatefulSet start.

Run: ``python bench/bench_workloads.py [--jobs 50] [--rounds 2] [--minutes 2]`` (needs a Docker
engine and the local images). It starts a cluster of its own (temporary state folder and port),
prints the figures and writes ``bench/results/workloads.json``.

- jobs: N Jobs of one completion each (``true`` in the local busybox image), all sent in one
  ``kubectl apply``, until the API shows every one ``Complete``; side by side with N
  pod-equivalents run to exit through the Docker SDK at the kubelet's parallelism (16 threads):
  a pause container, the app container joined to its network, wait for its exit. Rounds
  alternate; medians compared.
- cronjob: a ``*/1 * * * *`` CronJob; for each of ``--minutes`` schedules, the delay between the
  scheduled minute and the moment a watch on Jobs delivers the new Job (the client's clock).
- statefulset: a StatefulSet of 5 with a claim each, OrderedReady, apply → all Ready; against five
  pods with a claim each created one after another by a client (claim, pod, wait Ready, next).
"""

from __future__ import annotations

import argparse
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

from benchlib import api_client, free_port, save_results, sdk_pod_equivalents

from minikube_lite.config import Settings
from minikube_lite.images import ensure_images

IMAGE = "minikube-lite/busybox:1.0"
THREADS = 16


def jobs_manifest(prefix: str, n: int) -> str:
    return "\n---\n".join(f"""apiVersion: batch/v1
kind: Job
metadata: {{name: {prefix}-{i}}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - {{name: main, image: "{IMAGE}", command: ["true"]}}""" for i in range(n))


STS = f"""apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: bench}}
spec:
  serviceName: bench
  replicas: 5
  selector: {{matchLabels: {{app: bench}}}}
  template:
    metadata: {{labels: {{app: bench}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: main
          image: "{IMAGE}"
          command: ["sleep", "3600"]
          volumeMounts: [{{name: data, mountPath: /data}}]
  volumeClaimTemplates:
    - metadata: {{name: data}}
      spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 10Mi}}}}}}
"""


def pod_with_claim(i: int) -> str:
    return f"""apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data-manual-{i}}}
spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 10Mi}}}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: manual-{i}, labels: {{app: manual}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: main
      image: "{IMAGE}"
      command: ["sleep", "3600"]
      volumeMounts: [{{name: data, mountPath: /data}}]
  volumes: [{{name: data, persistentVolumeClaim: {{claimName: data-manual-{i}}}}}]
"""


class Bench:
    def __init__(self, root: Path) -> None:
        self.settings = Settings(state_dir=root / "state", port=free_port())
        (root / "home").mkdir()
        self.env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
        self.env.update(KUBECONFIG=str(root / "kubeconfig"), KUBECACHEDIR=str(root / "cache"), HOME=str(root / "home"))
        self.docker = docker.from_env(max_pool_size=THREADS * 2)  # each thread holds one for wait()

    @property
    def http(self) -> httpx.Client:
        """The admin's client (made on first use: the cluster's certificates exist once it started)."""
        if "_http" not in self.__dict__:
            self.__dict__["_http"] = api_client(self.settings.state_dir, self.settings.server_url, timeout=30)
        return self.__dict__["_http"]

    def cli(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", *args, "--state-dir",
                        str(self.settings.state_dir)], check=True, env=self.env, capture_output=True)

    def kubectl(self, *args: str, input: str | None = None) -> None:
        subprocess.run(["kubectl", *args], check=True, env=self.env, capture_output=True, text=True, input=input)

    def items(self, path: str) -> list[dict[str, Any]]:
        return self.http.get(path).json().get("items", [])

    @staticmethod
    def wait(pred: Any, timeout: float = 300, interval: float = 0.02) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(interval)
        raise TimeoutError(str(pred))

    # jobs

    def jobs_complete(self, prefix: str, n: int) -> float:
        def done() -> bool:
            jobs = [j for j in self.items("/apis/batch/v1/namespaces/default/jobs")
                    if j["metadata"]["name"].startswith(prefix + "-")]
            return len(jobs) == n and all(any(c.get("type") == "Complete" and c.get("status") == "True"
                                              for c in (j.get("status") or {}).get("conditions") or [])
                                          for j in jobs)

        t0 = time.perf_counter()
        self.kubectl("apply", "-f", "-", input=jobs_manifest(prefix, n))
        self.wait(done, interval=0.05)
        elapsed = time.perf_counter() - t0
        self.kubectl("delete", "jobs", "--all", "--wait=true")
        self.wait(lambda: not self.items("/api/v1/namespaces/default/pods"), timeout=120)
        return elapsed

    def docker_jobs(self, n: int) -> float:
        return sdk_pod_equivalents(self.docker, self.settings.network_name, ["true"], n, threads=THREADS,
                                   label={"minikube-lite.bench": "workloads"}, wait=True)

    # cronjob

    def cron_lateness(self, minutes: int) -> list[float]:
        seen: list[float] = []
        stop = threading.Event()

        def watch() -> None:
            rv = self.http.get("/apis/batch/v1/namespaces/default/jobs").json()["metadata"]["resourceVersion"]
            with api_client(self.settings.state_dir, self.settings.server_url, timeout=None) as c, c.stream(
                    "GET", f"/apis/batch/v1/namespaces/default/jobs?watch=true&resourceVersion={rv}") as r:
                for line in r.iter_lines():
                    if stop.is_set():
                        return
                    ev = json.loads(line)
                    name = ev["object"]["metadata"]["name"]
                    if ev["type"] == "ADDED" and name.startswith("tick-"):
                        minute = int(name.rsplit("-", 1)[1])
                        seen.append(time.time() - minute * 60)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        time.sleep(0.5)
        self.kubectl("create", "cronjob", "tick", f"--image={IMAGE}", "--schedule=*/1 * * * *", "--", "true")
        self.wait(lambda: len(seen) >= minutes, timeout=60 * minutes + 70, interval=0.2)
        stop.set()
        self.kubectl("delete", "cronjob", "tick")
        return seen[:minutes]

    # statefulset

    def ready_pods(self, selector: str) -> int:
        return sum(1 for p in self.items(f"/api/v1/namespaces/default/pods?labelSelector={selector}")
                   if any(c.get("type") == "Ready" and c.get("status") == "True"
                          for c in (p.get("status") or {}).get("conditions") or []))

    def statefulset_ready(self) -> float:
        t0 = time.perf_counter()
        self.kubectl("apply", "-f", "-", input=STS)
        self.wait(lambda: self.ready_pods("app=bench") >= 5)
        elapsed = time.perf_counter() - t0
        self.kubectl("delete", "sts", "bench")
        self.wait(lambda: not self.items("/api/v1/namespaces/default/pods?labelSelector=app=bench"), timeout=120)
        self.kubectl("delete", "pvc", "--all")
        return elapsed

    def pods_one_after_another(self) -> float:
        t0 = time.perf_counter()
        for i in range(5):
            self.kubectl("apply", "-f", "-", input=pod_with_claim(i))
            self.wait(lambda want=i + 1: self.ready_pods("app=manual") >= want)
        elapsed = time.perf_counter() - t0
        self.kubectl("delete", "pods", "-l", "app=manual", "--wait=true")
        self.kubectl("delete", "pvc", "--all")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--minutes", type=int, default=2)
    args = parser.parse_args()
    ensure_images()
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        bench.cli("start", "--port", str(bench.settings.port))
        try:
            bench.wait(lambda: bench.http.get(f"/api/v1/nodes/{bench.settings.node_name}").status_code == 200, 30)
            time.sleep(2)
            k8s, direct = [], []
            for r in range(args.rounds):
                direct.append(bench.docker_jobs(args.jobs))
                k8s.append(bench.jobs_complete(f"b{r}", args.jobs))
            sts, manual = [], []
            for _ in range(args.rounds):
                manual.append(bench.pods_one_after_another())
                sts.append(bench.statefulset_ready())
            lateness = bench.cron_lateness(args.minutes)
        finally:
            bench.cli("delete")
    jobs_ratio = statistics.median(k8s) / statistics.median(direct)
    sts_ratio = statistics.median(sts) / statistics.median(manual)
    results = {
        "jobs": {"count": args.jobs, "minikube_lite_s": k8s, "docker_sdk_s": direct,
                 "ratio_of_medians": round(jobs_ratio, 2), "target": 1.5},
        "cronjob_lateness_s": {"each": [round(x, 3) for x in lateness], "max": round(max(lateness), 3),
                               "target": 1.0},
        "statefulset_5_with_claims": {"statefulset_s": sts, "pods_one_after_another_s": manual,
                                      "ratio_of_medians": round(sts_ratio, 2), "target": 1.3},
    }
    save_results("workloads", results)


if __name__ == "__main__":
    main()
