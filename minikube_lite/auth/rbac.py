"""The RBAC authorizer (rbac.authorization.k8s.io/v1), as kube-apiserver's ``--authorization-mode=RBAC``.

A request is allowed when a rule of a role bound to the user allows it: ClusterRoleBindings
grant their ClusterRole everywhere, RoleBindings grant a Role or ClusterRole in their namespace.
Rules match as Kubernetes' ``RuleAllows``: verbs, apiGroups, resources (``pods/log``; ``*/scale``;
``*``), resourceNames, or nonResourceURLs (exact, or a prefix ending in ``*``). There are no deny
rules. ``system:masters`` is allowed everything before RBAC is asked, as kube-apiserver's
privileged-group authorizer does.

The default roles (``policy.yaml``: cluster-admin, admin, edit, view, the ``system:`` roles and
their bindings) are Kubernetes' bootstrap policy; :func:`default_objects` renders them as the
objects kube-apiserver writes at start. The authorizer reads a :class:`PolicySource` (the
objects as they are now) and keeps an index per user, rebuilt when the source's ``generation``
changes, so a request costs a few dictionary lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from ..api.labels import matches_selector
from .requestinfo import Attributes

Obj = dict[str, Any]
RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API = f"{RBAC_GROUP}/v1"
MASTERS = "system:masters"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def extra_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.extra}


@dataclass(frozen=True)
class Rule:
    verbs: frozenset[str]
    api_groups: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    resource_names: frozenset[str] = frozenset()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_obj(cls, r: Obj) -> Rule:
        return cls(frozenset(r.get("verbs") or ()), frozenset(r.get("apiGroups") or ()),
                   frozenset(r.get("resources") or ()), frozenset(r.get("resourceNames") or ()),
                   tuple(r.get("nonResourceURLs") or ()))

    def to_obj(self) -> Obj:
        out: Obj = {"verbs": sorted(self.verbs)}
        if self.api_groups:
            out["apiGroups"] = sorted(self.api_groups)
        if self.resources:
            out["resources"] = sorted(self.resources)
        if self.resource_names:
            out["resourceNames"] = sorted(self.resource_names)
        if self.non_resource_urls:
            out["nonResourceURLs"] = list(self.non_resource_urls)
        return out

    def allows(self, a: Attributes) -> bool:
        if "*" not in self.verbs and a.verb not in self.verbs:
            return False
        if not a.resource_request:
            return any(u == "*" or u == a.path or (u.endswith("*") and a.path.startswith(u[:-1]))
                       for u in self.non_resource_urls)
        if "*" not in self.api_groups and a.api_group not in self.api_groups:
            return False
        combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
        if not ("*" in self.resources or combined in self.resources
                or (a.subresource and f"*/{a.subresource}" in self.resources)):
            return False
        return not self.resource_names or a.name in self.resource_names


class PolicySource(Protocol):
    """The RBAC objects as they are now; ``generation`` changes whenever any of them does."""

    generation: int

    def objects(self) -> tuple[list[Obj], list[Obj], list[Obj], list[Obj]]:
        """(roles, cluster roles, role bindings, cluster role bindings)."""
        ...


def _applies(subject: Obj, user: UserInfo, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    name = subject.get("name", "")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{ns}:{name}"
    return False


@dataclass
class _UserIndex:
    cluster: list[Rule] = field(default_factory=list)
    namespaced: dict[str, list[Rule]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class RBACAuthorizer:
    #: reads a stored object for NodeRestriction's pod-status check (noderestriction.py); set by the daemon
    node_lookup: Any = None

    def __init__(self, source: PolicySource) -> None:
        self.source = source
        self._generation = -1
        self._users: dict[UserInfo, _UserIndex] = {}
        self._snapshot: tuple[dict[str, list[Rule]], dict[tuple[str, str], list[Rule]], list[Obj],
                              list[Obj]] = ({}, {}, [], [])

    def _refresh(self) -> None:
        if self._generation == self.source.generation:
            return
        generation = self.source.generation
        roles, cluster_roles, bindings, cluster_bindings = self.source.objects()
        croles = {r["metadata"]["name"]: [Rule.from_obj(x) for x in r.get("rules") or []] for r in cluster_roles}
        nroles = {(r["metadata"].get("namespace", ""), r["metadata"]["name"]):
                  [Rule.from_obj(x) for x in r.get("rules") or []] for r in roles}
        self._snapshot = (croles, nroles, bindings, cluster_bindings)
        self._users = {}
        self._generation = generation

    def _index(self, user: UserInfo) -> _UserIndex:
        self._refresh()
        idx = self._users.get(user)
        if idx is not None:
            return idx
        croles, nroles, bindings, cluster_bindings = self._snapshot
        idx = _UserIndex()
        for b in cluster_bindings:
            if any(_applies(s, user, "") for s in b.get("subjects") or []):
                ref = b.get("roleRef") or {}
                rules = croles.get(ref.get("name", "")) if ref.get("kind") == "ClusterRole" else None
                if rules is None:
                    idx.errors.append(f'clusterrole.rbac.authorization.k8s.io "{ref.get("name")}" not found')
                    continue
                idx.cluster.extend(rules)
        for b in bindings:
            ns = b["metadata"].get("namespace", "")
            if any(_applies(s, user, ns) for s in b.get("subjects") or []):
                ref = b.get("roleRef") or {}
                if ref.get("kind") == "ClusterRole":
                    rules = croles.get(ref.get("name", ""))
                    missing = f'clusterrole.rbac.authorization.k8s.io "{ref.get("name")}" not found'
                else:
                    rules = nroles.get((ns, ref.get("name", "")))
                    missing = f'role.rbac.authorization.k8s.io "{ref.get("name")}" not found'
                if rules is None:
                    idx.errors.append(missing)
                    continue
                idx.namespaced.setdefault(ns, []).extend(rules)
        if len(self._users) > 4096:
            self._users.clear()
        self._users[user] = idx
        return idx

    def authorize(self, user: UserInfo, a: Attributes) -> tuple[bool, str]:
        """(allowed, reason): the reason names bindings whose role is missing, as RBAC's does."""
        if MASTERS in user.groups:
            return True, ""
        idx = self._index(user)
        if any(r.allows(a) for r in idx.cluster):
            return True, ""
        if a.namespace and any(r.allows(a) for r in idx.namespaced.get(a.namespace, ())):
            return True, ""
        return False, ("RBAC: " + ", ".join(idx.errors)) if idx.errors else ""

    def rules_for(self, user: UserInfo, namespace: str) -> list[Rule]:
        """The rules that apply to ``user`` in ``namespace`` (SelfSubjectRulesReview, ``can-i --list``)."""
        if MASTERS in user.groups:
            return [Rule(frozenset({"*"}), frozenset({"*"}), frozenset({"*"})),
                    Rule(frozenset({"*"}), non_resource_urls=("*",))]
        idx = self._index(user)
        return [*idx.namespaced.get(namespace, ()), *idx.cluster]

    def rules_and_errors(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str]]:
        """RBAC's RulesFor: the rules bound to ``user`` (no ``system:masters`` shortcut) in
        ``namespace`` and cluster-wide, and the bindings whose role is missing."""
        idx = self._index(user)
        return [*idx.namespaced.get(namespace, ()), *idx.cluster], list(idx.errors)


