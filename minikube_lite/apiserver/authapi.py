"""The API's questions about its caller: TokenRequest, SelfSubjectReview, SelfSubjectAccessReview,
SelfSubjectRulesReview (what ``kubectl create token``, ``auth whoami`` and ``auth can-i`` post).

None of these is stored: each POST is answered from the request's user (set by the
authentication filter), the RBAC authorizer and the ServiceAccount signing key, and the answer
is the posted object with its ``status`` filled in, as kube-apiserver does.
"""

from __future__ import annotations

from typing import Any

from ..api.errors import BadRequest, Invalid, NotFound, cause
from ..api.times import now_rfc3339, rfc3339
from ..auth.rbac import RBACAuthorizer, UserInfo
from ..auth.requestinfo import Attributes
from ..auth.tokens import DEFAULT_EXPIRATION, MIN_EXPIRATION, Issuer

Obj = dict[str, Any]


def _spec(body: Any, kind: str) -> Obj:
    if not isinstance(body, dict):
        raise BadRequest(f"a {kind} must be a JSON object")
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise BadRequest(f"{kind}.spec must be an object")
    return spec


def user_info(user: UserInfo) -> Obj:
    info: Obj = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    if user.extra:
        info["extra"] = user.extra_dict()
    return info


def self_subject_review(user: UserInfo, api_version: str) -> Obj:
    return {"kind": "SelfSubjectReview", "apiVersion": api_version, "metadata": {"creationTimestamp": now_rfc3339()},
            "status": {"userInfo": user_info(user)}}


