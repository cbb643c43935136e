"""Resource metrics figures (issue 18 §4): ``kubectl top pods`` latency and the metrics loop's CPU.

Run: ``python bench/bench_metrics.py [--pods 50] [--calls 20]`` (needs a Docker engine and the
local images). It starts a cluster of its own, runs a Deployment of ``--pods`` busybox pods,
waits until ``kubectl top pods`` lists all of them, then measures:

- ``kubectl top pods``: wall time of the real kubectl (process start, /api and /apis, one
  PodMetrics list, one Pod list), median and p90 of ``--calls`` runs, interleaved in one loop:
  through the ``kubectl`` on PATH (here a dispatcher that first asks ``/version`` and then execs
  ``kubectl.1.NN``; its own cost is the difference) and through the versioned binary directly
  (what a user's kubectl is); beside them the floor of any kubectl command on this machine
  (``kubectl get --raw /healthz``: process start and one request, both ways; and
  ``kubectl version --client``, kubectl's start with no server at all) and the API side
  alone (one GET of the PodMetrics list over HTTPS on a kept-alive connection).
- the metrics loop: the kubelet's own sampling code (kubelet/metrics.py, cgroups.py: each running
  container's cgroup files, the Docker stats API only where they cannot be read; /proc for the
  node) run in this process against the cluster's containers: CPU time of a round, the same
  rounds forced through the Docker stats API (the fallback, and what the loop did before), and the
  loop itself (full rounds at the default resolution plus its 1 s ticks) over ``--loop-seconds``
  as a share of one core. (dockerd's share of answering stats calls is not separable from the
  other users of the shared engine, so it is not included; the file reads need no dockerd.)
- the daemon's whole CPU over ``--idle-seconds`` with the pods running (context: all components).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
TARGET_TOP_MS = 100
sys.path.insert(0, str(ROOT))

from benchlib import cpu_seconds, free_port, save_results

from minikube_lite.auth.pki import client_context
from minikube_lite.config import METRICS_RESOLUTION_SECONDS, Settings
from minikube_lite.images import ensure_images
from minikube_lite.kubelet import cgroups
from minikube_lite.kubelet.metrics import Metrics
from minikube_lite.kubelet.runtime import Runtime


def manifest(replicas: int) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: topbench}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: topbench}}}}
  template:
    metadata: {{labels: {{app: topbench}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - {{name: main, image: "minikube-lite/busybox:1.0", command: ["sleep", "3600"]}}
"""