class AlwaysAllowAuthorizer(RBACAuthorizer):
    """kube-apiserver's ``--authorization-mode=AlwaysAllow``: every request is allowed.

    For measuring what RBAC costs (bench/bench_auth.py) on the same TLS server; the daemon refuses
    it on any address but loopback. Its rules (``can-i --list``) are everything, as Kubernetes'
    alwaysAllowAuthorizer's RulesFor. NodeRestriction is admission and still applies.
    """

    def authorize(self, user: UserInfo, a: Attributes) -> tuple[bool, str]:
        return True, ""

    def rules_for(self, user: UserInfo, namespace: str) -> list[Rule]:
        return [Rule(frozenset({"*"}), frozenset({"*"}), frozenset({"*"})),
                Rule(frozenset({"*"}), non_resource_urls=("*",))]


def forbidden_message(user: UserInfo, a: Attributes, reason: str = "") -> tuple[str, str, str, str]:
    """kube-apiserver's 403 wording: (message, resource for details, group, name)."""
    if not a.resource_request:
        msg = f'forbidden: User "{user.name}" cannot {a.verb} path "{a.path}"'
        return (msg + (f": {reason}" if reason else "")), "", "", a.path
    resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    where = (f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope")
    text = f'User "{user.name}" cannot {a.verb} resource "{resource}" in API group "{a.api_group}" {where}'
    if reason:
        text += f": {reason}"
    # the error names the resource without its subresource, as kube-apiserver's NewForbidden
    qualified = f"{a.resource}.{a.api_group}" if a.api_group else a.resource
    head = f'{qualified} "{a.name}" is forbidden' if a.name else f"{qualified} is forbidden"
    return f"{head}: {text}", a.resource, a.api_group, a.name


# ------------------------------------------------------------------------------ the default policy

@cache
def _policy() -> Obj:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ten times faster on the start path
    return yaml.load((Path(__file__).with_name("policy.yaml")).read_text(), Loader=loader)


def aggregate(cluster_roles: Iterable[Obj]) -> list[Obj]:
    """Fill each aggregated ClusterRole's rules from the roles its selectors pick (to a fixed point),
    as the clusterrole-aggregation controller does. Returns the roles whose rules changed."""
    roles = {r["metadata"]["name"]: r for r in cluster_roles}
    changed: dict[str, Obj] = {}
    for _ in range(len(roles) + 1):
        progress = False
        for name, role in roles.items():
            selectors = ((role.get("aggregationRule") or {}).get("clusterRoleSelectors")) or []
            if not selectors:
                continue
            rules: list[Obj] = []
            for other_name in sorted(roles):
                if other_name == name:
                    continue
                labels = roles[other_name]["metadata"].get("labels") or {}
                if any(matches_selector(sel, labels) for sel in selectors):
                    for r in roles[other_name].get("rules") or []:
                        if r not in rules:
                            rules.append(r)
            if rules != (role.get("rules") or []):
                role["rules"] = rules
                changed[name] = role
                progress = True
        if not progress:
            break
    return list(changed.values())


def default_objects() -> tuple[list[Obj], list[Obj]]:
    """Kubernetes' default ClusterRoles (aggregated) and ClusterRoleBindings, as objects."""
    policy = _policy()
    roles: list[Obj] = []
    for name, spec in policy["clusterRoles"].items():
        meta: Obj = {"name": name, "labels": {**BOOTSTRAP_LABELS, **(spec.get("labels") or {})},
                     "annotations": dict(AUTOUPDATE)}
        role: Obj = {"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": meta,
                     "rules": [dict(r) for r in spec.get("rules") or []]}
        if spec.get("aggregate"):
            role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {k: "true"}}
                                                                for k in spec["aggregate"]]}
        roles.append(role)
    aggregate(roles)
    bindings: list[Obj] = []
    for name, spec in policy["clusterRoleBindings"].items():
        subjects = [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in spec.get("groups") or []]
        subjects += [{"apiGroup": RBAC_GROUP, "kind": "User", "name": u} for u in spec.get("users") or []]
        for sa in spec.get("serviceAccounts") or []:
            ns, _, sa_name = sa.partition("/")
            subjects.append({"kind": "ServiceAccount", "name": sa_name, "namespace": ns})
        bindings.append({"apiVersion": RBAC_API, "kind": "ClusterRoleBinding",
                         "metadata": {"name": name, "labels": dict(BOOTSTRAP_LABELS),
                                      "annotations": dict(AUTOUPDATE)},
                         "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": spec["role"]},
                         "subjects": subjects})
    return roles, bindings


class DefaultPolicy:
    """A PolicySource of the default policy only (until RBAC objects are served from the store)."""

    generation = 0

    def __init__(self) -> None:
        self._roles, self._bindings = default_objects()

    def objects(self) -> tuple[list[Obj], list[Obj], list[Obj], list[Obj]]:
        return [], self._roles, [], self._bindings
