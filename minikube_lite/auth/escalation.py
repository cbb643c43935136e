"""RBAC's privilege-escalation prevention, as kube-apiserver's ``policybased`` RBAC storage has it.

Being allowed to write Roles is not being allowed to grant anything: a user may create or update
a Role or ClusterRole only with rules they already hold (in the role's namespace, or cluster-wide
for a ClusterRole), unless RBAC grants them ``escalate`` on it; and may bind a role (a RoleBinding
or ClusterRoleBinding) only if they hold all of that role's rules, unless granted ``bind`` on it.
``system:masters`` (and a server without authentication) is always allowed. The refusal is
Kubernetes' 403: ``roles.rbac.authorization.k8s.io "x" is forbidden: user "..." (groups=[...]) is
attempting to grant RBAC permissions not currently held:`` and the missing rules, one a line, in
Kubernetes' compact form ``{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}``.

Kubernetes reads the requester from the request's context; here :data:`REQUESTER` (a context
variable) is that context: the authentication filter (``middleware.py``) and the in-process client
set it around a request, and the RBAC kinds' strategies (``api/rbac.py``) read it. The rules a
requester holds are resolved from the store as the write sees it (as kube-apiserver reads its
storage, not a cache), so a Role created a moment ago counts at once.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from ..api.errors import Forbidden, NotFound
from .rbac import MASTERS, RBAC_GROUP, RBACAuthorizer, Rule, UserInfo
from .requestinfo import Attributes

Obj = dict[str, Any]
_FULL_AUTHORITY = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}]
_GC_FIELDS = ("ownerReferences", "finalizers")
_IGNORED_META = ("resourceVersion", "managedFields", "generation")


@dataclass(frozen=True)
class Requester:
    """Who is writing, what they asked (RBAC's attributes of the request), and who decides."""

    user: UserInfo
    authorizer: RBACAuthorizer
    attrs: Attributes | None = None


REQUESTER: ContextVar[Requester | None] = ContextVar("minikube_lite_requester", default=None)


@contextlib.contextmanager
def acting(requester: Requester | None) -> Iterator[None]:
    """Run the block as ``requester`` (None: no user, as a server without authentication)."""
    token = REQUESTER.set(requester)
    try:
        yield
    finally:
        REQUESTER.reset(token)


class _StoreSource:
    """The RBAC objects as the store holds them now (a PolicySource for one decision)."""

    generation = 0

    def __init__(self, store: Any) -> None:
        self.store = store

    def objects(self) -> tuple[list[Obj], list[Obj], list[Obj], list[Obj]]:
        return (self.store.list_all("roles", RBAC_GROUP), self.store.list_all("clusterroles", RBAC_GROUP),
                self.store.list_all("rolebindings", RBAC_GROUP), self.store.list_all("clusterrolebindings", RBAC_GROUP))


# ------------------------------------------------------------------------- covering (component-helpers)

def breakdown(rule: Obj) -> list[Obj]:
    """One rule as rules of one verb, one group/resource (and name) or one URL each."""
    out: list[Obj] = []
    verbs = rule.get("verbs") or []
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in verbs:
                names = rule.get("resourceNames") or []
                if names:
                    out += [{"apiGroups": [group], "resources": [resource], "verbs": [verb], "resourceNames": [n]}
                            for n in names]
                else:
                    out.append({"apiGroups": [group], "resources": [resource], "verbs": [verb]})
    for url in rule.get("nonResourceURLs") or []:
        out += [{"nonResourceURLs": [url], "verbs": [verb]} for verb in verbs]
    return out


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def rule_covers(owner: Rule, sub: Obj) -> bool:
    """Whether ``owner`` allows everything the broken-down rule ``sub`` does."""
    if "*" not in owner.verbs and not set(sub["verbs"]) <= owner.verbs:
        return False
    groups = sub.get("apiGroups") or []
    if "*" not in owner.api_groups and not set(groups) <= owner.api_groups:
        return False
    for resource in sub.get("resources") or []:
        if "*" in owner.resources or resource in owner.resources:
            continue
        if "/" not in resource or f"*/{resource.split('/', 1)[1]}" not in owner.resources:
            return False
    if not all(any(_url_covers(o, p) for o in owner.non_resource_urls) for p in sub.get("nonResourceURLs") or []):
        return False
    names = sub.get("resourceNames") or []
    return not owner.resource_names or bool(names) and set(names) <= owner.resource_names


def uncovered(owner: list[Rule], requested: list[Obj]) -> list[Obj]:
    """The broken-down requested rules no owner rule covers (empty: covered)."""
    return [sub for rule in requested for sub in breakdown(rule) if not any(rule_covers(o, sub) for o in owner)]


def compact(rules: list[Obj]) -> list[Obj]:
    """Kubernetes' CompactRules: rules of one group and one resource (nothing else) merge their verbs."""
    out: list[Obj] = []
    simple: dict[tuple[str, str], Obj] = {}
    for r in rules:
        if (len(r.get("apiGroups") or []) == 1 and len(r.get("resources") or []) == 1
                and not r.get("resourceNames") and not r.get("nonResourceURLs")):
            key = (r["apiGroups"][0], r["resources"][0])
            if key in simple:
                simple[key]["verbs"] = [*simple[key]["verbs"], *r["verbs"]]
            else:
                simple[key] = {"apiGroups": list(r["apiGroups"]), "resources": list(r["resources"]),
                               "verbs": list(r.get("verbs") or [])}
        else:
            out.append(r)
    return out + list(simple.values())


def _q(values: list[str]) -> str:
    """Go's ``%q`` of a []string: ``["a" "b"]``."""
    return "[" + " ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def compact_string(rule: Obj) -> str:
    """rbac's PolicyRule.CompactString: ``{APIGroups:[""], Resources:["pods"], Verbs:["get"]}``."""
    parts = [f"{label}:{_q(rule[key])}" for label, key in (
        ("APIGroups", "apiGroups"), ("Resources", "resources"), ("NonResourceURLs", "nonResourceURLs"),
        ("ResourceNames", "resourceNames"), ("Verbs", "verbs")) if rule.get(key)]
    return "{" + ", ".join(parts) + "}"


# ------------------------------------------------------------------------------- the checks

def _escalation_allowed(req: Requester | None) -> bool:
    return req is None or MASTERS in req.user.groups


def _authorized(req: Requester, attrs: Attributes) -> bool:
    return req.authorizer.authorize(req.user, attrs)[0]


def confirm_no_escalation(req: Requester, store: Any, namespace: str, rules: list[Obj]) -> str:
    """'' when the requester holds every rule in ``namespace`` (cluster-wide only for ''), else why not."""
    resolver = RBACAuthorizer(_StoreSource(store))
    owner, errors = resolver.rules_and_errors(req.user, namespace)
    missing = uncovered(owner, rules)
    if not missing:
        return ""
    lines = sorted({compact_string(r) for r in compact(missing)})
    msg = (f"user {json.dumps(req.user.name)} (groups={_q(list(req.user.groups))}) is attempting to grant RBAC "
           "permissions not currently held:\n" + "\n".join(lines))
    if errors:
        msg += f"; resolution errors: [{', '.join(errors)}]"
    return msg


def _forbid(plural: str, name: str, why: str) -> Forbidden:
    return Forbidden(f'{plural}.{RBAC_GROUP} "{name}" is forbidden: {why}', resource=plural, group=RBAC_GROUP,
                     name=name)


def only_gc_fields_changed(new: Obj, old: Obj) -> bool:
    """IsOnlyMutatingGCFields: the write touches nothing but ownerReferences and finalizers."""
    def strip(o: Obj) -> Obj:
        meta = {k: v for k, v in (o.get("metadata") or {}).items() if k not in (*_GC_FIELDS, *_IGNORED_META)}
        return {**o, "metadata": meta}

    return strip(new) == strip(old)


def check_role(plural: str, obj: Obj, old: Obj | None, store: Any) -> None:
    """A Role or ClusterRole write: refused (403) when it grants rules the requester does not hold."""
    req = REQUESTER.get()
    if _escalation_allowed(req):
        return
    assert req is not None
    attrs = req.attrs
    if (attrs is not None and attrs.resource_request and attrs.api_group == RBAC_GROUP
            and attrs.resource in ("roles", "clusterroles")
            and _authorized(req, replace(attrs, verb="escalate", subresource=""))):
        return
    if old is not None and only_gc_fields_changed(obj, old):
        return
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace", "") if plural == "roles" else ""
    why = confirm_no_escalation(req, store, namespace, obj.get("rules") or [])
    if why:
        raise _forbid(plural, meta.get("name", ""), why)
    aggregated = [o for o in (obj, old) if o and ((o.get("aggregationRule") or {}).get("clusterRoleSelectors"))]
    if plural == "clusterroles" and aggregated and confirm_no_escalation(req, store, "", _FULL_AUTHORITY):
        raise _forbid(plural, meta.get("name", ""), "must have cluster-admin privileges to use the aggregationRule")


def role_ref_rules(ref: Obj, namespace: str, store: Any) -> list[Obj]:
    """The rules of the role a binding names (404 when it does not exist, as kube-apiserver answers)."""
    name = ref.get("name", "")
    if ref.get("kind") == "Role":
        found = [r for r in store.list_all("roles", RBAC_GROUP)
                 if r["metadata"]["name"] == name and r["metadata"].get("namespace") == namespace]
        plural = "roles"
    else:
        found = [r for r in store.list_all("clusterroles", RBAC_GROUP) if r["metadata"]["name"] == name]
        plural = "clusterroles"
    if not found:
        raise NotFound(plural, name, RBAC_GROUP)
    return found[0].get("rules") or []


def check_binding(plural: str, obj: Obj, old: Obj | None, store: Any) -> None:
    """A RoleBinding or ClusterRoleBinding write: refused (403) unless the requester may ``bind`` the
    role or holds every rule of it."""
    req = REQUESTER.get()
    if _escalation_allowed(req):
        return
    assert req is not None
    if old is not None and only_gc_fields_changed(obj, old):
        return
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace", "") if plural == "rolebindings" else ""
    ref = obj.get("roleRef") or {}
    if ref.get("kind") not in ("Role", "ClusterRole"):
        return  # validation refuses it
    bind = Attributes("bind", True, api_group=ref.get("apiGroup", ""),
                      resource="clusterroles" if ref["kind"] == "ClusterRole" else "roles",
                      namespace=namespace, name=ref.get("name", ""))
    if _authorized(req, bind):
        return
    why = confirm_no_escalation(req, store, namespace, role_ref_rules(ref, namespace, store))
    if why:
        raise _forbid(plural, meta.get("name", ""), why)
