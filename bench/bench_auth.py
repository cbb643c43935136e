"""What authentication and authorization cost on the request path, and start -> API ready with TLS.

Run: ``python bench/bench_auth.py [--pods 1000] [--writes 300] [--starts 3]``. Two API servers
(``python -m minikube_lite.daemon --no-kubelet``) run side by side in one run, both HTTPS with the
same certificates and code:

- ``auth_on``, as shipped: the client presents the admin certificate (authentication), every
  request passes RBAC (``--authorization-mode=RBAC``);
- ``auth_off``: ``--authorization-mode=AlwaysAllow --anonymous-auth=true`` (kube-apiserver's own
  flags for "no authorization"), the client presents no credentials, so each request is
  ``system:anonymous`` and allowed. TLS is not authentication: it stays on, and the comparison
  is what authentication and authorization cost, not what encryption costs.

Each gets the same requests over one keep-alive connection, in alternating rounds so machine
load hits both alike: pod create, pod merge-patch, list of 1,000 pods. Targets (issue 17):
create and patch p50 ≤ 1.2× and the list within 10 % (≤ 1.1×) of ``auth_off``. Then
``minikube-lite start`` is timed on a cluster that already has its certificates (the first
start makes them), as the user sees it: "API server ready in X s" (target ≤ 1 s). ``--starts 0``
skips that part. Results go to bench/results/bench_auth.json and a summary to stdout.
"""

from __future__ import annotations

import argparse
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from benchlib import api_client, free_port, save_results

from minikube_lite.auth.pki import paths

ROOT = Path(__file__).resolve().parents[1]
PODS = "/api/v1/namespaces/default/pods"


def pod(i: int, tag: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{tag}-{i:05d}", "labels": {"app": "bench"}},
            # no token volume: the two servers then store and list objects of the same size
            "spec": {"automountServiceAccountToken": False,
                     "containers": [{"name": "c", "image": "minikube-lite/busybox:1.0"}]}}


def timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def p50(xs: list[float]) -> float:
    return statistics.median(xs)


class Server:
    def __init__(self, root: Path, auth: bool) -> None:
        self.state = root / ("auth-on" if auth else "auth-off")
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        flags = ["--authorization-mode", "RBAC"] if auth else ["--authorization-mode", "AlwaysAllow",
                                                               "--anonymous-auth", "true"]
        cmd = [sys.executable, "-m", "minikube_lite.daemon", "--state-dir", str(self.state), "--port",
               str(self.port), "--no-kubelet", *flags]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, MINIKUBE_LITE_LOG="WARNING"))
        deadline = time.monotonic() + 60
        while True:
            try:
                if (self.state / "certs" / "client.key").exists():
                    # auth_off: TLS verified against the cluster CA, no client certificate, no token
                    self.client = api_client(self.state, self.url, timeout=60) if auth else anonymous_client(self)
                    if self.client.get("/readyz").status_code == 200:
                        break
            except Exception:  # noqa: BLE001, S110 - not up yet
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.url} did not start")
            time.sleep(0.1)

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(15)
        subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "delete", "--state-dir", str(self.state)],
                       capture_output=True, check=False, cwd=ROOT)


def anonymous_client(server: Server) -> httpx.Client:
    """HTTPS verified against the cluster CA, with no client certificate and no token."""
    ca = ssl.create_default_context(cafile=str(paths(server.state).ca_crt))
    return httpx.Client(base_url=server.url, verify=ca, timeout=60)


