"""One real cluster shared by the end-to-end tests.

The session (each pytest-xdist worker's, when scripts/test.sh runs them on two) starts
``minikube-lite start`` with its own state folder, port and kubeconfig
(never the user's ``~/.kube/config``) and kubectl's discovery cache in a temporary folder,
then deletes the cluster at the end. Tests drive it with the real ``kubectl`` (the
dispatcher, and the exact 1.27 … 1.33 binaries beside it), HTTP and the Docker engine.

The API is HTTPS with client certificates: ``Cluster.http()`` trusts the cluster CA and
presents the admin certificate ``start`` made, as kubectl does with the kubeconfig;
``Cluster.anonymous()`` connects with the CA only (no credentials).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from minikube_lite.config import CLUSTER_LABEL, Settings

KUBECTL = shutil.which("kubectl")
KUBECTL_DIR = Path(os.path.realpath(KUBECTL)).parent if KUBECTL else None


def kubectl_binary(version: str | None = None) -> str:
    if KUBECTL is None:
        pytest.fail("kubectl is not installed: the end-to-end tests need the real kubectl")
    if version is None:
        return KUBECTL
    path = KUBECTL_DIR / f"kubectl.{version}" if KUBECTL_DIR else None
    if path is None or not path.exists():
        pytest.fail(f"kubectl {version} not found beside {KUBECTL}")
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}; last={last!r}")


@dataclass
class Cluster:
    settings: Settings
    kubeconfig: Path
    cache_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.settings.server_url

    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "minikube_lite.cli.main", *args, "--state-dir", str(self.settings.state_dir)]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def kubectl_cmd(self, version: str | None = None) -> list[str]:
        return [kubectl_binary(version), "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir)]

    def kubectl(self, *args: str, version: str | None = None, check: bool = True, input: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [*self.kubectl_cmd(version), *args]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, input=input, timeout=timeout,
                              check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n"
                                 f"{proc.stderr}")
        return proc

    @property
    def ca_file(self) -> str:
        return str(self.settings.certs_dir / "ca.crt")

    def ssl_context(self) -> Any:
        """Trusts the cluster CA and presents the admin client certificate."""
        from minikube_lite.auth.pki import client_context

        if "_ssl" not in self.__dict__:
            self.__dict__["_ssl"] = client_context(self.settings.state_dir)
        return self.__dict__["_ssl"]

    @property
    def token(self) -> str:
        from minikube_lite.auth.pki import admin_token

        return admin_token(self.settings.state_dir)

    def http(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("timeout", 10)
        return httpx.Client(base_url=self.url, verify=self.ssl_context(), **kwargs)

    def anonymous(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("timeout", 10)
        return httpx.Client(base_url=self.url, verify=self.ca_file, **kwargs)

    def get(self, path: str) -> Any:
        try:
            with self.http() as c:
                r = c.get(path)
        except httpx.TransportError:
            return None
        return r.json() if r.status_code == 200 else None

    def pod(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        return self.get(f"/api/v1/namespaces/{namespace}/pods/{name}")

    def containers(self, pod: str | None = None, *, all: bool = False) -> list[Any]:
        filters = {"label": [f"{CLUSTER_LABEL}={self.settings.cluster_id}"]}
        if pod:
            filters["label"].append(f"io.kubernetes.pod.name={pod}")
        return docker.from_env().containers.list(all=all, filters=filters, ignore_removed=True)


def pod_running(cluster: Cluster, name: str, restarts: int | None = None) -> bool:
    pod = cluster.pod(name)
    if not pod:
        return False
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ok = status.get("phase") == "Running" and statuses and all(
        s.get("ready") and "running" in (s.get("state") or {}) for s in statuses)
    if ok and restarts is not None:
        ok = all(s.get("restartCount") == restarts for s in statuses)
    return bool(ok)


@contextlib.contextmanager
def running_cluster(root: Path, *start_args: str, extra_env: dict[str, str] | None = None,
                    host: str | None = None) -> Iterator[Cluster]:
    """A cluster of its own in ``root``: started with the real CLI (and ``start_args``, e.g.
    ``--store etcd://...``; ``extra_env`` added to its environment, e.g. the daemon's knobs or
    ``DOCKER_HOST``; ``host``: the address the API listens on, default loopback), deleted afterwards."""
    from minikube_lite.images import ensure_images

    ensure_images()
    settings = Settings(state_dir=(root / "state").resolve(), port=free_port(), **({"host": host} if host else {}))
    if host:
        start_args = ("--host", host, *start_args)
    env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
    env.update(KUBECONFIG=str(root / "kubeconfig"), KUBECACHEDIR=str(root / "kubecache"), HOME=str(root / "home"))
    env.update(extra_env or {})
    (root / "home").mkdir(exist_ok=True)
    c = Cluster(settings, root / "kubeconfig", root / "kubecache", env)
    try:
        c.cli("start", "--port", str(settings.port), *start_args)  # a failed start may leave a daemon running
        wait_for(lambda: (c.get(f"/api/v1/nodes/{settings.node_name}") or {}).get("status", {}).get("conditions"),
                 timeout=30, what="the node to register")
        yield c
    finally:
        c.cli("delete", check=False)


#: The slowest files, slowest first (20 s or more, per-file sums of a two-worker run's junit XML).
#: ``scripts/test.sh`` runs tests/e2e on two pytest-xdist workers, a whole file at a time
#: (``--dist loadfile``: a file's module-scoped cluster starts once), handing a worker the next
#: file in collection order when it is nearly done: the long files go first, so that the two
#: finish near each other instead of one starting a long file at the end. Files not listed follow
#: in their usual order; the order changes nothing else (each file's tests keep theirs).
SLOW_FIRST = (
    "test_workloads.py", "test_ha_start.py", "test_deployments.py", "test_kubelet_docker.py",
    "test_etcd_store.py", "test_faults.py", "test_nodes.py", "test_api_schemathesis.py", "test_node_agents.py",
    "test_streams.py", "test_autoscaling.py", "test_auth.py", "test_remote_node.py", "test_crds.py",
    "test_overlay.py", "test_kubectl_everyday.py", "test_networking.py", "test_kubelet_faults.py",
    "test_etcd_ha.py", "test_helm.py", "test_explain.py", "test_probes.py", "test_dev_loop.py",
    "test_hostile_input.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOW_FIRST.index(name) if item.path.parent == Path(__file__).parent and name in SLOW_FIRST \
            else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: each file's tests keep their order, and so do the files not listed


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cluster")) as c:
        yield c


@pytest.fixture(scope="session")
def _restartable_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("restartable")) as c:
        yield c


@pytest.fixture
def restartable(_restartable_cluster: Cluster) -> Cluster:
    """A second cluster of the session, for the tests that kill -9, stop and start its daemon
    (test_crds, test_daemon_restart, test_deployments, and test_networking's stop test, which leaves
    it stopped): one start for all of them instead of a cluster each. Each such test uses names (or
    a namespace) of its own; a daemon a test left stopped or dead is started again here."""
    c = _restartable_cluster
    if c.get("/version") is None:
        c.cli("start")
    return c
