"""Scheduling vocabulary shared by the scheduler and the node controllers: taints, tolerations,
node selectors and a pod's resource requests.

Kubernetes keeps these in ``k8s.io/component-helpers/scheduling/corev1`` and
``k8s.io/api/core/v1/toleration.go`` so that kube-scheduler, the taint-eviction controller and
the kubelet's admission agree on what "tolerates" means; minikube-lite does the same: the
scheduler's plugins and ``controllers/nodelifecycle.py`` both read this module.
"""

from __future__ import annotations

from typing import Any

from .quantity import parse_quantity

Obj = dict[str, Any]

# The taints the node lifecycle controller places, as in k8s.io/api/core/v1/well_known_taints.go
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
LABEL_HOSTNAME = "kubernetes.io/hostname"

# The scheduler counts a pod without requests as this much when it scores nodes
# (pkg/scheduler/util: DefaultMilliCPURequest, DefaultMemoryRequest), so that many zero-request
# pods are still spread instead of piled on one node.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


# ---- taints and tolerations ------------------------------------------------------------------

def toleration_tolerates(toleration: Obj, taint: Obj) -> bool:
    """``Toleration.ToleratesTaint``: effect (empty matches all), key (empty with Exists matches
    all), then the operator: Exists ignores the value, Equal (the default) compares it."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerates(tolerations: list[Obj] | None, taint: Obj) -> bool:
    return any(toleration_tolerates(t, taint) for t in tolerations or [])


def untolerated_taint(taints: list[Obj] | None, tolerations: list[Obj] | None,
                      effects: tuple[str, ...] = ("NoSchedule", "NoExecute")) -> Obj | None:
    """The first taint of ``effects`` no toleration tolerates (``FindMatchingUntoleratedTaint``)."""
    for taint in taints or []:
        if taint.get("effect") in effects and not tolerates(tolerations, taint):
            return taint
    return None


def node_taints(node: Obj) -> list[Obj]:
    return list((node.get("spec") or {}).get("taints") or [])


def pod_tolerations(pod: Obj) -> list[Obj]:
    return list((pod.get("spec") or {}).get("tolerations") or [])


# ---- node selectors (nodeSelector and node affinity) -----------------------------------------

def _number(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def requirement_matches(req: Obj, values_by_key: dict[str, str]) -> bool:
    """One ``NodeSelectorRequirement`` (In, NotIn, Exists, DoesNotExist, Gt, Lt) against labels
    or fields."""
    key, op, values = req.get("key"), req.get("operator"), req.get("values") or []
    present = key in values_by_key
    value = values_by_key.get(key or "")
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        have, want = _number(value or ""), _number(values[0]) if len(values) == 1 else None
        if not present or have is None or want is None:
            return False
        return have > want if op == "Gt" else have < want
    return False


def term_matches(term: Obj, node: Obj) -> bool:
    """A ``NodeSelectorTerm``: all its expressions and fields hold. A term with neither matches
    no node, as in Kubernetes."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    node_fields = {"metadata.name": (node.get("metadata") or {}).get("name", "")}
    return (all(requirement_matches(r, labels) for r in expressions)
            and all(requirement_matches(r, node_fields) for r in fields))


def node_selector_matches(selector: Obj | None, node: Obj) -> bool:
    """A ``NodeSelector``: its terms are ORed."""
    if selector is None:
        return True
    return any(term_matches(t, node) for t in selector.get("nodeSelectorTerms") or [])


def required_node_affinity_matches(pod: Obj, node: Obj) -> bool:
    """``nodeSelector`` AND the required node affinity (``GetRequiredNodeAffinity(pod).Match``)."""
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    return node_selector_matches(node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution"), node)


# ---- resources -------------------------------------------------------------------------------

def quantity(value: Any) -> float:
    try:
        return float(parse_quantity(value))
    except (TypeError, ValueError, ArithmeticError):
        return 0.0


def _container_requests(container: Obj) -> dict[str, float]:
    requests = (container.get("resources") or {}).get("requests") or {}
    return {name: quantity(v) for name, v in requests.items()}


def pod_requests(pod: Obj) -> dict[str, float]:
    """What the pod asks of a node (``resourcehelper.PodRequests``): the sum over its containers,
    at least the largest init container's (init containers run one at a time before them;
    a restartable init container, a sidecar, keeps running and adds to both), plus the pod's
    ``overhead``. CPU in cores, memory in bytes."""
    spec = pod.get("spec") or {}
    total: dict[str, float] = {}
    for c in spec.get("containers") or []:
        for name, v in _container_requests(c).items():
            total[name] = total.get(name, 0.0) + v
    sidecars: dict[str, float] = {}
    for c in spec.get("initContainers") or []:
        req = _container_requests(c)
        if c.get("restartPolicy") == "Always":
            for name, v in req.items():
                sidecars[name] = sidecars.get(name, 0.0) + v
                total[name] = total.get(name, 0.0) + v
            continue
        for name, v in req.items():  # a regular init container runs beside the sidecars started before it
            total[name] = max(total.get(name, 0.0), v + sidecars.get(name, 0.0))
    for name, v in (spec.get("overhead") or {}).items():
        total[name] = total.get(name, 0.0) + quantity(v)
    return total


def non_zero_requests(pod: Obj) -> tuple[float, float]:
    """(cpu cores, memory bytes) as the scores count them: a container asking nothing of one
    counts the default (``GetNonzeroRequests``)."""
    spec = pod.get("spec") or {}
    cpu = mem = 0.0
    for c in spec.get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += quantity(req["cpu"]) if "cpu" in req else DEFAULT_MILLI_CPU_REQUEST / 1000
        mem += quantity(req["memory"]) if "memory" in req else DEFAULT_MEMORY_REQUEST
    return cpu, mem


def node_allocatable(node: Obj) -> dict[str, float]:
    status = node.get("status") or {}
    source = status.get("allocatable") or status.get("capacity") or {}
    return {name: quantity(v) for name, v in source.items()}


def pod_is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
