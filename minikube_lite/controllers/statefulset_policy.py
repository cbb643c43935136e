"""The StatefulSet controller's decisions, as pure functions (Kubernetes' ``stateful_set_control.go``).

``plan`` looks at the pods by ordinal and returns the next steps, in Kubernetes' order:

1. replicas ``[start, start+replicas)``: a finished (Failed/Succeeded) pod is deleted to be made
   again; a missing one is created. With ``OrderedReady`` (monotonic) one step at a time: a pod
   is created only when every lower ordinal is Running and Ready, and nothing else happens
   while a pod is unhealthy; ``Parallel`` does all at once;
2. condemned pods (ordinals past the replicas) are deleted highest first, one at a time and only
   when all others are healthy under ``OrderedReady``;
3. ``RollingUpdate``: when everything is healthy, pods at ordinals >= ``partition`` still at an
   old revision are deleted highest first, at most ``maxUnavailable`` unavailable at once (the
   controller then recreates them at the update revision). ``OnDelete`` never deletes for an update.

``revision_for`` says which revision a (re)created pod gets: below the partition the current
revision, otherwise the update revision.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import rollout as ro

Obj = dict[str, Any]
_ORDINAL_RE = re.compile(r"^(.*)-([0-9]+)$")


def ordinal_of(pod_name: str, set_name: str) -> int | None:
    m = _ORDINAL_RE.match(pod_name)
    if not m or m.group(1) != set_name:
        return None
    return int(m.group(2))


def pod_name(set_name: str, ordinal: int) -> str:
    return f"{set_name}-{ordinal}"


def claim_name(template_name: str, set_name: str, ordinal: int) -> str:
    return f"{template_name}-{set_name}-{ordinal}"


def start_ordinal(spec: Obj) -> int:
    return int((spec.get("ordinals") or {}).get("start", 0) or 0)


def partition(spec: Obj) -> int:
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    return int((strategy.get("rollingUpdate") or {}).get("partition", 0) or 0)


def max_unavailable(spec: Obj) -> int:
    value = ((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("maxUnavailable", 1)
    replicas = int(spec.get("replicas", 1) or 0)
    if isinstance(value, str) and value.endswith("%"):
        value = math.floor(int(value[:-1]) * replicas / 100)
    return max(1, int(value))


def revision_for(spec: Obj, ordinal: int, current: str, update: str) -> str:
    strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
    if strategy == "RollingUpdate" and ordinal - start_ordinal(spec) < partition(spec):
        return current
    return update


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def healthy(pod: Obj, min_ready_seconds: int = 0, now: datetime | None = None) -> bool:
    """Running, Ready (for minReadySeconds) and not being deleted."""
    if pod["metadata"].get("deletionTimestamp") or _phase(pod) != "Running":
        return False
    return ro.pod_available(pod, min_ready_seconds, now or ro.now())


@dataclass
class Plan:
    create: list[int] = field(default_factory=list)
    delete: list[int] = field(default_factory=list)
    condemned: list[int] = field(default_factory=list)  # deleted because of a scale down
    wait: bool = False  # something is not healthy yet: look again when pods change


def plan(spec: Obj, pods: dict[int, Obj], update_revision: str, *, revision_of: Any = None,
         now: datetime | None = None) -> Plan:
    """The next steps for a StatefulSet whose pods by ordinal are ``pods``."""
    out = Plan()
    monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
    start = start_ordinal(spec)
    replicas = int(spec.get("replicas", 1) or 0)
    wanted = range(start, start + replicas)
    min_ready = int(spec.get("minReadySeconds", 0) or 0)
    revision_of = revision_of or (lambda p: (p["metadata"].get("labels") or {}).get("controller-revision-hash"))

    for ordinal in wanted:
        pod = pods.get(ordinal)
        if pod is None:
            out.create.append(ordinal)
            if monotonic:
                return out
            continue
        if _phase(pod) in ("Failed", "Succeeded") and not pod["metadata"].get("deletionTimestamp"):
            out.delete.append(ordinal)
            if monotonic:
                return out
            continue
        if not healthy(pod, min_ready, now):
            out.wait = True
            if monotonic:
                return out
    condemned = sorted((o for o in pods if o not in wanted), reverse=True)
    for ordinal in condemned:
        pod = pods[ordinal]
        if pod["metadata"].get("deletionTimestamp"):
            out.wait = True
            if monotonic:
                return out
            continue
        if monotonic and (out.wait or any(not healthy(p, min_ready, now) for o, p in pods.items()
                                          if o != ordinal and not p["metadata"].get("deletionTimestamp"))):
            out.wait = True
            return out
        out.delete.append(ordinal)
        out.condemned.append(ordinal)
        if monotonic:
            return out
    if out.create or out.delete or (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
        return out
    # rolling update: highest ordinal first, down to the partition
    unavailable = sum(1 for o in wanted if o in pods and not healthy(pods[o], min_ready, now))
    budget = max_unavailable(spec) - unavailable
    floor = start + partition(spec)
    for ordinal in sorted((o for o in wanted if o in pods and o >= floor), reverse=True):
        pod = pods[ordinal]
        if revision_of(pod) == update_revision:
            continue
        if pod["metadata"].get("deletionTimestamp"):
            out.wait = True
            continue
        if budget <= 0:
            out.wait = True
            break
        out.delete.append(ordinal)
        budget -= 1
    return out
