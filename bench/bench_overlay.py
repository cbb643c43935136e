"""Pod-to-pod across two machines over the overlay vs the same pair on one engine (issue 15).

Run: ``python bench/bench_overlay.py [--mib 128] [--runs 3] [--pings 30]`` as root (needs a Docker
engine, dockerd, ``unshare``/``nsenter``/``ip`` and the local images). Nothing of the machine's
engine or network is used: the master (``start --multi-host``) runs on an engine of its own in a
network namespace of its own, the joined node (``minikube-lite agent``) on another, linked to the
master's by a veth (tests/e2e/remotehost.py, the bed of tests/e2e/test_overlay.py); all of it is
removed at the end. Three pods: ``client`` and ``near`` on the master's node, ``far`` on the joined
node; ``near`` and ``far`` serve a file of ``--mib`` MiB (busybox httpd; an emptyDir, so the page cache after the first read).

- ``throughput_MBps``: ``wget -O /dev/null`` of the file by ``client``, timed inside the pod
  (microseconds from ``adjtimex``, so ``kubectl exec``'s own time is not counted), median of
  ``--runs``: ``same_engine`` (client -> near: the master's bridge) and ``overlay`` (client ->
  far: bridge, the master's router, Swarm's VXLAN overlay, the far router, the far bridge);
  ``ratio`` = overlay / same_engine.
- ``ping_ms``: p50 of ``--pings`` ICMP echoes (busybox ping, 0.2 s apart), same engine and
  overlay; ``added_ms`` = the difference.

No target (issue 15: the overlay's VXLAN cost is the engine's); the figures are reported with the
load average. Writes ``bench/results/overlay.json``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import pct, save_results

from minikube_lite.images import ensure_images
from minikube_lite.kubelet.pause import PAUSE_IMAGE
from tests.e2e.conftest import pod_running, wait_for
from tests.e2e.remotehost import NsCluster, RemoteMachine, join_agent, multi_host_cluster

BUSYBOX = "minikube-lite/busybox:1.0"
NODE = "far-away"
POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  nodeSelector:
    kubernetes.io/hostname: {node}
  terminationGracePeriodSeconds: 0
  volumes: [{{name: w, emptyDir: {{}}}}]
  containers:
    - name: main
      image: minikube-lite/busybox:1.0
      volumeMounts: [{{name: w, mountPath: /w}}]
      command: ["sh", "-c", "dd if=/dev/zero of=/w/big bs=1M count={mib} 2>/dev/null; echo ok > /w/index.html;
                            exec httpd -f -p 8080 -h /w"]
---
"""
TIMED = ("t(){ adjtimex | awk '/tv_sec/{s=$2}/tv_usec/{u=$2}END{printf \"%d%06d\\n\", s, u}'; }; "
         "s=$(t); wget -qO /dev/null http://{ip}:8080/big || exit 1; e=$(t); echo $((e-s))")


def _exec(cluster: NsCluster, pod: str, script: str, timeout: float = 120) -> str:
    return cluster.kubectl("exec", pod, "--", "sh", "-c", script, timeout=timeout).stdout


def _throughput(cluster: NsCluster, ip: str, mib: int, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        micros = int(_exec(cluster, "client", TIMED.replace("{ip}", ip)).strip().splitlines()[-1])
        out.append(mib * 1024 * 1024 / (micros / 1e6) / 1e6)
    return out


def _pings(cluster: NsCluster, ip: str, n: int) -> list[float]:
    text = _exec(cluster, "client", f"ping -c {n} -i 0.2 {ip}", timeout=n + 30)
    return [float(m) for m in re.findall(r"time=([\d.]+) ms", text)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=128, help="size of the file transferred (MiB)")
    ap.add_argument("--runs", type=int, default=3, help="transfers per path (the median is reported)")
    ap.add_argument("--pings", type=int, default=30, help="ICMP echoes per path")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the bench makes network namespaces and a dockerd of its own")
    ensure_images()
    master = RemoteMachine(iptables=True)  # Docker's own rules in the namespaces, as on a user's engine
    far = RemoteMachine(peer=master, iptables=True)
    results: dict[str, Any] = {"mib": args.mib, "runs": args.runs, "pings": args.pings}
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda m: (m.engine.start(), m.load_images(BUSYBOX, PAUSE_IMAGE)), (master, far)))
        master.start()
        far.start()
        with tempfile.TemporaryDirectory(prefix="bench-overlay-") as tmp, \
                multi_host_cluster(Path(tmp), master) as cluster:
            join_agent(cluster, far, NODE, Path(tmp) / "agent")
            near_node = cluster.settings.node_name
            manifest = Path(tmp) / "pods.yaml"
            manifest.write_text("".join(POD.format(name=n, node=node, mib=mib) for n, node, mib in (
                ("client", near_node, 1), ("near", near_node, args.mib), ("far", NODE, args.mib))))
            cluster.kubectl("apply", "-f", str(manifest))
            for pod in ("client", "near", "far"):
                wait_for(lambda p=pod: pod_running(cluster, p), timeout=90, what=f"{pod} Running")
            ips = {p: cluster.pod(p)["status"]["podIP"] for p in ("near", "far")}
            wait_for(lambda: "0" not in _exec(cluster, "client", f"wget -qO- http://{ips['far']}:8080/ >/dev/null "
                                              "&& echo 1 || echo 0"), timeout=30, what="far answering")
            time.sleep(1)  # the files are written before httpd starts; let the pods settle
            same = _throughput(cluster, ips["near"], args.mib, args.runs)
            over = _throughput(cluster, ips["far"], args.mib, args.runs)
            ping_same, ping_over = _pings(cluster, ips["near"], args.pings), _pings(cluster, ips["far"], args.pings)
    finally:
        far.remove()
        master.remove()
    results["throughput_MBps"] = {"same_engine": round(statistics.median(same), 1),
                                  "overlay": round(statistics.median(over), 1),
                                  "ratio": round(statistics.median(over) / statistics.median(same), 3),
                                  "samples_same": [round(x, 1) for x in same], "samples_overlay": [round(x, 1) for x in over]}
    results["ping_ms"] = {"same_engine_p50": round(pct(ping_same, 50), 3), "overlay_p50": round(pct(ping_over, 50), 3),
                          "added_ms": round(pct(ping_over, 50) - pct(ping_same, 50), 3),
                          "received": [len(ping_same), len(ping_over)]}
    results["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    save_results("overlay", results)
    t, p = results["throughput_MBps"], results["ping_ms"]
    print(f"pod-to-pod, {args.mib} MiB wget: same engine {t['same_engine']} MB/s, over the overlay {t['overlay']} MB/s "
          f"(ratio {t['ratio']}); ping p50 {p['same_engine_p50']} ms vs {p['overlay_p50']} ms "
          f"(+{p['added_ms']} ms); no target (reported); load average {results['loadavg']}")


if __name__ == "__main__":
    main()
