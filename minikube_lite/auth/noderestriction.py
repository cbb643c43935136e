"""NodeRestriction: a node's identity may write only what its own node needs.

RBAC's ``system:node`` role lets every node update nodes, node Leases and pod status, all of
them; kube-apiserver narrows that per node with the Node authorizer and the ``NodeRestriction``
admission plugin, and so does this check, run after RBAC allowed a request of a user
``system:node:<name>`` in ``system:nodes`` (the kubelet's client certificate):

- its Node object only (update, patch, delete of ``nodes/<other>`` and their ``status``):
  ``nodes "b" is forbidden: node "a" is not allowed to modify node "b"``;
- its Lease in ``kube-node-lease`` only: ``... can only access node lease with the same name as
  the requesting node``;
- the status of pods bound to it only (``spec.nodeName``): ``pods "p" is forbidden: node "a" can
  only update pod status for pods with spec.nodeName set to itself``.

The wording is NodeRestriction's. Decided on the request's attributes (and, for pod status, the
stored pod), before the handler runs. Not here yet: the Node authorizer's graph (a node reading
only the Secrets and ConfigMaps of its own pods) and the checks on created objects' bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..api.errors import Forbidden
from .rbac import UserInfo
from .requestinfo import Attributes

NODES_GROUP = "system:nodes"
PREFIX = "system:node:"
LEASE_NAMESPACE = "kube-node-lease"
_WRITES = frozenset({"update", "patch", "delete"})
Lookup = Callable[[str, str, str], dict[str, Any] | None]  # (resource, namespace, name) -> object


def node_of(user: UserInfo) -> str:
    """The node a user speaks for ('' when it is not a node)."""
    if user.name.startswith(PREFIX) and NODES_GROUP in user.groups:
        return user.name[len(PREFIX):]
    return ""


def check(user: UserInfo, a: Attributes, lookup: Lookup | None = None) -> None:
    """Raise NodeRestriction's 403 when a node writes what is not its own."""
    node = node_of(user)
    if not node or not a.resource_request or a.verb not in _WRITES or not a.name:
        return
    if a.api_group == "" and a.resource == "nodes" and a.name != node:
        raise Forbidden(f'nodes "{a.name}" is forbidden: node "{node}" is not allowed to modify node "{a.name}"',
                        resource="nodes", name=a.name)
    if (a.api_group == "coordination.k8s.io" and a.resource == "leases" and a.namespace == LEASE_NAMESPACE
            and a.name != node):
        raise Forbidden(f'leases.coordination.k8s.io "{a.name}" is forbidden: can only access node lease with the '
                        "same name as the requesting node", resource="leases", group="coordination.k8s.io",
                        name=a.name)
    if a.api_group == "" and a.resource == "pods" and a.subresource == "status" and lookup is not None:
        pod = lookup("pods", a.namespace, a.name)
        if pod is not None and (pod.get("spec") or {}).get("nodeName") != node:
            raise Forbidden(f'pods "{a.name}" is forbidden: node "{node}" can only update pod status for pods with '
                            "spec.nodeName set to itself", resource="pods", name=a.name)
