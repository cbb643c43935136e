"""Joining figures (issue 15): a node on another machine, ``minikube-lite agent`` to Ready.

Run: ``python bench/bench_remote.py [--runs 5] [--cert-runs 10]`` as root (needs a Docker engine,
dockerd, ``unshare``/``nsenter``/``ip`` and the local images). It starts a cluster of its own
listening on one end of a veth, and "another machine" for the agent: a dockerd of its own in a
network namespace of its own, the other end of the veth (tests/e2e/remotehost.py; the machine's
engine and networks are not touched, and all of it is removed at the end). Timed:

- ``agent_join_to_ready_s``: ``minikube-lite agent --server URL --token T
  --discovery-token-ca-cert-hash H --name N`` started in that namespace (a new process: the
  interpreter, imports, discovery with the CA pin, the client certificate by CSR, the engine's
  network, the Node registered, its Ready condition) until the API shows the Node Ready. A new
  node name, token and data folder each run. Target **<= 3 s** (issue 15); ``met`` says whether
  the p50 is.
- ``serving_certificate_s``: from the agent's start until its kubelet endpoint presents the
  certificate the kubelet-serving CSR got (the master can then reach logs/exec on it).
- ``join_to_certificate_s``: node/join.py's two steps alone, in this process (discovery + CSR to
  a signed client certificate).
- ``node_token_cli_s``: the ``minikube-lite node token`` command's wall clock.

Writes ``bench/results/remote.json``; prints the load average with the figures.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import api_client, free_port, pct, save_results

from minikube_lite.auth import pki
from minikube_lite.config import Settings
from minikube_lite.images import ensure_images
from minikube_lite.node.join import bootstrap_client_certificate, discover
from tests.e2e.remotehost import RemoteMachine

TARGET_READY_S = 3.0


def _ready(api: Any, name: str) -> tuple[bool, int]:
    r = api.get(f"/api/v1/nodes/{name}")
    if r.status_code != 200:
        return False, 0
    status = r.json().get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return ready, int(((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 0)


def _serves_issued(ip: str, port: int, ca: str, crt: Path) -> bool:
    if not port or not crt.exists():
        return False
    try:
        ctx = ssl.create_default_context(cafile=ca)
        with socket.create_connection((ip, port), timeout=2) as raw, ctx.wrap_socket(raw, server_hostname=ip) as t:
            return ssl.DER_cert_to_PEM_cert(t.getpeercert(binary_form=True)).strip() == crt.read_text().strip()
    except (OSError, ssl.SSLError):
        return False


def agent_joins(machine: RemoteMachine, settings: Settings, cli: Any, runs: int, root: Path) -> dict[str, Any]:
    ready_s, serving_s = [], []
    ca = str(pki.paths(settings.state_dir).ca_crt)
    with api_client(settings.state_dir, settings.server_url, timeout=5) as api:
        for i in range(runs):
            out = cli("node", "token", "--ttl", "10m")
            m = re.search(r"--server (\S+) --token (\S+) --discovery-token-ca-cert-hash (\S+)", out)
            assert m, out
            name, data = f"bench-remote-{i}", root / f"agent-{i}"
            t0 = time.perf_counter()
            machine.start_agent("--server", m.group(1), "--token", m.group(2), "--discovery-token-ca-cert-hash",
                                m.group(3), "--name", name, "--data-dir", str(data))
            port, ready_at = 0, None
            while time.perf_counter() - t0 < 60:
                if machine.agent is not None and machine.agent.poll() is not None:
                    raise SystemExit(f"the agent exited:\n{machine.agent_log()}")
                if ready_at is None:
                    ok, port = _ready(api, name)
                    if ok:
                        ready_at = time.perf_counter() - t0
                if ready_at is not None and _serves_issued(machine.ip, port, ca, data / "kubelet-server-current.crt"):
                    serving_s.append(time.perf_counter() - t0)
                    break
                time.sleep(0.02)
            else:
                raise SystemExit(f"node {name} not Ready with its serving certificate in 60 s:\n{machine.agent_log()}")
            ready_s.append(ready_at)
            machine.stop_agent()
            cli("node", "delete", name)
    p50 = pct(ready_s, 50)
    return {"agent_join_to_ready_s": {"p50": round(p50, 3), "max": round(max(ready_s), 3),
                                      "all": [round(v, 3) for v in ready_s],
                                      "target": TARGET_READY_S, "met": p50 <= TARGET_READY_S},
            "serving_certificate_s": {"p50": round(pct(serving_s, 50), 3), "max": round(max(serving_s), 3)}}


def main() -> None:
    parser = argparse.ArgumentParser(description="issue 15: minikube-lite agent join -> node Ready (target <= 3 s)")
    parser.add_argument("--runs", type=int, default=5, help="agent joins (a new node each)")
    parser.add_argument("--cert-runs", type=int, default=10, help="discovery + client CSR rounds")
    args = parser.parse_args()
    ensure_images()
    machine = RemoteMachine()
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as tmp:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
        env.update(KUBECONFIG=str(root / "kubeconfig"), HOME=str(root / "home"))
        (root / "home").mkdir()
        try:
            machine.start()
            settings = Settings(state_dir=root / "state", port=free_port(), host=machine.host_ip)

            def cli(*a: str) -> str:
                return subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", *a, "--state-dir",
                                       str(settings.state_dir)], check=True, env=env, capture_output=True,
                                      text=True).stdout

            cli("start", "--port", str(settings.port), "--host", machine.host_ip)
            join, token_cli = [], []
            for i in range(args.cert_runs):
                t0 = time.perf_counter()
                out = cli("node", "token", "--ttl", "10m")
                token_cli.append(time.perf_counter() - t0)
                m = re.search(r"--server (\S+) --token (\S+) --discovery-token-ca-cert-hash (\S+)", out)
                assert m, out
                server, token, pin = m.groups()
                t0 = time.perf_counter()
                ca = discover(server, pin)
                bootstrap_client_certificate(server, ca, token, f"bench-node-{i}", root / f"pki-{i}")
                join.append(time.perf_counter() - t0)
            results: dict[str, Any] = {
                "load_average_1m": round(os.getloadavg()[0], 2),
                "runs": args.runs,
                **agent_joins(machine, settings, cli, args.runs, root),
                "join_to_certificate_s": {"p50": round(pct(join, 50), 3), "max": round(max(join), 3)},
                "node_token_cli_s": {"p50": round(pct(token_cli, 50), 3), "max": round(max(token_cli), 3)},
            }
        finally:
            subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "delete", "--state-dir",
                            str(root / "state")], check=False, env=env, capture_output=True)
            machine.remove()
        save_results("remote", results)
        r = results["agent_join_to_ready_s"]
        print(f"agent join -> node Ready: p50 {r['p50']} s, max {r['max']} s (target <= {TARGET_READY_S} s: "
              f"{'met' if r['met'] else 'NOT met'}; load average {results['load_average_1m']})")


if __name__ == "__main__":
    main()