def request_path(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    servers = {"auth_on": Server(root, True), "auth_off": Server(root, False)}
    # what is compared: anonymous is refused by RBAC on one, allowed on the other
    with anonymous_client(servers["auth_on"]) as c:
        assert c.get(PODS).status_code == 403, "auth_on must authorize"
    assert servers["auth_off"].client.get(PODS).status_code == 200, "auth_off must allow anonymous"
    try:
        time.sleep(3)  # components load and sync
        out: dict[str, Any] = {}
        create: dict[str, list[float]] = {k: [] for k in servers}
        patch: dict[str, list[float]] = {k: [] for k in servers}
        lists: dict[str, list[float]] = {k: [] for k in servers}
        batch = 50
        for start in range(0, args.pods, batch):  # alternate batches between the two servers
            for name, s in servers.items():
                c = s.client
                create[name] += [timed(lambda i=i, c=c: c.post(PODS, json=pod(i, "b")).raise_for_status())
                                 for i in range(start, min(start + batch, args.pods))]
        for start in range(0, args.writes, batch):
            for name, s in servers.items():
                c = s.client
                patch[name] += [timed(lambda i=i, c=c: c.patch(
                    f"{PODS}/b-{i % args.pods:05d}", content=b'{"metadata":{"labels":{"p":"%d"}}}' % i,
                    headers={"Content-Type": "application/merge-patch+json"}).raise_for_status())
                    for i in range(start, min(start + batch, args.writes))]
        for _ in range(args.lists // 5):
            for name, s in servers.items():
                c = s.client
                lists[name] += [timed(lambda c=c: c.get(PODS).raise_for_status()) for _ in range(5)]
        for name, s in servers.items():
            assert len(s.client.get(PODS).json()["items"]) == args.pods
        for figure, data in (("create_p50_ms", create), ("patch_p50_ms", patch), ("list_1000_pods_p50_ms", lists)):
            on, off = p50(data["auth_on"]), p50(data["auth_off"])
            out[figure] = {"auth_on": round(on, 2), "auth_off": round(off, 2), "ratio": round(on / off, 3)}
        return out
    finally:
        for s in servers.values():
            s.close()


def start_times(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    state = root / "cli"
    env = dict(os.environ, KUBECONFIG=str(root / "kubeconfig"), MINIKUBE_LITE_LOG="WARNING")
    port = str(free_port())

    def start() -> float:
        out = subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "start", "--port", port,
                              "--state-dir", str(state)], capture_output=True, text=True, env=env, cwd=ROOT,
                             check=True).stdout
        m = re.search(r"API server ready in ([0-9.]+)s", out)
        assert m, out
        return float(m.group(1))

    def stop() -> None:
        subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "stop", "--state-dir", str(state)],
                       capture_output=True, env=env, cwd=ROOT, check=False)

    try:
        first = start()
        stop()
        later = []
        for _ in range(args.starts):
            later.append(start())
            stop()
        return {"first_start_s": first, "later_starts_s": later, "later_p50_s": p50(later)}
    finally:
        subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "delete", "--state-dir", str(state)],
                       capture_output=True, env=env, cwd=ROOT, check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--writes", type=int, default=300)
    ap.add_argument("--lists", type=int, default=30)
    ap.add_argument("--starts", type=int, default=3)
    args = ap.parse_args()
    results: dict[str, Any] = {"pods": args.pods, "load_average_before": os.getloadavg()[0], "cpus": os.cpu_count(),
                               "compared": "HTTPS + client certificate + RBAC vs HTTPS + anonymous + AlwaysAllow"}
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        results.update(request_path(args, Path(tmp)))
        if args.starts:
            results["start_to_api_ready"] = start_times(args, Path(tmp))
    results["load_average_after"] = os.getloadavg()[0]
    save_results("bench_auth", results)
    print(f"{results['compared']}; load average {results['load_average_before']:.1f} -> "
          f"{results['load_average_after']:.1f}")
    for figure, target in (("create_p50_ms", 1.2), ("patch_p50_ms", 1.2), ("list_1000_pods_p50_ms", 1.1)):
        r = results[figure]
        print(f"{figure:24} on {r['auth_on']:8.2f}  off {r['auth_off']:8.2f}  ratio {r['ratio']:.3f}  "
              f"target <= {target}  {'met' if r['ratio'] <= target else 'NOT met'}")
    if args.starts:
        later = results["start_to_api_ready"]["later_p50_s"]
        print(f"later start -> API ready p50 {later:.2f} s  target <= 1 s  {'met' if later <= 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
