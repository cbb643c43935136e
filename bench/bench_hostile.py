"""Hostile input, overload and durability, side by side in one run (issue 13's figures).

1. **attack**: a daemon of its own (``python -m minikube_lite.daemon --no-kubelet``, its own state
   folder and port) while 4 attackers replay the YAML alias bomb (9 levels, to ``POST /apply`` and
   to a create) and deep nesting (10,000 levels of YAML, 100,000 unclosed brackets) in a loop; a
   prober asks ``/version`` every 10 ms meanwhile. Figures: ``/version`` p50/p99 quiet and under
   attack, the daemon's peak RSS (VmHWM) and the attackers' request count (each a 400).
   Targets: p99 under attack ≤ 50 ms, peak RSS ≤ 150 MB.
2. **storm**: ``--clients`` concurrent clients (default 200), each creating a ConfigMap and
   listing a page of them, deleting its own older ones so the store stays the same size, for
   ``--storm-seconds`` (default 60). Figures: requests, 5xx count (must be 0), 429s, lost writes
   (an acknowledged object missing afterwards; must be 0), daemon RSS idle / peak / after.
   *Idle* is taken once the RSS has settled, with the objects the storm will leave stored
   already there (``KEEP`` per client, created first and deleted by the storm): stored objects
   are kept memory, not growth (their cost is printed, ``stored_objects_mb``). *After* is taken
   once the storm's events have left the watch history (``HISTORY_SECONDS`` + 5 s; window.py,
   kube-apiserver's watch cache keeps at least 75 s), and also 5 s after. Target: after ≤ idle
   + 20 MB. ``--no-history-wait`` takes *after* at 5 s instead.
3. **durability**: the store's write latency (p50/p99 of ``--writes`` creates) with SQLite's
   ``synchronous=NORMAL`` (the default) and ``FULL``, in WAL mode, on this machine's disk.

    python bench/bench_hostile.py                         # full size (about 4 minutes)
    python bench/bench_hostile.py --storm-seconds 10 --attack-seconds 5   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from benchlib import free_port, save_results

from minikube_lite.auth.pki import client_context
from minikube_lite.store.sqlite import SQLiteStore
from minikube_lite.store.window import HISTORY_SECONDS

CMS = "/api/v1/namespaces/default/configmaps"
KEEP = 5  # ConfigMaps each storm client keeps (it deletes its older ones)
YAML = {"Content-Type": "application/yaml"}


def bomb(levels: int = 9) -> bytes:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", "a: &a [" + ",".join(["lol"] * 9) + "]"]
    for i in range(1, levels):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class Daemon:
    def __init__(self, **env: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mkl-hostile-"))
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"  # HTTPS and authentication, as a user runs it
        with open(self.dir / "log", "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "minikube_lite.daemon", "--state-dir", str(self.dir / "state"),
                 "--port", str(self.port), "--no-kubelet"],
                env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=log)
        end = time.monotonic() + 30
        self.ssl: Any = None
        while time.monotonic() < end:
            try:
                self.ssl = self.ssl or client_context(self.dir / "state")
                if httpx.get(self.url + "/readyz", timeout=1, verify=self.ssl).status_code == 200:
                    break
            except (httpx.HTTPError, OSError):
                time.sleep(0.05)
        time.sleep(2)  # the components load after the API answers

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.ssl, **kwargs)

    def rss(self, field: str = "VmRSS") -> float:
        return rss_mb(self.proc.pid, field)

    def settled_rss(self, timeout: float = 30.0) -> float:
        """RSS once it stops changing (within 1 MB over 2 s): the components load after the API
        answers, and under load they take seconds to."""
        end = time.monotonic() + timeout
        last = self.rss()
        while time.monotonic() < end:
            time.sleep(2)
            now = self.rss()
            if abs(now - last) < 1:
                return now
            last = now
        return last

    def stop(self) -> None:
        """End the daemon and remove the bridge its kube-proxy made (a stopped cluster keeps its
        network for its next start; this one has none), then its folder."""
        self.proc.terminate()
        self.proc.wait(10)
        import shutil

        import docker

        from minikube_lite.config import Settings
        from minikube_lite.kubelet.cleanup import remove_cluster_objects

        settings = Settings(state_dir=self.dir / "state")
        with contextlib.suppress(docker.errors.DockerException):
            client = docker.from_env()
            remove_cluster_objects(client, settings.cluster_id, settings.network_name)
            client.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else (values or [0.0])[0]


def probe_version(daemon: Daemon, seconds: float) -> list[float]:
    latencies: list[float] = []
    with daemon.client(timeout=10) as c:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            c.get("/version").raise_for_status()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.01)
    return latencies


def attack(seconds: float) -> dict[str, Any]:
    daemon = Daemon()
    try:
        daemon.settled_rss()  # the components have loaded: "quiet" is the daemon at rest
        quiet = probe_version(daemon, min(seconds, 5))
        stop = threading.Event()
        counts: list[int] = []
        bad: list[int] = []
        payloads = [(bomb(), "/apply"), (bomb(), CMS), (b"[" * 10_000 + b"]" * 10_000, "/apply"),
                    (b"[" * 100_000, CMS)]

        def attacker(body: bytes, path: str) -> None:
            n = 0
            with daemon.client(timeout=60) as c:
                while not stop.is_set():
                    code = c.post(path, content=body, headers=YAML).status_code
                    if code != 400:
                        bad.append(code)
                    n += 1
            counts.append(n)

        threads = [threading.Thread(target=attacker, args=p) for p in payloads]
        for t in threads:
            t.start()
        loud = probe_version(daemon, seconds)
        stop.set()
        for t in threads:
            t.join()
        ms = 1000
        p99, peak = percentile(loud, 99) * ms, daemon.rss("VmHWM")
        return {"target": "version_attacked_p99_ms <= 50, daemon_rss_peak_mb <= 150",
                "met": p99 <= 50 and peak <= 150 and not bad, "load_average": os.getloadavg()[0],
                "version_quiet_p50_ms": round(percentile(quiet, 50) * ms, 2),
                "version_quiet_p99_ms": round(percentile(quiet, 99) * ms, 2),
                "version_attacked_p50_ms": round(percentile(loud, 50) * ms, 2),
                "version_attacked_p99_ms": round(percentile(loud, 99) * ms, 2),
                "version_attacked_max_ms": round(max(loud) * ms, 2),
                "attack_requests": sum(counts), "attack_answers_not_400": len(bad),
                "daemon_rss_peak_mb": round(peak, 1), "daemon_rss_after_mb": round(daemon.rss(), 1)}
    finally:
        daemon.stop()


class _Conn:
    """One keep-alive HTTP/1.1 connection (httpx's async pool, not the daemon, is the bottleneck
    past a few dozen concurrent clients: it would measure itself)."""

    def __init__(self, port: int, ssl: Any) -> None:
        self.port = port
        self.ssl = ssl
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, ssl=self.ssl)
        assert self.reader is not None
        data = json.dumps(body).encode() if body is not None else b""
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        await self.writer.drain()
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
        payload = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(head[0].split()[1]), headers, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _configmap(name: str, n: int, i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"client": str(n)}},
            "data": {"i": str(i)}}


async def _prefill(daemon: Daemon, clients: int) -> dict[int, list[str]]:
    """The objects the storm leaves stored (``KEEP`` per client), created before the idle RSS is
    taken: the storm starts by deleting them, so the store holds as many objects before it as
    after it, and after - idle is what the storm's traffic left behind, not the objects it stored."""
    kept: dict[int, list[str]] = {n: [] for n in range(clients)}

    async def client(n: int) -> None:
        conn = _Conn(daemon.port, daemon.ssl)
        try:
            for i in range(KEEP):
                name = f"storm-{n}-pre{i}"
                code, _, _ = await conn.request("POST", CMS, _configmap(name, n, i))
                if code != 201:
                    raise RuntimeError(f"prefill: {name} answered {code}")
                kept[n].append(name)
            await conn.request("GET", f"{CMS}?limit=50&labelSelector=client%3D{n}")
        finally:
            conn.close()

    for start in range(0, clients, 20):  # a gentle start: the prefill is not the storm
        await asyncio.gather(*(client(n) for n in range(start, min(start + 20, clients))))
    return kept


