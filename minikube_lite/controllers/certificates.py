"""kube-controller-manager's certificate controllers: csrapproving and csrsigning.

- **csrapproving** (``pkg/controller/certificates/approver``) approves a kubelet's client CSR
  (signer ``kubernetes.io/kube-apiserver-client-kubelet``, subject ``O=system:nodes,
  CN=system:node:<name>``, no SANs, client usages) when its requester may ``create`` the
  subresource ``certificatesigningrequests/nodeclient`` (a new node: kubeadm binds that to its
  bootstrap tokens' group) or ``.../selfnodeclient`` (a node renewing its own certificate), the
  question asked as a SubjectAccessReview. Kubernetes approves nothing else; minikube-lite also
  approves a kubelet's serving CSR (signer ``kubernetes.io/kubelet-serving``) when its requester
  is the very node it names and every SAN is that node's own: its name or an address in its
  Node's ``status.addresses`` (what postfinance/kubelet-csr-approver checks), so that a node
  joined with ``minikube-lite agent`` gets its HTTPS endpoint's certificate without a human.
  Anything else waits for ``kubectl certificate approve``.
- **csrsigning** (``pkg/controller/certificates/signer``) signs approved CSRs of the built-in
  signers with the cluster CA (``--cluster-signing-cert-file``): the subject and SANs of the
  request, the usages asked, for ``expirationSeconds`` capped at a year and at the CA's own
  expiry, backdated five minutes for clock skew. A request its signer does not accept gets a
  ``Failed`` condition (``SignerValidationFailure``) instead.

Level-triggered: every CSR change queues its name; ``sync(name)`` reads the informer's copy and
does whichever step is due. The two controllers share one informer and one loop here.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..api.certificates import (
    KUBE_APISERVER_CLIENT,
    KUBE_APISERVER_CLIENT_KUBELET,
    KUBELET_SERVING,
    condition,
    decoded,
    parse_request,
)
from ..api.errors import ApiError, Conflict, NotFound
from ..api.times import now_rfc3339
from ..client.base import Client
from ..client.informer import Informer

log = logging.getLogger(__name__)
RESOURCE = "certificatesigningrequests"
SIGNING_DURATION = 365 * 24 * 3600  # --cluster-signing-duration: 8760h
BACKDATE = dt.timedelta(minutes=5)
#: (user, uid, groups, extra, subresource) -> allowed: the SubjectAccessReview the approver asks
Review = Callable[[str, str, list[str], dict[str, list[str]], str], bool]

_CLIENT_USAGES = {"digital signature", "key encipherment", "client auth"}
_SERVING_USAGES = {"digital signature", "key encipherment", "server auth"}


def _names(csr: Any) -> tuple[list[str], list[str]]:
    from cryptography.x509.oid import NameOID

    orgs = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    cns = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return [str(o) for o in orgs], [str(c) for c in cns]


def _sans(csr: Any) -> Any:
    from cryptography import x509

    try:
        return csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def _node_subject_problem(csr: Any) -> str | None:
    """Both kubelet signers want the subject ``O=system:nodes, CN=system:node:<name>``."""
    orgs, cns = _names(csr)
    if orgs != ["system:nodes"]:
        return "subject organization is not system:nodes"
    if len(cns) != 1 or not cns[0].startswith("system:node:"):
        return 'subject common name does not begin with "system:node:"'
    return None


def kubelet_client_problem(csr: Any, usages: list[str]) -> str | None:
    """Why a request is not a kubelet client certificate (``ValidateKubeletClientCSR``); None: it is."""
    problem = _node_subject_problem(csr)
    if problem:
        return problem
    sans = _sans(csr)
    if sans is not None and len(list(sans)):
        return "DNS, email, IP or URI subjectAltNames are not allowed"
    if "client auth" not in usages or not set(usages) <= _CLIENT_USAGES:
        return f"usages did not match {sorted(_CLIENT_USAGES)}"
    return None


def kubelet_serving_problem(csr: Any, usages: list[str]) -> str | None:
    """``ValidateKubeletServingCSR``: a node's name and addresses, server usages."""
    from cryptography import x509

    problem = _node_subject_problem(csr)
    if problem:
        return problem
    sans = _sans(csr)
    if sans is None or not (sans.get_values_for_type(x509.DNSName) or sans.get_values_for_type(x509.IPAddress)):
        return "DNS or IP subjectAltName is required"
    if sans.get_values_for_type(x509.RFC822Name) or sans.get_values_for_type(x509.UniformResourceIdentifier):
        return "email and URI subjectAltNames are not allowed"
    if "server auth" not in usages or not set(usages) <= _SERVING_USAGES:
        return f"usages did not match {sorted(_SERVING_USAGES)}"
    return None


