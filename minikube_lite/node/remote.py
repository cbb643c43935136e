"""``minikube-lite agent``: a node on another machine, joined with a bootstrap token (k3s agent, kubeadm join).

Everything it has comes from the join, nothing from the master's state folder (which is on
another machine): node/join.py checks the server's CA against the pin and exchanges the token
for the node's client certificate through a CSR; node/serving.py gets the kubelet's serving
certificate through a second CSR (signer ``kubernetes.io/kubelet-serving``). It then runs the
same kubelet as every node (kubelet/kubelet.py) against the machine's own Docker engine
(``DOCKER_HOST`` as the docker CLI reads it), registers the Node with the machine's address
(``--node-ip``, default: the address this machine reaches the server from) and serves the
kubelet's HTTPS endpoint on that address, where the API server reaches it for logs, exec,
attach and port-forward.

Its own folder (``--data-dir``, default ``~/.minikube-lite-agent/<name>``) keeps the CA, the
two certificates and the kubelet's files; a later start with the same folder needs no token (as
a kubelet whose kubeconfig exists skips the bootstrap). The containers it creates carry a
cluster id of its own (from the server and the node name), so it never touches the engine's
other containers. It runs in the foreground; SIGTERM or Ctrl-C stops it and removes its
containers, as ``minikube-lite node stop`` does to a node of the master's machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import signal
import socket
import ssl
import urllib.parse
from pathlib import Path

log = logging.getLogger("minikube_lite.node")


def default_data_dir(name: str) -> Path:
    return Path.home() / ".minikube-lite-agent" / name


def address_towards(server: str) -> str:
    """The address of this machine the kernel would send from to reach ``server`` (no packet sent)."""
    host = urllib.parse.urlsplit(server).hostname or "127.0.0.1"
    port = urllib.parse.urlsplit(server).port or 443
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((host, port))
        return str(s.getsockname()[0])


def agent_cluster_id(server: str, name: str) -> str:
    """The label value of this agent's containers and network (stable for one server and node)."""
    return hashlib.sha256(f"{server}\0{name}".encode()).hexdigest()[:12]


def join(server: str, token: str | None, pin: str | None, name: str, data_dir: Path) -> tuple[Path, Path, bytes]:
    """The node's client certificate, key and the cluster CA: those of an earlier join when present,
    else a new join with the token (raises JoinError)."""
    from .join import JoinError, bootstrap_client_certificate, client_files, discover

    (crt, key), ca = client_files(data_dir), data_dir / "ca.crt"
    if crt.exists() and key.exists() and ca.exists():
        return crt, key, ca.read_bytes()
    if not token or not pin:
        raise JoinError(f"no credentials in {data_dir} yet: join with --token and --discovery-token-ca-cert-hash "
                        "(minikube-lite node token on the master prints them)")
    ca_pem = discover(server, pin)
    crt, key = bootstrap_client_certificate(server, ca_pem, token, name, data_dir)
    return crt, key, ca_pem


async def run(server: str, name: str, node_ip: str, data_dir: Path, crt: Path, key: Path, ca_pem: bytes) -> None:
    from minikube_lite.client.http import HTTPClient
    from minikube_lite.config import DNS_SERVICE_IP, METRICS_RESOLUTION_SECONDS
    from minikube_lite.kubelet.kubelet import Kubelet

    from .agent import _supervise
    from .rotation import rotate_client_certificate
    from .serving import ServingCertificate

    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    ctx.load_cert_chain(str(crt), str(key))
    client = HTTPClient(server, ssl_context=ctx, field_manager="kubelet", user_agent=f"kubelet/{name}")
    serving = ServingCertificate(data_dir, ca_pem, name, node_ip)
    cluster_id = agent_cluster_id(server, name)
    network_name = f"minikube-lite-{cluster_id}"
    from .overlayagent import AgentOverlay

    # the master's start --multi-host: swarm join, the bridge sized to the node's range (overlayagent.py)
    ovl: AgentOverlay | None = AgentOverlay(client, name=name, node_ip=node_ip, cluster_id=cluster_id,
                                            network_name=network_name, data_dir=data_dir)
    try:
        if not await ovl.prepare():  # type: ignore[union-attr]
            ovl = None
    except Exception as exc:  # noqa: BLE001 - the node still runs its pods, reachable from this machine only
        log.error("cannot join the cluster's overlay: %s", exc)
        ovl = None
    kubelet = Kubelet(client, node_name=name, cluster_id=cluster_id, network_name=network_name,
                      dns_server=(ovl.dns if ovl else "") or DNS_SERVICE_IP, root_dir=data_dir / "kubelet",
                      control_plane=False,
                      node_ip=node_ip, serving_context=serving.context,
                      metrics_resolution=float(os.environ.get("MINIKUBE_LITE_METRIC_RESOLUTION",
                                                              METRICS_RESOLUTION_SECONDS)))
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    tasks = [asyncio.create_task(_supervise(kubelet), name="kubelet"),
             asyncio.create_task(serving.run(client), name="kubelet serving certificate"),
             asyncio.create_task(rotate_client_certificate(server, ca_pem, name, data_dir, ctx),
                                 name="kubelet client certificate rotation")]
    if ovl is not None:
        tasks += [asyncio.create_task(_supervise(comp), name=what) for what, comp in ovl.components()]
    log.info("node %s joining %s from %s", name, server, node_ip)
    await stopping.wait()
    log.info("node %s stopping: removing its containers", name)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(BaseException):
            await task
    try:
        await kubelet.shutdown(remove_containers=True)
        if ovl is not None:
            await asyncio.to_thread(ovl.stop)
    finally:
        await client.close()


def main(server: str, token: str | None, pin: str | None, name: str | None, node_ip: str | None,
         data_dir: str | None) -> None:
    """The CLI's ``agent`` command (cli/agent.py) once its options are parsed."""
    import sys

    from .join import JoinError

    name = name or socket.gethostname().lower()
    folder = (Path(data_dir) if data_dir else default_data_dir(name)).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=os.environ.get("MINIKUBE_LITE_LOG", "INFO"), stream=sys.stderr,
                        format=f"%(asctime)s %(levelname)s {name} %(name)s: %(message)s")
    try:
        crt, key, ca_pem = join(server, token, pin, name, folder)
        ip = node_ip or address_towards(server)
    except (JoinError, OSError) as exc:
        print(f"❌  Could not join {server}: {exc}", file=sys.stderr)
        sys.exit(1)
    asyncio.run(run(server, name, ip, folder, crt, key, ca_pem))
