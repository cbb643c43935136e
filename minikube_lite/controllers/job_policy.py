"""The Job controller's decisions, as pure functions (Kubernetes' ``pkg/controller/job`` helpers).

Kept apart from the controller loop (controllers/job.py) so each rule can be tested alone:

* ``backoff_remaining``: the exponential backoff between failed pods (``backoff_utils.go``):
  10 s after the first failure, doubling with each failure since the last success, capped at
  6 minutes, counted from the last failure's finish time;
* ``match_failure_policy``: the first ``podFailurePolicy`` rule matching a failed pod
  (``pod_failure_policy.go``): exit codes (``In``/``NotIn``, optionally one container) or pod
  conditions, with Kubernetes' wording of the ``FailJob`` message;
* completion indexes (``indexed_job_utils.go``): the pod's index, the ``completedIndexes``
  interval string (``"0-2,4"``), which indexes still need a pod;
* ``restarts_past_limit``: ``restartPolicy: OnFailure`` counts container restarts against
  ``backoffLimit`` instead of failed pods.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..api.job import COMPLETION_INDEX_ANNOTATION
from . import rollout as ro

Obj = dict[str, Any]

DEFAULT_BACKOFF_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 360.0


# --- backoff ---------------------------------------------------------------------------------------

def backoff_delay(failures: int) -> float:
    """The wait before the next pod after ``failures`` consecutive failures (0 → none)."""
    if failures <= 0:
        return 0.0
    return min(DEFAULT_BACKOFF_SECONDS * 2 ** (failures - 1), MAX_BACKOFF_SECONDS)


def pod_finish_time(pod: Obj) -> datetime | None:
    """When a finished pod finished: its containers' latest ``finishedAt`` (else its creation)."""
    status = pod.get("status") or {}
    latest: datetime | None = None
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        term = (cs.get("state") or {}).get("terminated") or {}
        t = ro.parse_time(term.get("finishedAt"))
        if t is not None and (latest is None or t > latest):
            latest = t
    if latest is None:
        for c in status.get("conditions") or []:
            t = ro.parse_time(c.get("lastTransitionTime"))
            if t is not None and (latest is None or t > latest):
                latest = t
    return latest or ro.parse_time((pod.get("metadata") or {}).get("creationTimestamp"))


def failures_after_last_success(pods: Iterable[Obj]) -> tuple[int, datetime | None]:
    """(failed pods finished after the last succeeded one, the last failure's finish time)."""
    finished = []
    for pod in pods:
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            finished.append((pod_finish_time(pod), phase))
    finished.sort(key=lambda item: item[0] or datetime.min.replace(tzinfo=ro.now().tzinfo))
    failures, last_failure = 0, None
    for at, phase in finished:
        if phase == "Succeeded":
            failures, last_failure = 0, None
        else:
            failures += 1
            last_failure = at
    return failures, last_failure


def backoff_remaining(failed_pods: Iterable[Obj], now: datetime) -> float:
    """Seconds to wait before creating a replacement pod (0 when none)."""
    failures, last = failures_after_last_success(failed_pods)
    if failures == 0 or last is None:
        return 0.0
    remaining = backoff_delay(failures) - (now - last).total_seconds()
    return max(0.0, remaining)


def restarts_past_limit(active_pods: Iterable[Obj], backoff_limit: int) -> bool:
    """``OnFailure``: the sum of container restarts of active pods reached the backoff limit."""
    total = 0
    for pod in active_pods:
        status = pod.get("status") or {}
        for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
            total += int(cs.get("restartCount", 0) or 0)
    if backoff_limit == 0:
        return total > 0
    return total >= backoff_limit


# --- podFailurePolicy ------------------------------------------------------------------------------

def _exit_code_matches(code: int, req: Obj) -> bool:
    values = req.get("values") or []
    if req.get("operator") == "In":
        return code in values
    if req.get("operator") == "NotIn":
        return code not in values
    return False


def _matching_container(pod: Obj, req: Obj) -> tuple[str, int] | None:
    status = pod.get("status") or {}
    wanted = req.get("containerName")
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        if wanted and cs.get("name") != wanted:
            continue
        term = (cs.get("state") or {}).get("terminated")
        if not term:
            continue
        code = int(term.get("exitCode", 0) or 0)
        if code == 0:
            continue  # a container that succeeded is no failure to match
        if _exit_code_matches(code, req):
            return cs.get("name", ""), code
    return None


def match_failure_policy(policy: Obj | None, pod: Obj) -> tuple[str, str] | None:
    """(action, message) of the first rule matching failed ``pod``, or None."""
    meta = pod.get("metadata") or {}
    pod_ref = f"{meta.get('namespace')}/{meta.get('name')}"
    for i, rule in enumerate((policy or {}).get("rules") or []):
        action = rule.get("action", "")
        if rule.get("onExitCodes") is not None:
            found = _matching_container(pod, rule["onExitCodes"])
            if found is not None:
                name, code = found
                return action, (f"Container {name} for pod {pod_ref} failed with exit code {code} matching "
                                f"{action} rule at index {i}")
        for pattern in rule.get("onPodConditions") or []:
            for cond in (pod.get("status") or {}).get("conditions") or []:
                if cond.get("type") == pattern.get("type") and cond.get("status") == pattern.get("status", "True"):
                    return action, (f"Pod {pod_ref} has condition {cond.get('type')} matching {action} rule at "
                                    f"index {i}")
    return None


# --- completion indexes ----------------------------------------------------------------------------

def pod_index(pod: Obj, completions: int | None = None) -> int | None:
    """The completion index of a pod of an Indexed Job (None if missing or out of range)."""
    meta = pod.get("metadata") or {}
    raw = (meta.get("annotations") or {}).get(COMPLETION_INDEX_ANNOTATION)
    if raw is None:
        raw = (meta.get("labels") or {}).get(COMPLETION_INDEX_ANNOTATION)
    try:
        index = int(str(raw))
    except (TypeError, ValueError):
        return None
    if index < 0 or (completions is not None and index >= completions):
        return None
    return index


def format_indexes(indexes: Iterable[int]) -> str:
    """``{0,1,2,4}`` → ``"0-2,4"`` (the ``completedIndexes`` format)."""
    out: list[str] = []
    ordered = sorted(set(indexes))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def parse_indexes(text: str | None, completions: int | None = None) -> set[int]:
    """``"0-2,4"`` → ``{0,1,2,4}``; malformed pieces and indexes past ``completions`` are ignored."""
    out: set[int] = set()
    for piece in (text or "").split(","):
        piece = piece.strip()
        if not piece:
            continue
        first, _, last = piece.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            continue
        for n in range(lo, hi + 1):
            if completions is None or n < completions:
                out.add(n)
    return out


def pending_indexes(completions: int, succeeded: set[int], active: set[int], limit: int) -> list[int]:
    """The lowest ``limit`` indexes that have neither succeeded nor an active pod."""
    out: list[int] = []
    for n in range(completions):
        if len(out) >= limit:
            break
        if n not in succeeded and n not in active:
            out.append(n)
    return out


def wanted_active(spec: Obj, succeeded: int, active: int) -> int:
    """How many pods a NonIndexed Job should run now (Kubernetes' ``manageJob`` arithmetic)."""
    parallelism = int(spec.get("parallelism", 1) or 0)
    completions = spec.get("completions")
    if completions is None:
        # A work-queue Job: once one pod succeeded no new pods start; the others finish.
        return min(active, parallelism) if succeeded > 0 else parallelism
    return max(0, min(parallelism, int(completions) - succeeded))
