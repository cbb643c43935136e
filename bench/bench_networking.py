"""Networking figures (issue 6): Service forwarding against a direct connection to the pod.

Run: ``python bench/bench_networking.py [--seconds 30] [--rate 1000]`` as root (the proxy adds
iptables rules), with a Docker engine and the local images. It starts a cluster of its own in a
temporary folder, two busybox httpd pods behind a ClusterIP and a NodePort Service, prints a
table and writes ``bench/results/networking.json``. Only loopback and cluster addresses are used.

- throughput: one 256 MiB download with curl (best of 5 rounds, paths taking turns) straight from the pod IP, through the
  cluster IP, through ``localhost:<nodePort>`` and ``<node ip>:<nodePort>``; and, for comparison,
  through a user-space forwarder (proxy/userspace.py, the fallback without iptables);
- latency: median of 400 requests, each on a new connection (connect + GET + close) — the added
  latency is the median through the Service minus the median straight to the pod;
- connection rate: ``--rate`` new connections per second through the NodePort for ``--seconds``,
  each a full HTTP request; errors and late starts are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import free_port, save_results

from minikube_lite.images import ensure_images
from minikube_lite.proxy.userspace import Holder

BIG_MB = 256
WEB = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: benchweb}}}}
spec:
  containers:
  - name: web
    image: minikube-lite/busybox:1.0
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && dd if=/dev/zero of=/www/big bs=1M count={mb} 2>/dev/null && exec httpd -f -p 3000 -h /www"]
    ports: [{{name: http, containerPort: 3000}}]
"""


def cli(state: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", *args, "--state-dir", str(state)],
                          env=env, capture_output=True, text=True, check=True).stdout


def kubectl(env: dict[str, str], *args: str, input: str | None = None) -> str:
    return subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, input=input,
                          check=True).stdout


def curl_speeds(urls: dict[str, str], rounds: int = 5) -> dict[str, float]:
    """MB/s per path, best of ``rounds``; the paths take turns so a busy moment hits all alike."""
    best = dict.fromkeys(urls, 0.0)
    for _ in range(rounds):
        for name, url in urls.items():
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download}", url],
                                 capture_output=True, text=True, check=True).stdout
            best[name] = max(best[name], float(out) / 1e6)
    return best


def latency_ms(host: str, port: int, n: int = 400) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            while s.recv(65536):
                pass
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


async def _rate(host: str, port: int, rate: int, seconds: float) -> dict[str, float]:
    errors = 0
    done = 0
    late = 0
    kinds: dict[str, int] = {}
    sem = asyncio.Semaphore(2000)

    async def one() -> None:
        nonlocal errors, done
        async with sem:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
                writer.write(b"GET / HTTP/1.0\r\n\r\n")
                body = await asyncio.wait_for(reader.read(), 5)
                writer.close()
                if b"200 OK" not in body:
                    errors += 1
                else:
                    done += 1
            except (OSError, TimeoutError) as exc:
                errors += 1
                kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1

    tasks = []
    start = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        target = start + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.1:
            late += 1
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return {"connections": total, "ok": done, "errors": errors, "error_kinds": kinds, "late_starts": late,
            "achieved_per_s": round(total / elapsed, 1), "seconds": round(elapsed, 1),
            "load_average": os.getloadavg()[0]}


def userspace_forwarder(target: tuple[str, int]) -> tuple[int, asyncio.AbstractEventLoop]:
    """A user-space forwarder (the fallback mode) on a loopback port, in its own thread."""
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        holder = Holder("127.0.0.1", port, "TCP", lambda: [target])
        loop.run_until_complete(holder.open())
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(5)
    return port, loop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=int, default=1000)
    args = parser.parse_args()
    ensure_images()
    root = Path(tempfile.mkdtemp(prefix="bench-net-"))
    state = root / "state"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
    env.update(KUBECONFIG=str(root / "kubeconfig"), KUBECACHEDIR=str(root / "cache"))
    cli(state, env, "start", "--port", str(port))
    results: dict[str, object] = {}
    try:
        node_port = 31000 + port % 1700
        manifest = WEB.format(name="benchweb-1", mb=BIG_MB) + "---" + WEB.format(name="benchweb-2", mb=BIG_MB) + f"""
---
apiVersion: v1
kind: Service
metadata: {{name: benchweb}}
spec:
  type: NodePort
  selector: {{app: benchweb}}
  ports: [{{port: 80, targetPort: http, nodePort: {node_port}}}]
"""
        kubectl(env, "apply", "-f", "-", input=manifest)
        kubectl(env, "wait", "--for=condition=Ready", "pod/benchweb-1", "pod/benchweb-2", "--timeout=120s")
        for pod in ("benchweb-1", "benchweb-2"):  # httpd starts once the big file is written
            ip = json.loads(kubectl(env, "get", "pod", pod, "-o", "json"))["status"]["podIP"]
            deadline = time.monotonic() + 120
            while True:
                try:
                    latency_ms(ip, 3000, n=1)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        svc = json.loads(kubectl(env, "get", "service", "benchweb", "-o", "json"))
        pod_ip = json.loads(kubectl(env, "get", "pod", "benchweb-1", "-o", "json"))["status"]["podIP"]
        cluster_ip = svc["spec"]["clusterIP"]
        node_ip = cli(state, env, "ip").strip()
        us_port, us_loop = userspace_forwarder((pod_ip, 3000))

        paths = {"direct pod IP": f"{pod_ip}:3000", "cluster IP": f"{cluster_ip}:80",
                 "localhost:nodePort": f"127.0.0.1:{node_port}", "node IP:nodePort": f"{node_ip}:{node_port}",
                 "user-space forwarder": f"127.0.0.1:{us_port}"}
        throughput = {k: round(v, 0) for k, v in curl_speeds({k: f"http://{v}/big" for k, v in paths.items()}).items()}
        latency = {k: round(latency_ms(*v.rsplit(":", 1)[0:1], int(v.rsplit(":", 1)[1])), 3)
                   for k, v in paths.items()}
        us_loop.call_soon_threadsafe(us_loop.stop)
        direct_tp, direct_lat = throughput["direct pod IP"], latency["direct pod IP"]
        results["throughput_MBps"] = throughput
        results["throughput_vs_direct"] = {k: round(v / direct_tp, 3) for k, v in throughput.items()}
        results["latency_median_ms"] = latency
        results["added_latency_ms"] = {k: round(v - direct_lat, 3) for k, v in latency.items()}
        results["connection_rate"] = asyncio.run(_rate("127.0.0.1", node_port, args.rate, args.seconds))
        # the same load straight to one pod: tells the proxy's errors from the machine's
        results["connection_rate_direct"] = asyncio.run(_rate(pod_ip, 3000, args.rate, args.seconds))
    finally:
        cli(state, env, "delete")
    print(f"{'path':<22} {'MB/s':>8} {'vs direct':>10} {'median ms':>10} {'added ms':>9}")
    for k in results["throughput_MBps"]:  # type: ignore[union-attr]
        print(f"{k:<22} {results['throughput_MBps'][k]:>8.0f} {results['throughput_vs_direct'][k]:>10.2f} "  # type: ignore[index]
              f"{results['latency_median_ms'][k]:>10.3f} {results['added_latency_ms'][k]:>9.3f}")  # type: ignore[index]
    print("connection rate via nodePort:", results["connection_rate"])
    print("connection rate direct:     ", results["connection_rate_direct"])
    print("load average:", os.getloadavg())
    save_results("networking", results, show=False)


if __name__ == "__main__":
    main()
