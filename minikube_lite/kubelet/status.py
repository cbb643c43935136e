"""A pod's status, computed from what Docker says about its containers.

Pure functions: the kubelet gathers the container records (``docker inspect`` of the pod's
containers, found by label) and what it remembers about containers that wait (image pull
failures, back-off), and this module turns them into ``containerStatuses``, the phase, the
conditions and the QoS class exactly as Kubernetes' kubelet reports them, so ``kubectl get
pods`` prints the same STATUS and RESTARTS a learner would see on a real node.

The restart decision (``should_restart``) lives here too: phase and restarts must agree on
which exits are final.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..api.defaults import qos_class as spec_qos_class
from .runtime import SANDBOX, ContainerRecord


@dataclass(frozen=True)
class Waiting:
    """Why a container is not running right now, as the kubelet knows it."""

    reason: str
    message: str = ""


@dataclass
class Observed:
    """What the kubelet knows of a pod beyond Docker's records (all optional)."""

    ready: dict[str, bool] = field(default_factory=dict)  # container name -> readiness probe result
    started: dict[str, bool] = field(default_factory=dict)  # container name -> startup probe passed
    messages: dict[str, str] = field(default_factory=dict)  # container id -> termination message


def should_restart(restart_policy: str, exit_code: int) -> bool:
    """Whether a finished container is run again, by the pod's ``restartPolicy``."""
    if restart_policy == "Never":
        return False
    if restart_policy == "OnFailure":
        return exit_code != 0
    return True  # Always (the default)


def terminated_reason(record: ContainerRecord) -> str:
    if record.oom_killed:
        return "OOMKilled"
    if record.error:
        return "ContainerCannotRun"
    return "Completed" if record.exit_code == 0 else "Error"


def terminated_state(record: ContainerRecord, message: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "exitCode": record.exit_code,
        "reason": terminated_reason(record),
        "startedAt": record.started_at,
        "finishedAt": record.finished_at,
        "containerID": f"docker://{record.id}",
    }
    msg = record.error or message
    if msg:
        state["message"] = msg
    return state


def _image_id(record: ContainerRecord) -> str:
    return f"docker://{record.image_id}" if record.image_id else ""


def container_status(spec: dict[str, Any], records: list[ContainerRecord], waiting: Waiting | None,
                     observed: Observed | None = None) -> dict[str, Any]:
    """One entry of ``containerStatuses``; ``records`` are this container's attempts, oldest first.

    A running container is ``started`` unless its startup probe has not passed yet, and ``ready``
    when started and (with a readiness probe) the probe says so, as Kubernetes' prober does.
    """
    seen = observed or Observed()
    messages = seen.messages
    latest = records[-1] if records else None
    previous = records[-2] if len(records) >= 2 else None
    status: dict[str, Any] = {
        "name": spec["name"],
        "image": spec.get("image", ""),
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": latest.restart_count if latest else 0,
        "state": {},
        "lastState": {},
    }
    if latest is None:
        w = waiting or Waiting("ContainerCreating")
        status["state"] = {"waiting": _waiting(w)}
        return status
    status["containerID"] = f"docker://{latest.id}"
    status["imageID"] = _image_id(latest)
    if latest.running:
        status["state"] = {"running": {"startedAt": latest.started_at}}
        status["started"] = seen.started.get(spec["name"], True)
        status["ready"] = status["started"] and seen.ready.get(spec["name"], True)
        if previous is not None and previous.finished:
            status["lastState"] = {"terminated": terminated_state(previous, messages.get(previous.id))}
    elif latest.finished:
        if waiting is not None:  # about to run again (back-off, or a new attempt being made)
            status["state"] = {"waiting": _waiting(waiting)}
            status["lastState"] = {"terminated": terminated_state(latest, messages.get(latest.id))}
        else:
            status["state"] = {"terminated": terminated_state(latest, messages.get(latest.id))}
            if previous is not None and previous.finished:
                status["lastState"] = {"terminated": terminated_state(previous, messages.get(previous.id))}
    else:  # created, not started yet
        status["state"] = {"waiting": _waiting(waiting or Waiting("ContainerCreating"))}
        if previous is not None and previous.finished:
            status["lastState"] = {"terminated": terminated_state(previous, messages.get(previous.id))}
    return status


def _waiting(w: Waiting) -> dict[str, str]:
    return {"reason": w.reason, "message": w.message} if w.message else {"reason": w.reason}


def group_records(records: Iterable[ContainerRecord]) -> dict[str, list[ContainerRecord]]:
    """Records by container name, each list oldest attempt first."""
    out: dict[str, list[ContainerRecord]] = {}
    for r in sorted(records, key=lambda r: (r.restart_count, r.started_at or "")):
        out.setdefault(r.name, []).append(r)
    return out


