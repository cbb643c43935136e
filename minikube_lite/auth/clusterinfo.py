"""The ``cluster-info`` ConfigMap in ``kube-public``: what a joining node may read before it trusts.

kubeadm publishes a kubeconfig holding the cluster CA and the API server's address in
``kube-public/cluster-info`` and lets ``system:anonymous`` read that one object (Role
``kubeadm:bootstrap-signer-clusterinfo``). A joining node (``kubeadm join``, here
``minikube-lite agent``) fetches it over a connection it does not yet trust, checks the CA against
the pin it was given (``--discovery-token-ca-cert-hash``), and only then talks to the server,
verifying its certificate against that CA. The ConfigMap is written at every start (the CA or
the address may have changed), the Role and RoleBinding once.
"""

from __future__ import annotations

import base64
import contextlib
from typing import Any

import yaml

from ..api.errors import AlreadyExists, NotFound
from ..api.register import by_plural

NAMESPACE = "kube-public"
NAME = "cluster-info"
ROLE = "kubeadm:bootstrap-signer-clusterinfo"


def kubeconfig(server: str, ca_pem: bytes) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "preferences": {}, "users": None,
                           "clusters": [{"name": "", "cluster": {
                               "server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
                           "contexts": None, "current-context": ""}, sort_keys=False)


def ensure(registry: Any, server: str, ca_pem: bytes) -> None:
    """Write the ConfigMap (updated when its content differs) and the anonymous Role to read it."""
    cm_res, role_res, binding_res = (by_plural("configmaps"), by_plural("roles", "rbac.authorization.k8s.io"),
                                     by_plural("rolebindings", "rbac.authorization.k8s.io"))
    assert cm_res is not None and role_res is not None and binding_res is not None
    data = {"kubeconfig": kubeconfig(server, ca_pem)}
    try:
        current = registry.get(cm_res, NAMESPACE, NAME)
    except NotFound:
        current = None
    if current is None:
        with contextlib.suppress(AlreadyExists):
            registry.create(cm_res, NAMESPACE, {"apiVersion": "v1", "kind": "ConfigMap",
                                                "metadata": {"name": NAME, "namespace": NAMESPACE}, "data": data})
    elif (current.get("data") or {}).get("kubeconfig") != data["kubeconfig"]:
        updated = {**current, "data": {**(current.get("data") or {}), **data}}
        updated["metadata"] = {k: v for k, v in current["metadata"].items() if k != "resourceVersion"}
        registry.update(cm_res, NAMESPACE, NAME, updated)
    meta = {"name": ROLE, "namespace": NAMESPACE}
    with contextlib.suppress(AlreadyExists):
        registry.ensure(role_res, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
                                   "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                                              "resourceNames": [NAME], "verbs": ["get"]}]})
    with contextlib.suppress(AlreadyExists):
        registry.ensure(binding_res, {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": dict(meta),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}]})
