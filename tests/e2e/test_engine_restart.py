"""A Docker engine restart under a running cluster: the pods come back, no duplicates.

The machine's engine is shared and never restarted: the test starts a second ``dockerd`` of its
own (its own data root, exec root, pid file, Unix socket, no default bridge, no iptables rules,
address pool 10.231.0.0/16) with its own managed containerd, in a network namespace of its own,
points a cluster at it through ``DOCKER_HOST``, restarts that engine (SIGTERM stops its
containers, as a real restart does) and checks the kubelet puts every pod back: one app
container each, Running, restart counted.

The network namespace is what makes it safe beside other clusters: dockerd started with
``--bridge=none`` deletes any ``docker0`` link it finds (moby's ``removeDefaultBridgeInterface``),
and in the machine's namespace that was the shared engine's bridge, after which every container
start on the shared engine failed. In a namespace of its own the second engine sees only its own
links; the Unix socket it serves is reachable from any namespace.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from minikube_lite.config import CLUSTER_LABEL

from .conftest import Cluster, pod_running, running_cluster, wait_for

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
    - name: main
      image: minikube-lite/busybox:1.0
      # PID 1 of a container ignores a signal it has no handler for: without the trap the
      # engine's stop waited its 10 s timeout for each container, then killed it
      command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
"""


class OwnEngine:
    def __init__(self, *, iptables: bool = False) -> None:
        # iptables: Docker's own rules (NAT, isolation) as on a user's engine; only in a namespace of its own
        self.iptables = iptables
        self.root = Path(tempfile.mkdtemp(prefix="mkl-dockerd-"))  # short: a socket path has 108 bytes
        self.socket = self.root / "docker.sock"
        self.host = f"unix://{self.socket}"
        (self.root / "daemon.json").write_text("{}")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if shutil.which("dockerd") is None:
            pytest.fail("dockerd is not installed (scripts/ensure-docker.sh installs docker.io)")
        log = open(self.root / "dockerd.log", "ab")  # noqa: SIM115 - kept open while the engine runs
        if shutil.which("unshare") is None:
            pytest.fail("unshare (util-linux) is not installed: the test's dockerd needs a network namespace")
        # ``unshare --net`` execs dockerd in a new network namespace (the same pid: SIGTERM reaches it)
        self.proc = subprocess.Popen(
            ["unshare", "--net", "--", "dockerd", "--config-file", str(self.root / "daemon.json"), "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "docker.pid"),
             "-H", self.host, "--bridge=none", *(() if self.iptables else ("--iptables=false", "--ip-masq=false")),
             "--ip6tables=false",
             "--default-address-pool", "base=10.231.0.0/16,size=24"],
            stdout=log, stderr=log, start_new_session=True)
        log.close()
        wait_for(self.answers, timeout=60, interval=0.2, what=f"the test's own dockerd ({self.root}/dockerd.log)")

    def answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"dockerd exited: {(self.root / 'dockerd.log').read_text()[-2000:]}")
        try:
            return bool(docker.DockerClient(base_url=self.host, timeout=5).ping())
        except Exception:  # noqa: BLE001 - not up yet
            return False

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)  # the engine stops its containers, as on a restart
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def own_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnEngine]:
    engine = OwnEngine()
    engine.start()
    monkeypatch.setenv("DOCKER_HOST", engine.host)  # images are built there, containers listed there
    try:
        yield engine
    finally:
        engine.remove()


def _main_containers(cluster: Cluster, pod: str) -> list[docker.models.containers.Container]:
    return [c for c in cluster.containers(pod) if c.labels.get("io.kubernetes.container.name") == "main"]


SHARED_BRIDGE = Path("/sys/class/net/docker0")


@pytest.fixture
def shared_bridge_kept() -> Iterator[None]:
    """The machine's own engine keeps its bridge whatever the test's engine does (it once didn't)."""
    had = SHARED_BRIDGE.exists()
    yield
    assert SHARED_BRIDGE.exists() == had, "the shared engine's docker0 bridge is gone"


def test_engine_restart_brings_the_pods_back_without_duplicates(tmp_path: Path, shared_bridge_kept: None,
                                                                own_engine: OwnEngine) -> None:
    with running_cluster(tmp_path, extra_env={"DOCKER_HOST": own_engine.host}) as cluster:
        names = ["phoenix-a", "phoenix-b"]
        for name in names:
            manifest = tmp_path / f"{name}.yaml"
            manifest.write_text(POD.format(name=name))
            cluster.kubectl("apply", "-f", str(manifest))
        for name in names:
            wait_for(lambda n=name: pod_running(cluster, n, 0), timeout=60, what=f"{name} Running")
        before = {name: cluster.pod(name)["metadata"]["uid"] for name in names}

        own_engine.stop()
        time.sleep(2)  # the kubelet sees the engine gone
        own_engine.start()

        for name in names:
            wait_for(lambda n=name: pod_running(cluster, n) and len(_main_containers(cluster, n)) == 1,
                     timeout=90, what=f"{name} back on the restarted engine")
        for name in names:
            pod = cluster.pod(name)
            assert pod["metadata"]["uid"] == before[name]  # the same pod, its container restarted
            assert pod["status"]["containerStatuses"][0]["restartCount"] >= 1
            assert len(_main_containers(cluster, name)) == 1
        # and nothing of this cluster ever reached the machine's own engine
        shared = docker.DockerClient(base_url=os.environ.get("MKL_SHARED_DOCKER", "unix:///var/run/docker.sock"))
        assert shared.containers.list(all=True, filters={"label": [f"{CLUSTER_LABEL}={cluster.settings.cluster_id}"]},
                                      ignore_removed=True) == []
