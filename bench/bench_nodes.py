"""Node figures (issue 14), the part the master decides: node failure → pods back, scheduling.

Run: ``python bench/bench_nodes.py [--replicas 5] [--toleration 5] [--grace 50]`` (needs a Docker
engine and the local images). It starts a cluster of its own and registers an extra Node object
(``minikube-lite-m02``) whose Lease this script renews, as that node's kubelet would; there is no
second kubelet yet, so the pods placed there stay Pending and the figures measure the master:

- node failure: a Deployment of N replicas tolerating ``unreachable`` for ``--toleration`` s, all
  on m02 (the real node cordoned while they are placed, then uncordoned; m03 stays cordoned); the renewals stop (the
  machine is switched off) and the clock runs until N replacement pods are Running on the real
  node. Target (issue 14): ≤ grace period + toleration + 2 s. ``--grace`` sets the node monitor
  grace period (kube-controller-manager's default, 50 s, unless told).
- scheduling: 30 replicas over 3 nodes (two of them Node objects), from ``kubectl apply`` until
  all are bound, with how many landed on each node.

Writes ``bench/results/nodes.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import free_port, save_results

from minikube_lite.config import Settings
from minikube_lite.images import ensure_images

NODE = """apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels: {{kubernetes.io/hostname: {name}, kubernetes.io/os: linux}}
status:
  capacity: {{cpu: "2", memory: 4Gi, pods: "110"}}
  allocatable: {{cpu: "2", memory: 4Gi, pods: "110"}}
  conditions:
  - {{type: Ready, status: "True", reason: KubeletReady, message: kubelet is posting ready status}}
"""


def deployment(name: str, replicas: int, toleration: int | None) -> str:
    tol = ("      tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, "
           f"tolerationSeconds: {toleration}}}]\n") if toleration is not None else ""
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
{tol}      containers:
      - {{name: main, image: minikube-lite/busybox:1.0, command: ["sleep", "3600"]}}
"""