async def _storm(daemon: Daemon, clients: int, seconds: float, kept: dict[int, list[str]]) -> dict[str, Any]:
    codes: dict[int, int] = {}
    errors = 0
    deleted: set[str] = set()
    end = time.monotonic() + seconds

    def count(code: int) -> None:
        codes[code] = codes.get(code, 0) + 1

    async def client(n: int) -> None:
        nonlocal errors
        conn = _Conn(daemon.port, daemon.ssl)
        i = 0
        while time.monotonic() < end:
            name = f"storm-{n}-{i}"
            i += 1
            try:
                code, headers, _ = await conn.request("POST", CMS, _configmap(name, n, i))
                count(code)
                if code == 201:
                    kept[n].append(name)
                elif code == 429:
                    await asyncio.sleep(float(headers.get("retry-after", "1")))
                    continue
                code, _, _ = await conn.request("GET", f"{CMS}?limit=50&labelSelector=client%3D{n}")
                count(code)
                while len(kept[n]) > KEEP:
                    old = kept[n].pop(0)
                    code, _, _ = await conn.request("DELETE", f"{CMS}/{old}")
                    count(code)
                    if code == 200:
                        deleted.add(old)
                    else:
                        kept[n].insert(0, old)
                        break
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                conn.close()
                conn = _Conn(daemon.port, daemon.ssl)
        conn.close()

    await asyncio.gather(*(client(n) for n in range(clients)))
    with daemon.client(timeout=60) as c:
        listed = await asyncio.to_thread(c.get, CMS)
    items = listed.json()["items"]
    stored = {i["metadata"]["name"] for i in items}
    expected = {name for names in kept.values() for name in names}
    return {"requests": sum(codes.values()), "codes": {str(k): v for k, v in sorted(codes.items())},
            "errors_5xx": sum(v for k, v in codes.items() if k >= 500), "transport_errors": errors,
            "lost_writes": len(expected - stored), "deleted_but_present": len(deleted & stored)}


