"""NodeAffinity: ``nodeSelector`` and ``requiredDuringSchedulingIgnoredDuringExecution`` must
hold for a node to be feasible; each matching ``preferredDuringScheduling...`` term adds its
weight to the node's score (scaled so the best node gets 100)."""

from __future__ import annotations

from typing import Any

from ...api.scheduling import required_node_affinity_matches, term_matches
from ..framework import CycleState, NodeInfo, Plugin, Status, normalize_to_max

ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"


class NodeAffinity(Plugin):
    name = "NodeAffinity"
    weight = 2

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status | None:
        if required_node_affinity_matches(pod, node.node):
            return None
        return Status.unresolvable(ERR_REASON_POD)

    def score(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> float:
        affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
        total = 0
        for term in affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
            if term.get("weight") and term_matches(term.get("preference") or {}, node.node):
                total += int(term["weight"])
        return float(total)

    def normalize(self, state: CycleState, scores: dict[str, float]) -> dict[str, float]:
        return normalize_to_max(scores)