class Renewer(threading.Thread):
    def __init__(self, url: str, names: set[str]) -> None:
        super().__init__(daemon=True)
        self.url, self.names, self.stop = url, names, threading.Event()

    def run(self) -> None:
        base = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
        with httpx.Client(base_url=self.url, timeout=5) as c:
            while not self.stop.is_set():
                now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                for name in list(self.names):
                    spec = {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now}
                    r = c.get(f"{base}/{name}")
                    if r.status_code == 404:
                        c.post(base, json={"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                           "metadata": {"name": name}, "spec": spec})
                    elif r.status_code == 200:
                        lease = r.json()
                        lease["spec"].update(spec)
                        c.put(f"{base}/{name}", json=lease)
                self.stop.wait(1)


class Bench:
    def __init__(self, root: Path, grace: float) -> None:
        self.settings = Settings(state_dir=root / "state", port=free_port())
        (root / "home").mkdir()
        self.env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
        self.env.update(KUBECONFIG=str(root / "kubeconfig"), KUBECACHEDIR=str(root / "cache"), HOME=str(root / "home"),
                        MINIKUBE_LITE_NODE_MONITOR_GRACE_PERIOD=str(grace))
        self.http = httpx.Client(base_url=self.settings.server_url, timeout=10)

    def cli(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", *args, "--state-dir",
                        str(self.settings.state_dir)], check=True, env=self.env, capture_output=True)

    def kubectl(self, *args: str, input: str | None = None) -> None:
        subprocess.run(["kubectl", *args], check=True, env=self.env, capture_output=True, text=True, input=input)

    def pods(self, app: str) -> list[dict[str, Any]]:
        return self.http.get("/api/v1/namespaces/default/pods", params={"labelSelector": f"app={app}"}).json()["items"]

    @staticmethod
    def wait(pred: Any, timeout: float = 180, interval: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if out := pred():
                return out
            time.sleep(interval)
        raise TimeoutError(str(pred))

    def node_failure(self, replicas: int, toleration: int) -> float:
        self.kubectl("cordon", self.settings.node_name, "minikube-lite-m03")  # all go to m02
        self.kubectl("apply", "-f", "-", input=deployment("movable", replicas, toleration))

        def placed() -> set[str] | None:
            ps = self.pods("movable")
            if len(ps) == replicas and all(p["spec"].get("nodeName") == "minikube-lite-m02" for p in ps):
                return {p["metadata"]["name"] for p in ps}
            return None
        first = self.wait(placed)
        self.kubectl("uncordon", self.settings.node_name)
        time.sleep(2)
        self.renewer.names.discard("minikube-lite-m02")
        t0 = time.monotonic()

        marks: dict[str, float] = {}

        def replaced() -> bool:
            now = time.monotonic() - t0
            node = self.http.get("/api/v1/nodes/minikube-lite-m02").json()
            if any(c["type"] == "Ready" and c["status"] == "Unknown" for c in node["status"]["conditions"]):
                marks.setdefault("node_unknown_s", now)
            if any(t.get("effect") == "NoExecute" for t in (node.get("spec") or {}).get("taints") or []):
                marks.setdefault("noexecute_taint_s", now)
            ps = self.pods("movable")
            if any(p["metadata"].get("deletionTimestamp") for p in ps if p["metadata"]["name"] in first):
                marks.setdefault("first_eviction_s", now)
            new = [p for p in ps if p["metadata"]["name"] not in first]
            if len(new) >= replicas:
                marks.setdefault("replacements_created_s", now)
            if len(new) >= replicas and all(p["spec"].get("nodeName") for p in new):
                marks.setdefault("replacements_bound_s", now)
            running = [p for p in ps if p["metadata"]["name"] not in first
                       and p["spec"].get("nodeName") == self.settings.node_name
                       and (p.get("status") or {}).get("phase") == "Running"
                       and all(s.get("ready") for s in (p.get("status") or {}).get("containerStatuses") or [])]
            return len(running) >= replicas
        self.wait(replaced, timeout=300, interval=0.2)
        elapsed = time.monotonic() - t0
        self.marks = {k: round(v, 2) for k, v in marks.items()}
        self.kubectl("delete", "deployment", "movable")
        return elapsed

    def scheduling(self, replicas: int) -> tuple[float, dict[str, int]]:
        t0 = time.perf_counter()
        self.kubectl("apply", "-f", "-", input=deployment("spread", replicas, None))

        def bound() -> list[dict[str, Any]] | None:
            ps = self.pods("spread")
            return ps if len(ps) == replicas and all(p["spec"].get("nodeName") for p in ps) else None
        pods = self.wait(bound, interval=0.01)
        elapsed = time.perf_counter() - t0
        per_node: dict[str, int] = {}
        for p in pods:
            per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
        self.kubectl("delete", "deployment", "spread")
        return elapsed, per_node


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", type=int, default=5)
    parser.add_argument("--toleration", type=int, default=5)
    parser.add_argument("--grace", type=float, default=50.0, help="node monitor grace period, s (default 50)")
    parser.add_argument("--spread-replicas", type=int, default=30)
    args = parser.parse_args()
    ensure_images()
    with tempfile.TemporaryDirectory(prefix="bench-nodes-") as tmp:
        b = Bench(Path(tmp), args.grace)
        b.cli("start", "--port", str(b.settings.port))
        b.renewer = Renewer(b.settings.server_url, {"minikube-lite-m02", "minikube-lite-m03"})  # type: ignore[attr-defined]
        try:
            b.wait(lambda: b.http.get(f"/api/v1/nodes/{b.settings.node_name}").status_code == 200, timeout=30)
            b.renewer.start()  # type: ignore[attr-defined]
            for name in ("minikube-lite-m02", "minikube-lite-m03"):
                b.kubectl("create", "-f", "-", input=NODE.format(name=name))
            time.sleep(2)
            bind_s, per_node = b.scheduling(args.spread_replicas)
            b.wait(lambda: not b.pods("spread"), timeout=120)
            failure_s = b.node_failure(args.replicas, args.toleration)
        finally:
            b.renewer.stop.set()  # type: ignore[attr-defined]
            b.cli("delete")
    target = args.grace + args.toleration + 2
    result = {
        "grace_period_s": args.grace, "toleration_s": args.toleration, "replicas": args.replicas,
        "node_stopped_to_replacements_running_s": round(failure_s, 2), "target_s": target,
        "within_target": failure_s <= target, "timeline_s": b.marks,
        "spread_replicas": args.spread_replicas, "apply_to_all_bound_s": round(bind_s, 2), "per_node": per_node,
    }
    save_results("nodes", result)


if __name__ == "__main__":
    main()
