"""Small helpers every benchmark script here needs (ports, process CPU time).

Run the scripts from the repository root (``python bench/bench_X.py``): Python then puts
``bench/`` on the import path, so ``from benchlib import ...`` works.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def compile_bytecode() -> None:
    """Compile the package's and its dependencies' bytecode as ``scripts/setup.sh`` does, where this
    interpreter reads it (its pycache prefix, if any): a start then measures no compilation."""
    subprocess.run([sys.executable, str(RESULTS.parents[1] / "scripts" / "compile_bytecode.py")], check=True)


def save_results(name: str, results: Any, *, show: bool = True) -> Path:
    """Write ``bench/results/<name>.json`` (and print it unless ``show`` is False)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    if show:
        print(json.dumps(results, indent=2))
    return path


def wait_ready(c: Any, timeout: float = 30.0) -> None:
    """Poll ``/readyz`` through the client ``c`` until it answers 200; SystemExit after ``timeout``."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if c.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the API server did not start")
        time.sleep(0.05)


def api_client(state_dir: str | Path, url: str, **kwargs: Any) -> Any:
    """An httpx client to a cluster's API: over HTTPS it trusts the cluster CA and presents the admin
    client certificate (``<state>/certs``), as kubectl does with the kubeconfig."""
    import httpx

    if url.startswith("https://"):
        from minikube_lite.auth.pki import client_context

        kwargs["verify"] = client_context(Path(state_dir))
    return httpx.Client(base_url=url, **kwargs)


def sdk_pod_equivalents(client: Any, network: str, command: list[str], n: int, *, threads: int,
                        label: dict[str, str], wait: bool = False) -> float:
    """n pod-equivalents made straight through the Docker SDK, the yardstick several benches compare
    against: a pause container on ``network`` and the app (``command``) in its network namespace,
    started (and waited for when ``wait``); seconds until all are, then they are removed."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from minikube_lite.kubelet.pause import PAUSE_IMAGE

    image = "minikube-lite/busybox:1.0"

    def one(_: int) -> list[Any]:
        sandbox = client.containers.create(PAUSE_IMAGE, labels=label, network=network)
        sandbox.start()
        app = client.containers.create(image, command, labels=label, network_mode=f"container:{sandbox.id}")
        app.start()
        if wait:
            app.wait()
        return [sandbox, app]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        made = [c for cs in pool.map(one, range(n)) for c in cs]
    took = time.perf_counter() - t0
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda c: c.remove(force=True), reversed(made)))
    return took
