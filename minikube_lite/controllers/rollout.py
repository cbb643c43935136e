"""Pure helpers shared by the Deployment and ReplicaSet controllers (Kubernetes'
``pkg/controller/deployment/util`` and ``controller_utils`` in spirit): the pod-template-hash,
revisions, maxSurge/maxUnavailable arithmetic, pod readiness and availability, owner
references and conditions.

Nothing here talks to the API: every function takes plain dicts and returns values, so the
decisions can be unit-tested without a cluster.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from typing import Any

from ..api.conditions import condition, find
from ..api.conditions import ready as pod_ready  # ro.pod_ready, for the workload controllers
from ..api.times import parse_time  # ro.parse_time
from ..api.times import rfc3339 as iso  # ro.iso

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Annotations of a Deployment that are not copied onto its ReplicaSets.
_NOT_COPIED = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
               "deprecated.deployment.rollback.to"}
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# --- time ------------------------------------------------------------------------------------------

def now() -> datetime:
    return datetime.now(UTC)


# --- the template hash -------------------------------------------------------------------------------

def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """Kubernetes' rand.SafeEncodeString: each character mapped onto an alphabet without vowels."""
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in s)


def template_hash(template: Obj, collision_count: int | None = None) -> str:
    """The ``pod-template-hash`` of a pod template, as Kubernetes' ComputeHash: FNV-32a of the
    template (here its canonical JSON) plus the collision count, printed in decimal and
    safe-encoded."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    return safe_encode(str(_fnv32a(data)))


def equal_ignore_hash(a: Obj | None, b: Obj | None) -> bool:
    """Two pod templates are the same apart from the pod-template-hash label."""
    a, b = copy.deepcopy(a or {}), copy.deepcopy(b or {})
    for t in (a, b):
        meta = t.setdefault("metadata", {})
        labels = dict(meta.get("labels") or {})
        labels.pop(HASH_LABEL, None)
        if labels:
            meta["labels"] = labels
        else:
            meta.pop("labels", None)
        for key in [k for k, v in meta.items() if v in (None, {}, [])]:
            meta.pop(key)
    return a == b


# --- revisions ---------------------------------------------------------------------------------------

def revision(obj: Obj | None) -> int:
    try:
        return int(((obj or {}).get("metadata") or {}).get("annotations", {}).get(REVISION, "0"))
    except (TypeError, ValueError):
        return 0


def copy_annotations(deployment: Obj, rs: Obj) -> bool:
    """Copy the Deployment's annotations (change-cause ...) onto the ReplicaSet; True when changed."""
    src = deployment["metadata"].get("annotations") or {}
    dst = rs["metadata"].setdefault("annotations", {})
    changed = False
    for k, v in src.items():
        if k in _NOT_COPIED or dst.get(k) == v:
            continue
        dst[k] = v
        changed = True
    return changed


# --- replica arithmetic --------------------------------------------------------------------------------

def _scaled_value(value: Any, total: int, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    s = str(value)
    if s.endswith("%"):
        pct = int(s[:-1] or 0)
        exact = pct * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(s)


def surge_and_unavailable(deployment: Obj) -> tuple[int, int]:
    """maxSurge (rounded up) and maxUnavailable (rounded down) resolved against spec.replicas.
    If both end up 0, maxUnavailable becomes 1 so the rollout can progress (as Kubernetes)."""
    spec = deployment.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    replicas = int(spec.get("replicas", 1))
    surge = _scaled_value(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = _scaled_value(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def max_surge(deployment: Obj) -> int:
    return surge_and_unavailable(deployment)[0]


def max_unavailable(deployment: Obj) -> int:
    spec = deployment.get("spec") or {}
    if (spec.get("strategy") or {}).get("type") == "Recreate" or int(spec.get("replicas", 1)) == 0:
        return 0
    return surge_and_unavailable(deployment)[1]


def spec_replicas(obj: Obj | None) -> int:
    return int(((obj or {}).get("spec") or {}).get("replicas", 0) or 0)


def status_field(obj: Obj | None, key: str) -> int:
    return int(((obj or {}).get("status") or {}).get(key, 0) or 0)


def counted_available(rs: Obj | None) -> int:
    """The available pods of a ReplicaSet that may be counted on: at most its ``spec.replicas``.
    Right after a scale-down its status still counts the pods being removed; counting those would
    let a rolling update take away more old pods than maxUnavailable allows."""
    return min(status_field(rs, "availableReplicas"), spec_replicas(rs))


# --- pods ----------------------------------------------------------------------------------------

def pod_available(pod: Obj, min_ready_seconds: int, at: datetime) -> bool:
    c = condition(pod, "Ready")
    if not c or c.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(c.get("lastTransitionTime"))
    return since is not None and (at - since).total_seconds() >= min_ready_seconds


def pod_active(pod: Obj) -> bool:
    """Counted by a ReplicaSet: not finished and not terminating (Kubernetes' FilterActivePods)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def deletion_rank(pod: Obj) -> tuple[int, int, int, int, str]:
    """Sort key: pods to delete first come first (unscheduled, pending, not ready, restarted, newest)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    scheduled = 1 if spec.get("nodeName") else 0
    phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", "Pending"), 0)
    ready = 1 if pod_ready(pod) else 0
    restarts = sum(int(cs.get("restartCount", 0)) for cs in status.get("containerStatuses") or [])
    created = pod["metadata"].get("creationTimestamp") or ""
    # Newer first: invert the timestamp order by sorting on its negation in the caller.
    return scheduled, phase, ready, -restarts, _invert(created)


def _invert(s: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in s)


# --- ownership -------------------------------------------------------------------------------------

def controller_ref(obj: Obj) -> Obj | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_reference(owner: Obj) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


# --- conditions -------------------------------------------------------------------------------------

def get_condition(status: Obj, ctype: str) -> Obj | None:
    return find(status.get("conditions"), ctype)


def set_condition(status: Obj, ctype: str, cstatus: str, reason: str, message: str, at: datetime,
                  *, keep_transition: bool = False) -> None:
    """Set a Deployment condition; lastTransitionTime moves only when the status changes."""
    stamp = iso(at)
    current = get_condition(status, ctype)
    cond = {"type": ctype, "status": cstatus, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}
    if current is not None:
        if current.get("status") == cstatus and current.get("reason") == reason and \
                current.get("message") == message:
            return
        if current.get("status") == cstatus or keep_transition:
            cond["lastTransitionTime"] = current.get("lastTransitionTime", stamp)
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    conditions.append(cond)
    order = {"Available": 0, "Progressing": 1, "ReplicaFailure": 2}
    status["conditions"] = sorted(conditions, key=lambda c: order.get(c.get("type"), 9))


def remove_condition(status: Obj, ctype: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    if not status["conditions"]:
        del status["conditions"]


def compact_status(status: Obj) -> Obj:
    """Drop zero counters, as Kubernetes' JSON (``omitempty``) does."""
    return {k: v for k, v in status.items() if v not in (0, None, [])}
