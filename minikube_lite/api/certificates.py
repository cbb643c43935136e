"""certificates.k8s.io/v1 CertificateSigningRequest: schema, validation, the approval and status
subresources and ``kubectl get csr`` columns.

A CSR is how a client without a certificate asks the cluster for one (kubelet TLS bootstrap: a
node joining with a bootstrap token sends its key's PKCS#10 request). Three writers touch it, each
through its own path, as Kubernetes' ``pkg/registry/certificates``:

- the requester creates it; the API server fills ``spec.username/uid/groups/extra`` from who sent
  the request (never from the body) and clears the status;
- an approver (``kubectl certificate approve/deny``, the csrapproving controller) writes only
  ``status.conditions`` through ``/approval``;
- the signer (the csrsigning controller) writes ``status.certificate`` and Failed conditions
  through ``/status``, where Approved/Denied conditions are kept as they were.

A main-resource update changes metadata only. Rules follow ``pkg/apis/certificates/validation``.
``kubectl get csr`` prints ``NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from datetime import datetime
from typing import Any

from minikube_lite.api.conditions import condition
from minikube_lite.api.kind import Kind, StoreView, Strategy
from minikube_lite.api.models import K8sModel, Time, TypedObject
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, human_duration, name
from minikube_lite.api.times import now_rfc3339
from minikube_lite.api.validation import ErrorList

OPENAPI_PACKAGE = "io.k8s.api.certificates.v1"

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"
KEY_USAGES = ["signing", "digital signature", "content commitment", "key encipherment", "key agreement",
              "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
              "server auth", "client auth", "code signing", "email protection", "s/mime", "ipsec end system",
              "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc"]
APPROVAL_TYPES = ("Approved", "Denied")
_SIGNER = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/[A-Za-z0-9._~%!$&'()*+,;=:@-]+$")
MIN_EXPIRATION_SECONDS = 600


class CertificateSigningRequestSpec(K8sModel):
    request: str | None = None
    signerName: str | None = None
    expirationSeconds: int | None = None
    usages: list[str] | None = None
    username: str | None = None
    uid: str | None = None
    groups: list[str] | None = None
    extra: dict[str, list[str]] | None = None


class CertificateSigningRequestCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    reason: str | None = None
    message: str | None = None
    lastUpdateTime: Time | None = None
    lastTransitionTime: Time | None = None


class CertificateSigningRequestStatus(K8sModel):
    conditions: list[CertificateSigningRequestCondition] | None = None
    certificate: str | None = None


class CertificateSigningRequest(TypedObject):
    """CertificateSigningRequest objects provide a mechanism to obtain x509 certificates by submitting a
    certificate signing request, and having it asynchronously approved and issued."""

    spec: CertificateSigningRequestSpec | None = None
    status: CertificateSigningRequestStatus | None = None


def decoded(value: Any) -> bytes | None:
    """A ``[]byte`` field as sent on the wire (base64); None when it is not base64."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_request(pem: bytes) -> Any:
    """The PKCS#10 request of ``spec.request`` (``cryptography``); ValueError with Kubernetes' words."""
    from cryptography import x509

    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        raise ValueError(f"x509: malformed certificate request: {exc}") from exc
    if not csr.is_signature_valid:
        raise ValueError("x509: signature verification failure")
    return csr


