"""Bootstrap tokens: the short-lived shared secrets a new node joins with (kubeadm's ``--token``).

As Kubernetes' bootstrap token authenticator (``plugin/pkg/auth/authenticator/token/bootstrap``):
a token ``<id>.<secret>`` (``[a-z0-9]{6}.[a-z0-9]{16}``) is valid while the Secret
``kube-system/bootstrap-token-<id>`` of type ``bootstrap.kubernetes.io/token`` exists, holds the
same ``token-secret``, allows ``usage-bootstrap-authentication`` and has not passed its
``expiration``. Its user is ``system:bootstrap:<id>`` in ``system:bootstrappers`` plus the
Secret's ``auth-extra-groups`` (each must start with ``system:bootstrappers:``). Deleting the
Secret revokes the token at once: every request looks the Secret up again (no cache).

``new_token_secret`` makes such a Secret as ``kubeadm token create`` does (24 h by default, the
kubeadm default groups), and ``ca_pin`` is kubeadm's ``--discovery-token-ca-cert-hash``:
``sha256:`` and the hex SHA-256 of the CA certificate's DER SubjectPublicKeyInfo.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import string
from typing import Any

from ..api.times import rfc3339
from .rbac import UserInfo
from .tokens import Lookup

NAMESPACE = "kube-system"
SECRET_TYPE = "bootstrap.kubernetes.io/token"
SECRET_PREFIX = "bootstrap-token-"
USER_PREFIX = "system:bootstrap:"
GROUP = "system:bootstrappers"
KUBEADM_GROUP = "system:bootstrappers:kubeadm:default-node-token"
DEFAULT_TTL = 24 * 3600
TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
_ALPHABET = string.ascii_lowercase + string.digits


def generate_token() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(6)) + "." + "".join(
        secrets.choice(_ALPHABET) for _ in range(16))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def new_token_secret(token: str, *, ttl: float = DEFAULT_TTL, description: str = "",
                     groups: tuple[str, ...] = (KUBEADM_GROUP,)) -> dict[str, Any]:
    """The Secret of a bootstrap token (``kubeadm token create``); ``ttl`` 0: it never expires."""
    m = TOKEN_RE.match(token)
    if m is None:
        raise ValueError(f"the bootstrap token {token!r} was not of the form {TOKEN_RE.pattern!r}")
    data = {"token-id": m.group(1), "token-secret": m.group(2), "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true", "auth-extra-groups": ",".join(groups)}
    if ttl:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl)
        data["expiration"] = rfc3339(expires)
    if description:
        data["description"] = description
    return {"apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
            "metadata": {"name": SECRET_PREFIX + m.group(1), "namespace": NAMESPACE},
            "data": {k: _b64(v) for k, v in data.items()}}


def _data(secret: dict[str, Any], key: str) -> str:
    value = (secret.get("data") or {}).get(key)
    if value is None:
        return str((secret.get("stringData") or {}).get(key) or "")
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def expired(secret: dict[str, Any], now: dt.datetime | None = None) -> bool:
    text = _data(secret, "expiration")
    if not text:
        return False
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return True  # an expiration that does not parse is treated as expired, as Kubernetes
    return when <= (now or dt.datetime.now(dt.UTC))


def authenticate(token: str, lookup: Lookup) -> UserInfo | None:
    """The user of a valid bootstrap token; None when it is not one (or no longer valid)."""
    m = TOKEN_RE.match(token)
    if m is None:
        return None
    token_id, token_secret = m.groups()
    secret = lookup("secrets", NAMESPACE, SECRET_PREFIX + token_id)
    if secret is None or secret.get("type") != SECRET_TYPE:
        return None
    if (secret.get("metadata") or {}).get("deletionTimestamp"):
        return None
    if _data(secret, "token-id") != token_id or not hmac.compare_digest(_data(secret, "token-secret"),
                                                                        token_secret):
        return None
    if _data(secret, "usage-bootstrap-authentication") != "true" or expired(secret):
        return None
    extra = [g.strip() for g in _data(secret, "auth-extra-groups").split(",") if g.strip()]
    if any(not g.startswith(GROUP + ":") for g in extra):
        return None
    return UserInfo(USER_PREFIX + token_id, "", tuple(dict.fromkeys((GROUP, *extra, "system:authenticated"))))


def ca_pin(ca_pem: bytes) -> str:
    """kubeadm's ``--discovery-token-ca-cert-hash`` of a CA certificate (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(ca_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()
