"""core/v1 ServiceAccount, and the kinds that are asked rather than stored: TokenRequest's home,
SelfSubjectReview (authentication.k8s.io), SelfSubjectAccessReview / SelfSubjectRulesReview /
SubjectAccessReview (authorization.k8s.io).

A ServiceAccount is an identity for pods (``system:serviceaccount:<ns>:<name>``); its ``token``
subresource is the TokenRequest API (``kubectl create token``), answered in
``apiserver/authapi.py``. The review kinds accept only ``create`` and are never stored, as in
kube-apiserver: discovery lists them so kubectl finds them (``auth whoami``, ``auth can-i``).
``kubectl get serviceaccounts`` prints ``NAME SECRETS AGE``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minikube_lite.api.kind import Kind
from minikube_lite.api.models import Loose, TypedObject
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, name

Obj = dict[str, Any]


class ServiceAccount(TypedObject):
    secrets: list[Loose] | None = None
    imagePullSecrets: list[Loose] | None = None
    automountServiceAccountToken: bool | None = None


def sa_cells(obj: Obj, now: datetime) -> list[Any]:
    return [name(obj), len(obj.get("secrets") or []), age(obj, now)]


SERVICE_ACCOUNT = Kind(
    Resource("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, ("sa",), (), tuple(ALL_VERBS),
             ("token",), {"token": ("TokenRequest", "authentication.k8s.io", "v1")}),
    model=ServiceAccount,
    columns=[NAME_COLUMN, column("Secrets", "The number of secrets", type_="integer"), AGE_COLUMN],
    cells=sa_cells)

CREATE_ONLY = ("create",)
#: (group, version, plural, kind, namespaced) of every review kind answered in apiserver/authapi.py
REVIEWS = (
    ("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False),
    ("authentication.k8s.io", "v1beta1", "selfsubjectreviews", "SelfSubjectReview", False),
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
    ("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False),
    ("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False),
    ("authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", True),
)
REVIEW_KINDS = [Kind(Resource(g, v, p, p[:-1], k, ns, (), (), CREATE_ONLY)) for g, v, p, k, ns in REVIEWS]
KINDS = [SERVICE_ACCOUNT, *REVIEW_KINDS]


def is_review(res: Resource) -> bool:
    return (res.group, res.plural) in {(g, p) for g, _, p, _, _ in REVIEWS}
