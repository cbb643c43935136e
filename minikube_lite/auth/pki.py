"""The cluster's certificates, as ``minikube start`` generates them at first start.

minikube keeps a CA (``minikubeCA``), the API server's serving certificate and the admin client
certificate (``minikube-user``, organisation ``system:masters``) in its profile folder; kubeadm
adds the ServiceAccount signing key (``sa.key``/``sa.pub``). Here they live in
``<state-dir>/certs/``: keys mode 0600, the folder 0700, generated once with ``cryptography``
(ECDSA P-256: a key costs well under a millisecond, so even a first start stays quick) and
reused by every later start, which only checks files and a small JSON note of the serving
certificate's names: the fast path imports nothing but the standard library.

The serving certificate names every way the API is reached: ``127.0.0.1``, ``localhost``, the
node's address, the ``kubernetes`` Service's cluster IP and its DNS names
(``kubernetes.default.svc.cluster.local`` ...), plus ``--apiserver-ips``/``--apiserver-names``.
It is made again when a name is missing (the node's address is known only once the pods'
network exists), when it nears expiry, or with ``start --regenerate-certs``.

A static token file (kube-apiserver's ``--token-auth-file`` format: ``token,user,uid,"groups"``)
holds one admin token for scripts and curl (``minikube-lite token``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import KUBERNETES_SERVICE_IP

CA_NAME = "minikubeCA"
ADMIN_USER = "minikube-user"
ADMIN_GROUP = "system:masters"
DNS_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local", "control-plane.minikube.internal")
BASE_IPS = ("127.0.0.1", KUBERNETES_SERVICE_IP)
CA_DAYS = 3650  # minikube's CA: ten years
CERT_HOURS = 26280  # minikube's --cert-expiration default (three years)
RENEW_BEFORE = 30 * 86400  # a serving certificate this close to expiry is made again


@dataclass(frozen=True)
class Paths:
    dir: Path

    @property
    def ca_crt(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def server_crt(self) -> Path:
        return self.dir / "apiserver.crt"

    @property
    def server_key(self) -> Path:
        return self.dir / "apiserver.key"

    @property
    def server_note(self) -> Path:
        return self.dir / "apiserver.json"

    @property
    def client_crt(self) -> Path:
        return self.dir / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.dir / "client.key"

    @property
    def sa_key(self) -> Path:
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "sa.pub"

    @property
    def token_file(self) -> Path:
        return self.dir / "token.csv"


def paths(state_dir: Path) -> Paths:
    return Paths(Path(state_dir) / "certs")


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def load_ca(p: Paths) -> tuple[Any, Any]:
    """The cluster CA's certificate and private key (``cryptography`` objects), to sign with."""
    from cryptography import x509

    return x509.load_pem_x509_certificate(p.ca_crt.read_bytes()), _load_key(p.ca_key)


def _name(cn: str, org: str | None = None) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    attrs = []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _sign(subject: Any, key: Any, issuer: Any, issuer_key: Any, *, hours: float, ca: bool = False,
          server: bool = False, ips: tuple[str, ...] = (), names: tuple[str, ...] = ()) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(now + dt.timedelta(hours=hours))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True).add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    if ips or names:
        sans: list[Any] = [x509.DNSName(n) for n in names]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _ensure_dir(p: Paths) -> None:
    p.dir.mkdir(parents=True, exist_ok=True)
    os.chmod(p.dir, 0o700)
    os.chmod(p.dir.parent, 0o700)  # the state folder holds the store (Secrets): its owner's only