def signer_problem(signer: str, csr: Any, usages: list[str]) -> str | None:
    if signer == KUBE_APISERVER_CLIENT_KUBELET:
        return kubelet_client_problem(csr, usages)
    if signer == KUBELET_SERVING:
        return kubelet_serving_problem(csr, usages)
    if signer == KUBE_APISERVER_CLIENT:
        if "client auth" not in usages or not set(usages) <= _CLIENT_USAGES:
            return f"usages did not match {sorted(_CLIENT_USAGES)}"
        return None
    return "unknown signer"


def sign(csr: Any, usages: list[str], ca_crt: Path, ca_key: Path, *, seconds: int | None,
         now: dt.datetime | None = None) -> bytes:
    """The certificate (PEM) for ``csr``, signed by the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca = x509.load_pem_x509_certificate(ca_crt.read_bytes())
    key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    now = now or dt.datetime.now(dt.UTC)
    life = min(seconds or SIGNING_DURATION, SIGNING_DURATION)
    not_after = min(now + dt.timedelta(seconds=life), ca.not_valid_after_utc)
    ext = [u for u, oid in (("client auth", ExtendedKeyUsageOID.CLIENT_AUTH),
                            ("server auth", ExtendedKeyUsageOID.SERVER_AUTH)) if u in usages]
    builder = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject)
               .public_key(csr.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature="digital signature" in usages, content_commitment=False,
                   key_encipherment="key encipherment" in usages, data_encipherment=False, key_agreement=False,
                   key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),  # type: ignore[arg-type]
                              critical=False))
    if ext:
        oids = {"client auth": ExtendedKeyUsageOID.CLIENT_AUTH, "server auth": ExtendedKeyUsageOID.SERVER_AUTH}
        builder = builder.add_extension(x509.ExtendedKeyUsage([oids[u] for u in ext]), critical=False)
    sans = _sans(csr)
    if sans is not None and len(list(sans)):
        builder = builder.add_extension(sans, critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)  # type: ignore[arg-type]


def _with_condition(obj: dict[str, Any], ctype: str, reason: str, message: str) -> dict[str, Any]:
    status = dict(obj.get("status") or {})
    now = now_rfc3339()
    status["conditions"] = [*(status.get("conditions") or []),
                            {"type": ctype, "status": "True", "reason": reason, "message": message,
                             "lastUpdateTime": now, "lastTransitionTime": now}]
    return {**obj, "status": status}


class CertificateController:
    """csrapproving and csrsigning over one informer of CertificateSigningRequests."""

    def __init__(self, client: Client, *, review: Review, ca_crt: Path, ca_key: Path) -> None:
        self.client, self.review, self.ca_crt, self.ca_key = client, review, ca_crt, ca_key
        self.csrs = Informer(client, RESOURCE)
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self.csrs.add_handler(lambda _t, o: self._queue(o["metadata"]["name"]))

    def _queue(self, name: str) -> None:
        self._dirty.add(name)
        self._wake.set()

    async def run(self) -> None:
        task = asyncio.create_task(self.csrs.run())
        try:
            await self.csrs.synced.wait()
            for obj in self.csrs.list():
                self._queue(obj["metadata"]["name"])
            while True:
                await self._wake.wait()
                self._wake.clear()
                dirty, self._dirty = self._dirty, set()
                for name in sorted(dirty):
                    try:
                        await self.sync(name)
                    except (Conflict, NotFound):
                        pass  # a newer copy is on its way through the informer
                    except ApiError as e:
                        log.warning("certificate signing request %s: %s; retrying", name, e)
                        self._dirty.add(name)
                if self._dirty:
                    await asyncio.sleep(1)
                    self._wake.set()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def sync(self, name: str) -> None:
        obj = self.csrs.get(name)
        if obj is None or (obj.get("status") or {}).get("certificate") or condition(obj, "Failed"):
            return
        if condition(obj, "Denied"):
            return
        spec = obj.get("spec") or {}
        raw = decoded(spec.get("request"))
        try:
            csr = parse_request(raw or b"")
        except ValueError:
            return
        usages = list(spec.get("usages") or [])
        signer = spec.get("signerName") or ""
        if condition(obj, "Approved") is None:
            await self._approve(obj, csr, usages)
            return
        if signer not in (KUBE_APISERVER_CLIENT_KUBELET, KUBE_APISERVER_CLIENT, KUBELET_SERVING):
            return  # another signer's business
        problem = signer_problem(signer, csr, usages)
        if problem is not None:
            await self.client.update_status(RESOURCE, _with_condition(obj, "Failed", "SignerValidationFailure",
                                                                      problem))
            return
        pem = await asyncio.to_thread(sign, csr, usages, self.ca_crt, self.ca_key,
                                      seconds=spec.get("expirationSeconds"))
        status = {**(obj.get("status") or {}), "certificate": base64.b64encode(pem).decode()}
        await self.client.update_status(RESOURCE, {**obj, "status": status})

    async def _approve(self, obj: dict[str, Any], csr: Any, usages: list[str]) -> None:
        spec = obj.get("spec") or {}
        if spec.get("signerName") == KUBELET_SERVING:
            await self._approve_serving(obj, csr, usages)
            return
        if spec.get("signerName") != KUBE_APISERVER_CLIENT_KUBELET or kubelet_client_problem(csr, usages):
            return
        _, cns = _names(csr)
        user = spec.get("username") or ""
        recognizers = [("selfnodeclient", "Auto approving self kubelet client certificate after SubjectAccessReview.")
                       ] if cns[0] == user else []
        recognizers.append(("nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview."))
        for subresource, message in recognizers:
            allowed = await asyncio.to_thread(self.review, user, spec.get("uid") or "", list(spec.get("groups") or []),
                                              dict(spec.get("extra") or {}), subresource)
            if allowed:
                await self.client.patch(RESOURCE, obj["metadata"]["name"],
                                        {"status": _with_condition(obj, "Approved", "AutoApproved",
                                                                   message)["status"]},
                                        subresource="approval")
                return

    async def _approve_serving(self, obj: dict[str, Any], csr: Any, usages: list[str]) -> None:
        """A node's own serving certificate: requested by ``system:node:<name>`` for ``<name>``,
        naming only the node's name and the addresses its Node reports."""
        spec = obj.get("spec") or {}
        if kubelet_serving_problem(csr, usages):
            return
        _, cns = _names(csr)
        if spec.get("username") != cns[0] or "system:nodes" not in (spec.get("groups") or []):
            return
        node_name = cns[0][len("system:node:"):]
        try:
            node = await self.client.get("nodes", node_name)
        except NotFound:
            return  # not registered yet: the requester asks again once it is
        if serving_sans_problem(csr, node) is not None:
            return
        await self.client.patch(RESOURCE, obj["metadata"]["name"],
                                {"status": _with_condition(obj, "Approved", "AutoApproved",
                                                           "Auto approving kubelet serving certificate: its names "
                                                           "are the node's own.")["status"]},
                                subresource="approval")


def serving_sans_problem(csr: Any, node: dict[str, Any]) -> str | None:
    """Why a serving CSR names something that is not ``node``'s own (None: all its SANs are)."""
    import ipaddress

    from cryptography import x509

    sans = _sans(csr)
    if sans is None:
        return "no subjectAltNames"
    name = (node.get("metadata") or {}).get("name") or ""
    addresses = (node.get("status") or {}).get("addresses") or []
    ips, names = set(), {name}
    for a in addresses:
        value = str(a.get("address") or "")
        try:
            ips.add(ipaddress.ip_address(value))
        except ValueError:
            names.add(value)
    for dns in sans.get_values_for_type(x509.DNSName):
        if dns not in names:
            return f"DNS name {dns} is not one of the node's names"
    for ip in sans.get_values_for_type(x509.IPAddress):
        if ip not in ips:
            return f"IP address {ip} is not one of the node's addresses"
    return None
