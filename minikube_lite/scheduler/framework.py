"""kube-scheduler's scheduling framework, reduced to what one cycle needs.

A cycle takes one pending pod and a snapshot of the cluster (every node with the pods bound to
it): each *filter* plugin may reject a node with a ``Status`` (its code says whether preemption
could help: ``Unschedulable``) or not (``UnschedulableAndUnresolvable``); the first plugin to
reject a node decides its reason, as ``RunFilterPlugins`` stops there. The nodes left are
*scored* by every score plugin (0..100 after normalisation, times the plugin's weight) and the
best total wins, ties broken at random as ``selectHost`` does.

When no node is left, the message is built as ``FitError.Error()`` builds it: a histogram of the
reasons, sorted as strings, then what the default preemption plugin found: a node rejected as
``Unschedulable`` is a preemption candidate, and with no pod of lower priority on it there is
``No preemption victims found for incoming pod``; every other node is counted as
``Preemption is not helpful for scheduling``.

Plugins live in ``scheduler/plugins/`` one per Kubernetes plugin, with the same names.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..api.scheduling import non_zero_requests, pod_is_terminal, pod_requests

Obj = dict[str, Any]

UNSCHEDULABLE = "Unschedulable"
UNRESOLVABLE = "UnschedulableAndUnresolvable"
MAX_NODE_SCORE = 100.0
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


@dataclass
class Status:
    code: str
    reasons: list[str]
    plugin: str = ""

    @classmethod
    def unschedulable(cls, *reasons: str) -> Status:
        return cls(UNSCHEDULABLE, list(reasons))

    @classmethod
    def unresolvable(cls, *reasons: str) -> Status:
        return cls(UNRESOLVABLE, list(reasons))


def pod_key(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def pod_priority(pod: Obj) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


@dataclass
class NodeInfo:
    """A node and the pods bound to it (terminal pods free their resources and are left out)."""

    node: Obj
    pods: list[Obj] = field(default_factory=list)
    requested: dict[str, float] = field(default_factory=dict)
    non_zero_cpu: float = 0.0
    non_zero_memory: float = 0.0

    @property
    def name(self) -> str:
        return str((self.node.get("metadata") or {}).get("name"))

    @property
    def labels(self) -> dict[str, str]:
        return (self.node.get("metadata") or {}).get("labels") or {}

    def add_pod(self, pod: Obj) -> None:
        self.pods.append(pod)
        for name, v in pod_requests(pod).items():
            self.requested[name] = self.requested.get(name, 0.0) + v
        cpu, mem = non_zero_requests(pod)
        self.non_zero_cpu += cpu
        self.non_zero_memory += mem


@dataclass
class Snapshot:
    """The cluster as one cycle sees it (``SnapshotSharedLister``)."""

    nodes: list[NodeInfo]
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    # the selector of the pod's Services and owning ReplicaSet (``helper.DefaultSelector``)
    default_selectors: dict[str, list[Obj]] = field(default_factory=dict)

    @classmethod
    def build(cls, nodes: Iterable[Obj], pods: Iterable[Obj], *,
              namespaces: Iterable[Obj] = ()) -> Snapshot:
        infos = {str(n["metadata"]["name"]): NodeInfo(n) for n in nodes}
        for pod in pods:
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name in infos and not pod_is_terminal(pod):
                infos[node_name].add_pod(pod)
        ns_labels = {str(ns["metadata"]["name"]): (ns["metadata"].get("labels") or {}) for ns in namespaces}
        return cls(list(infos.values()), ns_labels)

    def all_pods(self) -> Iterable[tuple[NodeInfo, Obj]]:
        for ni in self.nodes:
            for pod in ni.pods:
                yield ni, pod


class CycleState(dict[str, Any]):
    """What plugins compute once per pod and read for every node (``framework.CycleState``)."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.feasible: list[NodeInfo] = []


class Plugin:
    """A filter and/or score plugin. Subclasses override what they take part in."""

    name = ""
    weight = 0  # the default profile's score weight; 0 = not a score plugin

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status | None:
        return None

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> float:
        return 0.0

    def normalize(self, state: CycleState, scores: dict[str, float]) -> dict[str, float]:
        return scores


