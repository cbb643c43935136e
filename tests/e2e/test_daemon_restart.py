"""The desired state survives the daemon: kill -9 it, start again, nothing lost, nothing doubled."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from .conftest import Cluster, pod_running, wait_for

POD = """apiVersion: v1
kind: Pod
metadata:
  name: survivor
spec:
  containers:
    - name: main
      image: minikube-lite/busybox:1.0
      command: ["sleep", "3600"]
"""


def test_kill_daemon_and_restart_adopts_containers(restartable: Cluster, tmp_path: Path) -> None:
    cluster = restartable
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD)
    cluster.kubectl("apply", "-f", str(manifest))
    wait_for(lambda: pod_running(cluster, "survivor", 0), timeout=15, what="survivor Running")
    before = {c.id for c in cluster.containers("survivor")}
    uid = cluster.pod("survivor")["metadata"]["uid"]

    pid = int(cluster.settings.pid_file.read_text())
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: cluster.get("/readyz") is None, timeout=5, what="the daemon to die")

    cluster.cli("start")
    wait_for(lambda: pod_running(cluster, "survivor", 0), timeout=15, what="survivor adopted")
    pod = cluster.pod("survivor")
    assert pod["metadata"]["uid"] == uid
    assert {c.id for c in cluster.containers("survivor")} == before  # adopted, not recreated
    assert cluster.kubectl("apply", "-f", str(manifest)).stdout.strip() == "pod/survivor unchanged"

    # a graceful stop removes the containers; start brings the pod back from the store
    cluster.cli("stop")
    assert cluster.containers("survivor", all=True) == []
    cluster.cli("start")
    wait_for(lambda: [c for c in cluster.containers("survivor")
                      if c.labels.get("io.kubernetes.container.name") == "main"],
             timeout=30, what="survivor's container back after stop/start")  # 15 s was once too short at load 10
    wait_for(lambda: pod_running(cluster, "survivor"), timeout=30, what="survivor Running after stop/start")
    assert len([c for c in cluster.containers("survivor")
                if c.labels.get("io.kubernetes.container.name") == "main"]) == 1
