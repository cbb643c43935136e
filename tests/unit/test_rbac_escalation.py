"""RBAC's privilege-escalation decisions: covering, Kubernetes' wording, escalate and bind."""

from __future__ import annotations

from typing import Any

import pytest

from minikube_lite.api.errors import Forbidden, NotFound
from minikube_lite.auth import escalation
from minikube_lite.auth.escalation import (
    Requester,
    acting,
    check_binding,
    check_role,
    compact,
    compact_string,
)
from minikube_lite.auth.rbac import RBAC_GROUP, RBACAuthorizer, Rule, UserInfo
from minikube_lite.auth.requestinfo import request_attributes

G = RBAC_GROUP
SA = UserInfo("system:serviceaccount:team:deployer", "",
              ("system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"))


class Store:
    """A StoreView (and PolicySource) over plain lists of RBAC objects."""

    generation = 0

    def __init__(self, **kinds: list[dict[str, Any]]) -> None:
        self.kinds = kinds

    def list_all(self, plural: str, group: str = "") -> list[dict[str, Any]]:
        return self.kinds.get(plural, [])

    def objects(self) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        return (self.list_all("roles"), self.list_all("clusterroles"), self.list_all("rolebindings"),
                self.list_all("clusterrolebindings"))


def role(name: str, rules: list[dict[str, Any]], ns: str = "team") -> dict[str, Any]:
    return {"kind": "Role", "metadata": {"name": name, "namespace": ns}, "rules": rules}


def clusterrole(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "ClusterRole", "metadata": {"name": name}, "rules": rules}


def binding(name: str, kind: str, ref: str, ns: str = "team") -> dict[str, Any]:
    return {"kind": "RoleBinding", "metadata": {"name": name, "namespace": ns},
            "roleRef": {"apiGroup": G, "kind": kind, "name": ref},
            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "team"}]}


MANAGER = role("manager", [{"apiGroups": [""], "resources": ["pods", "configmaps"], "verbs": ["get", "list"]},
                           # "*" would include escalate and bind
                           {"apiGroups": [G], "resources": ["roles", "rolebindings"],
                            "verbs": ["create", "get", "list", "update", "patch", "delete"]}])
SECRETS = clusterrole("secret-reader", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}])


def store(*extra_bindings: dict[str, Any], extra_roles: tuple[dict[str, Any], ...] = ()) -> Store:
    return Store(roles=[MANAGER, *extra_roles], clusterroles=[SECRETS],
                 rolebindings=[binding("deployer-manager", "Role", "manager"), *extra_bindings])


def as_sa(s: Store, method: str, path: str) -> Requester:
    return Requester(SA, RBACAuthorizer(s), request_attributes(method, path))


ROLES = "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles"