def storm(clients: int, seconds: float, history_wait: bool = True) -> dict[str, Any]:
    daemon = Daemon()
    try:
        idle_empty = daemon.settled_rss()
        kept = asyncio.run(_prefill(daemon, clients))
        idle = daemon.settled_rss()  # the baseline: the daemon at rest, holding what the storm leaves stored
        peak = [idle]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak.append(daemon.rss())
                time.sleep(0.2)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        result = asyncio.run(_storm(daemon, clients, seconds, kept))
        elapsed = time.monotonic() - started
        stop.set()
        sampler.join()
        ended = time.monotonic()
        time.sleep(5)
        after_5s = daemon.rss()
        out = {"load_average": os.getloadavg()[0], "clients": clients, "seconds": round(elapsed, 1), **result,
               "requests_per_second": round(result["requests"] / elapsed),
               "daemon_rss_idle_empty_mb": round(idle_empty, 1),
               "daemon_rss_idle_mb": round(idle, 1), "stored_objects_mb": round(idle - idle_empty, 1),
               "daemon_rss_peak_mb": round(max(peak), 1), "daemon_rss_after_5s_mb": round(after_5s, 1),
               "rss_after_5s_minus_idle_mb": round(after_5s - idle, 1)}
        after = after_5s
        if history_wait:
            # the watch history (at least HISTORY_SECONDS of events, window.py) is bounded memory a
            # watch may still resume from; what stays once it has expired is what the storm left
            time.sleep(max(0.0, ended + HISTORY_SECONDS + 5 - time.monotonic()))
            after = daemon.rss()
            out["daemon_rss_after_history_mb"] = round(after, 1)
        out["rss_after_minus_idle_mb"] = round(after - idle, 1)
        out["target"] = ("0 5xx, 0 lost writes, rss_after_minus_idle_mb <= 20 (after: "
                         + (f"{HISTORY_SECONDS + 5:g} s" if history_wait else "5 s") + " after the storm)")
        out["met"] = result["errors_5xx"] == 0 and result["lost_writes"] == 0 and after - idle <= 20
        return out
    finally:
        daemon.stop()


def durability(writes: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("NORMAL", "FULL"):
        folder = Path(tempfile.mkdtemp(prefix="mkl-sync-", dir=os.environ.get("BENCH_DISK_DIR")))
        store = SQLiteStore(folder / "db", synchronous=mode)
        latencies = []
        for i in range(writes):
            started = time.perf_counter()
            store.create(f"/registry/configmaps/default/c{i}", {"metadata": {"name": f"c{i}"}, "data": {"i": i}})
            latencies.append(time.perf_counter() - started)
        store.close()
        out[mode] = {"write_p50_ms": round(percentile(latencies, 50) * 1000, 3),
                     "write_p99_ms": round(percentile(latencies, 99) * 1000, 3),
                     "writes_per_second": round(writes / sum(latencies))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--attack-seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--storm-seconds", type=float, default=60)
    ap.add_argument("--writes", type=int, default=2000)
    ap.add_argument("--no-history-wait", action="store_true", help="storm: RSS after at 5 s, not past the history")
    ap.add_argument("--only", choices=("attack", "storm", "durability"), help="one part (results not saved)")
    args = ap.parse_args()
    parts = {"attack": lambda: attack(args.attack_seconds), "storm": lambda: storm(args.clients, args.storm_seconds, not args.no_history_wait),
             "durability": lambda: durability(args.writes)}
    if args.only:
        print(json.dumps({args.only: parts[args.only]()}, indent=2))
        return
    save_results("hostile", {name: run() for name, run in parts.items()})


if __name__ == "__main__":
    main()
