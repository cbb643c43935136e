"""Node figures (issue 14) with real node agents: start, cost per node, node failure, spreading.

Run: ``python bench/bench_nodes.py [--replicas 5] [--toleration 5] [--grace 50] [--idle 30]
[--execs 15] [--parts start,idle,exec,spread,failure]`` (``--parts start`` measures only the start and the idle cost)
(needs a Docker engine and the local images). It starts a cluster of its own with
``minikube-lite start --nodes 3`` (the control plane's kubelet in the daemon, ``-m02`` and
``-m03`` as node agents, each its own process talking HTTPS to the API) and measures:

- ``start --nodes 3``: from the command to all three nodes Ready (wall clock of the CLI, which
  returns once every node is Ready), with the API server's readiness and the control plane's node
  Ready as the CLI prints them (the agents start with the daemon and usually register first);
- each extra node's cost: the agent's RSS (``VmRSS``) and CPU share over ``--idle`` seconds with
  nothing to do (target ≤ 35 MB, ≤ 0.5 % of a core), with its RSS when the idle window began and
  its growth over the window (KB a minute: whether the figure still holds an hour later; a long
  ``--idle``, e.g. 600, shows it);
- node failure: a Deployment of N replicas tolerating ``unreachable`` for ``--toleration`` s, all
  on m03 (the other nodes cordoned while they are placed); ``minikube-lite node stop m03`` (the
  machine is switched off) and the clock runs until N replacement pods are Running on the other
  nodes. Target: ≤ grace period + toleration + 2 s. ``--grace``: the node monitor grace period
  (kube-controller-manager's default 50 s unless told);
- ``exec`` (part ``exec``): ``kubectl exec POD -- true``, median of ``--execs``, into a pod on the
  control plane's node and into one on ``-m02`` (the API server reaches each through that node's
  kubelet endpoint over HTTPS), beside ``docker exec CONTAINER true`` on the same container: the
  single node keeps its speed, and an agent's node costs about the same;
- 30 replicas over 3 nodes: ``kubectl apply`` → all Ready (the pods' Ready condition), how many
  landed on each node, against the same 30 pod-equivalents made straight through the Docker SDK
  (a pause container on the cluster's bridge + the app container in its network namespace, 16
  threads, as bench_deployments.py's baseline), measured before and after the cluster's run so
  machine load weighs on both alike. Target: ≤ 1.3× the SDK's time.

Each extra node's memory is given as RSS (``VmRSS``: what the target names, counting the pages
of libpython, libssl ... it shares with every other Python process) and as PSS (those shared
pages divided among the processes mapping them: its fair share of the machine's memory).

Prints and writes ``bench/results/nodes.json``; its ``verdict`` lists each figure with its target
and whether it was met, and ``load_average`` the machine's load when the run started and ended.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import api_client, compile_bytecode, cpu_seconds, free_port, save_results, sdk_pod_equivalents

from minikube_lite.config import Settings
from minikube_lite.images import ensure_images

EXTRA = ["minikube-lite-m02", "minikube-lite-m03"]
IMAGE = "minikube-lite/busybox:1.0"
SDK_THREADS = 16


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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Bench:
    def __init__(self, root: Path, grace: float) -> None:
        self.settings = Settings(state_dir=root / "state", port=free_port())
        (root / "home").mkdir()
        self.env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
        self.env.update(KUBECONFIG=str(root / "kubeconfig"), KUBECACHEDIR=str(root / "cache"), HOME=str(root / "home"),
                        MINIKUBE_LITE_NODE_MONITOR_GRACE_PERIOD=str(grace))
        self.http: Any = None

    def cli(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", *args, "--state-dir",
                               str(self.settings.state_dir)], check=True, env=self.env, capture_output=True,
                              text=True).stdout

    def kubectl(self, *args: str, input: str | None = None) -> None:
        subprocess.run(["kubectl", *args], check=True, env=self.env, capture_output=True, text=True, input=input)

    def pods(self, app: str) -> list[dict[str, Any]]:
        return self.http.get("/api/v1/namespaces/default/pods", params={"labelSelector": f"app={app}"}).json()["items"]

    @staticmethod
    def wait(pred: Any, timeout: float = 300, interval: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if out := pred():
                return out
            time.sleep(interval)
        raise TimeoutError(str(pred))

    def start(self) -> dict[str, Any]:
        t0 = time.monotonic()
        out = self.cli("start", "--port", str(self.settings.port), "--nodes", "3")
        total = time.monotonic() - t0
        self.http = api_client(self.settings.state_dir, self.settings.server_url, timeout=10)
        ready = {m.group(1): float(m.group(2)) for m in re.finditer(r'Node "([^"]+)" Ready in ([\d.]+)s', out)}
        api = re.search(r"API server ready in ([\d.]+)s", out)
        return {"start_nodes_3_all_ready_s": round(total, 2), "api_ready_s": float(api.group(1)) if api else None,
                "control_plane_ready_s": ready.get("minikube-lite"),
                "agents_ready_after_control_plane_s": round(max(ready[n] for n in EXTRA) - ready["minikube-lite"], 2)}

    def agent_pid(self, node: str) -> int:
        return int((self.settings.state_dir / "nodes" / node / "agent.pid").read_text())

    def idle_cost(self, seconds: float) -> dict[str, Any]:
        time.sleep(5)  # past the first metrics samples and the first syncs
        pids = {n: self.agent_pid(n) for n in EXTRA}
        before = {n: cpu_seconds(p) for n, p in pids.items()}
        rss_before = {n: rss_mb(p) for n, p in pids.items()}
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        out = {}
        for n, p in pids.items():
            rss = rss_mb(p)
            out[n] = {"rss_mb": round(rss, 1), "pss_mb": round(pss_mb(p) or 0, 1),
                      "idle_cpu_percent_of_a_core": round(100 * (cpu_seconds(p) - before[n]) / elapsed, 2),
                      "rss_at_idle_start_mb": round(rss_before[n], 1),
                      "rss_growth_kb_per_min": round((rss - rss_before[n]) * 1024 * 60 / elapsed, 1)}
        return out

    def sdk_pods(self, n: int) -> float:
        """n pod-equivalents straight through the Docker SDK: a pause container on the cluster's bridge
        and the app container in its network namespace, both started; seconds until all run."""
        client = docker.from_env()
        try:
            return sdk_pod_equivalents(client, self.settings.network_name, ["sleep", "3600"], n,
                                       threads=SDK_THREADS, label={"minikube-lite.bench": "nodes-sdk"})
        finally:
            client.close()

    def spread(self, replicas: int = 30) -> dict[str, Any]:
        sdk_before = self.sdk_pods(replicas)
        t0 = time.monotonic()
        self.kubectl("apply", "-f", "-", input=deployment("spread", replicas, None))

        def ready() -> list[dict[str, Any]] | None:
            ps = self.pods("spread")
            ok = [p for p in ps if any(c.get("type") == "Ready" and c.get("status") == "True"
                                       for c in p["status"].get("conditions") or [])]
            return ok if len(ok) == replicas else None
        ps = self.wait(ready)
        took = time.monotonic() - t0
        per_node: dict[str, int] = {}
        for p in ps:
            per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
        self.kubectl("delete", "deployment", "spread", "--wait=false")
        self.wait(lambda: not self.pods("spread"), timeout=120)
        sdk_after = self.sdk_pods(replicas)
        sdk = (sdk_before + sdk_after) / 2
        return {"replicas_30_all_ready_s": round(took, 2), "per_node": per_node,
                "sdk_30_pod_equivalents_s": [round(sdk_before, 2), round(sdk_after, 2)],
                "ratio_to_sdk": round(took / sdk, 2)}

    def exec_latency(self, n: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for node in ("minikube-lite", "minikube-lite-m02"):
            name = f"exec-{node.rsplit('-', 1)[-1]}"
            self.kubectl("run", name, "--image", IMAGE, "--restart", "Never",
                         "--overrides", f'{{"spec": {{"nodeName": "{node}", "terminationGracePeriodSeconds": 0}}}}',
                         "--", "sleep", "3600")
            pod = self.wait(lambda name=name: (p := self.http.get(f"/api/v1/namespaces/default/pods/{name}").json())
                            ["status"].get("phase") == "Running" and p)
            container = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
            timings: dict[str, list[float]] = {"kubectl": [], "docker": []}
            for _ in range(n):
                for how, cmd in (("kubectl", ["kubectl", "exec", name, "--", "true"]),
                                 ("docker", ["docker", "exec", container, "true"])):
                    t0 = time.monotonic()
                    subprocess.run(cmd, check=True, env=self.env, capture_output=True)
                    timings[how].append(time.monotonic() - t0)
            out[node] = {f"{how}_exec_median_ms": round(1000 * statistics.median(v), 1) for how, v in timings.items()}
            self.kubectl("delete", "pod", name, "--wait=false")
        return out

    def node_failure(self, replicas: int, toleration: int) -> dict[str, Any]:
        self.kubectl("cordon", "minikube-lite", "minikube-lite-m02")  # all go to m03
        self.kubectl("apply", "-f", "-", input=deployment("movable", replicas, toleration))

        def placed() -> set[str] | None:
            ps = self.pods("movable")
            if len(ps) == replicas and all(p["spec"].get("nodeName") == "minikube-lite-m03"
                                           and p["status"].get("phase") == "Running" for p in ps):
                return {p["metadata"]["name"] for p in ps}
            return None
        first = self.wait(placed)
        self.kubectl("uncordon", "minikube-lite", "minikube-lite-m02")
        time.sleep(2)
        t0 = time.monotonic()
        self.cli("node", "stop", "minikube-lite-m03")
        stop_s = time.monotonic() - t0
        marks: dict[str, float] = {"node_stop_command_s": round(stop_s, 2)}

        def replaced() -> bool:
            now = time.monotonic() - t0
            node = self.http.get("/api/v1/nodes/minikube-lite-m03").json()
            if any(c["type"] == "Ready" and c["status"] == "Unknown" for c in node["status"]["conditions"]):
                marks.setdefault("node_unknown_s", round(now, 2))
            if any(t.get("key") == "node.kubernetes.io/unreachable" for t in node["spec"].get("taints") or []):
                marks.setdefault("unreachable_taint_s", round(now, 2))
            ps = self.pods("movable")
            if any(p["metadata"]["name"] in first and p["metadata"].get("deletionTimestamp") for p in ps) or \
                    len([p for p in ps if p["metadata"]["name"] in first]) < replicas:
                marks.setdefault("first_eviction_s", round(now, 2))
            new = [p for p in ps if p["metadata"]["name"] not in first]
            if len(new) >= replicas:
                marks.setdefault("replacements_created_s", round(now, 2))
            if len([p for p in new if p["spec"].get("nodeName")]) >= replicas:
                marks.setdefault("replacements_scheduled_s", round(now, 2))
            fresh = [p for p in new if p["status"].get("phase") == "Running"
                     and p["spec"].get("nodeName") != "minikube-lite-m03"]
            return len(fresh) >= replicas
        self.wait(replaced, timeout=600, interval=0.1)
        marks["replacements_running_s"] = round(time.monotonic() - t0, 2)
        return marks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", type=int, default=5)
    parser.add_argument("--toleration", type=int, default=5)
    parser.add_argument("--grace", type=float, default=50.0)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--execs", type=int, default=15)
    parser.add_argument("--parts", default="start,idle,exec,spread,failure",
                        help="which figures to measure (comma-separated; start and idle always run)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    ensure_images()
    compile_bytecode()  # as scripts/setup.sh leaves it: no start compiles the package or FastAPI
    with tempfile.TemporaryDirectory(prefix="bench-nodes-") as tmp:
        b = Bench(Path(tmp), args.grace)
        results: dict[str, Any] = {"load_average": {"start": load_average()}}
        try:
            results["start"] = b.start()
            results["extra_node_idle"] = b.idle_cost(args.idle)
            if "exec" in parts:
                results["exec"] = b.exec_latency(args.execs)
            if "spread" in parts:
                results["spread"] = b.spread()
            if "failure" in parts:
                failure = b.node_failure(args.replicas, args.toleration)
                failure.update(grace_s=args.grace, toleration_s=args.toleration, replicas=args.replicas,
                               target_s=args.grace + args.toleration + 2)
                results["node_failure"] = failure
        finally:
            subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "delete", "--state-dir",
                            str(b.settings.state_dir)], check=False, env=b.env, capture_output=True)
        results["load_average"]["end"] = load_average()
        results["verdict"] = verdict(results)
        save_results("nodes", results)


def verdict(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each figure of issue 14 with its target and whether this run met it."""
    idle = r["extra_node_idle"].values()
    rows = [("start --nodes 3 -> all Ready (s)", r["start"]["start_nodes_3_all_ready_s"], 2.0),
            ("extra node RSS, worst (MB)", max(n["rss_mb"] for n in idle), 35.0),
            ("extra node PSS, worst (MB)", max(n["pss_mb"] for n in idle), 35.0),
            ("extra node idle CPU, worst (% of a core)", max(n["idle_cpu_percent_of_a_core"] for n in idle), 0.5)]
    if "exec" in r:
        cp, m02 = r["exec"]["minikube-lite"], r["exec"]["minikube-lite-m02"]
        rows.append(("kubectl exec on an agent's node / on the control plane's (x; this bench's yardstick)",
                     round(m02["kubectl_exec_median_ms"] / cp["kubectl_exec_median_ms"], 2), 1.3))
    if "spread" in r:
        rows.append(("30 replicas Ready / same via Docker SDK (x)", r["spread"]["ratio_to_sdk"], 1.3))
    if "node_failure" in r:
        rows.append(("node stop -> replacements Running (s)", r["node_failure"]["replacements_running_s"],
                     r["node_failure"]["target_s"]))
    return [{"figure": f, "measured": v, "target": f"<= {t}", "met": v <= t} for f, v, t in rows]


if __name__ == "__main__":
    main()
