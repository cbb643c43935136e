"""NodeUnschedulable: a cordoned node (``spec.unschedulable``) takes only pods that tolerate
its ``node.kubernetes.io/unschedulable:NoSchedule`` taint (as DaemonSet pods do)."""

from __future__ import annotations

from typing import Any

from ...api.scheduling import TAINT_UNSCHEDULABLE, pod_tolerations, tolerates
from ..framework import CycleState, NodeInfo, Plugin, Status

ERR_REASON = "node(s) were unschedulable"


class NodeUnschedulable(Plugin):
    name = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status | None:
        if not (node.node.get("spec") or {}).get("unschedulable"):
            return None
        if tolerates(pod_tolerations(pod), {"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"}):
            return None
        return Status.unresolvable(ERR_REASON)
