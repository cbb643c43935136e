"""rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding.

The objects the RBAC authorizer (``auth/rbac.py``) reads. Rules follow Kubernetes'
``pkg/apis/rbac/validation``: names are path segments (``system:node`` is fine, ``a/b`` is not);
every rule has verbs, and either resources with apiGroups or nonResourceURLs (the latter only in
a ClusterRole); a binding's ``roleRef`` is required, names a Role or ClusterRole (a
ClusterRoleBinding only a ClusterRole) and never changes; subjects are a User, Group or
ServiceAccount (a ServiceAccount of a ClusterRoleBinding needs its namespace).

Writes go through RBAC's privilege-escalation prevention (``auth/escalation.py``): a role with
rules its writer does not hold, or a binding to such a role, is refused unless the writer has
``escalate`` or ``bind`` on it, as kube-apiserver's ``policybased`` storage refuses it.

``kubectl get`` prints roles as ``NAME CREATED AT`` and bindings as ``NAME ROLE AGE`` (``-o wide``
adds USERS, GROUPS, SERVICEACCOUNTS), as Kubernetes' printers do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minikube_lite.api.kind import Kind, StoreView, Strategy
from minikube_lite.api.models import K8sModel, Loose, TypedObject
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, name
from minikube_lite.api.validation import ErrorList

GROUP = "rbac.authorization.k8s.io"
Obj = dict[str, Any]


class PolicyRule(K8sModel):
    verbs: list[str] | None = None
    apiGroups: list[str] | None = None
    resources: list[str] | None = None
    resourceNames: list[str] | None = None
    nonResourceURLs: list[str] | None = None


class RoleRef(K8sModel):
    apiGroup: str | None = None
    kind: str | None = None
    name: str | None = None


class Subject(K8sModel):
    kind: str | None = None
    apiGroup: str | None = None
    name: str | None = None
    namespace: str | None = None


class Role(TypedObject):
    rules: list[PolicyRule] | None = None


class ClusterRole(TypedObject):
    rules: list[PolicyRule] | None = None
    aggregationRule: Loose | None = None


class RoleBinding(TypedObject):
    roleRef: RoleRef | None = None
    subjects: list[Subject] | None = None


class ClusterRoleBinding(RoleBinding):
    pass


def is_path_segment_name(value: str) -> list[str]:
    """ValidatePathSegmentName: anything but ``.``, ``..``, ``/`` and ``%``."""
    if value in (".", ".."):
        return [f'may not be "{value}"']
    return [f"may not contain '{c}'" for c in "/%" if c in value]


def _validate_rules(errs: ErrorList, obj: Obj, *, cluster: bool) -> None:
    for i, rule in enumerate(obj.get("rules") or []):
        at = f"rules[{i}]"
        if not rule.get("verbs"):
            errs.required(f"{at}.verbs", "verbs must contain at least one value")
        if rule.get("nonResourceURLs"):
            if not cluster:
                errs.invalid(f"{at}.nonResourceURLs", rule["nonResourceURLs"],
                             "namespaced rules cannot apply to non-resource URLs")
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                errs.invalid(f"{at}.nonResourceURLs", rule["nonResourceURLs"],
                             "rules cannot apply to both regular resources and non-resource URLs")
            continue
        if not rule.get("resources"):
            errs.required(f"{at}.resources", "resource rules must supply at least one resource")
        if rule.get("apiGroups") is None or not rule.get("apiGroups"):
            errs.required(f"{at}.apiGroups", "resource rules must supply at least one api group")


def validate_role(errs: ErrorList, obj: Obj) -> None:
    _validate_rules(errs, obj, cluster=False)


def validate_cluster_role(errs: ErrorList, obj: Obj) -> None:
    _validate_rules(errs, obj, cluster=True)


def _validate_binding(errs: ErrorList, obj: Obj, *, cluster: bool) -> None:
    ref = obj.get("roleRef") or {}
    if ref.get("apiGroup") != GROUP:
        errs.not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [GROUP])
    kinds = ["ClusterRole"] if cluster else ["Role", "ClusterRole"]
    if ref.get("kind") not in kinds:
        errs.not_supported("roleRef.kind", ref.get("kind", ""), kinds)
    if not ref.get("name"):
        errs.required("roleRef.name", "")
    else:
        errs.each("roleRef.name", ref["name"], is_path_segment_name(ref["name"]))
    for i, s in enumerate(obj.get("subjects") or []):
        at = f"subjects[{i}]"
        kind = s.get("kind")
        if not s.get("name"):
            errs.required(f"{at}.name", "")
        if kind == "ServiceAccount":
            if s.get("apiGroup"):
                errs.not_supported(f"{at}.apiGroup", s["apiGroup"], [""])
            if cluster and not s.get("namespace"):
                errs.required(f"{at}.namespace", "")
        elif kind in ("User", "Group"):
            if s.get("apiGroup") != GROUP:
                errs.not_supported(f"{at}.apiGroup", s.get("apiGroup", ""), [GROUP])
        else:
            errs.not_supported(f"{at}.kind", kind or "", ["ServiceAccount", "User", "Group"])


def validate_role_binding(errs: ErrorList, obj: Obj) -> None:
    _validate_binding(errs, obj, cluster=False)


def validate_cluster_role_binding(errs: ErrorList, obj: Obj) -> None:
    _validate_binding(errs, obj, cluster=True)


def validate_binding_update(errs: ErrorList, old: Obj, new: Obj) -> None:
    if (old.get("roleRef") or {}) != (new.get("roleRef") or {}):
        errs.invalid("roleRef", new.get("roleRef"), "cannot change roleRef")


def default_binding(obj: Obj) -> None:
    for s in obj.get("subjects") or []:
        if s.get("kind") in ("User", "Group") and not s.get("apiGroup"):
            s["apiGroup"] = GROUP


# --- kubectl get ---------------------------------------------------------------------------------

CREATED_AT = column("Created At", "The creation time", fmt="date")
ROLE_COLUMNS = [NAME_COLUMN, CREATED_AT]
BINDING_COLUMNS = [NAME_COLUMN, column("Role", "The role of the binding"), AGE_COLUMN,
                   column("Users", "The users of the binding", priority=1),
                   column("Groups", "The groups of the binding", priority=1),
                   column("ServiceAccounts", "The service accounts of the binding", priority=1)]


def role_cells(obj: Obj, now: datetime) -> list[Any]:
    return [name(obj), obj["metadata"].get("creationTimestamp", "")]


def binding_cells(obj: Obj, now: datetime) -> list[Any]:
    ref = obj.get("roleRef") or {}
    subjects = obj.get("subjects") or []

    def of(kind: str) -> str:
        if kind == "ServiceAccount":
            names = [f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subjects if s.get("kind") == kind]
        else:
            names = [s.get("name", "") for s in subjects if s.get("kind") == kind]
        return ", ".join(names)

    return [name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(obj, now), of("User"), of("Group"),
            of("ServiceAccount")]


class _NoEscalation(Strategy):
    """The policybased storage: a write may grant only what its requester holds (auth/escalation.py)."""

    def __init__(self, plural: str, binding: bool) -> None:
        self.plural, self.binding = plural, binding

    def _check(self, obj: Obj, old: Obj | None, store: StoreView) -> None:
        from minikube_lite.auth import escalation

        (escalation.check_binding if self.binding else escalation.check_role)(self.plural, obj, old, store)

    def prepare_create(self, obj: Obj, store: StoreView) -> None:
        self._check(obj, None, store)

    def prepare_update(self, new: Obj, old: Obj, store: StoreView) -> None:
        self._check(new, old, store)


VERBS = tuple(ALL_VERBS)
ROLE = Kind(Resource(GROUP, "v1", "roles", "role", "Role", True, (), (), VERBS),
            model=Role, validate=validate_role, name_rule=is_path_segment_name,
            columns=ROLE_COLUMNS, cells=role_cells, strategy=_NoEscalation("roles", binding=False))
CLUSTER_ROLE = Kind(Resource(GROUP, "v1", "clusterroles", "clusterrole", "ClusterRole", False, (), (), VERBS),
                    model=ClusterRole, validate=validate_cluster_role, name_rule=is_path_segment_name,
                    columns=ROLE_COLUMNS, cells=role_cells, strategy=_NoEscalation("clusterroles", binding=False))
ROLE_BINDING = Kind(Resource(GROUP, "v1", "rolebindings", "rolebinding", "RoleBinding", True, (), (), VERBS),
                    model=RoleBinding, validate=validate_role_binding, validate_update=validate_binding_update,
                    default=default_binding, name_rule=is_path_segment_name,
                    columns=BINDING_COLUMNS, cells=binding_cells, strategy=_NoEscalation("rolebindings", binding=True))
CLUSTER_ROLE_BINDING = Kind(
    Resource(GROUP, "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", False, (), (), VERBS),
    model=ClusterRoleBinding, validate=validate_cluster_role_binding, validate_update=validate_binding_update,
    default=default_binding, name_rule=is_path_segment_name, columns=BINDING_COLUMNS, cells=binding_cells,
    strategy=_NoEscalation("clusterrolebindings", binding=True))
KINDS = [CLUSTER_ROLE_BINDING, CLUSTER_ROLE, ROLE_BINDING, ROLE]
