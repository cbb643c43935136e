"""PodTopologySpread: ``topologySpreadConstraints`` and the default spreading of replicas.

A ``DoNotSchedule`` constraint is a filter: placing the pod in a node's domain (the node's
value of ``topologyKey``) must not make that domain hold more than ``maxSkew`` matching pods
above the emptiest domain (``minDomains`` counts missing domains as empty). Domains are those of
the nodes the pod could go to by its node affinity (``nodeAffinityPolicy: Honor``) and, with
``nodeTaintsPolicy: Honor``, whose taints it tolerates. A ``ScheduleAnyway`` constraint only
scores: fewer matching pods in the node's domain, higher score.

A pod with no constraints gets the cluster's default ones (kube-scheduler's
``systemDefaulted`` spreading: ``kubernetes.io/hostname`` maxSkew 3 and
``topology.kubernetes.io/zone`` maxSkew 5, both ScheduleAnyway) over the pods selected like it
by its Services and ReplicaSets, which is why a Deployment's replicas spread over nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...api.labels import matches_selector
from ...api.scheduling import (
    LABEL_HOSTNAME,
    node_taints,
    pod_tolerations,
    required_node_affinity_matches,
    untolerated_taint,
)
from ..framework import MAX_NODE_SCORE, CycleState, NodeInfo, Plugin, Status

ERR_CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
ERR_MISSING_LABEL = ERR_CONSTRAINTS + " (missing required label)"
LABEL_ZONE = "topology.kubernetes.io/zone"
SYSTEM_DEFAULTS = ({"topologyKey": LABEL_HOSTNAME, "maxSkew": 3, "whenUnsatisfiable": "ScheduleAnyway"},
                   {"topologyKey": LABEL_ZONE, "maxSkew": 5, "whenUnsatisfiable": "ScheduleAnyway"})


@dataclass
class Constraint:
    key: str
    max_skew: int
    selectors: list[dict[str, Any]]  # all must match (a default constraint ANDs several)
    min_domains: int
    honor_affinity: bool
    honor_taints: bool

    def selects(self, pod: dict[str, Any]) -> bool:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        return all(matches_selector(s, labels) for s in self.selectors)


def _constraints(pod: dict[str, Any], when: str, default_selectors: list[dict[str, Any]] | None) -> \
        tuple[list[Constraint], bool]:
    spec, labels = pod.get("spec") or {}, (pod.get("metadata") or {}).get("labels") or {}
    declared = spec.get("topologySpreadConstraints") or []
    out = []
    for c in declared:
        if c.get("whenUnsatisfiable", "DoNotSchedule") != when or not c.get("labelSelector"):
            continue
        selector = dict(c["labelSelector"])
        keys = [k for k in c.get("matchLabelKeys") or [] if k in labels]
        if keys:  # matchLabelKeys: the pod's own values of those keys join the selector
            selector["matchExpressions"] = list(selector.get("matchExpressions") or []) + [
                {"key": k, "operator": "In", "values": [labels[k]]} for k in keys]
        out.append(Constraint(c.get("topologyKey", ""), int(c.get("maxSkew", 1)), [selector],
                              int(c.get("minDomains") or 1), c.get("nodeAffinityPolicy", "Honor") == "Honor",
                              c.get("nodeTaintsPolicy", "Ignore") == "Honor"))
    if declared or when != "ScheduleAnyway" or not default_selectors:
        return out, False
    return [Constraint(c["topologyKey"], c["maxSkew"], default_selectors, 1, True, False)  # type: ignore[arg-type]
            for c in SYSTEM_DEFAULTS], True


def _eligible(pod: dict[str, Any], node: NodeInfo, c: Constraint) -> bool:
    if c.honor_affinity and not required_node_affinity_matches(pod, node.node):
        return False
    return not (c.honor_taints and untolerated_taint(node_taints(node.node), pod_tolerations(pod),
                                                    ("NoSchedule",)) is not None)


def _matching(pod: dict[str, Any], node: NodeInfo, c: Constraint) -> int:
    ns = (pod.get("metadata") or {}).get("namespace")
    return sum(1 for p in node.pods if (p.get("metadata") or {}).get("namespace") == ns
               and not (p.get("metadata") or {}).get("deletionTimestamp") and c.selects(p))


class PodTopologySpread(Plugin):
    name = "PodTopologySpread"
    weight = 2

    def _filter_state(self, state: CycleState, pod: dict[str, Any]) -> list[tuple[Constraint, dict[str, int]]]:
        if "spread.filter" not in state:
            out = []
            for c in _constraints(pod, "DoNotSchedule", None)[0]:
                domains: dict[str, int] = {}
                for ni in state.snapshot.nodes:
                    if c.key in ni.labels and _eligible(pod, ni, c):
                        domains[ni.labels[c.key]] = domains.get(ni.labels[c.key], 0) + _matching(pod, ni, c)
                out.append((c, domains))
            state["spread.filter"] = out
        return state["spread.filter"]

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status | None:
        for c, domains in self._filter_state(state, pod):
            if c.key not in node.labels:
                return Status.unresolvable(ERR_MISSING_LABEL)
            minimum = min(domains.values(), default=0)
            if len(domains) < c.min_domains:
                minimum = 0
            skew = domains.get(node.labels[c.key], 0) + (1 if c.selects(pod) else 0) - minimum
            if skew > c.max_skew:
                return Status.unschedulable(ERR_CONSTRAINTS)
        return None

    def _score_state(self, state: CycleState, pod: dict[str, Any]) -> tuple[list[tuple[Constraint, dict[str, int],
                                                                                       float]], bool]:
        if "spread.score" not in state:
            defaults = state.snapshot.default_selectors.get(_key(pod))
            constraints, system = _constraints(pod, "ScheduleAnyway", defaults)
            out = []
            for c in constraints:
                counts: dict[str, int] = {}
                nodes = state.feasible if c.key == LABEL_HOSTNAME else state.snapshot.nodes
                for ni in nodes:
                    if c.key in ni.labels and _eligible(pod, ni, c):
                        counts[ni.labels[c.key]] = counts.get(ni.labels[c.key], 0) + _matching(pod, ni, c)
                size = len(counts) if c.key != LABEL_HOSTNAME else len(state.feasible)
                out.append((c, counts, math.log(size + 2)))
            state["spread.score"] = (out, system)
        return state["spread.score"]

    def score(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> float:
        constraints, system = self._score_state(state, pod)
        if not constraints:
            return 0.0
        if not system and any(c.key not in node.labels for c, _, _ in constraints):
            state.setdefault("spread.ignored", set()).add(node.name)
            return 0.0
        total = 0.0
        for c, counts, weight in constraints:
            if c.key in node.labels:
                total += counts.get(node.labels[c.key], 0) * weight + (c.max_skew - 1)
        return float(round(total))

    def normalize(self, state: CycleState, scores: dict[str, float]) -> dict[str, float]:
        constraints = state.get("spread.score", ([], False))[0]
        if not constraints:
            return {n: 0.0 for n in scores}
        ignored = state.get("spread.ignored", set())
        counted = [s for n, s in scores.items() if n not in ignored]
        if not counted:
            return {n: 0.0 for n in scores}
        low, high = min(counted), max(counted)
        out = {}
        for n, s in scores.items():
            if n in ignored:
                out[n] = 0.0
            elif high == 0:
                out[n] = MAX_NODE_SCORE
            else:
                out[n] = float(int(MAX_NODE_SCORE * (high + low - s) / high))
        return out


def _key(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"
