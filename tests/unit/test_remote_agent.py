"""Unit tests of a joined node's decisions: which kubelet-serving CSRs the approver accepts
(the node's own names only), when the agent reuses its serving certificate, and its stable id."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from minikube_lite.api.errors import NotFound
from minikube_lite.auth import pki
from minikube_lite.controllers import certificates as ctrl
from minikube_lite.node import remote, serving

NODE = {"metadata": {"name": "far"}, "status": {"addresses": [{"type": "InternalIP", "address": "10.234.0.2"},
                                                              {"type": "Hostname", "address": "far"}]}}


def _csr(cn: str, dns: list[str], ips: list[str]) -> Any:
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(key, hashes.SHA256())


def test_serving_sans_must_be_the_nodes_own() -> None:
    assert ctrl.serving_sans_problem(_csr("system:node:far", ["far"], ["10.234.0.2"]), NODE) is None
    assert "10.0.0.9" in (ctrl.serving_sans_problem(_csr("system:node:far", ["far"], ["10.0.0.9"]), NODE) or "")
    assert "api.example" in (ctrl.serving_sans_problem(_csr("system:node:far", ["api.example"], []), NODE) or "")


class _Client:
    def __init__(self, node: dict[str, Any] | None) -> None:
        self.node, self.patches = node, []

    async def get(self, resource: str, name: str, **_: Any) -> dict[str, Any]:
        if self.node is None or name != self.node["metadata"]["name"]:
            raise NotFound(resource, name)
        return self.node

    async def patch(self, resource: str, name: str, body: Any, **kw: Any) -> None:
        self.patches.append((name, kw.get("subresource"), body))


def _approve(csr: Any, user: str, groups: list[str], node: dict[str, Any] | None) -> list[Any]:
    from cryptography.hazmat.primitives import serialization

    client = _Client(node)
    c = ctrl.CertificateController.__new__(ctrl.CertificateController)
    c.client = client
    obj = {"metadata": {"name": "csr-1"},
           "spec": {"signerName": "kubernetes.io/kubelet-serving", "username": user, "groups": groups,
                    "request": csr.public_bytes(serialization.Encoding.PEM).decode()}}
    asyncio.run(c._approve(obj, csr, ["digital signature", "server auth"]))
    return client.patches


def test_serving_csr_approved_only_for_the_node_itself_at_its_addresses() -> None:
    good = _csr("system:node:far", ["far"], ["10.234.0.2"])
    patches = _approve(good, "system:node:far", ["system:nodes", "system:authenticated"], NODE)
    assert [(n, sub) for n, sub, _ in patches] == [("csr-1", "approval")]
    assert patches[0][2]["status"]["conditions"][-1]["type"] == "Approved"
    assert _approve(good, "system:node:other", ["system:nodes"], NODE) == []  # another node asks for it
    assert _approve(good, "system:bootstrap:abcdef", ["system:bootstrappers"], NODE) == []
    assert _approve(good, "system:node:far", ["system:nodes"], None) == []  # not registered yet
    assert _approve(_csr("system:node:far", ["far"], ["10.1.2.3"]), "system:node:far", ["system:nodes"], NODE) == []


def _signed(tmp_path: Path, ips: list[str], days: float) -> Path:
    p = pki.ensure_client(tmp_path / "ca")
    csr = _csr("system:node:far", ["far"], ips)
    pem = ctrl.sign(csr, ["digital signature", "server auth"], p.ca_crt, p.ca_key, seconds=int(days * 86400),
                    now=dt.datetime.now(dt.UTC))
    out = tmp_path / "kubelet-server-current.crt"
    out.write_bytes(pem)
    return out


def test_serving_certificate_reused_while_it_fits(tmp_path: Path) -> None:
    assert serving._covers(_signed(tmp_path, ["10.234.0.2"], 30), "far", "10.234.0.2")
    assert not serving._covers(_signed(tmp_path, ["10.234.0.3"], 30), "far", "10.234.0.2")  # the node moved
    assert not serving._covers(_signed(tmp_path, ["10.234.0.2"], 0.5), "far", "10.234.0.2")  # about to expire
    assert not serving._covers(tmp_path / "missing.crt", "far", "10.234.0.2")


def test_agent_id_is_stable_per_server_and_node() -> None:
    a = remote.agent_cluster_id("https://10.0.0.1:8443", "far")
    assert a == remote.agent_cluster_id("https://10.0.0.1:8443", "far") and len(a) == 12
    assert a != remote.agent_cluster_id("https://10.0.0.1:8443", "near")
    assert remote.address_towards("https://127.0.0.1:8443") == "127.0.0.1"


def test_client_certificate_rotation_deadline_is_70_to_90_percent_of_its_lifetime() -> None:
    from minikube_lite.node.rotation import rotation_deadline

    assert rotation_deadline(1000.0, 2000.0, 0.0) == 1700.0
    assert rotation_deadline(1000.0, 2000.0, 0.5) == 1800.0
    assert 1700.0 <= rotation_deadline(1000.0, 2000.0, 0.999) < 1900.0