def _validate_conditions(errs: ErrorList, conditions: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for i, c in enumerate(conditions):
        path = f"status.conditions[{i}]"
        ctype = c.get("type") or ""
        if not ctype:
            errs.required(f"{path}.type", "")
        status = c.get("status") or ""
        if not status:
            errs.required(f"{path}.status", "")
        elif ctype in (*APPROVAL_TYPES, "Failed") and status != "True":
            errs.not_supported(f"{path}.status", status, ["True"])
        elif status not in ("True", "False", "Unknown"):
            errs.not_supported(f"{path}.status", status, ["False", "True", "Unknown"])
        if ctype in (*APPROVAL_TYPES, "Failed"):
            if ctype in seen:
                errs.duplicate(f"{path}.type", ctype)
            seen.add(ctype)
    if {"Approved", "Denied"} <= seen:
        errs.invalid("status.conditions", "", "Approved and Denied conditions are mutually exclusive")


def validate_csr(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    raw = decoded(spec.get("request"))
    if not spec.get("request"):
        errs.required("spec.request", "")
    elif raw is None:
        errs.invalid("spec.request", "", "must be base64-encoded PEM data")
    else:
        try:
            parse_request(raw)
        except ValueError as exc:
            errs.invalid("spec.request", "", str(exc))
    signer = spec.get("signerName") or ""
    if not signer:
        errs.required("spec.signerName", "")
    elif not _SIGNER.match(signer):
        errs.invalid("spec.signerName", signer, "must be a fully qualified domain and path of the form "
                     "'example.com/signer-name'")
    usages = spec.get("usages")
    if not usages:
        errs.required("spec.usages", "")
    else:
        for i, u in enumerate(usages):
            if u not in KEY_USAGES:
                errs.not_supported(f"spec.usages[{i}]", u, KEY_USAGES)
            elif u in usages[:i]:
                errs.duplicate(f"spec.usages[{i}]", u)
    seconds = spec.get("expirationSeconds")
    if seconds is not None and seconds < MIN_EXPIRATION_SECONDS:
        errs.invalid("spec.expirationSeconds", seconds,
                     "may not specify a duration less than 600 seconds (10 minutes)")
    status = obj.get("status") or {}
    _validate_conditions(errs, status.get("conditions") or [])
    cert = status.get("certificate")
    if cert:
        pem = decoded(cert)
        if pem is None or b"-----BEGIN CERTIFICATE-----" not in pem:
            errs.invalid("status.certificate", "<certificate data>", "must contain at least one CERTIFICATE PEM block")


def validate_csr_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Approved/Denied conditions, once there, stay; an issued certificate never changes."""
    for kind in APPROVAL_TYPES:
        if condition(old, kind) is not None and condition(new, kind) is None:
            errs.forbidden("status.conditions", f'updates may not remove a condition of type "{kind}"')
    old_cert = (old.get("status") or {}).get("certificate")
    if old_cert and (new.get("status") or {}).get("certificate") != old_cert:
        errs.forbidden("status.certificate", "updates may not modify existing certificate content")


class CSRStrategy(Strategy):
    """The three ways in: create (the requester), ``/approval`` (approvers), ``/status`` (signers)."""

    def prepare_create(self, obj: dict[str, Any], store: StoreView) -> None:
        from minikube_lite.auth.requestuser import current_user

        obj.pop("status", None)
        spec = obj.setdefault("spec", {})
        user = current_user()
        for key in ("username", "uid", "groups", "extra"):
            spec.pop(key, None)
        if user is not None:
            spec["username"] = user.name
            if user.uid:
                spec["uid"] = user.uid
            spec["groups"] = list(user.groups)
            if user.extra:
                spec["extra"] = {k: list(v) for k, v in user.extra}

    def prepare_update(self, new: dict[str, Any], old: dict[str, Any], store: StoreView) -> None:
        new["spec"] = copy.deepcopy(old.get("spec") or {})  # a main-resource update changes metadata only

    def update_subresource(self, subresource: str, old: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any] | None:
        """``/approval``: only Approved/Denied conditions are taken from the request."""
        if subresource != "approval":
            return None
        from minikube_lite.api import errors

        new = copy.deepcopy(old)
        wanted = [c for c in (obj.get("status") or {}).get("conditions") or [] if isinstance(c, dict)]
        kept = [c for c in (old.get("status") or {}).get("conditions") or [] if c.get("type") not in APPROVAL_TYPES]
        approval = [c for c in wanted if c.get("type") in APPROVAL_TYPES]
        new.setdefault("status", {})["conditions"] = approval + kept
        errs = ErrorList()
        _validate_conditions(errs, new["status"]["conditions"])
        validate_csr_update(errs, old, new)
        if errs.causes:
            raise errors.Invalid("CertificateSigningRequest", old["metadata"]["name"], errs.causes,
                                 "certificates.k8s.io")
        _stamp(new, old)
        return new


def _stamp(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Conditions written without times get them (as the strategy's PrepareForUpdate)."""
    now = now_rfc3339()
    for c in (new.get("status") or {}).get("conditions") or []:
        c.setdefault("lastUpdateTime", now)
        before = condition(old, c.get("type", ""))
        if before is not None and before.get("status") == c.get("status") and before.get("lastTransitionTime"):
            c.setdefault("lastTransitionTime", before["lastTransitionTime"])
        c.setdefault("lastTransitionTime", now)


def csr_status(obj: dict[str, Any]) -> str:
    """The CONDITION column: Pending, Approved or Denied, then ,Failed and ,Issued (kubectl's order)."""
    out = "Denied" if condition(obj, "Denied") else "Approved" if condition(obj, "Approved") else "Pending"
    if condition(obj, "Failed"):
        out += ",Failed"
    if (obj.get("status") or {}).get("certificate"):
        out += ",Issued"
    return out


COLUMNS = [NAME_COLUMN, AGE_COLUMN,
           column("SignerName", "signerName indicates the requested signer, and is a qualified name."),
           column("Requestor", "request contains an x509 certificate signing request encoded in a \"CERTIFICATE "
                               "REQUEST\" PEM block."),
           column("RequestedDuration", "expirationSeconds is the requested duration of validity of the issued "
                                       "certificate."),
           column("Condition", "conditions applied to the request. Known conditions are \"Approved\", \"Denied\", "
                               "and \"Failed\".")]


def csr_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    seconds = spec.get("expirationSeconds")
    return [name(obj), age(obj, now), spec.get("signerName") or "<none>", spec.get("username") or "",
            "<none>" if seconds is None else human_duration(seconds), csr_status(obj)]


CSR = Kind(
    Resource("certificates.k8s.io", "v1", "certificatesigningrequests", "certificatesigningrequest",
             "CertificateSigningRequest", False, ("csr",), (), tuple(ALL_VERBS), ("approval", "status")),
    model=CertificateSigningRequest, validate=validate_csr, validate_update=validate_csr_update,
    columns=COLUMNS, cells=csr_cells, strategy=CSRStrategy(),
)
KINDS = [CSR]
