"""API server figures (issue 3): list with 1,000 pods, create/patch latency, watchers' cost on writes.

Run: ``python bench/bench_api.py [--pods 1000] [--watchers 100] [--writes 1000]``. It starts the
API server alone (``python -m minikube_lite.daemon --no-kubelet --insecure-no-auth``: no Docker
needed, plain HTTP without authentication, as these figures were first taken; bench_auth.py measures
what authentication and authorization add) with a
temporary state folder and port, prints a table and writes ``bench/results/api.json``.

- create p50/p99: the 1,000 pods are created one request at a time; each request is timed.
- list p50: ``GET /api/v1/namespaces/default/pods`` of all 1,000 pods, JSON and as kubectl asks
  for it (``as=Table``), 50 times each. Request time as the client sees it on localhost, keep-alive
  connection, so it includes serialisation and transfer (an upper bound of the server's time).
- patch p50/p99: a merge patch of one label on a different pod each time, 1,000 times.
- watchers: the time for ``--writes`` sequential label patches with no watcher, then with
  ``--watchers`` watch streams on all pods open (read in another process so that their reading
  does not share the writer's interpreter), reported as the ratio of the two.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from benchlib import free_port, pct, save_results, wait_ready

ROOT = Path(__file__).resolve().parents[1]
PODS = "/api/v1/namespaces/default/pods"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
# a watch event's own type, not the "type" of a condition inside the pod (which had doubled the count)
EVENT = re.compile(rb'\{"type":\s*"(?:ADDED|MODIFIED|DELETED|BOOKMARK|ERROR)"')


def pod(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"bench-{i:05d}", "labels": {"app": "bench", "n": str(i)}},
            "spec": {"nodeSelector": {"nowhere": "true"},
                     "containers": [{"name": "c", "image": "minikube-lite/busybox:1.0",
                                     "command": ["sleep", "3600"], "ports": [{"containerPort": 80}]}]}}


def timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def _watchers_process(url: str, n: int, ready: Any, stop: Any, counts: Any) -> None:
    async def one(i: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET {PODS}?watch=true&resourceVersion=0&allowWatchBookmarks=true HTTP/1.1\r\n"
                     f"Host: {host}\r\n\r\n".encode())
        await writer.drain()
        ready.release()
        total = 0
        while not stop.is_set():
            try:
                chunk = await asyncio.wait_for(reader.read(65536), timeout=0.2)
            except TimeoutError:
                continue
            if not chunk:
                break
            total += len(EVENT.findall(chunk))
        counts[i] = total
        writer.close()

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(n)))

    asyncio.run(main())


def write_burst(c: httpx.Client, writes: int, pods: int, tag: str) -> float:
    t0 = time.perf_counter()
    for i in range(writes):
        r = c.patch(f"{PODS}/bench-{i % pods:05d}", content=json.dumps({"metadata": {"labels": {"w": f"{tag}{i}"}}}),
                    headers={"Content-Type": "application/merge-patch+json"})
        r.raise_for_status()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--watchers", type=int, default=100)
    ap.add_argument("--writes", type=int, default=1000)
    ap.add_argument("--lists", type=int, default=50)
    args = ap.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {"pods": args.pods, "watchers": args.watchers, "writes": args.writes,
                               "load_average_before": os.getloadavg()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as state:
        env = dict(os.environ, MINIKUBE_LITE_LOG="WARNING")
        daemon = subprocess.Popen([sys.executable, "-m", "minikube_lite.daemon", "--state-dir", state, "--port",
                                   str(port), "--no-kubelet", "--insecure-no-auth"], cwd=ROOT, env=env)
        try:
            with httpx.Client(base_url=url, timeout=60) as c:
                wait_ready(c, 30)
                time.sleep(1.0)  # let the components load and sync

                creates = [timed(lambda i=i: c.post(PODS, json=pod(i)).raise_for_status()) for i in range(args.pods)]
                results["create_ms"] = {"p50": pct(creates, 50), "p99": pct(creates, 99)}

                for _ in range(3):
                    c.get(PODS)
                lists = [timed(lambda: c.get(PODS).raise_for_status()) for _ in range(args.lists)]
                tables = [timed(lambda: c.get(PODS, headers={"Accept": TABLE}).raise_for_status())
                          for _ in range(args.lists)]
                assert len(c.get(PODS).json()["items"]) == args.pods
                table = c.get(PODS, headers={"Accept": TABLE}).json()
                assert table["kind"] == "Table" and len(table["rows"]) == args.pods
                results["list_json_ms"] = {"p50": pct(lists, 50), "p99": pct(lists, 99)}
                results["list_table_ms"] = {"p50": pct(tables, 50), "p99": pct(tables, 99)}

                patches = [timed(lambda i=i: c.patch(
                    f"{PODS}/bench-{i % args.pods:05d}", content=b'{"metadata":{"labels":{"p":"%d"}}}' % i,
                    headers={"Content-Type": "application/merge-patch+json"}).raise_for_status())
                    for i in range(args.pods)]
                results["patch_ms"] = {"p50": pct(patches, 50), "p99": pct(patches, 99)}

                base = statistics.median(write_burst(c, args.writes, args.pods, f"a{r}") for r in range(2))
                ctx = multiprocessing.get_context("spawn")
                ready, stop = ctx.Semaphore(0), ctx.Event()
                counts = ctx.Array("l", args.watchers)
                proc = ctx.Process(target=_watchers_process, args=(url, args.watchers, ready, stop, counts))
                proc.start()
                for _ in range(args.watchers):
                    ready.acquire(timeout=60)
                time.sleep(2.0)  # the initial ADDED events of every watcher are sent
                watched = write_burst(c, args.writes, args.pods, "b")
                time.sleep(2.0)
                stop.set()
                proc.join(30)
                delivered = min(counts[:]) if args.watchers else 0
                results["writes_s"] = {"no_watchers": base, "with_watchers": watched, "ratio": watched / base,
                                       "events_per_watcher_min": delivered}
        finally:
            daemon.terminate()
            daemon.wait(10)
            # the daemon made the cluster's network on start: `delete` takes it (and the state) away
            subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "delete", "--state-dir", state],
                           capture_output=True, check=False)

    results["load_average_after"] = os.getloadavg()[0]
    print(f"load average {results['load_average_before']:.1f} -> {results['load_average_after']:.1f} "
          f"on {results['cpus']} CPUs (figures from a busy machine are not comparable)")
    print(f"{'figure':44} {'measured':>14}  target")
    print(f"{'create p50 / p99 (ms)':44} {results['create_ms']['p50']:6.1f} / {results['create_ms']['p99']:5.1f}"
          "  p99 <= 20")
    print(f"{'patch p50 / p99 (ms)':44} {results['patch_ms']['p50']:6.1f} / {results['patch_ms']['p99']:5.1f}"
          "  p99 <= 20")
    print(f"{f'list {args.pods} pods JSON p50 (ms)':44} {results['list_json_ms']['p50']:14.1f}  <= 50")
    print(f"{f'list {args.pods} pods Table p50 (ms)':44} {results['list_table_ms']['p50']:14.1f}  <= 100")
    w = results["writes_s"]
    print(f"{f'{args.writes} writes, 0 / {args.watchers} watchers (s)':44} {w['no_watchers']:6.2f} / "
          f"{w['with_watchers']:5.2f}  ratio {w['ratio']:.2f} (< 2); each watcher got >= "
          f"{w['events_per_watcher_min']} events")
    save_results("api", results, show=False)


if __name__ == "__main__":
    main()
