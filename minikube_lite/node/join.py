"""Joining a cluster from another machine: kubeadm's token discovery and kubelet TLS bootstrap.

What ``kubeadm join --token T --discovery-token-ca-cert-hash sha256:H`` and the kubelet's
``--bootstrap-kubeconfig`` do, in two steps:

1. **discovery**: read ``kube-public/cluster-info`` (auth/clusterinfo.py) anonymously over a
   connection not yet trusted, take the CA from its kubeconfig, and refuse it unless the SHA-256
   of its public key is the pin (kubeadm's wording when it is not). Then the same object is read
   again over a connection that verifies the server against that CA: from here on nothing
   unverified is believed, and the token was never sent to an unverified server.
2. **TLS bootstrap**: a new key and a CSR for ``CN=system:node:<name>, O=system:nodes``
   (signer ``kubernetes.io/kube-apiserver-client-kubelet``) posted with the bootstrap token;
   the csrapproving controller approves it, csrsigning signs it; the certificate is written
   beside the key (mode 0600), kubeadm's ``kubelet-client-current.pem``.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from minikube_lite.auth.bootstrap import ca_pin
from minikube_lite.auth.clusterinfo import NAME as CLUSTER_INFO
from minikube_lite.auth.clusterinfo import NAMESPACE as CLUSTER_INFO_NAMESPACE

CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
CLUSTER_INFO_PATH = f"/api/v1/namespaces/{CLUSTER_INFO_NAMESPACE}/configmaps/{CLUSTER_INFO}"


class JoinError(Exception):
    """Joining failed; the message says why, for the user."""


def client_files(data_dir: Path) -> tuple[Path, Path]:
    """The joined node's client certificate and key (kubeadm's ``kubelet-client-current.pem``)."""
    return data_dir / "kubelet-client-current.crt", data_dir / "kubelet-client-current.key"


def _ca_from(cm: dict[str, Any]) -> bytes:
    try:
        config = yaml.safe_load((cm.get("data") or {})["kubeconfig"])
        return base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    except (KeyError, IndexError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise JoinError(f"the {CLUSTER_INFO} ConfigMap holds no valid kubeconfig: {exc}") from exc


def _get(server: str, verify: Any, path: str, timeout: float) -> dict[str, Any]:
    try:
        with httpx.Client(base_url=server, verify=verify, timeout=timeout) as c:
            r = c.get(path)
    except httpx.HTTPError as exc:
        raise JoinError(f"cannot reach the API server at {server}: {exc}") from exc
    if r.status_code != 200:
        raise JoinError(f"GET {path} on {server}: {r.status_code} {r.text[:200]}")
    return r.json()


def discover(server: str, pin: str, *, timeout: float = 10.0) -> bytes:
    """The cluster CA (PEM), checked against ``pin`` (``sha256:<hex>``); raises JoinError."""
    if not pin.startswith("sha256:") or len(pin) != 71:
        raise JoinError(f'invalid discovery token CA certificate hash "{pin}": expected sha256:<64 hex digits>')
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    ca = _ca_from(_get(server, insecure, CLUSTER_INFO_PATH, timeout))
    try:
        found = ca_pin(ca)
    except ValueError as exc:
        raise JoinError(f"the CA in the {CLUSTER_INFO} ConfigMap does not parse: {exc}") from exc
    if not hmac.compare_digest(found, pin.lower()):
        raise JoinError(f'cluster CA found in cluster-info ConfigMap is invalid: none of the public keys '
                        f'"{found}" are pinned')
    trusted = ssl.create_default_context(cadata=ca.decode())
    if _ca_from(_get(server, trusted, CLUSTER_INFO_PATH, timeout)) != ca:
        raise JoinError("the cluster-info ConfigMap changed between the two reads: try again")
    return ca


def _key_and_request(node: str) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node}")])
    req = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()), req.public_bytes(serialization.Encoding.PEM))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def bootstrap_client_certificate(server: str, ca_pem: bytes, token: str, node: str, out_dir: Path, *,
                                 timeout: float = 30.0) -> tuple[Path, Path]:
    """The node's client certificate through a CSR made with the bootstrap token: (crt, key) paths."""
    return _client_certificate(server, ca_pem, node, out_dir, token=token, timeout=timeout)


def renew_client_certificate(server: str, ca_pem: bytes, node: str, out_dir: Path, *,
                             timeout: float = 30.0) -> tuple[Path, Path]:
    """A new key and client certificate through a CSR the node makes with its current certificate
    (kubelet's client certificate rotation; approved as ``selfnodeclient``); the files are replaced."""
    return _client_certificate(server, ca_pem, node, out_dir, current=client_files(out_dir), timeout=timeout)


def _client_certificate(server: str, ca_pem: bytes, node: str, out_dir: Path, *, token: str = "",
                        current: tuple[Path, Path] | None = None, timeout: float = 30.0) -> tuple[Path, Path]:
    key_pem, request = _key_and_request(node)
    name = f"node-csr-{secrets.token_hex(8)}"
    body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"request": base64.b64encode(request).decode(),
                     "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                     "usages": ["digital signature", "client auth"]}}
    verify = ssl.create_default_context(cadata=ca_pem.decode())
    if current is not None:
        verify.load_cert_chain(str(current[0]), str(current[1]))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + timeout
    try:
        with httpx.Client(base_url=server, verify=verify, timeout=10, headers=headers) as c:
            r = c.post(CSR_PATH, json=body)
            if r.status_code == 401 and current is not None:
                raise JoinError("the API server refused the node's certificate (expired?): join again with a new "
                                "token (minikube-lite node token on the master)")
            if r.status_code == 401:
                raise JoinError("the API server refused the bootstrap token (unknown, expired or revoked): "
                                "make a new one on the master with `minikube-lite node token`")
            if r.status_code != 201:
                raise JoinError(f"creating the certificate signing request: {r.status_code} {r.text[:300]}")
            while True:
                obj = c.get(f"{CSR_PATH}/{name}").json()
                status = obj.get("status") or {}
                for cond in status.get("conditions") or []:
                    if cond.get("type") in ("Denied", "Failed"):
                        raise JoinError(f"the certificate signing request {name} was {cond['type'].lower()}: "
                                        f"{cond.get('message', '')}")
                if status.get("certificate"):
                    cert = base64.b64decode(status["certificate"])
                    break
                if time.monotonic() > deadline:
                    raise JoinError(f"the certificate signing request {name} was not signed within {timeout:.0f}s "
                                    f"(approve it on the master: kubectl certificate approve {name})")
                time.sleep(0.05)
    except httpx.HTTPError as exc:
        raise JoinError(f"cannot reach the API server at {server}: {exc}") from exc
    crt, key = client_files(out_dir)
    _write(key.with_suffix(".key.new"), key_pem)
    _write(crt.with_suffix(".crt.new"), cert)
    os.replace(key.with_suffix(".key.new"), key)  # a renewal replaces a pair in use: each file at once
    os.replace(crt.with_suffix(".crt.new"), crt)
    _write(out_dir / "ca.crt", ca_pem)
    return crt, key
