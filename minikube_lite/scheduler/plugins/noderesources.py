"""NodeResourcesFit and NodeResourcesBalancedAllocation.

Fit: the pod's requests (``api.scheduling.pod_requests``) must fit in the node's allocatable
minus what the pods already bound there request, and the node's ``pods`` count must allow one
more; every shortfall is a reason (``Too many pods``, ``Insufficient cpu``, ``Insufficient
memory``, ...), all of which preemption could resolve. Its score is the default strategy,
``LeastAllocated`` over cpu and memory (weight 1 each): the emptier the node, the higher, with
pods that request nothing counted as 100m / 200Mi so they spread too.

BalancedAllocation prefers the node where cpu and memory would be used in the same proportion.
"""

from __future__ import annotations

import math
from typing import Any

from ...api.scheduling import node_allocatable, non_zero_requests, pod_requests
from ..framework import MAX_NODE_SCORE, CycleState, NodeInfo, Plugin, Status

_ORDER = ("cpu", "memory", "ephemeral-storage")


def _milli(v: float) -> int:
    return math.ceil(round(v * 1000, 6))


def _units(name: str, v: float) -> int:
    """cpu in millicores, everything else in whole units, rounded up as Quantity.Value() does."""
    return _milli(v) if name == "cpu" else math.ceil(round(v, 6))


def insufficient(pod: dict[str, Any], node: NodeInfo) -> list[str]:
    alloc = node_allocatable(node.node)
    reasons = []
    if len(node.pods) + 1 > int(alloc.get("pods", 0)):
        reasons.append("Too many pods")
    requests = {k: _units(k, v) for k, v in pod_requests(pod).items() if k != "pods"}
    if not any(requests.values()):
        return reasons
    names = [n for n in _ORDER if n in requests] + sorted(n for n in requests if n not in _ORDER)
    for name in names:
        want = requests[name]
        if want <= 0:
            continue
        free = _units(name, alloc.get(name, 0.0)) - _units(name, node.requested.get(name, 0.0))
        if want > free:
            reasons.append(f"Insufficient {name}")
    return reasons


class NodeResourcesFit(Plugin):
    name = "NodeResourcesFit"
    weight = 1

    def filter(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> Status | None:
        reasons = insufficient(pod, node)
        return Status.unschedulable(*reasons) if reasons else None

    def score(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> float:
        """LeastAllocated: mean over cpu and memory of (allocatable - requested) * 100 / allocatable."""
        alloc = node_allocatable(node.node)
        cpu, mem = non_zero_requests(pod)
        pairs = [(_milli(node.non_zero_cpu + cpu), _milli(alloc.get("cpu", 0.0))),
                 (math.ceil(node.non_zero_memory + mem), math.ceil(alloc.get("memory", 0.0)))]
        total = weights = 0
        for requested, capacity in pairs:
            if capacity == 0:
                continue
            total += 0 if requested > capacity else (capacity - requested) * int(MAX_NODE_SCORE) // capacity
            weights += 1
        return float(total // weights) if weights else 0.0


class BalancedAllocation(Plugin):
    name = "NodeResourcesBalancedAllocation"
    weight = 1

    def score(self, state: CycleState, pod: dict[str, Any], node: NodeInfo) -> float:
        alloc = node_allocatable(node.node)
        requests = pod_requests(pod)
        fractions = []
        for name in ("cpu", "memory"):
            capacity = alloc.get(name, 0.0)
            if capacity == 0:
                continue
            fractions.append(min(1.0, (node.requested.get(name, 0.0) + requests.get(name, 0.0)) / capacity))
        std = abs(fractions[0] - fractions[1]) / 2 if len(fractions) == 2 else 0.0
        return float(int((1 - std) * MAX_NODE_SCORE))
