"""CustomResourceDefinition figures (issue 11): CRD to served, 1,000 custom objects, one watched change.

Run: ``python bench/bench_crds.py [--objects 1000] [--rounds 5]``. It starts the API server alone
(``python -m minikube_lite.daemon --no-kubelet``: no Docker needed) with a temporary state
folder and port, prints a table and writes ``bench/results/crds.json``.

- CRD → ``kubectl get``: wall time from the start of ``kubectl apply -f <crd>`` (the real
  kubectl, a discovery cache of its own that already knows the server, as a user's would) until
  ``kubectl get <plural>`` first succeeds; a new CRD each round. Both kubectl runs are included
  (each is ~0.1 s of kubectl start-up on this machine). Also the API-level time: the CRD's POST
  answered → ``GET /apis/<group>/<version>/<plural>`` answers 200.
- list p50: ``GET /apis/<group>/<version>/namespaces/default/<plural>`` of ``--objects`` custom
  objects as JSON (and as kubectl's Table), 50 times each, keep-alive connection.
- watch p50: a watch stream on the plural is open; a merge patch of one object is sent; the time
  from sending the patch until the MODIFIED line arrives on the stream, 50 times.
- idle RSS of the daemon after start, before any CRD (for the redesign's "unchanged" figure).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from benchlib import free_port, pct, save_results, wait_ready

ROOT = Path(__file__).resolve().parents[1]
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
GROUP = "bench.example.com"


def crd(plural: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "subresources": {"status": {}},
                               "additionalPrinterColumns": [
                                   {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                                   {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {
                                       "size": {"type": "integer", "minimum": 0},
                                       "color": {"type": "string", "enum": ["red", "green", "blue"]},
                                       "tags": {"type": "array", "items": {"type": "string"}}}},
                                   "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]},
    }


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def kubectl(env: dict[str, str], *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, input=input, check=False)


def crd_to_get(c: httpx.Client, env: dict[str, str], i: int) -> tuple[float, float]:
    """(kubectl apply → kubectl get works, POST → collection answers) in seconds."""
    plural, kind = f"gadgets{i}", f"Gadget{i}"
    t0 = time.perf_counter()
    proc = kubectl(env, "apply", "-f", "-", input=json.dumps(crd(plural, kind)))
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    while kubectl(env, "get", plural).returncode != 0:
        if time.perf_counter() - t0 > 30:
            raise SystemExit(f"kubectl get {plural} never worked")
    kubectl_s = time.perf_counter() - t0
    c.delete(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.{GROUP}")
    plural, kind = f"widgets{i}", f"Widget{i}"
    t0 = time.perf_counter()
    c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd(plural, kind)).raise_for_status()
    while c.get(f"/apis/{GROUP}/v1/{plural}").status_code != 200:
        if time.perf_counter() - t0 > 30:
            raise SystemExit(f"/apis/{GROUP}/v1/{plural} never answered")
    api_s = time.perf_counter() - t0
    c.delete(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.{GROUP}")
    return kubectl_s, api_s


def watch_latency(url: str, c: httpx.Client, collection: str, rounds: int, objects: int) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    rv = c.get(collection, params={"limit": 1}).json()["metadata"]["resourceVersion"]
    sock = socket.create_connection((host, int(port)))
    sock.sendall(f"GET {collection}?watch=true&resourceVersion={rv} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    sock.settimeout(10)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536)
    buf = buf.split(b"\r\n\r\n", 1)[1]
    out: list[float] = []
    for i in range(rounds):
        marker = f"m{i}"
        t0 = time.perf_counter()
        c.patch(f"{collection}/obj-{i % objects:05d}", content=json.dumps({"metadata": {"labels": {"w": marker}}}),
                headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()
        while f'"w":"{marker}"'.encode() not in buf:
            buf += sock.recv(65536)
        out.append((time.perf_counter() - t0) * 1000)
        buf = buf[buf.index(f'"w":"{marker}"'.encode()):]
        time.sleep(0.01)
    sock.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--lists", type=int, default=50)
    args = ap.parse_args()
    if shutil.which("kubectl") is None:
        raise SystemExit("kubectl is needed")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {"objects": args.objects, "rounds": args.rounds,
                               "load_average_before": os.getloadavg()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as state:
        home = Path(state) / "kube"
        home.mkdir()
        (home / "config").write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "bench",
            "clusters": [{"name": "bench", "cluster": {"server": url}}],
            "users": [{"name": "bench", "user": {}}],
            "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}]}))
        env = dict(os.environ, MINIKUBE_LITE_LOG="WARNING", KUBECONFIG=str(home / "config"), HOME=str(home))
        daemon = subprocess.Popen([sys.executable, "-m", "minikube_lite.daemon", "--state-dir", state, "--port",
                                   str(port), "--no-kubelet", "--insecure-no-auth"], cwd=ROOT, env=env)
        try:
            with httpx.Client(base_url=url, timeout=60) as c:
                wait_ready(c)
                time.sleep(2.0)  # let the components load and sync
                results["idle_rss_mb"] = rss_kb(daemon.pid) / 1024
                kubectl(env, "api-resources")  # the discovery cache knows the server, as a user's would
                rounds = [crd_to_get(c, env, i) for i in range(args.rounds)]
                results["crd_to_kubectl_get_s"] = {"p50": pct([r[0] for r in rounds], 50),
                                                   "max": max(r[0] for r in rounds)}
                results["crd_to_served_api_s"] = {"p50": pct([r[1] for r in rounds], 50),
                                                  "max": max(r[1] for r in rounds)}

                c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                       json=crd("things", "Thing")).raise_for_status()
                collection = f"/apis/{GROUP}/v1/namespaces/default/things"
                deadline = time.monotonic() + 30
                while c.get(collection).status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.01)
                creates = []
                for i in range(args.objects):
                    t0 = time.perf_counter()
                    c.post(collection, json={"apiVersion": f"{GROUP}/v1", "kind": "Thing",
                                             "metadata": {"name": f"obj-{i:05d}", "labels": {"n": str(i)}},
                                             "spec": {"size": i, "color": "red", "tags": ["a", "b"]}}
                           ).raise_for_status()
                    creates.append((time.perf_counter() - t0) * 1000)
                results["create_ms"] = {"p50": pct(creates, 50), "p99": pct(creates, 99)}
                for _ in range(3):
                    c.get(collection)
                lists, tables = [], []
                for _ in range(args.lists):
                    t0 = time.perf_counter()
                    c.get(collection).raise_for_status()
                    lists.append((time.perf_counter() - t0) * 1000)
                for _ in range(args.lists):
                    t0 = time.perf_counter()
                    c.get(collection, headers={"Accept": TABLE}).raise_for_status()
                    tables.append((time.perf_counter() - t0) * 1000)
                assert len(c.get(collection).json()["items"]) == args.objects
                table = c.get(collection, headers={"Accept": TABLE}).json()
                assert table["kind"] == "Table" and len(table["rows"]) == args.objects
                results["list_json_ms"] = {"p50": pct(lists, 50), "p99": pct(lists, 99)}
                results["list_table_ms"] = {"p50": pct(tables, 50), "p99": pct(tables, 99)}
                w = watch_latency(url, c, collection, 50, args.objects)
                results["watch_one_change_ms"] = {"p50": pct(w, 50), "p99": pct(w, 99)}
                results["rss_after_mb"] = rss_kb(daemon.pid) / 1024
        finally:
            daemon.terminate()
            daemon.wait(10)
            subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "delete", "--state-dir", state],
                           capture_output=True, check=False)

    results["load_average_after"] = os.getloadavg()[0]
    print(f"load average {results['load_average_before']:.1f} -> {results['load_average_after']:.1f} "
          f"on {results['cpus']} CPUs (figures from a busy machine are not comparable)")
    print(f"{'figure':50} {'measured':>14}  target")
    k, a = results["crd_to_kubectl_get_s"], results["crd_to_served_api_s"]
    print(f"{'CRD apply -> kubectl get works p50 / max (s)':50} {k['p50']:6.2f} / {k['max']:5.2f}  <= 1")
    print(f"{'CRD POST -> collection served p50 / max (s)':50} {a['p50']:6.3f} / {a['max']:5.3f}")
    print(f"{'create p50 / p99 (ms)':50} {results['create_ms']['p50']:6.1f} / {results['create_ms']['p99']:5.1f}")
    print(f"{f'list {args.objects} objects JSON p50 (ms)':50} {results['list_json_ms']['p50']:14.1f}  <= 20")
    print(f"{f'list {args.objects} objects Table p50 (ms)':50} {results['list_table_ms']['p50']:14.1f}")
    wl = results["watch_one_change_ms"]
    print(f"{'watch of one change p50 / p99 (ms)':50} {wl['p50']:6.1f} / {wl['p99']:5.1f}  <= 10")
    print(f"{'idle RSS / after (MB)':50} {results['idle_rss_mb']:6.1f} / {results['rss_after_mb']:5.1f}")
    save_results("crds", results, show=False)


if __name__ == "__main__":
    main()
