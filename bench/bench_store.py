"""The store on etcd vs SQLite (issue 16), side by side in one run.

Run: ``python bench/bench_store.py [--pods 1000] [--watchers 100] [--writes 500]``. It starts a
local etcd (Debian's ``etcd-server``, in a temporary folder on free ports), then for each store the
API server alone (``python -m minikube_lite.daemon --no-kubelet [--store etcd://...]``) with a
temporary state folder, and measures the same things on both, one after the other:

- store alone: ``create`` and ``update`` p50/p99 of the store object itself, in this process
  (what a write costs below the API server: a SQLite transaction, or an etcd transaction plus its
  watch event coming back);
- create / merge-patch one pod p50/p99 through the API, 1,000 pods one request at a time;
- list 1,000 pods (JSON) p50 through the API;
- watch fan-out: ``--writes`` sequential label patches with no watcher, then with ``--watchers``
  watch streams on all pods open (read in another process), as bench_api.py measures it.

Prints a table and writes ``bench/results/store.json``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from bench_api import PODS, _watchers_process, pct, pod, timed, write_burst
from benchlib import free_port, save_results, wait_ready

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minikube_lite.store.etcd import EtcdConfig, EtcdStore
from minikube_lite.store.etcdproc import LocalEtcd
from minikube_lite.store.sqlite import SQLiteStore


def store_alone(store: Any, n: int) -> dict[str, Any]:
    value = pod(0)
    creates = [timed(lambda i=i: store.create(f"/registry/bench/pods/p{i:05d}", value)) for i in range(n)]
    updates = []
    for i in range(n):
        entry = store.get(f"/registry/bench/pods/p{i:05d}")
        updates.append(timed(lambda e=entry: store.update(e.key, value, e.mod_rev)))
    lists = [timed(lambda: store.list("/registry/bench/pods/")) for _ in range(10)]
    return {"create_ms": {"p50": pct(creates, 50), "p99": pct(creates, 99)},
            "update_ms": {"p50": pct(updates, 50), "p99": pct(updates, 99)},
            "list_decoded_ms": {"p50": pct(lists, 50)}}


def through_api(args: argparse.Namespace, store_args: list[str]) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as state:
        env = dict(os.environ, MINIKUBE_LITE_LOG="WARNING", PYTHONPATH=str(ROOT))
        daemon = subprocess.Popen([sys.executable, "-m", "minikube_lite.daemon", "--state-dir", state, "--port",
                                   str(port), "--no-kubelet", "--insecure-no-auth", *store_args], cwd=ROOT, env=env)
        try:
            with httpx.Client(base_url=url, timeout=60) as c:  # the store compared, not authentication
                wait_ready(c, 30)
                time.sleep(1.0)
                creates = [timed(lambda i=i: c.post(PODS, json=pod(i)).raise_for_status()) for i in range(args.pods)]
                out["create_ms"] = {"p50": pct(creates, 50), "p99": pct(creates, 99)}
                for _ in range(3):
                    c.get(PODS)
                lists = [timed(lambda: c.get(PODS).raise_for_status()) for _ in range(args.lists)]
                assert len(c.get(PODS).json()["items"]) == args.pods
                out["list_json_ms"] = {"p50": pct(lists, 50), "p99": pct(lists, 99)}
                patches = [timed(lambda i=i: c.patch(
                    f"{PODS}/bench-{i % args.pods:05d}", content=b'{"metadata":{"labels":{"p":"%d"}}}' % i,
                    headers={"Content-Type": "application/merge-patch+json"}).raise_for_status())
                    for i in range(args.pods)]
                out["patch_ms"] = {"p50": pct(patches, 50), "p99": pct(patches, 99)}

                base = statistics.median(write_burst(c, args.writes, args.pods, f"a{r}") for r in range(2))
                ctx = multiprocessing.get_context("spawn")
                ready, stop = ctx.Semaphore(0), ctx.Event()
                counts = ctx.Array("l", args.watchers)
                proc = ctx.Process(target=_watchers_process, args=(url, args.watchers, ready, stop, counts))
                proc.start()
                for _ in range(args.watchers):
                    ready.acquire(timeout=60)
                time.sleep(2.0)
                watched = write_burst(c, args.writes, args.pods, "b")
                time.sleep(2.0)
                stop.set()
                proc.join(30)
                out["writes_s"] = {"no_watchers": base, "with_watchers": watched, "ratio": watched / base,
                                   "events_per_watcher_min": min(counts[:]) if args.watchers else 0}
        finally:
            daemon.terminate()
            daemon.wait(10)
            subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "delete", "--state-dir", state],
                           capture_output=True, check=False, env=env)
    return out


def _daemon(state: Path, port: int, store: str, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, MINIKUBE_LITE_LOG="INFO", PYTHONPATH=str(ROOT))
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "minikube_lite.daemon", "--state-dir", str(state), "--port",
                                 str(port), "--store", store, "--leader-elect", "--control-plane-only",
                                 "--no-kubelet", "--insecure-no-auth"],  # loopback, as tests/e2e/test_etcd_ha.py
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def failover(tmp: Path, store: str, run: int) -> float:
    """Two API servers on one etcd; SIGKILL the controller-manager leader, then scale a Deployment
    through the other: seconds from the kill until the other's controllers made the new pod."""
    ports = [free_port(), free_port()]
    logs = [tmp / f"fo{run}-{i}.log" for i in range(2)]
    procs = [_daemon(tmp / f"fo{run}-{i}", ports[i], store, logs[i]) for i in range(2)]
    ns = f"fo{run}"
    try:
        deadline = time.monotonic() + 60
        leader = None
        while leader is None:
            if time.monotonic() > deadline:
                raise SystemExit("no leader elected")
            time.sleep(0.2)
            leader = next((i for i in range(2) if "became leader of kube-system/kube-controller-manager"
                           in logs[i].read_text(errors="replace")), None)
        other = f"http://127.0.0.1:{ports[1 - leader]}"
        with httpx.Client(base_url=other, timeout=30) as c:
            c.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": ns}}).raise_for_status()
            dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fo"},
                   "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "fo"}},
                            "template": {"metadata": {"labels": {"app": "fo"}}, "spec": {"containers": [
                                {"name": "c", "image": "minikube-lite/busybox:1.0"}]}}}}
            c.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=dep).raise_for_status()

            def pods() -> int:
                return len(c.get(f"/api/v1/namespaces/{ns}/pods").json()["items"])

            while pods() < 1:
                time.sleep(0.1)
            time.sleep(3)  # let the leader renew at least once more
            procs[leader].kill()
            killed = time.monotonic()
            c.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/fo", content=b'{"spec":{"replicas":2}}',
                    headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()
            while pods() < 2:
                if time.monotonic() - killed > 60:
                    raise SystemExit("the other server's controllers never acted")
                time.sleep(0.05)
            return time.monotonic() - killed
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(15)
        for i in range(2):  # each server's state folder made a Docker network: leave none behind
            subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "delete", "--state-dir",
                            str(tmp / f"fo{run}-{i}")], capture_output=True, check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--watchers", type=int, default=100)
    ap.add_argument("--writes", type=int, default=500)
    ap.add_argument("--lists", type=int, default=30)
    ap.add_argument("--failovers", type=int, default=3, help="leader API server kills to time")
    ap.add_argument("--only-failover", action="store_true",
                    help="time the failovers alone (results in bench/results/store_failover.json)")
    args = ap.parse_args()
    if args.only_failover:
        load = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp, LocalEtcd(Path(tmp) / "etcd") as etcd:
            runs = [failover(Path(tmp), etcd.url, r) for r in range(args.failovers)]
        print(f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}; failover: leader killed -> the other acts (s): "
              + " / ".join(f"{x:.1f}" for x in runs) + "   (lease 15 s, target <= 16 s)")
        save_results("store_failover", {"failover_s": runs, "load_average_before": load,
                                        "load_average_after": os.getloadavg()[0]}, show=False)
        return
    results: dict[str, Any] = {"pods": args.pods, "watchers": args.watchers, "writes": args.writes,
                               "load_average_before": os.getloadavg()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp, LocalEtcd(Path(tmp) / "etcd") as etcd:
        results["etcd_version"] = subprocess.run([etcd.binary, "--version"], capture_output=True, check=False,
                                                 text=True).stdout.splitlines()[0]
        sqlite = SQLiteStore(Path(tmp) / "alone.db")
        results["sqlite"] = {"store": store_alone(sqlite, args.pods)}
        sqlite.close()
        store = EtcdStore(EtcdConfig.parse(etcd.url), compaction_interval=0)
        results["etcd"] = {"store": store_alone(store, args.pods)}
        store.compact()
        store.close()
        results["sqlite"]["api"] = through_api(args, [])
        results["etcd"]["api"] = through_api(args, ["--store", etcd.url])
        results["failover_s"] = [failover(Path(tmp), etcd.url, r) for r in range(args.failovers)]
    results["load_average_after"] = os.getloadavg()[0]

    print(f"load average {results['load_average_before']:.1f} -> {results['load_average_after']:.1f} "
          f"on {results['cpus']} CPUs; {results['etcd_version']}")
    print(f"{'figure':48} {'SQLite':>15} {'etcd':>15}")

    def row(name: str, get: Any, fmt: str = "{:6.1f} / {:5.1f}") -> None:
        print(f"{name:48} {fmt.format(*get(results['sqlite'])):>15} {fmt.format(*get(results['etcd'])):>15}")

    row("store create p50 / p99 (ms)", lambda r: (r["store"]["create_ms"]["p50"], r["store"]["create_ms"]["p99"]),
        "{:6.2f} / {:5.2f}")
    row("store update p50 / p99 (ms)", lambda r: (r["store"]["update_ms"]["p50"], r["store"]["update_ms"]["p99"]),
        "{:6.2f} / {:5.2f}")
    row(f"store list {args.pods} decoded p50 (ms)", lambda r: (r["store"]["list_decoded_ms"]["p50"],), "{:10.1f}")
    row("API create pod p50 / p99 (ms)", lambda r: (r["api"]["create_ms"]["p50"], r["api"]["create_ms"]["p99"]))
    row("API patch pod p50 / p99 (ms)", lambda r: (r["api"]["patch_ms"]["p50"], r["api"]["patch_ms"]["p99"]))
    row(f"API list {args.pods} pods JSON p50 (ms)", lambda r: (r["api"]["list_json_ms"]["p50"],), "{:10.1f}")
    row(f"{args.writes} writes, 0 / {args.watchers} watchers (s)",
        lambda r: (r["api"]["writes_s"]["no_watchers"], r["api"]["writes_s"]["with_watchers"]), "{:5.2f} / {:5.2f}")
    row(f"  ratio; events each watcher got (of {args.pods + args.writes})",
        lambda r: (r["api"]["writes_s"]["ratio"], r["api"]["writes_s"]["events_per_watcher_min"]), "{:4.2f} {:6d}")
    if results["failover_s"]:
        print(f"{'failover: leader killed -> the other acts (s)':48} "
              + " / ".join(f"{x:.1f}" for x in results["failover_s"]) + "   (lease 15 s, target <= 16 s)")
    save_results("store", results, show=False)


if __name__ == "__main__":
    main()
