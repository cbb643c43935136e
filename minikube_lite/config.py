"""Where a cluster lives and what it is called.

A cluster is one state folder (``--state-dir``, default ``~/.minikube-lite`` or
``$MINIKUBE_LITE_HOME``). Everything the daemon creates on the Docker engine carries the
cluster's id (derived from that folder), so several clusters can live side by side, as
minikube's profiles do, and none touches another's containers.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_PORT = 8443  # minikube's --apiserver-port
DEFAULT_HOST = "127.0.0.1"
NODE_NAME = "minikube-lite"
CLUSTER_LABEL = "io.minikube-lite.cluster"
#: the node whose kubelet owns a container (several node agents share one engine and one cluster label)
NODE_LABEL = "io.minikube-lite.node"

# The Service network, as kubeadm and minikube lay it out: the API server's `kubernetes` Service
# takes the first address, the cluster DNS the tenth. The API server allocates from it; the proxy
# and the daemon need the same facts.
SERVICE_CIDR = "10.96.0.0/12"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
#: the kubelet's metric resolution (metrics-server's --metric-resolution): 2 s, not 15 s, so issue 18's
#: HPA figure (load -> first scale-out <= 20 s) holds in the worst case (kubelet/metrics.py argues the bound)
METRICS_RESOLUTION_SECONDS = 2.0
# how long the API server's metrics scraper keeps an idle kubelet connection (apiserver/metrics_scraper.py);
# the kubelet endpoint keeps it 15 s longer (kubelet/server.py), so the scraper closes first
METRICS_KEEPALIVE_SECONDS = 75.0
#: the node leases (the kubelet's heartbeat, pkg/kubelet/nodelease): their namespace and duration
NODE_LEASE_NAMESPACE = "kube-node-lease"
NODE_LEASE_DURATION_SECONDS = 40


def default_state_dir() -> Path:
    env = os.environ.get("MINIKUBE_LITE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".minikube-lite"


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    node_name: str = NODE_NAME
    ingress_port: int = 80  # the built-in ingress controller's host port (another one is used if taken)
    # Extra names in the serving certificate (minikube's --apiserver-ips / --apiserver-names).
    apiserver_ips: tuple[str, ...] = ()
    apiserver_names: tuple[str, ...] = ()
    # Where NodePorts, LoadBalancer ports and the Ingress listen (minikube's --listen-address):
    # "" is loopback and the node's bridge address only; "0.0.0.0" exposes them to the network.
    listen_address: str = ""
    # HTTPS with authentication and RBAC; False only for benchmarks, and only on loopback.
    secure: bool = True
    # "local-fallback": a failed pull runs the engine's image of that name (kubelet/images.py);
    # "kubernetes": Kubernetes' exact pull semantics (ErrImagePull).
    image_pull: str = "local-fallback"
    # Where the objects are kept: "" for the embedded SQLite file (db_path), or etcd://HOST:PORT[,...]
    # with etcd's client TLS files (kube-apiserver's --etcd-cafile/--etcd-certfile/--etcd-keyfile).
    store: str = ""
    etcd_cafile: str = ""
    etcd_certfile: str = ""
    etcd_keyfile: str = ""
    # The scheduler and controllers act only while holding their Lease (several API servers on one etcd).
    leader_elect: bool = False
    # ``start --ha``: three local etcd members, two API servers, a TCP front on ``port`` (cli/ha.py).
    ha: bool = False
    # ``start --multi-host``: the engine is a Docker Swarm manager and pods of nodes on other
    # machines reach this machine's over the cluster's attachable overlay (node/overlay.py).
    multi_host: bool = False

    @property
    def cluster_id(self) -> str:
        """Stable per state folder: labels every container and names the network."""
        return hashlib.sha256(str(self.state_dir.resolve()).encode()).hexdigest()[:10]

    @property
    def network_name(self) -> str:
        return f"minikube-lite-{self.cluster_id}"

    @property
    def db_path(self) -> Path:
        return self.state_dir / "store.db"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "daemon.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "daemon.log"

    @property
    def settings_file(self) -> Path:
        return self.state_dir / "settings.json"

    @property
    def server_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"{'https' if self.secure else 'http'}://{host}:{self.port}"

    @property
    def certs_dir(self) -> Path:
        return self.state_dir / "certs"

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        self.settings_file.write_text(json.dumps(data))

    @classmethod
    def load(cls, state_dir: Path) -> Settings:
        """The settings the cluster in ``state_dir`` was started with (defaults if never started)."""
        path = state_dir / "settings.json"
        if path.exists():
            data = json.loads(path.read_text())
            return cls(state_dir=state_dir, port=int(data.get("port", DEFAULT_PORT)),
                       host=data.get("host", DEFAULT_HOST), node_name=data.get("node_name", NODE_NAME),
                       ingress_port=int(data.get("ingress_port", 80)), store=data.get("store", ""),
                       etcd_cafile=data.get("etcd_cafile", ""), etcd_certfile=data.get("etcd_certfile", ""),
                       etcd_keyfile=data.get("etcd_keyfile", ""), leader_elect=bool(data.get("leader_elect")),
                       ha=bool(data.get("ha")), multi_host=bool(data.get("multi_host")),
                       image_pull=str(data.get("image_pull", "local-fallback")),
                       apiserver_ips=tuple(data.get("apiserver_ips") or ()),
                       apiserver_names=tuple(data.get("apiserver_names") or ()),
                       listen_address=str(data.get("listen_address") or ""),
                       secure=bool(data.get("secure", True)))
        return cls(state_dir=state_dir)