def test_a_role_within_what_the_writer_holds_is_allowed() -> None:
    s = store()
    with acting(as_sa(s, "POST", ROLES)):
        check_role("roles", role("reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]), None, s)


def test_a_role_beyond_is_refused_in_kubernetes_words() -> None:
    s = store()
    new = role("reader", [{"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get", "list", "delete"]},
                          {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["web"], "verbs": ["patch"]}])
    with acting(as_sa(s, "POST", ROLES)), pytest.raises(Forbidden) as err:
        check_role("roles", new, None, s)
    assert err.value.message == (
        'roles.rbac.authorization.k8s.io "reader" is forbidden: user "system:serviceaccount:team:deployer" '
        '(groups=["system:serviceaccounts" "system:serviceaccounts:team" "system:authenticated"]) is attempting '
        "to grant RBAC permissions not currently held:\n"
        '{APIGroups:[""], Resources:["pods"], ResourceNames:["web"], Verbs:["patch"]}\n'
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list" "delete"]}')
    assert err.value.details == {"kind": "roles", "name": "reader", "group": G}


def test_the_same_role_in_another_namespace_is_beyond() -> None:
    s = store()
    other = role("reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}], ns="prod")
    with acting(as_sa(s, "POST", ROLES.replace("team", "prod"))), pytest.raises(Forbidden):
        check_role("roles", other, None, s)


def test_escalate_lets_a_role_through() -> None:
    escalate = clusterrole("escalator", [{"apiGroups": [G], "resources": ["roles"], "verbs": ["escalate"]}])
    s = store(binding("deployer-escalate", "ClusterRole", "escalator"))
    s.kinds["clusterroles"] = [SECRETS, escalate]
    with acting(as_sa(s, "POST", ROLES)):
        check_role("roles", role("all", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]), None, s)


def test_masters_and_no_user_are_never_checked() -> None:
    s = store()
    big = clusterrole("all", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
    admin = UserInfo("minikube-user", "", ("system:masters", "system:authenticated"))
    with acting(Requester(admin, RBACAuthorizer(s), None)):
        check_role("clusterroles", big, None, s)
    with acting(None):
        check_role("clusterroles", big, None, s)


def test_only_owner_references_or_finalizers_changed_passes() -> None:
    s = store()
    old = role("big", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
    new = {**old, "metadata": {**old["metadata"], "finalizers": ["example.com/keep"], "resourceVersion": "9"}}
    with acting(as_sa(s, "PUT", f"{ROLES}/big")):
        check_role("roles", new, old, s)
        with pytest.raises(Forbidden):
            check_role("roles", {**new, "metadata": {**new["metadata"], "labels": {"a": "b"}}}, old, s)


def test_aggregation_rule_needs_cluster_admin() -> None:
    s = store()
    agg = {**clusterrole("agg", []), "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}}
    with acting(as_sa(s, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles")), \
            pytest.raises(Forbidden, match="must have cluster-admin privileges to use the aggregationRule"):
        check_role("clusterroles", agg, None, s)


def test_binding_to_a_role_held_is_allowed_beyond_is_refused() -> None:
    s = store(extra_roles=(role("pod-reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),))
    path = "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings"
    with acting(as_sa(s, "POST", path)):
        check_binding("rolebindings", binding("ok", "Role", "pod-reader"), None, s)
        with pytest.raises(Forbidden) as err:
            check_binding("rolebindings", binding("nope", "ClusterRole", "secret-reader"), None, s)
        assert err.value.message.startswith('rolebindings.rbac.authorization.k8s.io "nope" is forbidden: user ')
        assert err.value.message.endswith('not currently held:\n{APIGroups:[""], Resources:["secrets"], '
                                          'Verbs:["get" "list"]}')
        with pytest.raises(NotFound, match='clusterroles.rbac.authorization.k8s.io "ghost" not found'):
            check_binding("rolebindings", binding("ghost", "ClusterRole", "ghost"), None, s)


def test_bind_lets_a_binding_through_for_that_role_only() -> None:
    binder = clusterrole("binder", [{"apiGroups": [G], "resources": ["clusterroles"], "verbs": ["bind"],
                                     "resourceNames": ["secret-reader"]}])
    s = store(binding("deployer-binder", "ClusterRole", "binder"))
    s.kinds["clusterroles"] = [SECRETS, binder, clusterrole("admin", [{"apiGroups": ["*"], "resources": ["*"],
                                                                      "verbs": ["*"]}])]
    with acting(as_sa(s, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings")):
        check_binding("rolebindings", binding("ok", "ClusterRole", "secret-reader"), None, s)
        with pytest.raises(Forbidden):
            check_binding("rolebindings", binding("nope", "ClusterRole", "admin"), None, s)


def test_covering_rules() -> None:
    owner = [Rule.from_obj({"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["get"]}),
             Rule.from_obj({"nonResourceURLs": ["/healthz/*"], "verbs": ["get"]}),
             Rule.from_obj({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "resourceNames": ["a"]})]
    assert not escalation.uncovered(owner, [{"apiGroups": ["apps"], "resources": ["deployments/scale"],
                                             "verbs": ["get"]}])
    assert escalation.uncovered(owner, [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}])
    assert not escalation.uncovered(owner, [{"nonResourceURLs": ["/healthz/etcd"], "verbs": ["get"]}])
    assert escalation.uncovered(owner, [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}])
    assert not escalation.uncovered(owner, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"],
                                             "resourceNames": ["a"]}])
    # a rule on every pod is not covered by one on pod "a"
    assert escalation.uncovered(owner, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])


def test_compact_string_and_compaction() -> None:
    rules = compact([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                     {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
                     {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}])
    assert sorted(compact_string(r) for r in rules) == ['{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}',
                                                        '{NonResourceURLs:["/metrics"], Verbs:["get"]}']


# ------------------------------------------------------------------------------ NodeRestriction

NODE_A = UserInfo("system:node:a", "", ("system:nodes", "system:authenticated"))


@pytest.mark.parametrize(("method", "path", "message"), [
    ("PATCH", "/api/v1/nodes/b", 'nodes "b" is forbidden: node "a" is not allowed to modify node "b"'),
    ("PUT", "/api/v1/nodes/b/status", 'nodes "b" is forbidden: node "a" is not allowed to modify node "b"'),
    ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/b",
     ('leases.coordination.k8s.io "b" is forbidden: can only access node lease with the same name as the '
     "requesting node")),
    ("PATCH", "/api/v1/namespaces/default/pods/on-b/status",
     'pods "on-b" is forbidden: node "a" can only update pod status for pods with spec.nodeName set to itself'),
])
def test_a_node_may_not_write_what_is_not_its_own(method: str, path: str, message: str) -> None:
    from minikube_lite.auth import noderestriction

    pods = {"on-a": {"spec": {"nodeName": "a"}}, "on-b": {"spec": {"nodeName": "b"}}}

    def lookup(resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return pods.get(name) if resource == "pods" else None

    with pytest.raises(Forbidden) as err:
        noderestriction.check(NODE_A, request_attributes(method, path), lookup)
    assert err.value.message == message
    for own in ("/api/v1/nodes/a", "/api/v1/nodes/a/status", "/api/v1/namespaces/default/pods/on-a/status",
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/a"):
        noderestriction.check(NODE_A, request_attributes(method, own), lookup)
    # reads, and users that are not nodes, are not NodeRestriction's business
    noderestriction.check(NODE_A, request_attributes("GET", "/api/v1/nodes/b"), lookup)
    noderestriction.check(SA, request_attributes(method, path), lookup)