def pod_phase(restart_policy: str, statuses: list[dict[str, Any]], init_statuses: list[dict[str, Any]],
              init_done: bool, previous_phase: str | None) -> str:
    """Kubernetes' ``getPhase``: Pending, Running, Succeeded or Failed (terminal phases stick)."""
    if previous_phase in ("Succeeded", "Failed"):
        return previous_phase
    if not init_done:
        for s in init_statuses:
            term = s["state"].get("terminated") or s["lastState"].get("terminated")
            if restart_policy == "Never" and term and term.get("exitCode", 0) != 0 and "terminated" in s["state"]:
                return "Failed"
        return "Pending"
    waiting = running = stopped = succeeded = 0
    for s in statuses:
        state = s["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode") == 0:
                succeeded += 1
        elif "waiting" in state:
            if "terminated" in s["lastState"]:
                stopped += 1
            else:
                waiting += 1
    if waiting > 0:
        return "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def qos_class(pod: dict[str, Any]) -> str:
    """BestEffort (no requests or limits), Guaranteed (limits == requests for cpu and memory), else Burstable."""
    return spec_qos_class(pod.get("spec") or {})


def _condition(kind: str, ok: bool, previous: dict[str, dict[str, Any]], now: str, reason: str | None = None,
               message: str | None = None) -> dict[str, Any]:
    value = "True" if ok else "False"
    old = previous.get(kind)
    since = old.get("lastTransitionTime") if old and old.get("status") == value else None
    cond: dict[str, Any] = {"type": kind, "status": value, "lastProbeTime": None,
                            "lastTransitionTime": since or now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def pod_status(
    pod: dict[str, Any],
    records: list[ContainerRecord],
    waiting: dict[str, Waiting],
    *,
    host_ip: str,
    now: str,
    observed: Observed | None = None,
) -> dict[str, Any]:
    """The whole ``status`` of ``pod`` from its containers' records (of its current uid only)."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    restart_policy = spec.get("restartPolicy") or "Always"
    grouped = group_records(records)
    sandboxes = grouped.pop(SANDBOX, [])
    sandbox = sandboxes[-1] if sandboxes and sandboxes[-1].running else None

    init_statuses = [container_status(c, grouped.get(c["name"], []), waiting.get(c["name"]), observed)
                     for c in spec.get("initContainers") or []]
    init_done = all(
        "terminated" in s["state"] and s["state"]["terminated"].get("exitCode") == 0 for s in init_statuses
    )
    statuses = [container_status(c, grouped.get(c["name"], []), waiting.get(c["name"]), observed)
                for c in spec.get("containers") or []]
    if not init_done:  # app containers wait for the init containers: PodInitializing
        for s in statuses:
            if "waiting" in s["state"] and s["state"]["waiting"]["reason"] == "ContainerCreating":
                s["state"] = {"waiting": {"reason": "PodInitializing"}}
    phase = pod_phase(restart_policy, statuses, init_statuses, init_done, old.get("phase"))

    previous_conditions = {c.get("type", ""): c for c in old.get("conditions") or []}
    unready = [s["name"] for s in statuses if not s["ready"]]
    all_ready = not unready and bool(statuses)
    if phase == "Succeeded":
        reason, message = "PodCompleted", None
        all_ready = False
    elif unready:
        reason, message = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
    else:
        reason = message = None
    uninitialized = [s["name"] for s in init_statuses
                     if not ("terminated" in s["state"] and s["state"]["terminated"].get("exitCode") == 0)]
    init_reason = init_message = None
    if phase == "Succeeded" and init_statuses:
        init_reason = "PodCompleted"
    elif uninitialized:
        init_reason = "ContainersNotInitialized"
        init_message = f"containers with incomplete status: [{' '.join(uninitialized)}]"
    conditions = [
        _condition("PodReadyToStartContainers", sandbox is not None, previous_conditions, now),
        _condition("Initialized", init_done, previous_conditions, now, init_reason, init_message),
        _condition("Ready", all_ready, previous_conditions, now, reason, message),
        _condition("ContainersReady", all_ready, previous_conditions, now, reason, message),
        _condition("PodScheduled", True, previous_conditions, now),
    ]

    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": old.get("startTime") or now,
        "containerStatuses": statuses,
        "qosClass": qos_class(pod),
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    ephemeral = [container_status(c, grouped.get(c["name"], []), waiting.get(c["name"]), observed)
                 for c in spec.get("ephemeralContainers") or []]
    for s in ephemeral:
        s["ready"] = False  # ephemeral containers are never ready, as in Kubernetes
    if ephemeral:
        status["ephemeralContainerStatuses"] = ephemeral
    pod_ip = sandbox.ip if sandbox else None
    if pod_ip is None and phase in ("Succeeded", "Failed"):
        pod_ip = old.get("podIP")  # a finished pod keeps the address it had
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    return status


def same_status(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
    """Whether writing ``b`` over ``a`` would change anything (so the kubelet can skip the write)."""
    return (a or {}) == b
