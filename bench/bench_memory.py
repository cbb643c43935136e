"""Does the daemon's memory settle under churn? Pods created, killed once, deleted, round after round.

The daemon runs in this process (its API on a free port, its own state folder) so the store's
watch window can be shortened from 75 s (window.py) to ``--window`` seconds: what the window holds then
expires between rounds, and what is left growing from round to round is what churn really keeps.
Each round: ``--pods`` pods created and Running, each container killed once (SIGKILL) and the pod
Running again, the pods deleted; then a pause longer than the window and one write (the window
drops old events on a write). The process's RSS after each round is printed and written to
``bench/results/memory.json`` (it includes this script, httpx and the Docker SDK: compare rounds,
not the absolute figure with bench_foundation's).

    python bench/bench_memory.py --rounds 5 --pods 30 --window 15
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import httpx
from benchlib import api_client, free_port, save_results

from minikube_lite.config import CLUSTER_LABEL, Settings
from minikube_lite.daemon import Daemon
from minikube_lite.kubelet.cleanup import remove_cluster_objects
from minikube_lite.proxy.proxier import cleanup as proxy_cleanup
from minikube_lite.store import sqlite


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait(predicate: Callable[[], Any], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if predicate():
                return
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.02)
    raise TimeoutError("condition not met")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pods", type=int, default=30)
    ap.add_argument("--window", type=float, default=15.0, help="the store's watch window, seconds")
    args = ap.parse_args()

    store_init = sqlite.SQLiteStore.__init__

    def short_window(self: sqlite.SQLiteStore, path: Any, **kw: Any) -> None:
        store_init(self, path, **{**kw, "window_seconds": args.window})

    sqlite.SQLiteStore.__init__ = short_window  # type: ignore[method-assign]
    tmp = Path(tempfile.mkdtemp(prefix="mkl-memory-"))
    settings = Settings(state_dir=tmp / "state", port=free_port())
    daemon = Daemon(settings)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_until_complete, args=(daemon.serve(),), daemon=True).start()
    c = api_client(settings.state_dir, settings.server_url, timeout=10)
    engine = docker.from_env()
    wait(lambda: c.get("/api/v1/nodes").json()["items"])

    def running(name: str, restarts: int) -> bool:
        pod = c.get(f"/api/v1/namespaces/default/pods/{name}").json()
        cs = (pod.get("status") or {}).get("containerStatuses") or []
        return bool(cs) and "running" in cs[0]["state"] and cs[0]["restartCount"] == restarts

    def churn(prefix: str, n: int) -> None:
        names = [f"{prefix}-{i}" for i in range(n)]
        for name in names:
            c.post("/api/v1/namespaces/default/pods", json={
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"terminationGracePeriodSeconds": 0, "containers": [
                    {"name": "main", "image": "minikube-lite/busybox:1.0", "command": ["sleep", "3600"]}]},
            }).raise_for_status()
        for name in names:
            wait(lambda n=name: running(n, 0))
        for name in names:
            (ctr,) = engine.containers.list(filters={"label": [f"{CLUSTER_LABEL}={settings.cluster_id}",
                                                               f"io.kubernetes.pod.name={name}",
                                                               "io.kubernetes.container.name=main"]})
            ctr.kill()
            wait(lambda n=name: running(n, 1))
        for name in names:
            c.delete(f"/api/v1/namespaces/default/pods/{name}")
        for name in names:
            wait(lambda n=name: c.get(f"/api/v1/namespaces/default/pods/{n}").status_code == 404)

    results: dict[str, Any] = {"pods_per_round": args.pods, "window_seconds": args.window, "rss_mb": []}
    try:
        churn("warm", 10)
        for r in range(args.rounds):
            churn(f"r{r}", args.pods)
            time.sleep(args.window + 1)
            c.post("/api/v1/namespaces/default/configmaps", json={
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"tick-{r}"}}).raise_for_status()
            gc.collect()
            time.sleep(1)
            results["rss_mb"].append(round(rss_mb(), 1))
            print(f"after round {r + 1}: RSS {results['rss_mb'][-1]} MB", flush=True)
        first, last = results["rss_mb"][0], results["rss_mb"][-1]
        results["growth_kb_per_pod_cycle"] = round((last - first) * 1024 / (args.pods * (args.rounds - 1)), 1) \
            if args.rounds > 1 else None
    finally:
        asyncio.run_coroutine_threadsafe(daemon.stop_components(), loop).result(60)
        asyncio.run(proxy_cleanup(settings.cluster_id, settings.network_name))  # the cluster's iptables rules
        remove_cluster_objects(engine, settings.cluster_id, settings.network_name)
    save_results("memory", results)


if __name__ == "__main__":
    main()