def access_review(authorizer: RBACAuthorizer, user: UserInfo, body: Any, api_version: str) -> Obj:
    spec = _spec(body, "SelfSubjectAccessReview")
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(res) == bool(non):
        raise Invalid("SelfSubjectAccessReview", "", [cause(
            "spec.resourceAttributes", "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            "FieldValueRequired")])
    if res:
        attrs = Attributes(str(res.get("verb") or ""), True, api_group=str(res.get("group") or ""),
                           api_version=str(res.get("version") or ""), resource=str(res.get("resource") or ""),
                           subresource=str(res.get("subresource") or ""), namespace=str(res.get("namespace") or ""),
                           name=str(res.get("name") or ""))
    else:
        attrs = Attributes(str(non.get("verb") or ""), False, path=str(non.get("path") or ""))
    allowed, reason = authorizer.authorize(user, attrs)
    status: Obj = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    return {"kind": "SelfSubjectAccessReview", "apiVersion": api_version,
            "metadata": {"creationTimestamp": now_rfc3339()}, "spec": spec, "status": status}


def rules_review(authorizer: RBACAuthorizer, user: UserInfo, body: Any, api_version: str) -> Obj:
    spec = _spec(body, "SelfSubjectRulesReview")
    ns = str(spec.get("namespace") or "")
    resource_rules: list[Obj] = []
    non_resource_rules: list[Obj] = []
    for rule in authorizer.rules_for(user, ns):
        obj = rule.to_obj()
        if rule.non_resource_urls:
            non_resource_rules.append({"verbs": obj["verbs"], "nonResourceURLs": obj["nonResourceURLs"]})
        else:
            resource_rules.append({k: obj[k] for k in ("verbs", "apiGroups", "resources", "resourceNames")
                                   if k in obj})
    return {"kind": "SelfSubjectRulesReview", "apiVersion": api_version,
            "metadata": {"creationTimestamp": now_rfc3339()}, "spec": spec,
            "status": {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                       "incomplete": False}}


def token_request(issuer: Issuer, lookup: Any, namespace: str, name: str, body: Any) -> Obj:
    """POST serviceaccounts/<name>/token: a bound token for the ServiceAccount (and pod)."""
    spec = dict(_spec(body, "TokenRequest"))
    sa = lookup("serviceaccounts", namespace, name)
    if sa is None:
        raise NotFound("serviceaccounts", name)
    seconds = spec.get("expirationSeconds")
    if seconds is None:
        seconds = DEFAULT_EXPIRATION
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise BadRequest("spec.expirationSeconds must be an integer")
    if seconds < MIN_EXPIRATION:
        raise Invalid("TokenRequest", name, [cause("spec.expirationSeconds",
                                                   f"Invalid value: {seconds}: may not specify a duration less "
                                                   "than 10 minutes")])
    audiences = spec.get("audiences") or None
    pod = node = None
    ref = spec.get("boundObjectRef")
    if ref:
        kind, ref_name = ref.get("kind"), ref.get("name", "")
        if kind not in ("Pod", "Secret", "Node"):
            raise BadRequest(f'cannot bind token to object of kind "{kind}": Pod, Secret or Node')
        if kind == "Pod":
            obj = lookup("pods", namespace, ref_name)
            if obj is None or (ref.get("uid") and obj["metadata"].get("uid") != ref["uid"]):
                raise NotFound("pods", ref_name)
            pod = (ref_name, obj["metadata"].get("uid", ""))
            node_name = (obj.get("spec") or {}).get("nodeName")
            node_obj = lookup("nodes", "", node_name) if node_name else None
            if node_obj is not None:
                node = (node_name, node_obj["metadata"].get("uid", ""))
    token, exp = issuer.issue(namespace, name, sa["metadata"].get("uid", ""), expiration_seconds=seconds,
                              audiences=audiences, pod=pod, node=node)
    spec["expirationSeconds"] = seconds
    spec["audiences"] = audiences or ["https://kubernetes.default.svc.cluster.local"]
    spec.setdefault("boundObjectRef", None)
    return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": now_rfc3339()},
            "spec": spec,
            "status": {"token": token,
                       "expirationTimestamp": rfc3339(exp)}}


def subject_access_review(authorizer: RBACAuthorizer, body: Any, api_version: str, kind: str,
                          namespace: str | None = None) -> Obj:
    """SubjectAccessReview / LocalSubjectAccessReview: the same question for another user."""
    spec = _spec(body, kind)
    extra = tuple(sorted((k, tuple(v)) for k, v in (spec.get("extra") or {}).items()))
    subject = UserInfo(str(spec.get("user") or ""), str(spec.get("uid") or ""), tuple(spec.get("groups") or ()),
                       extra)
    if namespace is not None:
        res = dict(spec.get("resourceAttributes") or {})
        res["namespace"] = namespace
        spec = {**spec, "resourceAttributes": res}
    out = access_review(authorizer, subject, {"spec": spec}, api_version)
    out["kind"] = kind
    if namespace is not None:
        out["metadata"]["namespace"] = namespace
    return out


class AuthAPI:
    """What the HTTP layer needs to answer these kinds (set by the daemon on ``app.state.auth``)."""

    def __init__(self, authorizer: RBACAuthorizer, issuer: Issuer | None, lookup: Any) -> None:
        self.authorizer, self.issuer, self.lookup = authorizer, issuer, lookup

    def answer(self, user: UserInfo, res: Any, namespace: str | None, name: str | None,
               subresource: str | None, body: Any) -> Obj | None:
        """The response to a POST on a review kind or ``serviceaccounts/<name>/token``; None otherwise."""
        if res.plural == "serviceaccounts" and subresource == "token" and name:
            if self.issuer is None:
                raise BadRequest("this API server has no ServiceAccount signing key (started without TLS)")
            return token_request(self.issuer, self.lookup, namespace or "default", name, body)
        api_version = res.api_version
        if res.plural == "selfsubjectreviews":
            return self_subject_review(user, api_version)
        if res.plural == "selfsubjectaccessreviews":
            return access_review(self.authorizer, user, body, api_version)
        if res.plural == "selfsubjectrulesreviews":
            return rules_review(self.authorizer, user, body, api_version)
        if res.plural == "subjectaccessreviews":
            return subject_access_review(self.authorizer, body, api_version, "SubjectAccessReview")
        if res.plural == "localsubjectaccessreviews":
            return subject_access_review(self.authorizer, body, api_version, "LocalSubjectAccessReview",
                                         namespace or "default")
        return None
