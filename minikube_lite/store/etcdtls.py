"""Certificates for a local etcd served over TLS with client-certificate auth, as kubeadm lays
out etcd's PKI (a CA, a serving certificate for 127.0.0.1/localhost, a client certificate for
the API server: ``apiserver-etcd-client``). Made with ``cryptography``; used by the tests and by
anyone who wants to try ``--etcd-cafile/--etcd-certfile/--etcd-keyfile`` on one machine."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class EtcdPKI:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool = False, server: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] if server else \
            [ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(folder: Path) -> EtcdPKI:
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("etcd-ca", ca_key, None, ca_key, ca=True)
    pki = EtcdPKI(folder / "ca.crt", folder / "server.crt", folder / "server.key",
                  folder / "apiserver-etcd-client.crt", folder / "apiserver-etcd-client.key")
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for cert_path, key_path, subject, server in ((pki.server_cert, pki.server_key, "etcd-server", True),
                                                 (pki.client_cert, pki.client_key, "kube-apiserver-etcd-client",
                                                  False)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert_path.write_bytes(_cert(subject, key, ca.subject, ca_key, server=server)
                              .public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
    return pki