def normalize_to_max(scores: dict[str, float], *, reverse: bool = False) -> dict[str, float]:
    """``helper.DefaultNormalizeScore``: scale so the highest is 100 (or reversed: lowest is 100)."""
    top = max(scores.values(), default=0.0)
    if top == 0:
        return {n: (MAX_NODE_SCORE if reverse else 0.0) for n in scores}
    out = {n: float(int(MAX_NODE_SCORE * s // top)) for n, s in scores.items()}  # Go's integer division
    return {n: MAX_NODE_SCORE - s for n, s in out.items()} if reverse else out


@dataclass
class Result:
    node: str | None
    statuses: dict[str, Status]
    scores: dict[str, float] = field(default_factory=dict)
    message: str = ""


def run_filters(plugins: list[Plugin], state: CycleState, pod: Obj, node: NodeInfo) -> Status | None:
    for plugin in plugins:
        status = plugin.filter(state, pod, node)
        if status is not None:
            status.plugin = plugin.name
            return status
    return None


def schedule(plugins: list[Plugin], pod: Obj, snapshot: Snapshot, *, rng: random.Random | None = None) -> Result:
    """One scheduling cycle: filter, score, pick. ``Result.node`` is None when nothing fits."""
    state = CycleState(snapshot)
    statuses: dict[str, Status] = {}
    for ni in snapshot.nodes:
        status = run_filters(plugins, state, pod, ni)
        if status is None:
            state.feasible.append(ni)
        else:
            statuses[ni.name] = status
    if not state.feasible:
        return Result(None, statuses, message=fit_error(pod, snapshot, statuses))
    if len(state.feasible) == 1:
        return Result(state.feasible[0].name, statuses)
    totals = {ni.name: 0.0 for ni in state.feasible}
    for plugin in plugins:
        if not plugin.weight:
            continue
        raw = {ni.name: plugin.score(state, pod, ni) for ni in state.feasible}
        for name, s in plugin.normalize(state, raw).items():
            totals[name] += s * plugin.weight
    best = max(totals.values())
    winners = sorted(n for n, s in totals.items() if s == best)
    return Result((rng or random).choice(winners), statuses, totals)


def _histogram(counts: dict[str, int]) -> str:
    return ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items()))


def fit_error(pod: Obj, snapshot: Snapshot, statuses: dict[str, Status]) -> str:
    """``0/N nodes are available: <reasons>. preemption: 0/N nodes are available: <...>.``"""
    total = len(snapshot.nodes)
    reasons: dict[str, int] = {}
    for status in statuses.values():
        for reason in status.reasons:
            reasons[reason] = reasons.get(reason, 0) + 1
    message = f"0/{total} nodes are available"
    message += f": {_histogram(reasons)}." if reasons else ":"
    preemption = preemption_message(pod, snapshot, statuses)
    if preemption:
        message += f" {preemption}."
    return message


def preemption_message(pod: Obj, snapshot: Snapshot, statuses: dict[str, Status]) -> str:
    """What DefaultPreemption's PostFilter says when it finds no candidate.

    minikube-lite has no PriorityClasses, so pods are of equal priority unless ``spec.priority``
    says otherwise; a node where lower-priority pods run would need real preemption, which is
    not done: it is reported with the filter's own reason, as when evicting them would not
    make room."""
    if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return "preemption: not eligible due to preemptionPolicy=Never"
    total = len(snapshot.nodes)
    if total == 0:
        return ""
    priority = pod_priority(pod)
    counts: dict[str, int] = {}
    by_name = {ni.name: ni for ni in snapshot.nodes}
    for name, status in statuses.items():
        if status.code != UNSCHEDULABLE:
            continue
        if not any(pod_priority(p) < priority for p in by_name[name].pods):
            counts[NO_VICTIMS] = counts.get(NO_VICTIMS, 0) + 1
        else:
            for reason in status.reasons:
                counts[reason] = counts.get(reason, 0) + 1
    rest = total - sum(1 for s in statuses.values() if s.code == UNSCHEDULABLE)
    if rest:
        counts[PREEMPTION_NOT_HELPFUL] = counts.get(PREEMPTION_NOT_HELPFUL, 0) + rest
    return f"preemption: 0/{total} nodes are available: {_histogram(counts)}"
