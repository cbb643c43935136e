"""HPA figure (issue 18 §4): load applied -> the autoscaler's first scale-out decision.

Run: ``python bench/bench_hpa.py [--trials 4] [--sync-period 15] [--metric-resolution 5]``
(needs a Docker engine and the local images). It starts a cluster of its own with the given
``--horizontal-pod-autoscaler-sync-period`` (15 s by default, kube-controller-manager's) and
``--metric-resolution`` (the kubelet's default, 5 s; metrics-server's is 15 s), applies
examples/autoscaling/worker.yaml (one worker, an HPA at 50% of a 100m CPU request, scale-down
window 0 so a trial resets quickly), and per trial:
waits a random 0-15 s (so the load lands at any phase of the two loops), turns the load on
(the ConfigMap patch), and times until the Deployment's ``spec.replicas`` grows (polled every
0.1 s over HTTP), then turns the load off and waits for 1 replica again.

The figure is bounded by the two periods: the first sample whose window is busy enough (the
worker burns 200 % of its request against a 50 % target, so 27.5 % of a window must be busy: at
most 1.275 x the metric resolution after the load starts), the scrape 0.3 s later, then the HPA's
next sync (<= sync period). With the defaults (2 s, 15 s) that is <= 17.9 s plus the load's own
start (the ConfigMap reaching the pod, the worker's 0.2 s poll): under the 20 s target in the worst
case, not only on average (kubelet/metrics.py; at 5 s the same sum was 21.7 s). The last line
printed says the figure, the bound and whether every trial met the target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import api_client, free_port, save_results

from minikube_lite.config import METRICS_RESOLUTION_SECONDS, Settings
from minikube_lite.images import ensure_images

EXAMPLE = ROOT / "examples" / "autoscaling" / "worker.yaml"


def run(cmd: list[str], env: dict[str, str], input: str | None = None) -> str:
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, input=input).stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--sync-period", type=float, default=15.0)
    parser.add_argument("--metric-resolution", type=float, default=METRICS_RESOLUTION_SECONDS)
    args = parser.parse_args()
    ensure_images()
    with tempfile.TemporaryDirectory(prefix="bench-hpa-") as tmp:
        root = Path(tmp)
        settings = Settings(state_dir=root / "state", port=free_port())
        env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
        env.update(KUBECONFIG=str(root / "kubeconfig"), KUBECACHEDIR=str(root / "cache"), HOME=str(root),
                   PYTHONPATH=str(ROOT), MINIKUBE_LITE_HPA_SYNC_PERIOD=str(args.sync_period),
                   MINIKUBE_LITE_METRIC_RESOLUTION=str(args.metric_resolution))
        cli = [sys.executable, "-m", "minikube_lite.cli.main"]
        sd = ["--state-dir", str(settings.state_dir)]
        times: list[float] = []
        try:  # the start too: an interrupted start must not leave its daemon behind
            run([*cli, "start", "--port", str(settings.port), *sd], env)
            manifest = EXAMPLE.read_text().replace("stabilizationWindowSeconds: 30", "stabilizationWindowSeconds: 0")
            run(["kubectl", "apply", "-f", "-"], env, input=manifest)
            http = api_client(settings.state_dir, settings.server_url)
            path = "/apis/apps/v1/namespaces/default/deployments/worker"

            def replicas() -> int:
                return int(http.get(path).json()["spec"]["replicas"])

            def load(busy: str) -> None:
                run(["kubectl", "patch", "configmap", "worker-load", "-p", json.dumps({"data": {"busy": busy}})], env)

            def wait(pred: object, timeout: float) -> None:
                end = time.monotonic() + timeout
                while time.monotonic() < end:
                    if pred():  # type: ignore[operator]
                        return
                    time.sleep(0.1)
                raise TimeoutError("timed out")

            # the HPA has a measured utilisation before the first trial
            hpa = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/worker"
            wait(lambda: (http.get(hpa).json().get("status") or {}).get("currentMetrics"), 120)
            for i in range(args.trials):
                time.sleep(random.uniform(0, max(args.sync_period, args.metric_resolution)))
                t0 = time.monotonic()
                load("1")
                wait(lambda: replicas() > 1, 120)
                times.append(time.monotonic() - t0)
                print(f"trial {i + 1}: first scale-out after {times[-1]:.1f} s", flush=True)
                load("0")
                wait(lambda: replicas() == 1, 180)
        finally:
            run([*cli, "delete", *sd], env)
    result = {
        "sync_period_s": args.sync_period, "metric_resolution_s": args.metric_resolution, "trials": len(times),
        "load_to_first_scale_out_s": [round(t, 1) for t in times],
        "median_s": round(statistics.median(times), 1), "max_s": round(max(times), 1),
        "min_s": round(min(times), 1), "target_s": 20,
    }
    result["worst_case_bound_s"] = round(1.275 * args.metric_resolution + 0.3 + args.sync_period, 2)
    result["load_average"] = round(os.getloadavg()[0], 2)
    save_results(f"hpa_sync{int(args.sync_period)}_res{int(args.metric_resolution)}", result)
    met = "met" if result["max_s"] <= result["target_s"] else "NOT met"
    print(f"load applied -> first scale-out over {len(times)} trials: median {result['median_s']} s, "
          f"max {result['max_s']} s; target every trial <= {result['target_s']} s: {met} "
          f"(bound 1.275 x {args.metric_resolution:g} s resolution + 0.3 s scrape + {args.sync_period:g} s sync "
          f"= {result['worst_case_bound_s']} s, plus the load's start; load average {result['load_average']})")


if __name__ == "__main__":
    main()
