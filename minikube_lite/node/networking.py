"""The machine's node components: kube-proxy, the cluster DNS and the ingress controller.

In Kubernetes these run on the nodes (kube-proxy as a DaemonSet, CoreDNS and ingress-nginx as
pods), never inside kube-apiserver. Here every node of one machine shares that machine's network
(one iptables, one bridge), so one of each serves them all. The daemon of a single-server cluster
runs them in its own process; with ``start --ha`` the first node's agent (node/agent.py
``--control-plane``) runs them, so that they, like its kubelet, outlive either API server.

Each keeps the identity it has in the daemon (``system:kube-proxy``, the ``kube-dns`` and
``ingress-nginx`` ServiceAccounts); an agent presents it with a client certificate from the
cluster CA (CN the user, O the groups, as kubeadm writes kube-proxy's and the controllers').
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from minikube_lite.config import CLUSTER_LABEL, DNS_SERVICE_IP, Settings

#: component -> (user, groups without system:authenticated); daemon.IDENTITIES uses these too
USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "proxy": ("system:kube-proxy", ()),
    "dns": ("system:serviceaccount:kube-system:kube-dns",
            ("system:serviceaccounts", "system:serviceaccounts:kube-system")),
    "ingress-controller": ("system:serviceaccount:ingress-nginx:ingress-nginx",
                           ("system:serviceaccounts", "system:serviceaccounts:ingress-nginx")),
}


def build(client_for: Any, settings: Settings, dns_ip: str, ingress_port: int) -> list[tuple[str, Any]]:
    """kube-proxy, the DNS server on ``dns_ip`` and the ingress controller, each with its client."""
    from minikube_lite.dns.server import DNSServer
    from minikube_lite.proxy.ingress import IngressController
    from minikube_lite.proxy.proxier import ServiceProxy

    # NodePorts and the Ingress: this machine only (loopback, the node's bridge address) unless
    # --listen-address says otherwise, as minikube's and kind's node ports.
    exposed: str | list[str] = settings.listen_address or (
        ["127.0.0.1", dns_ip] if dns_ip != DNS_SERVICE_IP else "127.0.0.1")
    return [("proxy", ServiceProxy(client_for("proxy"), cluster_id=settings.cluster_id,
                                   network_name=settings.network_name, network_label=CLUSTER_LABEL,
                                   listen_address=settings.listen_address,
                                   dns_ip=DNS_SERVICE_IP if dns_ip == DNS_SERVICE_IP else None)),
            ("dns", DNSServer(client_for("dns"), address=dns_ip)),
            ("ingress-controller", IngressController(client_for("ingress-controller"), port=ingress_port,
                                                     bind_host=exposed))]


def ensure_client_certs(state_dir: Path) -> None:
    """Each component's client certificate, made once from the cluster CA (by ``start --ha``, before
    the agent starts: the agent itself only reads them)."""
    from minikube_lite.auth import pki

    p = pki.ensure_client(state_dir)
    for component, (user, groups) in USERS.items():
        crt, key = _cert_paths(state_dir, component)
        if not (crt.exists() and key.exists()):
            pki.write_client_cert(p, user, groups, crt, key)


def _cert_paths(state_dir: Path, component: str) -> tuple[Path, Path]:
    certs = state_dir / "certs"
    return certs / f"{component}-client.crt", certs / f"{component}-client.key"


def client_context(state_dir: Path, component: str) -> ssl.SSLContext:
    """TLS to the API as ``component``: the cluster CA and the component's client certificate."""
    crt, key = _cert_paths(state_dir, component)
    ctx = ssl.create_default_context(cafile=str(state_dir / "certs" / "ca.crt"))
    ctx.load_cert_chain(str(crt), str(key))
    return ctx


class MachineComponents:
    """kube-proxy, DNS and ingress in a node agent: each with its own HTTPS client to ``url``."""

    def __init__(self, state_dir: Path, settings: Settings, url: str, node: str, dns_ip: str) -> None:
        import os

        from minikube_lite.client.http import HTTPClient

        self.clients: list[Any] = []

        def client_for(component: str) -> Any:
            tls = client_context(state_dir, component) if url.startswith("https") else None
            self.clients.append(HTTPClient(url, ssl_context=tls, field_manager=component,
                                           user_agent=f"{component}/{node}"))
            return self.clients[-1]

        ingress_port = int(os.environ.get("MINIKUBE_LITE_INGRESS_PORT", settings.ingress_port))
        self.components = build(client_for, settings, dns_ip, ingress_port)
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, supervise: Callable[[Any], Awaitable[None]]) -> None:
        self.tasks = [asyncio.create_task(supervise(comp), name=name) for name, comp in self.components]

    async def stop(self) -> None:
        """Cancel them (kube-proxy removes its rules as it ends) and close their clients."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for client in self.clients:
            await client.close()
