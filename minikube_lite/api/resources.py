"""The kinds this API server serves, and how each is named on the wire.

One ``Resource`` per kind: group/version, plural (the URL segment), singular, kind, whether
it lives in a namespace, short names and categories for kubectl, verbs and subresources for
discovery. Discovery, OpenAPI, routing and the client all read this table; adding a kind
starts here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(ALL_VERBS)
    subresources: tuple[str, ...] = ()  # e.g. ("status", "log")
    # per subresource: (kind, group, version) when it differs from the parent (scale -> autoscaling/v1)
    subresource_kinds: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path of the collection or of one object."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        return base


RESOURCES: list[Resource] = [
    Resource("", "v1", "namespaces", "namespace", "Namespace", False, ("ns",), (),
             tuple(v for v in ALL_VERBS if v != "deletecollection"), ("status", "finalize")),
    Resource("", "v1", "nodes", "node", "Node", False, ("no",), (), tuple(ALL_VERBS), ("status",)),
    Resource("", "v1", "pods", "pod", "Pod", True, ("po",), ("all",), tuple(ALL_VERBS),
             ("status", "log", "exec", "attach", "portforward", "ephemeralcontainers", "binding")),
    Resource("", "v1", "services", "service", "Service", True, ("svc",), ("all",), tuple(ALL_VERBS),
             ("status",)),
    Resource("", "v1", "events", "event", "Event", True, ("ev",), (), tuple(ALL_VERBS)),
    # Served read-only and empty: kubectl's client-side validation lists CRDs before it reports an
    # unknown kind ("no matches for kind ..."); a 404 here would turn that into a confusing error.
    Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
             "CustomResourceDefinition", False, ("crd", "crds"), ("api-extensions",), ("get", "list", "watch")),
    Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",), ("all",), tuple(ALL_VERBS),
             ("status", "scale"), {"scale": ("Scale", "autoscaling", "v1")}),
    Resource("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, ("rs",), ("all",), tuple(ALL_VERBS),
             ("status", "scale"), {"scale": ("Scale", "autoscaling", "v1")}),
    # Configuration and storage kinds (schemas and rules in api/config.py, api/storage.py, api/endpoints.py)
    Resource("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    Resource("", "v1", "secrets", "secret", "Secret", True),
    Resource("", "v1", "endpoints", "endpoints", "Endpoints", True, ("ep",)),
    Resource("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", True),
    Resource("", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", True, ("pvc",),
             (), tuple(ALL_VERBS), ("status",)),
    Resource("", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", False, ("pv",), (),
             tuple(ALL_VERBS), ("status",)),
    Resource("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", False, ("sc",)),
    # Ingress (schemas and rules in api/networking.py; served by proxy/ingress.py)
    Resource("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", True, ("ing",), (), tuple(ALL_VERBS),
             ("status",)),
    Resource("networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass", False),
    # Leases (api/coordination.py): the kubelet's heartbeat lives in kube-node-lease
    Resource("coordination.k8s.io", "v1", "leases", "lease", "Lease", True),
]

_BY_PLURAL = {(r.group, r.plural): r for r in RESOURCES}


def by_plural(plural: str, group: str | None = None) -> Resource | None:
    """Find a resource by its plural name (and group when given; otherwise the first match)."""
    if group is not None:
        return _BY_PLURAL.get((group, plural))
    for r in RESOURCES:
        if r.plural == plural:
            return r
    return None


def by_kind(api_version: str, kind: str) -> Resource | None:
    """Find a resource by ``apiVersion`` and ``kind`` as written in a manifest."""
    group, _, version = api_version.rpartition("/")
    for r in RESOURCES:
        if r.group == group and r.version == version and r.kind == kind:
            return r
    return None


def groups() -> dict[str, list[str]]:
    """group name -> served versions (core group is "")."""
    out: dict[str, list[str]] = {}
    for r in RESOURCES:
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    return out
