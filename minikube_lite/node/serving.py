"""A joined node's kubelet serving certificate, by CSR: the kubelet's ``serverTLSBootstrap``.

A node on another machine has no CA key, so its HTTPS endpoint (kubelet/server.py, what the API
server reaches for logs, exec, attach and port-forward) cannot sign its own certificate as a
node of the master's machine does. As the kubelet with ``serverTLSBootstrap: true``
(``pkg/kubelet/certificate``), it asks the cluster instead:

- a new key and a CSR for ``O=system:nodes, CN=system:node:<name>`` with the node's name and
  address as SANs, signer ``kubernetes.io/kubelet-serving``, usages ``digital signature`` and
  ``server auth``, created with the node's own client certificate once its Node reports that
  address (the approver compares the SANs with ``status.addresses``,
  controllers/certificates.py);
- until it is signed the endpoint has no certificate and every handshake fails, as the
  kubelet's does ("no serving certificate available for the kubelet"); the certificate is then
  loaded into the same TLS context, so the listening socket and its port stay the same;
- it is kept beside the key (``kubelet-server-current.{crt,key}``) and used again on the next
  start while it covers the node's address and has more than a day to live.

Clients must present a certificate from the cluster CA (kubelet ``--client-ca-file``, the CA the
join pinned); server.py authorises who they are.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import logging
import secrets
import ssl
from pathlib import Path
from typing import Any

from minikube_lite.api.certificates import KUBELET_SERVING
from minikube_lite.api.errors import ApiError, NotFound

from .join import _write

log = logging.getLogger(__name__)
RENEW_BEFORE = dt.timedelta(days=1)


def _covers(crt: Path, node: str, ip: str) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(crt.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    if cert.not_valid_after_utc - dt.datetime.now(dt.UTC) < RENEW_BEFORE:
        return False
    return (ipaddress.ip_address(ip) in sans.get_values_for_type(x509.IPAddress)
            and node in sans.get_values_for_type(x509.DNSName))


def _request(node: str, ip: str) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node}")])
    sans = x509.SubjectAlternativeName([x509.DNSName(node), x509.IPAddress(ipaddress.ip_address(ip))])
    req = (x509.CertificateSigningRequestBuilder().subject_name(subject).add_extension(sans, critical=False)
           .sign(key, hashes.SHA256()))
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()), req.public_bytes(serialization.Encoding.PEM))


class ServingCertificate:
    """The endpoint's TLS context (for KubeletServer) and the CSR that fills it (:meth:`run`)."""

    def __init__(self, out_dir: Path, ca_pem: bytes, node: str, node_ip: str) -> None:
        self.out_dir, self.ca_pem, self.node, self.node_ip = Path(out_dir), ca_pem, node, node_ip
        self.crt, self.key = self.out_dir / "kubelet-server-current.crt", self.out_dir / "kubelet-server-current.key"
        self.ctx: ssl.SSLContext | None = None
        self.ready = asyncio.Event()

    def context(self, node: str, ips: tuple[str, ...]) -> ssl.SSLContext:
        """The server's context: client certificates from the cluster CA; the serving certificate of
        last time when it still fits, else none until :meth:`run` has one signed."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_verify_locations(cadata=self.ca_pem.decode())
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        if _covers(self.crt, self.node, self.node_ip):
            ctx.load_cert_chain(str(self.crt), str(self.key))
            self.ready.set()
        self.ctx = ctx
        return ctx

    async def run(self, client: Any, *, poll: float = 0.1) -> None:
        """Until the endpoint has a certificate: wait for the Node to report the address, then ask."""
        while not self.ready.is_set():
            try:
                if await self._node_has_address(client):
                    await self._obtain(client, poll)
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the API is away, the CSR was denied ...: ask again
                log.warning("kubelet serving certificate: %s; trying again in 10s", exc)
                await asyncio.sleep(10)
                continue
            await asyncio.sleep(poll)

    async def _node_has_address(self, client: Any) -> bool:
        try:
            node = await client.get("nodes", self.node)
        except NotFound:
            return False
        return any(a.get("address") == self.node_ip for a in (node.get("status") or {}).get("addresses") or [])

    async def _obtain(self, client: Any, poll: float) -> None:
        key_pem, request = await asyncio.to_thread(_request, self.node, self.node_ip)
        name = f"csr-{secrets.token_hex(4)}"
        await client.create("certificatesigningrequests", {
            "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"request": base64.b64encode(request).decode(), "signerName": KUBELET_SERVING,
                     "usages": ["digital signature", "server auth"]}})
        log.info("kubelet serving certificate requested: certificatesigningrequest %s (approve it on the master "
                 "if it stays Pending: kubectl certificate approve %s)", name, name)
        while True:
            obj = await client.get("certificatesigningrequests", name)
            status = obj.get("status") or {}
            for cond in status.get("conditions") or []:
                if cond.get("type") in ("Denied", "Failed"):
                    raise ApiError(f"certificatesigningrequest {name} was {cond['type'].lower()}: "
                                   f"{cond.get('message', '')}", code=403, reason="Forbidden")
            if status.get("certificate"):
                break
            await asyncio.sleep(poll if poll else 0.1)
            poll = min(poll * 1.5, 5.0)
        _write(self.key, key_pem)
        _write(self.crt, base64.b64decode(status["certificate"]))
        if self.ctx is not None:
            self.ctx.load_cert_chain(str(self.crt), str(self.key))  # new handshakes present it
        self.ready.set()
        log.info("kubelet serving certificate issued (certificatesigningrequest %s)", name)