class Sampler(Metrics):
    """The kubelet's sampling code, fed with the cluster's containers found through Docker."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="bench-stats")
        self._samples = {}
        self._node_samples = (None, None)
        self._last_records = {}
        self._cgroup_files = {}
        self.cgroup_root = cgroups.CGROUP_ROOT

    def load(self) -> int:
        records: dict[str, list[Any]] = {}
        for ns, pod, uid in set(self.runtime.all_pod_keys()):
            records[uid] = self.runtime.pod_containers_of(ns, pod, uid)
        self._last_records = records
        return len(self._running_containers())


def run(cmd: list[str], env: dict[str, str]) -> str:
    return subprocess.run(cmd, check=True, env=env, capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10, help="sampling rounds measured")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--loop-seconds", type=float, default=30.0, help="how long the real loop is measured")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    ensure_images()
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        root = Path(tmp)
        settings = Settings(state_dir=root / "state", port=free_port())
        (root / "home").mkdir()
        env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
        env.update(KUBECONFIG=str(root / "kubeconfig"), KUBECACHEDIR=str(root / "cache"), HOME=str(root / "home"))
        cli = [sys.executable, "-m", "minikube_lite.cli.main"]
        run([*cli, "start", "--port", str(settings.port), "--state-dir", str(settings.state_dir)], env)
        http = httpx.Client(base_url=settings.server_url, timeout=10, verify=client_context(settings.state_dir))
        try:
            subprocess.run(["kubectl", "apply", "-f", "-"], input=manifest(args.pods), env=env, check=True,
                           capture_output=True, text=True)
            deadline = time.monotonic() + 300
            while True:
                rows = [line for line in run(["kubectl", "top", "pods", "--no-headers"], env).splitlines()
                        if line.startswith("topbench-")] if _has_metrics(http) else []
                if len(rows) >= args.pods:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"only {len(rows)} pods in kubectl top")
                time.sleep(1)
            binary = versioned_kubectl(http)
            kubectl_ms, api_ms, baseline_ms, direct_ms, direct_baseline_ms, client_only_ms = [], [], [], [], [], []
            for _ in range(args.calls):
                t0 = time.perf_counter()
                run([binary, "version", "--client"], env)  # kubectl's own start, no server at all
                client_only_ms.append((time.perf_counter() - t0) * 1000)
                for cmd, top, floor in (("kubectl", kubectl_ms, baseline_ms), (binary, direct_ms, direct_baseline_ms)):
                    t0 = time.perf_counter()
                    run([cmd, "get", "--raw", "/healthz"], env)
                    floor.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    out = run([cmd, "top", "pods"], env)
                    top.append((time.perf_counter() - t0) * 1000)
                    assert out.count("topbench-") >= args.pods
                t0 = time.perf_counter()
                items = http.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods").json()["items"]
                api_ms.append((time.perf_counter() - t0) * 1000)
                assert len(items) >= args.pods

            runtime = Runtime(cluster_id=settings.cluster_id, network_name=settings.network_name)
            sampler = Sampler(runtime)
            containers = sampler.load()

            async def rounds(sampler: Sampler) -> float:
                t0 = time.process_time()
                for _ in range(args.rounds):
                    sampler._sample_node()
                    await sampler._sample(sampler._running_containers())
                return time.process_time() - t0

            cgroup_rounds = asyncio.run(rounds(sampler))
            from_files = sum(1 for f in sampler._cgroup_files.values() if f is not None)
            # the same rounds through the Docker stats API (what the kubelet falls back to, and
            # what it did before reading cgroup files)
            stats_sampler = Sampler(runtime)
            stats_sampler.cgroup_root = Path("/nonexistent-cgroup-root")
            stats_sampler.load()
            stats_rounds = asyncio.run(rounds(stats_sampler))

            async def loop() -> float:
                """The kubelet's loop itself (full rounds plus its 1 s ticks) for --loop-seconds."""
                t0 = time.process_time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sampler._metrics_loop(), args.loop_seconds)
                return time.process_time() - t0

            sampler.metrics_resolution = METRICS_RESOLUTION_SECONDS
            loop_cpu = asyncio.run(loop())
            pid = int(settings.pid_file.read_text())
            before = cpu_seconds(pid)
            time.sleep(args.idle_seconds)
            daemon = (cpu_seconds(pid) - before) / args.idle_seconds * 100
        finally:
            run([*cli, "delete", "--state-dir", str(settings.state_dir)], env)
    q = statistics.quantiles
    result = {
        "pods": args.pods, "calls": args.calls, "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0], "cpus": os.cpu_count(), "versioned_kubectl": binary,
        "kubectl_top_pods_ms_median": round(statistics.median(kubectl_ms), 1),
        "kubectl_top_pods_ms_p90": round(q(kubectl_ms, n=10)[-1], 1),
        "kubectl_get_raw_healthz_ms_median": round(statistics.median(baseline_ms), 1),
        "versioned_kubectl_top_pods_ms_median": round(statistics.median(direct_ms), 1),
        "versioned_kubectl_top_pods_ms_p90": round(q(direct_ms, n=10)[-1], 1),
        "versioned_kubectl_get_raw_healthz_ms_median": round(statistics.median(direct_baseline_ms), 1),
        "versioned_kubectl_version_client_ms_median": round(statistics.median(client_only_ms), 1),
        "api_podmetrics_list_ms_median": round(statistics.median(api_ms), 2),
        "sampled_containers": containers, "read_from_cgroup_files": from_files,
        "sampling_round_cpu_ms": round(cgroup_rounds / args.rounds * 1000, 2),
        "sampling_round_cpu_ms_docker_stats_api": round(stats_rounds / args.rounds * 1000, 1),
        "resolution_s": METRICS_RESOLUTION_SECONDS,
        "metrics_loop_percent_of_core_measured": round(loop_cpu / args.loop_seconds * 100, 3),
        "metrics_loop_seconds_measured": args.loop_seconds,
        "rounds_percent_of_core_at_resolution": round(cgroup_rounds / args.rounds / METRICS_RESOLUTION_SECONDS * 100, 3),
        "docker_stats_rounds_percent_of_core_at_resolution": round(
            stats_rounds / args.rounds / METRICS_RESOLUTION_SECONDS * 100, 3),
        "daemon_idle_cpu_percent_of_core": round(daemon, 2),
    }
    save_results("metrics", result, show=False)
    top = result["versioned_kubectl_top_pods_ms_median"]
    print(f"kubectl top pods, {args.pods} pods, {binary} directly (a user's kubectl): median {top:.0f} ms, "
          f"p90 {result['versioned_kubectl_top_pods_ms_p90']:.0f} ms; target <= {TARGET_TOP_MS} ms: "
          f"{'met' if top <= TARGET_TOP_MS else 'NOT met'}")
    print(f"  through the kubectl dispatcher on PATH: median {result['kubectl_top_pods_ms_median']:.0f} ms "
          f"(the dispatcher's own /version and exec: {result['kubectl_top_pods_ms_median'] - top:+.0f} ms)")
    print(f"  floor, kubectl get --raw /healthz: {result['versioned_kubectl_get_raw_healthz_ms_median']:.0f} ms "
          f"directly, {result['kubectl_get_raw_healthz_ms_median']:.0f} ms through the dispatcher; "
          f"kubectl version --client (no server): {result['versioned_kubectl_version_client_ms_median']:.0f} ms")
    print(f"  the API's answer alone (PodMetrics list): median {result['api_podmetrics_list_ms_median']:.1f} ms")
    print(f"metrics loop with {containers} containers: {result['metrics_loop_percent_of_core_measured']:.2f} % of a "
          f"core; target <= 1 %: {'met' if result['metrics_loop_percent_of_core_measured'] <= 1 else 'NOT met'}")
    print(f"load average {load_before:.2f} before, {result['load_average_after']:.2f} after, {os.cpu_count()} CPUs; "
          "details in bench/results/metrics.json")


def versioned_kubectl(http: httpx.Client) -> str:
    """The kubectl.1.NN the dispatcher on PATH would exec for this server (its minor), else the newest."""
    import shutil

    minor = "".join(ch for ch in str(http.get("/version").json().get("minor", "")) if ch.isdigit())
    dispatcher = shutil.which("kubectl")
    where = [str(Path(dispatcher).resolve().parent)] if dispatcher else []
    path = os.pathsep.join([*where, os.environ.get("PATH", "")])  # the versions sit beside the dispatcher
    for m in (minor, *(str(n) for n in range(40, 20, -1))):
        if m and (found := shutil.which(f"kubectl.1.{m}", path=path)) is not None:
            return found
    raise SystemExit("no versioned kubectl (kubectl.1.NN) beside the kubectl on PATH")


def _has_metrics(http: httpx.Client) -> bool:
    r = http.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods")
    return r.status_code == 200 and len(r.json()["items"]) > 0


if __name__ == "__main__":
    main()
