"""The DaemonSet controller's decisions, as pure functions (Kubernetes' ``pkg/controller/daemon``).

* ``should_run``: whether a daemon pod belongs on a node: the template's ``nodeSelector`` and
  required node affinity match the node, and every ``NoSchedule``/``NoExecute`` taint of the node
  is tolerated (with the default tolerations a daemon pod gets);
* ``should_continue_running``: whether a daemon pod already there stays: as above, but only the
  ``NoExecute`` taints count (``NodeShouldRunDaemonPod``'s second answer: an unreachable node's
  ``NoSchedule`` taint stops a new pod, not the one running);
* ``default_tolerations``: what Kubernetes adds to every daemon pod (``util.AddOrUpdateDaemonPodTolerations``):
  not-ready and unreachable (NoExecute), disk/memory/pid pressure and unschedulable (NoSchedule),
  network-unavailable for ``hostNetwork`` pods;
* ``node_affinity_for``: the pod is bound by the default scheduler, pinned to its node by a
  required ``matchFields`` term on ``metadata.name`` (what Kubernetes does since 1.12);
* ``rolling_plan``: which old pods to delete (``maxUnavailable``) or which nodes get a surge pod.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from ..api import scheduling as sched

Obj = dict[str, Any]

_DEFAULT_TOLERATIONS = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
]


def default_tolerations(pod_spec: Obj) -> list[Obj]:
    """The pod's tolerations with the daemon ones added (kept in Kubernetes' order, no duplicates)."""
    out = copy.deepcopy(pod_spec.get("tolerations") or [])
    wanted = list(_DEFAULT_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        wanted.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
    for key, effect in wanted:
        if any(t.get("key") == key and t.get("effect") == effect for t in out):
            continue
        out.append({"key": key, "operator": "Exists", "effect": effect})
    return out


def _fits(pod_spec: Obj, node: Obj, effects: tuple[str, ...]) -> bool:
    if not sched.required_node_affinity_matches({"spec": pod_spec}, node):
        return False
    return sched.untolerated_taint(sched.node_taints(node), default_tolerations(pod_spec), effects) is None


def should_run(pod_spec: Obj, node: Obj) -> bool:
    """The template's nodeSelector and required node affinity match the node, and every
    NoSchedule/NoExecute taint is tolerated with the daemon tolerations added (the scheduler's own
    rules, ``api/scheduling``, as Kubernetes' daemon controller calls the scheduler's predicates)."""
    return _fits(pod_spec, node, ("NoSchedule", "NoExecute"))


def should_continue_running(pod_spec: Obj, node: Obj) -> bool:
    """A daemon pod on the node is kept: what ``should_run`` asks, with only NoExecute taints counted."""
    return _fits(pod_spec, node, ("NoExecute",))


def node_affinity_for(affinity: Obj | None, node_name: str) -> Obj:
    """The pod's affinity with its required node terms replaced by "this node" (ReplaceDaemonSetPodNodeNameNodeAffinity)."""
    out = copy.deepcopy(affinity or {})
    node_affinity = out.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [{"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}
    return out


def pod_node(pod: Obj) -> str | None:
    """The node a daemon pod is for: where it is bound, else the node its affinity names."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
    for term in terms:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and f.get("values"):
                return str(f["values"][0])
    return None


def scaled(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        amount = int(value[:-1]) * total / 100
        return math.ceil(amount) if round_up else math.floor(amount)
    return int(value or 0)


def rolling_plan(spec: Obj, desired: int, old_on_node: dict[str, Obj], new_on_node: dict[str, Obj],
                 available: Any) -> tuple[list[str], list[str]]:
    """(nodes whose old pod to delete, nodes to get a surge pod) for one RollingUpdate step.

    ``old_on_node`` / ``new_on_node``: the old- and update-revision pod of each node that should
    run one; ``available(pod)`` says whether a pod counts as available.
    """
    rolling = ((spec.get("updateStrategy") or {}).get("rollingUpdate")) or {}
    surge = scaled(rolling.get("maxSurge", 0), desired, round_up=True)
    if surge > 0:
        delete = [n for n, old in old_on_node.items() if n in new_on_node and available(new_on_node[n])]
        busy = sum(1 for n in old_on_node if n in new_on_node and not available(new_on_node[n]))
        room = max(0, surge - busy)
        add = [n for n in sorted(old_on_node) if n not in new_on_node][:room]
        return delete, add
    max_unavailable = max(1, scaled(rolling.get("maxUnavailable", 1), desired, round_up=False))
    nodes = set(old_on_node) | set(new_on_node)
    unavailable = sum(1 for n in nodes if not available(new_on_node.get(n) or old_on_node.get(n)))
    # unavailable old pods go first: deleting them costs no availability
    ranked = sorted(old_on_node, key=lambda n: (available(old_on_node[n]), n))
    delete = []
    for node in ranked:
        if not available(old_on_node[node]):
            delete.append(node)
        elif unavailable < max_unavailable:
            delete.append(node)
            unavailable += 1
    return delete, []
