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

import ssl
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


def client_context(state_dir: Path, component: str) -> ssl.SSLContext:
    """TLS to the API as ``component`` (its client certificate is made once from the cluster CA)."""
    from minikube_lite.auth import pki

    p = pki.ensure_client(state_dir)
    crt, key = p.dir / f"{component}-client.crt", p.dir / f"{component}-client.key"
    if not (crt.exists() and key.exists()):
        user, groups = USERS[component]
        pki.write_client_cert(p, user, groups, crt, key)
    ctx = ssl.create_default_context(cafile=str(p.ca_crt))
    ctx.load_cert_chain(str(crt), str(key))
    return ctx
