"""Joining figures (issue 15), the part that exists: token discovery and kubelet TLS bootstrap.

Run: ``python bench/bench_remote.py [--runs 10]`` (needs a Docker engine and the local images).
It starts a cluster of its own, then for each run: ``minikube-lite node token`` (a bootstrap
token through the API, the join command printed), and the joining side's two steps as
``node/join.py`` does them: discovery (``kube-public/cluster-info`` read untrusted, the CA
checked against the pin, read again verified) and TLS bootstrap (a key, a CSR posted with the
token, auto-approved by csrapproving, signed by csrsigning, the certificate fetched). Timed:

- ``join_to_certificate_s``: discovery + CSR → signed node client certificate (the part of
  "agent join → node Ready" that exists; the issue's target for the whole is ≤ 3 s);
- ``node_token_cli_s``: the ``minikube-lite node token`` command's wall clock (a new Python
  process, most of it interpreter start).

Writes ``bench/results/remote.json``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import free_port, pct, save_results

from minikube_lite.config import Settings
from minikube_lite.images import ensure_images
from minikube_lite.node.join import bootstrap_client_certificate, discover


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    ensure_images()
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as tmp:
        root = Path(tmp)
        settings = Settings(state_dir=root / "state", port=free_port())
        (root / "home").mkdir()
        env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
        env.update(KUBECONFIG=str(root / "kubeconfig"), HOME=str(root / "home"))

        def cli(*a: str) -> str:
            return subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", *a, "--state-dir",
                                   str(settings.state_dir)], check=True, env=env, capture_output=True,
                                  text=True).stdout

        try:
            cli("start", "--port", str(settings.port))
            join, token_cli = [], []
            for i in range(args.runs):
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
                "runs": args.runs,
                "join_to_certificate_s": {"p50": round(pct(join, 50), 3), "max": round(max(join), 3)},
                "node_token_cli_s": {"p50": round(pct(token_cli, 50), 3), "max": round(max(token_cli), 3)},
                "target_join_to_ready_s": 3.0,
            }
        finally:
            subprocess.run([sys.executable, "-m", "minikube_lite.cli.main", "delete", "--state-dir",
                            str(settings.state_dir)], check=False, env=env, capture_output=True)
        save_results("remote", results)


if __name__ == "__main__":
    main()
