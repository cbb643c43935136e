"""Kubelet TLS bootstrap against the real daemon, with the real kubectl.

A bootstrap token from ``minikube-lite node token`` authenticates as ``system:bootstrap:<id>``;
with it a joining node posts a CertificateSigningRequest for ``system:node:<name>``, which the
csrapproving controller approves (the token's group may create ``nodeclient``) and the
csrsigning controller signs with the cluster CA; the certificate then authenticates as the node.
Other signers wait for ``kubectl certificate approve/deny``. Deleting the token's Secret revokes
the token. Uses the shared cluster: CSRs and Secrets touch no other test's objects.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from minikube_lite.auth.bootstrap import ca_pin

from .conftest import Cluster, wait_for

CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


def _key_and_csr(cn: str, org: str | None) -> tuple[bytes, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    attrs = ([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []) + [
        x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    req = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, hashes.SHA256())
    pem = req.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, base64.b64encode(pem).decode()


def _csr(name: str, request: str, signer: str, usages: list[str]) -> dict[str, Any]:
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"request": request, "signerName": signer, "usages": usages, "expirationSeconds": 3600,
                     "username": "someone-else", "groups": ["system:masters"]}}


def _token_client(cluster: Cluster, token: str) -> httpx.Client:
    return httpx.Client(base_url=cluster.url, verify=ssl.create_default_context(cafile=cluster.ca_file), timeout=10,
                        headers={"Authorization": f"Bearer {token}"})


def _whoami(client: httpx.Client) -> dict[str, Any]:
    r = client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                    json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert r.status_code == 201, r.text
    return r.json()["status"]["userInfo"]


@pytest.fixture(scope="module")
def join(cluster: Cluster) -> tuple[str, str]:
    out = cluster.cli("node", "token", "--ttl", "1h").stdout.strip()
    m = re.fullmatch(r"minikube-lite agent --server (https://\S+) --token ([a-z0-9]{6}\.[a-z0-9]{16}) "
                     r"--discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})", out)
    assert m, out
    return m.group(2), m.group(3)


def test_node_token_prints_join_command_with_ca_pin(cluster: Cluster, join: tuple[str, str]) -> None:
    token, pin = join
    assert pin == ca_pin(Path(cluster.ca_file).read_bytes())
    secret = json.loads(cluster.kubectl("get", "secret", "-n", "kube-system", f"bootstrap-token-{token[:6]}",
                                        "-o", "json").stdout)
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    assert base64.b64decode(secret["data"]["token-secret"]).decode() == token[7:]
    assert "expiration" in secret["data"]
    with _token_client(cluster, token) as c:
        user = _whoami(c)
    assert user["username"] == f"system:bootstrap:{token[:6]}"
    assert set(user["groups"]) >= {"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token",
                                   "system:authenticated"}


def test_bootstrap_token_gets_node_client_certificate(cluster: Cluster, join: tuple[str, str],
                                                      tmp_path: Path) -> None:
    token, _ = join
    key_pem, request = _key_and_csr("system:node:joined-node", "system:nodes")
    name = f"node-csr-{token[:6]}"
    with _token_client(cluster, token) as c:
        r = c.post(CSR_PATH, json=_csr(name, request, "kubernetes.io/kube-apiserver-client-kubelet",
                                       ["digital signature", "client auth"]))
        assert r.status_code == 201, r.text
        spec = r.json()["spec"]
        # the requester is who sent it, whatever the body claimed
        assert spec["username"] == f"system:bootstrap:{token[:6]}"
        assert "system:masters" not in spec["groups"]

        def issued() -> dict[str, Any] | None:
            obj = c.get(f"{CSR_PATH}/{name}").json()
            return obj if (obj.get("status") or {}).get("certificate") else None

        csr = wait_for(issued, timeout=15, what="the certificate to be issued")
        assert c.get("/api/v1/namespaces/default/pods").status_code == 403  # a bootstrapper is no node
    approved = next(x for x in csr["status"]["conditions"] if x["type"] == "Approved")
    assert approved["reason"] == "AutoApproved"
    row = cluster.kubectl("get", "csr", name, "--no-headers").stdout.split()
    assert row[0] == name and row[2:] == ["kubernetes.io/kube-apiserver-client-kubelet",
                                          f"system:bootstrap:{token[:6]}", "60m", "Approved,Issued"], row
    head = cluster.kubectl("get", "csr", name).stdout.splitlines()[0].split()
    assert head == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]
    cert = tmp_path / "node.crt"
    cert.write_bytes(base64.b64decode(csr["status"]["certificate"]))
    (tmp_path / "node.key").write_bytes(key_pem)
    ctx = ssl.create_default_context(cafile=cluster.ca_file)
    ctx.load_cert_chain(str(cert), str(tmp_path / "node.key"))
    with httpx.Client(base_url=cluster.url, verify=ctx, timeout=10) as c:
        user = _whoami(c)
    assert user["username"] == "system:node:joined-node"
    assert "system:nodes" in user["groups"]


def test_other_signers_wait_for_kubectl_certificate_approve_and_deny(cluster: Cluster, tmp_path: Path) -> None:
    _, request = _key_and_csr("jane", "developers")
    for name in ("jane-approve", "jane-deny"):
        manifest = tmp_path / f"{name}.json"
        manifest.write_text(json.dumps(_csr(name, request, "kubernetes.io/kube-apiserver-client",
                                            ["client auth"])))
        cluster.kubectl("create", "-f", str(manifest))
    time.sleep(0.5)  # the controllers had their chance: a client CSR of a person is never auto-approved
    rows = {line.split()[0]: line.split()[-1]
            for line in cluster.kubectl("get", "csr", "--no-headers").stdout.splitlines()}
    assert rows["jane-approve"] == "Pending" and rows["jane-deny"] == "Pending"
    out = cluster.kubectl("certificate", "approve", "jane-approve").stdout
    assert "certificatesigningrequest.certificates.k8s.io/jane-approve approved" in out
    out = cluster.kubectl("certificate", "deny", "jane-deny").stdout
    assert "certificatesigningrequest.certificates.k8s.io/jane-deny denied" in out
    wait_for(lambda: cluster.kubectl("get", "csr", "jane-approve", "--no-headers").stdout.split()[-1]
             == "Approved,Issued", timeout=15, what="the approved CSR to be signed")
    assert cluster.kubectl("get", "csr", "jane-deny", "--no-headers").stdout.split()[-1] == "Denied"
    bad = cluster.kubectl("certificate", "approve", "jane-deny", check=False)
    assert bad.returncode != 0 and 'certificate signing request "jane-deny" is already Denied' in bad.stderr
    with cluster.http() as c:  # the server refuses it too, when a client skips kubectl's check
        denied = c.get(f"{CSR_PATH}/jane-deny").json()
        denied["status"]["conditions"].append({"type": "Approved", "status": "True", "reason": "Sneaky"})
        r = c.put(f"{CSR_PATH}/jane-deny/approval", json=denied)
        assert r.status_code == 422, r.text
        assert "Approved and Denied conditions are mutually exclusive" in r.json()["message"]
        denied["status"]["conditions"] = []
        r = c.put(f"{CSR_PATH}/jane-deny/approval", json=denied)
        assert r.status_code == 422, r.text
        assert 'updates may not remove a condition of type "Denied"' in r.json()["message"]
    user = json.loads(cluster.kubectl("get", "csr", "jane-approve", "-o", "json").stdout)["spec"]["username"]
    assert user == "minikube-user"  # the admin who created it, not the body's "someone-else"
    cluster.kubectl("delete", "csr", "jane-approve", "jane-deny")


def test_csr_bad_input_is_422(cluster: Cluster) -> None:
    with cluster.http() as c:
        r = c.post(CSR_PATH, json=_csr("garbage", base64.b64encode(b"not a request").decode(),
                                       "kubernetes.io/kube-apiserver-client", ["client auth"]))
        assert r.status_code == 422, r.text
        assert "PEM block type must be CERTIFICATE REQUEST" in r.json()["message"]
        _, request = _key_and_csr("x", None)
        body = _csr("short", request, "kubernetes.io/kube-apiserver-client", ["client auth", "flying"])
        body["spec"]["expirationSeconds"] = 60
        r = c.post(CSR_PATH, json=body)
        assert r.status_code == 422, r.text
        message = r.json()["message"]
        assert "may not specify a duration less than 600 seconds" in message
        assert 'spec.usages[1]: Unsupported value: "flying"' in message


def test_deleting_the_token_secret_revokes_it(cluster: Cluster) -> None:
    out = cluster.cli("node", "token", "--ttl", "10m").stdout
    token = re.search(r"--token (\S+)", out).group(1)  # type: ignore[union-attr]
    with _token_client(cluster, token) as c:
        assert _whoami(c)["username"] == f"system:bootstrap:{token[:6]}"
        cluster.kubectl("delete", "secret", "-n", "kube-system", f"bootstrap-token-{token[:6]}")
        r = c.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                   json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        assert r.status_code == 401
    with _token_client(cluster, token[:7] + "0" * 16) as c:  # a wrong secret for a real id
        assert c.get("/api").status_code == 401


def test_join_discovers_pinned_ca_and_bootstraps_node_certificate(cluster: Cluster, join: tuple[str, str],
                                                                  tmp_path: Path) -> None:
    from minikube_lite.node.join import JoinError, bootstrap_client_certificate, discover

    token, pin = join
    with cluster.anonymous() as c:  # kubeadm's discovery object: readable before any trust
        assert c.get("/api/v1/namespaces/kube-public/configmaps/cluster-info").status_code == 200
        assert c.get("/api/v1/namespaces/kube-public/configmaps").status_code == 403  # only that one
    wrong = "sha256:" + "0" * 64
    with pytest.raises(JoinError, match="cluster CA found in cluster-info ConfigMap is invalid: none of the "
                                        "public keys \"sha256:[0-9a-f]{64}\" are pinned"):
        discover(cluster.url, wrong)
    ca = discover(cluster.url, pin)
    assert ca == Path(cluster.ca_file).read_bytes()
    with pytest.raises(JoinError, match="refused the bootstrap token"):
        bootstrap_client_certificate(cluster.url, ca, token[:7] + "0" * 16, "joined-m02", tmp_path / "bad")
    t0 = time.monotonic()
    crt, key = bootstrap_client_certificate(cluster.url, ca, token, "joined-m02", tmp_path / "pki")
    elapsed = time.monotonic() - t0
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    ctx = ssl.create_default_context(cadata=ca.decode())
    ctx.load_cert_chain(str(crt), str(key))
    with httpx.Client(base_url=cluster.url, verify=ctx, timeout=10) as c:
        assert _whoami(c)["username"] == "system:node:joined-m02"
    assert elapsed < 3, f"token -> node certificate took {elapsed:.2f}s"

    # the node registers itself with its new certificate; `node delete` removes it and revokes the
    # token it joined with (unschedulable meanwhile: the shared cluster's pods must not go there)
    with httpx.Client(base_url=cluster.url, verify=ctx, timeout=10) as c:
        r = c.post("/api/v1/nodes", json={"apiVersion": "v1", "kind": "Node", "metadata": {"name": "joined-m02"},
                                          "spec": {"unschedulable": True}})
        assert r.status_code == 201, r.text
    out = cluster.cli("node", "delete", "joined-m02").stdout
    assert f"Revoked secret/bootstrap-token-{token[:6]}" in out, out
    assert 'Node "joined-m02" was successfully deleted.' in out
    assert cluster.get("/api/v1/nodes/joined-m02") is None
    with _token_client(cluster, token) as c:
        assert c.get("/api").status_code == 401
    left = json.loads(cluster.kubectl("get", "csr", "-o", "json").stdout)["items"]
    by_token = {c["metadata"]["name"] for c in left if c["spec"]["username"] == f"system:bootstrap:{token[:6]}"}
    assert by_token == {f"node-csr-{token[:6]}"}  # joined-m02's CSR went; joined-node's (another node) stays
