"""Pod (core/v1): validation, defaults, Table and the REST strategy of ``pkg/registry/core/pod``.

A Pod is the one kind whose deletion is graceful: a DELETE of a pod running on a node only sets
``deletionTimestamp`` + ``deletionGracePeriodSeconds``; its kubelet stops the containers and then
deletes it for good with grace 0. On create its status is reset to ``Pending`` with the QoS
class, as PrepareForCreate does. The PodSpec rules shared with pod templates live in
``podspec.py`` and ``defaults.py``.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from minikube_lite.api import mergekeys
from minikube_lite.api.admission import default_toleration_seconds
from minikube_lite.api.conditions import find
from minikube_lite.api.defaults import apply_defaults_to_pod_spec, qos_class
from minikube_lite.api.kind import Kind, StoreView, Strategy
from minikube_lite.api.models import Pod
from minikube_lite.api.podspec import validate_pod_spec
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, human_duration, name, parse_time
from minikube_lite.api.validation import ErrorList, differences, normalized

Obj = dict[str, Any]

# pods/eviction is the Eviction API (apiserver/eviction.py): its kind is policy/v1 Eviction, which
# kubectl drain looks for in discovery before it evicts rather than deletes
RESOURCE = Resource("", "v1", "pods", "pod", "Pod", True, ("po",), ("all",), tuple(ALL_VERBS),
                    ("status", "log", "exec", "attach", "portforward", "ephemeralcontainers", "binding",
                     "eviction"), {"eviction": ("Eviction", "policy", "v1")})


# --- validation ------------------------------------------------------------------------------

def validate_pod(errs: ErrorList, obj: Obj) -> None:
    validate_pod_spec(errs, obj.get("spec"))

_UPDATABLE_POD_FIELDS = (
    "`spec.containers[*].image`,"
    "`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _toleration_key(tol: dict[str, Any]) -> tuple[Any, ...]:
    return (tol.get("key") or "", tol.get("operator") or "Equal", tol.get("value") or "", tol.get("effect") or "")


def validate_pod_update(errs: ErrorList, old: dict[str, Any], new: dict[str, Any]) -> None:
    """The spec is immutable except images, activeDeadlineSeconds (may only shrink) and tolerations
    (additions)."""
    old_spec = copy.deepcopy(old.get("spec") or {})
    new_spec = copy.deepcopy(new.get("spec") or {})
    apply_defaults_to_pod_spec(old_spec)
    apply_defaults_to_pod_spec(new_spec)
    for key in ("containers", "initContainers"):
        if len(old_spec.get(key) or []) != len(new_spec.get(key) or []):
            errs.forbidden(f"spec.{key}", "pod updates may not add or remove containers")
            return
    old_ads, new_ads = old_spec.get("activeDeadlineSeconds"), new_spec.get("activeDeadlineSeconds")
    if old_ads is not None:
        if new_ads is None:
            errs.invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value")
        elif new_ads > old_ads:
            errs.invalid("spec.activeDeadlineSeconds", new_ads, "must be less than or equal to previous value")
    new_tols = {_toleration_key(t) for t in new_spec.get("tolerations") or []}
    for tol in old_spec.get("tolerations") or []:
        if _toleration_key(tol) not in new_tols:
            errs.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds")
            break
    munged = copy.deepcopy(new_spec)
    for key in ("containers", "initContainers"):
        for new_c, old_c in zip(munged.get(key) or [], old_spec.get(key) or []):
            new_c["image"] = old_c.get("image")
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        munged.pop(key, None)
        if key in old_spec:
            munged[key] = old_spec[key]
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if old_spec.get("schedulingGates"):
        # Gated pods may gain nodeSelector entries and affinity (Kubernetes allows additions).
        munged["nodeSelector"] = old_spec.get("nodeSelector")
        munged["affinity"] = old_spec.get("affinity")
    old_n, new_n = normalized(old_spec), normalized(munged)
    if old_n != new_n:
        diff = "\n".join("  " + d for d in differences(old_n, new_n, "spec")[:20])
        errs.forbidden("spec", f"pod updates may not change fields other than {_UPDATABLE_POD_FIELDS}\n{diff}")


# --- defaults --------------------------------------------------------------------------------

def default_pod(obj: Obj) -> None:
    apply_defaults_to_pod_spec(obj.setdefault("spec", {}))
    # The DefaultTolerationSeconds admission runs on create and on update (before validation, as
    # admission does), so a `kubectl replace` of a manifest without the tolerations keeps them
    # instead of being refused for removing a toleration.
    default_toleration_seconds(obj)


# --- Table -----------------------------------------------------------------------------------

COLUMNS = [
        NAME_COLUMN,
        column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        column("Status", "The aggregate status of the containers in this pod."),
        column("Restarts", "The number of times the containers in this pod have been restarted and when the last "
                         "container in this pod has restarted."),
        AGE_COLUMN,
        column("IP", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
                   "allocated.", priority=1),
        column("Node", "NodeName indicates in which node this pod is scheduled.", priority=1),
        column("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods on the node, but "
                               "it cannot be scheduled right away as preemption victims receive their graceful "
                               "termination periods.", priority=1),
        column("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness. A pod is "
                                "ready when all its containers are ready AND all conditions specified in the "
                                "readiness gates have status equal to \"True\"", priority=1),
]

def _condition_true(conditions: list[dict[str, Any]], ctype: str) -> bool:
    return (find(conditions, ctype) or {}).get("status") == "True"


def _terminated_reason(term: dict[str, Any], prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + term["reason"]
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode') or 0}"


def _later(current: datetime | None, state: dict[str, Any] | None) -> datetime | None:
    finished = parse_time(((state or {}).get("terminated") or {}).get("finishedAt"))
    if finished is not None and (current is None or finished > current):
        return finished
    return current


def pod_status_reason(pod: dict[str, Any]) -> tuple[str, int, int, int, datetime | None]:
    """STATUS, ready containers, total containers, restarts and the last restart time of a pod,
    derived as Kubernetes' printPod derives them."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    conditions = status.get("conditions") or []
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecars = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        restarts += cs.get("restartCount") or 0
        last_restart = _later(last_restart, cs.get("lastState"))
        is_sidecar = cs.get("name") in sidecars
        if is_sidecar:
            sidecar_restarts += cs.get("restartCount") or 0
            last_sidecar_restart = _later(last_sidecar_restart, cs.get("lastState"))
        state = cs.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term is not None and (term.get("exitCode") or 0) == 0:
            continue
        if is_sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term is not None:
            reason = _terminated_reason(term, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount") or 0
            last_restart = _later(last_restart, cs.get("lastState"))
            state = cs.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None:
                reason = _terminated_reason(term)
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, total, restarts, last_restart


def pod_cells(pod: dict[str, Any], now: datetime) -> list[Any]:
    reason, ready, total, restarts, last_restart = pod_status_reason(pod)
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    pod_ips = status.get("podIPs") or []
    ip = (pod_ips[0].get("ip") if pod_ips else "") or status.get("podIP") or "<none>"
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        true_count = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
        gates_text = f"{true_count}/{len(gates)}"
    return [
        name(pod), f"{ready}/{total}", reason, restarts_text, age(pod, now),
        ip, spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates_text,
    ]


# Rows of finished pods carry a "Completed" condition, as Kubernetes' printer marks them.
_POD_DONE_CONDITIONS = {
    "Succeeded": {"type": "Completed", "status": "True", "reason": "Succeeded",
                  "message": "The pod has completed successfully."},
    "Failed": {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."},
}


def pod_row_conditions(pod: Obj) -> list[Obj]:
    phase = (pod.get("status") or {}).get("phase")
    return [dict(_POD_DONE_CONDITIONS[phase])] if phase in _POD_DONE_CONDITIONS else []


# --- strategy --------------------------------------------------------------------------------

class PodStrategy(Strategy):
    graceful = True

    def prepare_create(self, obj: Obj, store: StoreView) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}
        from minikube_lite.auth.admission import admit_pod  # the ServiceAccount admission plugin

        admit_pod(obj, store.list_all("serviceaccounts") if store is not None else [])

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """A pod that runs on a node is stopped by its kubelet first; pods that never started
        (or have finished) go at once."""
        grace = requested
        if grace is None:
            grace = int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        phase = (obj.get("status") or {}).get("phase")
        on_node = bool((obj.get("spec") or {}).get("nodeName"))
        return grace if grace > 0 and on_node and phase not in ("Succeeded", "Failed") else 0

    def may_vanish(self, obj: Obj) -> bool:
        """A pod in graceful deletion waits for its kubelet (which deletes it with grace 0)."""
        return not obj["metadata"].get("deletionGracePeriodSeconds")

    def update_subresource(self, subresource: str, old: Obj, obj: Obj) -> Obj | None:
        """``pods/<name>/ephemeralcontainers`` (kubectl debug): add-only, in api/ephemeral.py."""
        if subresource == "ephemeralcontainers":
            from minikube_lite.api import ephemeral

            return ephemeral.update(RESOURCE, old, obj)
        return None


POD = Kind(
    RESOURCE, model=Pod, validate=validate_pod, validate_update=validate_pod_update, default=default_pod,
    columns=COLUMNS, cells=pod_cells, row_conditions=pod_row_conditions,
    merge_keys=mergekeys.merge_keys(mergekeys.pod_spec_at("spec"), mergekeys.CONDITIONS,
                                    {"status.podIPs": "ip", "status.hostIPs": "ip"}),
    strategy=PodStrategy(),
)
KINDS = [POD]
