"""Unit tests of the TLS bootstrap decisions: bootstrap token authentication, the CSR kind's
rules and columns, and which requests the certificate controllers approve and sign."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from minikube_lite.api import certificates
from minikube_lite.api.validation import ErrorList
from minikube_lite.auth import bootstrap, pki
from minikube_lite.controllers import certificates as ctrl


def _lookup(secrets: dict[str, dict[str, Any]]) -> Any:
    return lambda resource, ns, name: secrets.get(f"{ns}/{name}") if resource == "secrets" else None


def test_bootstrap_token_user_groups_and_revocation() -> None:
    token = bootstrap.generate_token()
    assert bootstrap.TOKEN_RE.match(token)
    secret = bootstrap.new_token_secret(token, ttl=3600)
    store = {f"kube-system/{secret['metadata']['name']}": secret}
    user = bootstrap.authenticate(token, _lookup(store))
    assert user is not None and user.name == f"system:bootstrap:{token[:6]}"
    assert user.groups == ("system:bootstrappers", bootstrap.KUBEADM_GROUP, "system:authenticated")
    assert bootstrap.authenticate(token[:7] + "a" * 16, _lookup(store)) is None  # wrong secret
    assert bootstrap.authenticate("not-a-token", _lookup(store)) is None
    assert bootstrap.authenticate(token, _lookup({})) is None  # the Secret deleted: revoked


def test_bootstrap_token_expiry_usage_type_and_groups() -> None:
    token = bootstrap.generate_token()
    key = f"kube-system/bootstrap-token-{token[:6]}"
    old = bootstrap.new_token_secret(token, ttl=1)
    old["data"]["expiration"] = base64.b64encode(b"2020-01-01T00:00:00Z").decode()
    assert bootstrap.authenticate(token, _lookup({key: old})) is None
    forever = bootstrap.new_token_secret(token, ttl=0)
    assert "expiration" not in forever["data"] and bootstrap.authenticate(token, _lookup({key: forever}))
    no_auth = bootstrap.new_token_secret(token)
    no_auth["data"]["usage-bootstrap-authentication"] = base64.b64encode(b"false").decode()
    assert bootstrap.authenticate(token, _lookup({key: no_auth})) is None
    opaque = {**bootstrap.new_token_secret(token), "type": "Opaque"}
    assert bootstrap.authenticate(token, _lookup({key: opaque})) is None
    masters = bootstrap.new_token_secret(token, groups=("system:masters",))
    assert bootstrap.authenticate(token, _lookup({key: masters})) is None  # groups must be bootstrappers'
    with pytest.raises(ValueError):
        bootstrap.new_token_secret("abc.def")


def test_ca_pin_is_sha256_of_the_public_key(tmp_path: Path) -> None:
    import hashlib

    p = pki.ensure_client(tmp_path)
    cert = x509.load_pem_x509_certificate(p.ca_crt.read_bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert bootstrap.ca_pin(p.ca_crt.read_bytes()) == "sha256:" + hashlib.sha256(spki).hexdigest()


def _request(cn: str, orgs: tuple[str, ...] = (), dns: tuple[str, ...] = ()) -> Any:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
                     + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = x509.CertificateSigningRequestBuilder().subject_name(name)
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    return b.sign(key, hashes.SHA256())


def _obj(req: Any, **spec: Any) -> dict[str, Any]:
    pem = req.public_bytes(serialization.Encoding.PEM)
    return {"metadata": {"name": "x"}, "spec": {"request": base64.b64encode(pem).decode(),
                                                "signerName": certificates.KUBE_APISERVER_CLIENT_KUBELET,
                                                "usages": ["digital signature", "client auth"], **spec}}


def test_kubelet_client_recognition() -> None:
    good = _request("system:node:n1", ("system:nodes",))
    assert ctrl.kubelet_client_problem(good, ["digital signature", "client auth"]) is None
    assert ctrl.kubelet_client_problem(good, ["client auth", "server auth"])  # a server usage
    assert ctrl.kubelet_client_problem(_request("system:node:n1", ("system:masters",)), ["client auth"])
    assert ctrl.kubelet_client_problem(_request("admin", ("system:nodes",)), ["client auth"])
    assert ctrl.kubelet_client_problem(_request("system:node:n1", ("system:nodes",), ("evil",)), ["client auth"])
    assert ctrl.kubelet_serving_problem(_request("system:node:n1", ("system:nodes",), ("n1",)),
                                        ["digital signature", "server auth"]) is None


def test_sign_copies_subject_and_caps_duration(tmp_path: Path) -> None:
    p = pki.ensure_client(tmp_path)
    req = _request("system:node:n1", ("system:nodes",))
    now = dt.datetime.now(dt.UTC)
    pem = ctrl.sign(req, ["digital signature", "client auth"], p.ca_crt, p.ca_key, seconds=10 ** 9, now=now)
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.subject == req.subject
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH])
    assert cert.not_valid_after_utc - now <= dt.timedelta(seconds=ctrl.SIGNING_DURATION)
    ca = x509.load_pem_x509_certificate(p.ca_crt.read_bytes())
    cert.verify_directly_issued_by(ca)


def test_csr_validation_and_columns() -> None:
    obj = _obj(_request("system:node:n1", ("system:nodes",)), expirationSeconds=599)
    obj["spec"]["usages"].append("client auth")
    errs = ErrorList()
    certificates.validate_csr(errs, obj)
    messages = [c["message"] for c in errs.causes]
    assert any("may not specify a duration less than 600 seconds" in m for m in messages)
    assert any('Duplicate value: "client auth"' in m for m in messages)
    obj = _obj(_request("a"), expirationSeconds=3600)
    obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    now = dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.UTC)
    assert certificates.csr_cells(obj, now)[2:] == [certificates.KUBE_APISERVER_CLIENT_KUBELET, "", "60m", "Pending"]
    obj["status"] = {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "eA=="}
    assert certificates.csr_status(obj) == "Approved,Issued"
    obj["status"] = {"conditions": [{"type": "Denied", "status": "True"}, {"type": "Failed", "status": "True"}]}
    assert certificates.csr_status(obj) == "Denied,Failed"
