"""Idle RSS of the daemon before and after the register redesign (issue 11: unchanged within 3 MB).

Starts the daemon (``--no-kubelet``: API server and controllers, no Docker work) from two source
trees in turn, ``--rounds`` times each, alternating so machine load hits both alike: the tree
before the redesign (a git worktree of ``--before``, f163982 by default, made under /tmp if
missing) and this one. For each start: VmRSS ``--idle`` seconds after ``/readyz``, then after
``GET /openapi/v3/apis/apps/v1`` and ``/openapi/v2`` (the documents kubectl downloads, now
field-level: built on first request and cached). Writes ``bench/results/register.json``.

    python bench/bench_register.py --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from benchlib import free_port, save_results, wait_ready

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worktree(commit: str) -> Path:
    path = Path(tempfile.gettempdir()) / f"rss-before-{commit[:7]}"
    if not (path / "minikube_lite").exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-f", "--detach", str(path), commit],
                       check=True, capture_output=True)
    return path


def plain_http(tree: Path) -> list[str]:
    """The flag that makes a tree's daemon serve plain HTTP (trees from before TLS serve it anyway)."""
    return ["--insecure-no-auth"] if "--insecure-no-auth" in (tree / "minikube_lite" / "daemon.py").read_text() else []


def one_start(tree: Path, idle: float) -> dict[str, float]:
    port = free_port()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as state:
        env = dict(os.environ, PYTHONPATH=str(tree), MINIKUBE_LITE_LOG="WARNING")
        daemon = subprocess.Popen([sys.executable, "-m", "minikube_lite.daemon", "--state-dir", state,
                                   "--port", str(port), "--no-kubelet", *plain_http(tree)], cwd=tree, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
                wait_ready(c, 60)
                time.sleep(idle)
                out = {"idle_rss_mb": rss_mb(daemon.pid)}
                c.get("/openapi/v3/apis/apps/v1").raise_for_status()
                c.get("/openapi/v3/api/v1").raise_for_status()
                c.get("/openapi/v2").raise_for_status()
                time.sleep(1.0)
                out["after_openapi_rss_mb"] = rss_mb(daemon.pid)
                return out
        finally:
            daemon.terminate()
            daemon.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="f163982", help="the commit before the redesign")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle", type=float, default=4.0, help="seconds idle after /readyz")
    args = ap.parse_args()
    trees = {"before": worktree(args.before), "after": ROOT}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            runs[name].append(one_start(tree, args.idle))
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=False,
                          capture_output=True,
                          text=True).stdout.strip()
    results: dict[str, Any] = {"before_commit": args.before, "after_commit": head, "rounds": args.rounds,
                               "idle_s": args.idle, "load_average": os.getloadavg()[0]}
    for name, rows in runs.items():
        for key in ("idle_rss_mb", "after_openapi_rss_mb"):
            values = [r[key] for r in rows]
            results[f"{name}_{key}"] = {"median": round(statistics.median(values), 1),
                                        "min": round(min(values), 1), "max": round(max(values), 1)}
    results["idle_rss_delta_mb"] = round(results["after_idle_rss_mb"]["median"]
                                         - results["before_idle_rss_mb"]["median"], 1)
    save_results("register", results)


if __name__ == "__main__":
    main()
