"""port-forward figures (issue 18): a 256 MiB download through ``kubectl port-forward`` vs the pod IP.

Run: ``python bench/bench_portforward.py [--rounds 3] [--requests 200]`` with a Docker engine, the
local images and the kubectl binaries (1.27 … 1.33). It starts a cluster of its own in a temporary
folder, one busybox httpd pod serving a 256 MiB file, and forwards a local port to it with the
oldest kubectl (1.27: plain SPDY/3.1) and the newest (1.33: SPDY inside the WebSocket tunnel).
The official Python client's ``kubernetes.stream.portforward()`` (the kubelet's WebSocket
protocol, ``v4.channel.k8s.io``) is measured beside them, in this process: one WebSocket per
download or request, as that API gives one connection per port per WebSocket.
Only loopback and the pod's own address are used.

- throughput: a 256 MiB ``curl`` download, best of ``--rounds``, the paths taking turns;
- latency: median of ``--requests`` requests for a small page, each on a new connection (every one
  opens new SPDY streams through the forward); added latency = median through it - median direct;
- CPU time per downloaded GiB through each forward, of the daemon (the API server's SPDY code)
  and of the kubectl process (the other end of the same stream), which share the 2 cores.
Prints the results and writes ``bench/results/portforward.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import cpu_seconds, free_port, save_results

from minikube_lite.images import ensure_images

BIG_MB = 256
POD = f"""
apiVersion: v1
kind: Pod
metadata: {{name: pfbench}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: minikube-lite/busybox:1.0
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && dd if=/dev/zero of=/www/big bs=1M count={BIG_MB} 2>/dev/null && exec httpd -f -p 3000 -h /www"]
"""
VERSIONS = ("1.27", "1.33")


def kubectl_path(version: str) -> str:
    found = shutil.which("kubectl")
    if not found:
        sys.exit("kubectl is needed")
    path = Path(os.path.realpath(found)).parent / f"kubectl.{version}"
    if not path.exists():
        sys.exit(f"{path} not found")
    return str(path)


def cli(state: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", *args, "--state-dir", str(state)],
                          env=env, capture_output=True, text=True, check=True).stdout


def request_ms(host: str, port: int) -> float:
    t0 = time.perf_counter()
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        while s.recv(65536):
            pass
    return (time.perf_counter() - t0) * 1000


def curl_mbps(url: str) -> float:
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download}", url],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    return float(out) / 1e6


PY_CLIENT = "Python client portforward()"


def py_client_api(kubeconfig: Path) -> Any:
    from kubernetes import client, config

    return client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))


def py_client_get(api: Any, path: str) -> int:
    """GET ``path`` from the pod through a new ``portforward()``; returns the bytes received."""
    from kubernetes.stream import portforward

    pf = portforward(api.connect_get_namespaced_pod_portforward, "pfbench", "default", ports="3000")
    try:
        sock = pf.socket(3000)
        sock.setblocking(True)
        sock.settimeout(60)
        sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        got = 0
        while chunk := sock.recv(1 << 20):
            got += len(chunk)
        return got
    finally:
        pf.close()


def py_client_mbps(api: Any) -> float:
    t0 = time.perf_counter()
    got = py_client_get(api, "/big")
    elapsed = time.perf_counter() - t0
    if got < BIG_MB * 1024 * 1024:
        raise RuntimeError(f"the Python client's portforward() brought {got} bytes")
    return got / elapsed / 1e6


def py_client_request_ms(api: Any) -> float:
    t0 = time.perf_counter()
    py_client_get(api, "/index.html")
    return (time.perf_counter() - t0) * 1000


def start_forward(env: dict[str, str], version: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([kubectl_path(version), "port-forward", "pod/pfbench", f"{port}:3000"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if b"Forwarding from" not in line:
        raise RuntimeError(f"kubectl {version} port-forward did not start: {line!r}")
    return proc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    ensure_images()
    root = Path(tempfile.mkdtemp(prefix="bench-pf-"))
    state = root / "state"
    env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
    env.update(KUBECONFIG=str(root / "kubeconfig"), KUBECACHEDIR=str(root / "cache"), HOME=str(root))
    cli(state, env, "start", "--port", str(free_port()))
    forwards: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(["kubectl", "apply", "-f", "-"], env=env, input=POD, text=True, check=True,
                       capture_output=True)
        subprocess.run(["kubectl", "wait", "--for=condition=Ready", "pod/pfbench", "--timeout=120s"], env=env,
                       check=True, capture_output=True)
        pod_ip = json.loads(subprocess.run(["kubectl", "get", "pod", "pfbench", "-o", "json"], env=env, check=True,
                                           capture_output=True, text=True).stdout)["status"]["podIP"]
        deadline = time.monotonic() + 120
        while True:  # httpd starts once the big file is written
            try:
                request_ms(pod_ip, 3000)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        daemon_pid = int((state / "daemon.pid").read_text())
        paths = {"direct pod IP": (pod_ip, 3000)}
        kubectl_pids: dict[str, int] = {}
        for version in VERSIONS:
            port = free_port()
            forwards.append(start_forward(env, version, port))
            paths[f"kubectl {version} port-forward"] = ("127.0.0.1", port)
            kubectl_pids[f"kubectl {version} port-forward"] = forwards[-1].pid

        api = py_client_api(root / "kubeconfig")
        best = dict.fromkeys([*paths, PY_CLIENT], 0.0)
        cpu_per_gib: dict[str, float] = {}
        kubectl_cpu_per_gib: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, (host, port) in paths.items():
                cpu0 = cpu_seconds(daemon_pid)
                k0 = cpu_seconds(kubectl_pids[name]) if name in kubectl_pids else 0.0
                best[name] = max(best[name], curl_mbps(f"http://{host}:{port}/big"))
                used = (cpu_seconds(daemon_pid) - cpu0) * 1024 / BIG_MB
                cpu_per_gib[name] = round(min(cpu_per_gib.get(name, used), used), 2)
                if name in kubectl_pids:
                    k_used = (cpu_seconds(kubectl_pids[name]) - k0) * 1024 / BIG_MB
                    kubectl_cpu_per_gib[name] = round(min(kubectl_cpu_per_gib.get(name, k_used), k_used), 2)
            cpu0, me0 = cpu_seconds(daemon_pid), cpu_seconds(os.getpid())
            best[PY_CLIENT] = max(best[PY_CLIENT], py_client_mbps(api))
            used = (cpu_seconds(daemon_pid) - cpu0) * 1024 / BIG_MB
            cpu_per_gib[PY_CLIENT] = round(min(cpu_per_gib.get(PY_CLIENT, used), used), 2)
            k_used = (cpu_seconds(os.getpid()) - me0) * 1024 / BIG_MB  # the client's proxy thread
            kubectl_cpu_per_gib[PY_CLIENT] = round(min(kubectl_cpu_per_gib.get(PY_CLIENT, k_used), k_used), 2)
        latency = {name: round(statistics.median(request_ms(host, port) for _ in range(args.requests)), 3)
                   for name, (host, port) in paths.items()}
        latency[PY_CLIENT] = round(statistics.median(py_client_request_ms(api) for _ in range(args.requests)), 3)
        direct_tp, direct_lat = best["direct pod IP"], latency["direct pod IP"]
        results = {
            "download_MiB": BIG_MB,
            "throughput_MBps": {k: round(v, 1) for k, v in best.items()},
            "throughput_vs_direct": {k: round(v / direct_tp, 3) for k, v in best.items()},
            "latency_median_ms": latency,
            "added_latency_ms": {k: round(v - direct_lat, 3) for k, v in latency.items() if k != "direct pod IP"},
            "daemon_cpu_s_per_GiB": {k: v for k, v in cpu_per_gib.items() if k != "direct pod IP"},
            "kubectl_cpu_s_per_GiB": kubectl_cpu_per_gib,  # for the Python client: this process
            "load_average": os.getloadavg()[0],
        }
        save_results("portforward", results)
    finally:
        for proc in forwards:
            proc.terminate()
            proc.wait(timeout=10)
        cli(state, env, "delete")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
