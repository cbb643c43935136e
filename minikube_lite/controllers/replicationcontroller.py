"""The ReplicationController controller: Kubernetes' ``pkg/controller/replication``.

Kubernetes runs the ReplicaSet controller's code for ReplicationControllers through an adapter
(a ReplicationController is a ReplicaSet whose selector is a plain label map); this does the
same: the ReplicaSet loop (controllers/replicaset.py) with the resource, the kind and the
selector swapped.
"""

from __future__ import annotations

from typing import Any

from .replicaset import ReplicaSetController


class ReplicationControllerController(ReplicaSetController):
    RESOURCE = "replicationcontrollers"
    KIND = "ReplicationController"

    @staticmethod
    def selector(rc: dict[str, Any]) -> dict[str, Any] | None:
        labels = (rc.get("spec") or {}).get("selector")
        return {"matchLabels": dict(labels)} if labels else None
