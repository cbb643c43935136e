"""TaintToleration: a node's ``NoSchedule``/``NoExecute`` taints keep out the pods that do not
tolerate them (the message names the first such taint); ``PreferNoSchedule`` taints only lower
the node's score, by how many of them the pod does not tolerate."""

from __future__ import annotations

from typing import Any

from ...api.scheduling import node_taints, pod_tolerations, tolerates, untolerated_taint
from ..framework import CycleState, NodeInfo, Plugin, Status, normalize_to_max


class TaintToleration(Plugin):
    name = "TaintToleration"
    weight = 3

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status | None:
        taint = untolerated_taint(node_taints(node.node), pod_tolerations(pod))
        if taint is None:
            return None
        return Status.unresolvable(f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value') or ''}}}")

    def score(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> float:
        # only the pod's tolerations of PreferNoSchedule (or of any effect) count, as in Kubernetes
        tolerations = [t for t in pod_tolerations(pod) if t.get("effect") in (None, "", "PreferNoSchedule")]
        return float(sum(1 for t in node_taints(node.node)
                         if t.get("effect") == "PreferNoSchedule" and not tolerates(tolerations, t)))

    def normalize(self, state: CycleState, scores: dict[str, float]) -> dict[str, float]:
        return normalize_to_max(scores, reverse=True)