def ensure_client(state_dir: Path, *, regenerate: bool = False) -> Paths:
    """The CA, the admin client certificate, the ServiceAccount key and the static token.

    Only what is missing is made (everything with ``regenerate``, which also drops the serving
    certificate so the daemon makes a new one under the new CA).
    """
    p = paths(state_dir)
    _ensure_dir(p)
    if regenerate:
        for f in (p.ca_crt, p.ca_key, p.server_crt, p.server_key, p.server_note, p.client_crt, p.client_key):
            f.unlink(missing_ok=True)
    new_ca = not (p.ca_crt.exists() and p.ca_key.exists())
    if new_ca:
        key = _key()
        _write(p.ca_key, _key_pem(key), 0o600)
        _write(p.ca_crt, _sign(_name(CA_NAME), key, _name(CA_NAME), key, hours=CA_DAYS * 24, ca=True), 0o644)
        for f in (p.server_crt, p.server_key, p.server_note):
            f.unlink(missing_ok=True)
    if new_ca or not (p.client_crt.exists() and p.client_key.exists()):
        write_client_cert(p, ADMIN_USER, (ADMIN_GROUP,), p.client_crt, p.client_key)
    if not (p.sa_key.exists() and p.sa_pub.exists()):
        from cryptography.hazmat.primitives import serialization

        key = _key()
        _write(p.sa_key, _key_pem(key), 0o600)
        _write(p.sa_pub, key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    if not p.token_file.exists():
        _write(p.token_file, f'{secrets.token_urlsafe(32)},{ADMIN_USER},{ADMIN_USER},"{ADMIN_GROUP}"\n'.encode(),
               0o600)
    return p


def write_client_cert(p: Paths, user: str, groups: tuple[str, ...], crt: Path, key_path: Path,
                      hours: float = CERT_HOURS) -> None:
    """A client certificate signed by the cluster CA: CN is the user, O the groups (as kubeadm)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    ca, ca_key = load_ca(p)
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
                        + [x509.NameAttribute(NameOID.COMMON_NAME, user)])
    _write(key_path, _key_pem(key), 0o600)
    _write(crt, _sign(subject, key, ca.subject, ca_key, hours=hours), 0o644)


def serving_names(extra_ips: tuple[str, ...] = (), extra_names: tuple[str, ...] = ()) -> tuple[tuple[str, ...],
                                                                                                 tuple[str, ...]]:
    ips = tuple(dict.fromkeys(i for i in (*BASE_IPS, *extra_ips) if i and i not in ("0.0.0.0", "::")))
    return ips, tuple(dict.fromkeys((*DNS_NAMES, *extra_names)))


def serving_covers(state_dir: Path, ips: tuple[str, ...], names: tuple[str, ...]) -> bool:
    """Whether the serving certificate exists, names all of these and is not near expiry."""
    p = paths(state_dir)
    try:
        note = json.loads(p.server_note.read_text())
    except (OSError, ValueError):
        return False
    if not (p.server_crt.exists() and p.server_key.exists()):
        return False
    if float(note.get("notAfter", 0)) - time.time() < RENEW_BEFORE:
        return False
    return set(ips) <= set(note.get("ips", [])) and set(names) <= set(note.get("names", []))


def ensure_serving(state_dir: Path, extra_ips: tuple[str, ...] = (), extra_names: tuple[str, ...] = (),
                   *, hours: float = CERT_HOURS) -> bool:
    """Make the serving certificate unless the one there covers these names. True when made.

    Names already in the old certificate are kept, so a certificate only ever grows.
    """
    ips, names = serving_names(extra_ips, extra_names)
    if serving_covers(state_dir, ips, names):
        return False
    p = ensure_client(state_dir)
    try:
        note = json.loads(p.server_note.read_text())
        ips = tuple(dict.fromkeys((*ips, *note.get("ips", []))))
        names = tuple(dict.fromkeys((*names, *note.get("names", []))))
    except (OSError, ValueError):
        pass
    write_serving_cert(p, ("minikube", ADMIN_GROUP), ips, names, (p.server_crt, p.server_key, p.server_note),
                       hours=hours)
    return True


def write_serving_cert(p: Paths, subject: tuple[str, str], ips: tuple[str, ...], names: tuple[str, ...],
                       files: tuple[Path, Path, Path], *, hours: float = CERT_HOURS) -> None:
    """A serving certificate signed by the cluster CA (subject: CN, O) for these addresses and
    names, written with its key and its note: ``files`` is (crt, key, note). The note (the
    addresses, the names and ``notAfter``) answers whether it still serves without parsing X.509
    (``serving_covers``; nodecerts.kubelet_serving in a node agent, without ``cryptography``)."""
    from cryptography import x509

    crt, key_path, note = files
    ca, ca_key = load_ca(p)
    key = _key()
    pem = _sign(_name(*subject), key, ca.subject, ca_key, hours=hours, server=True, ips=ips, names=names)
    not_after = x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp()
    _write(key_path, _key_pem(key), 0o600)
    _write(crt, pem, 0o644)
    _write(note, json.dumps({"ips": list(ips), "names": list(names), "notAfter": not_after}).encode(), 0o644)


def admin_token(state_dir: Path) -> str:
    """The static admin token (``minikube-lite token``)."""
    line = paths(state_dir).token_file.read_text().splitlines()[0]
    return line.split(",", 1)[0]


def read_token_file(path: Path) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """kube-apiserver's ``--token-auth-file``: token -> (user, uid, groups)."""
    import csv

    out: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for row in csv.reader(text.splitlines()):
        if len(row) >= 3 and row[0] and not row[0].startswith("#"):
            groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
            out[row[0]] = (row[1], row[2], groups)
    return out


def client_context(state_dir: Path) -> Any:
    """An ``ssl.SSLContext`` that trusts the cluster CA and presents the admin certificate (the
    CLI's and the tests' own HTTPS connections)."""
    import ssl

    p = paths(state_dir)
    ctx = ssl.create_default_context(cafile=str(p.ca_crt))
    ctx.load_cert_chain(str(p.client_crt), str(p.client_key))
    return ctx
