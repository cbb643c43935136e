"""InterPodAffinity: ``podAffinity`` and ``podAntiAffinity`` over topology domains.

A term selects pods (``labelSelector`` in ``namespaces`` / ``namespaceSelector``, the pod's
own namespace when neither is given) and names a ``topologyKey``: the domain of a node is its
value of that label (``kubernetes.io/hostname``: the node itself). Filtering, as Kubernetes
does it, in this order:

1. the pod's required affinity: every term must find a selected pod in the node's domain, except
   for the first pod of a group that selects itself (no pod anywhere matches, the pod matches its
   own terms) so such groups can start;
2. the pod's required anti-affinity: no selected pod in the node's domain;
3. the required anti-affinity of pods already bound: a pod whose term selects the new pod keeps
   it out of that pod's domain.

Scoring adds the weights of the preferred terms (both the pod's and, symmetrically, those of the
pods already placed) per domain, anti-affinity subtracting, scaled between the lowest and
highest node.
"""

from __future__ import annotations

from typing import Any

from ...api.labels import matches_selector
from ..framework import MAX_NODE_SCORE, CycleState, NodeInfo, Plugin, Status

ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1

Obj = dict[str, Any]


def _affinity(pod: Obj, kind: str) -> Obj:
    return (((pod.get("spec") or {}).get("affinity") or {}).get(kind)) or {}


def required_terms(pod: Obj, kind: str) -> list[Obj]:
    return list(_affinity(pod, kind).get("requiredDuringSchedulingIgnoredDuringExecution") or [])


def preferred_terms(pod: Obj, kind: str) -> list[tuple[int, Obj]]:
    return [(int(w.get("weight") or 0), w.get("podAffinityTerm") or {})
            for w in _affinity(pod, kind).get("preferredDuringSchedulingIgnoredDuringExecution") or []]


def term_selects(term: Obj, owner: Obj, pod: Obj, namespace_labels: dict[str, dict[str, str]]) -> bool:
    """Whether ``term`` (declared by ``owner``) selects ``pod``."""
    ns = (pod.get("metadata") or {}).get("namespace")
    namespaces = term.get("namespaces") or []
    ns_selector = term.get("namespaceSelector")
    if not namespaces and ns_selector is None:
        namespaces = [(owner.get("metadata") or {}).get("namespace")]
    in_ns = ns in namespaces or (ns_selector is not None and matches_selector(ns_selector,
                                                                                 namespace_labels.get(str(ns), {})))
    if not in_ns or term.get("labelSelector") is None:
        return False  # a term without a labelSelector selects nothing
    return matches_selector(term["labelSelector"], (pod.get("metadata") or {}).get("labels") or {})


def _pair(node: NodeInfo, key: str) -> tuple[str, str] | None:
    return (key, node.labels[key]) if key in node.labels else None


class InterPodAffinity(Plugin):
    name = "InterPodAffinity"
    weight = 2

    def _prefilter(self, state: CycleState, pod: Obj) -> tuple[dict[Any, int], dict[Any, int], dict[Any, int]]:
        if "ipa.filter" in state:
            return state["ipa.filter"]
        ns_labels = state.snapshot.namespace_labels
        affinity_terms = required_terms(pod, "podAffinity")
        anti_terms = required_terms(pod, "podAntiAffinity")
        affinity: dict[Any, int] = {}
        anti: dict[Any, int] = {}
        existing: dict[Any, int] = {}
        for ni, other in state.snapshot.all_pods():
            if affinity_terms and all(term_selects(t, pod, other, ns_labels) for t in affinity_terms):
                for t in affinity_terms:
                    if (p := _pair(ni, t.get("topologyKey", ""))) is not None:
                        affinity[p] = affinity.get(p, 0) + 1
            for t in anti_terms:
                if term_selects(t, pod, other, ns_labels) and (p := _pair(ni, t.get("topologyKey", ""))):
                    anti[p] = anti.get(p, 0) + 1
            for t in required_terms(other, "podAntiAffinity"):
                if term_selects(t, other, pod, ns_labels) and (p := _pair(ni, t.get("topologyKey", ""))):
                    existing[p] = existing.get(p, 0) + 1
        state["ipa.filter"] = (affinity, anti, existing)
        return state["ipa.filter"]

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status | None:
        affinity, anti, existing = self._prefilter(state, pod)
        terms = required_terms(pod, "podAffinity")
        if terms:
            if any(t.get("topologyKey", "") not in node.labels for t in terms):
                return Status.unresolvable(ERR_AFFINITY)
            found = all(affinity.get(_pair(node, t["topologyKey"]), 0) > 0 for t in terms)
            if not found:
                ns_labels = state.snapshot.namespace_labels
                first_of_group = not affinity and all(term_selects(t, pod, pod, ns_labels) for t in terms)
                if not first_of_group:
                    return Status.unresolvable(ERR_AFFINITY)
        for t in required_terms(pod, "podAntiAffinity"):
            p = _pair(node, t.get("topologyKey", ""))
            if p is not None and anti.get(p, 0) > 0:
                return Status.unschedulable(ERR_ANTI_AFFINITY)
        if any(existing.get((k, v), 0) > 0 for k, v in node.labels.items()):
            return Status.unschedulable(ERR_EXISTING_ANTI_AFFINITY)
        return None

    def _prescore(self, state: CycleState, pod: Obj) -> dict[tuple[str, str], int]:
        if "ipa.score" in state:
            return state["ipa.score"]
        ns_labels = state.snapshot.namespace_labels
        scores: dict[tuple[str, str], int] = {}

        def add(node: NodeInfo, term: Obj, weight: int) -> None:
            if (p := _pair(node, term.get("topologyKey", ""))) is not None:
                scores[p] = scores.get(p, 0) + weight

        mine = [(w, t, 1) for w, t in preferred_terms(pod, "podAffinity")] + \
               [(w, t, -1) for w, t in preferred_terms(pod, "podAntiAffinity")]
        for ni, other in state.snapshot.all_pods():
            for w, t, sign in mine:
                if term_selects(t, pod, other, ns_labels):
                    add(ni, t, sign * w)
            theirs = [(w, t, 1) for w, t in preferred_terms(other, "podAffinity")] + \
                     [(w, t, -1) for w, t in preferred_terms(other, "podAntiAffinity")] + \
                     [(HARD_POD_AFFINITY_WEIGHT, t, 1) for t in required_terms(other, "podAffinity")]
            for w, t, sign in theirs:
                if term_selects(t, other, pod, ns_labels):
                    add(ni, t, sign * w)
        state["ipa.score"] = scores
        return scores

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> float:
        scores = self._prescore(state, pod)
        return float(sum(scores.get((k, v), 0) for k, v in node.labels.items()))

    def normalize(self, state: CycleState, scores: dict[str, float]) -> dict[str, float]:
        if not scores:
            return scores
        low, high = min(scores.values()), max(scores.values())
        diff = high - low
        return {n: float(int(MAX_NODE_SCORE * (s - low) / diff)) if diff > 0 else 0.0 for n, s in scores.items()}
