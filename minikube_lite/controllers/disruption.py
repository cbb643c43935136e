"""kube-controller-manager's disruption controller: the status of PodDisruptionBudgets.

For each policy/v1 PodDisruptionBudget it counts the pods its selector picks in its namespace
(an empty selector picks all of them) and writes what the Eviction API reads:

- ``expectedPods``: how many pods there should be. With an integer ``minAvailable`` that is the
  pods found; with a percentage or with ``maxUnavailable`` it is the sum of the ``replicas`` of
  the controllers owning them (ReplicaSet, or the Deployment behind it) -- a pod with no
  controller cannot be counted that way and the sync fails safe (``SyncFailed``, no disruption);
- ``desiredHealthy``: ``minAvailable`` (a percentage rounded up), or ``expectedPods`` minus
  ``maxUnavailable`` (a percentage rounded up);
- ``currentHealthy``: the pods Ready, not being deleted and not just evicted
  (``disruptedPods``, which the Eviction API fills and which expire after 2 minutes);
- ``disruptionsAllowed`` = currentHealthy - desiredHealthy (never below 0), the
  ``DisruptionAllowed`` condition (``SufficientPods`` / ``InsufficientPods``) and
  ``observedGeneration``.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from ..api.conditions import condition, ready
from ..api.errors import ApiError, Conflict, NotFound
from ..api.labels import matches_selector
from ..api.times import parse_time, rfc3339
from ..client.base import Client
from ..client.controller import run_controller
from ..client.events import record_event
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue

log = logging.getLogger(__name__)
COMPONENT = "controllermanager"
DELETION_TIMEOUT = timedelta(minutes=2)
RESYNC_SECONDS = 30.0

Obj = dict[str, Any]


class SyncFailed(Exception):
    """The expected pod count cannot be computed (shown as the condition's message)."""


def scaled(value: Any, total: int, *, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``."""
    if isinstance(value, str) and value.endswith("%"):
        number = int(value[:-1]) * total / 100
        return math.ceil(number) if round_up else math.floor(number)
    return int(value)


def budget_status(pdb: Obj, pods: list[Obj], scale_of: Any, now: datetime) -> tuple[Obj, list[Obj]]:
    """The PDB's new status and the pods found without a controller (for the UnmanagedPods event).

    ``scale_of(pod)`` returns the replicas of the pod's controller, ``None`` when it has none, and
    raises ``SyncFailed`` when its controller cannot be found."""
    spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    unmanaged: list[Obj] = []

    def controllers_scale() -> int:
        seen: dict[str, int] = {}
        for pod in pods:
            owner = scale_of(pod)
            if owner is None:
                unmanaged.append(pod)
                continue
            replicas, uid = owner
            seen[uid] = replicas  # several pods of one controller count its replicas once
        return sum(seen.values())

    if max_unavailable is not None:
        expected = controllers_scale()
        desired = max(0, expected - scaled(max_unavailable, expected, round_up=True))
    elif isinstance(min_available, int):
        expected, desired = len(pods), min_available
    elif isinstance(min_available, str):
        expected = controllers_scale()
        desired = scaled(min_available, expected, round_up=True)
    else:
        expected, desired = len(pods), 0
    disrupted = {}
    for name, at in (status.get("disruptedPods") or {}).items():
        when = parse_time(at)
        pod = next((p for p in pods if p["metadata"]["name"] == name), None)
        if when is None or pod is None or pod["metadata"].get("deletionTimestamp"):
            continue  # gone or going: nothing more to remember
        if when + DELETION_TIMEOUT > now:
            disrupted[name] = at
    healthy = sum(1 for p in pods if not p["metadata"].get("deletionTimestamp") and ready(p)
                  and p["metadata"]["name"] not in disrupted)
    allowed = max(0, healthy - desired)
    return _status(pdb, allowed, healthy, desired, expected, disrupted,
                   "SufficientPods" if allowed > 0 else "InsufficientPods", "", now), unmanaged


def _status(pdb: Obj, allowed: int, healthy: int, desired: int, expected: int, disrupted: dict[str, Any],
            reason: str, message: str, now: datetime) -> Obj:
    old = condition(pdb, "DisruptionAllowed")
    state = "True" if allowed > 0 else "False"
    since = old.get("lastTransitionTime") if old and old.get("status") == state and old.get("reason") == reason \
        else rfc3339(now)
    out: Obj = {"observedGeneration": (pdb.get("metadata") or {}).get("generation", 1),
                "disruptionsAllowed": allowed, "currentHealthy": healthy, "desiredHealthy": desired,
                "expectedPods": expected,
                "conditions": [{"type": "DisruptionAllowed", "status": state, "reason": reason, "message": message,
                                "observedGeneration": (pdb.get("metadata") or {}).get("generation", 1),
                                "lastTransitionTime": since}]}
    if disrupted:
        out["disruptedPods"] = disrupted
    return out


def fail_safe(pdb: Obj, message: str, now: datetime) -> Obj:
    status = pdb.get("status") or {}
    return _status(pdb, 0, int(status.get("currentHealthy") or 0), int(status.get("desiredHealthy") or 0),
                   int(status.get("expectedPods") or 0), dict(status.get("disruptedPods") or {}), "SyncFailed",
                   message, now)


class DisruptionController:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.pdbs = Informer(client, "poddisruptionbudgets")
        self.pods = Informer(client, "pods")
        self.replicasets = Informer(client, "replicasets")
        self.deployments = Informer(client, "deployments")
        self.queue = WorkQueue("disruption")
        self.pdbs.add_handler(lambda t, o: self.queue.add(object_key(o)))
        self.pods.add_handler(self._on_pod)
        self.replicasets.add_handler(self._on_pod)
        self.deployments.add_handler(self._on_pod)

    def _on_pod(self, etype: str, obj: Obj) -> None:
        ns = obj["metadata"].get("namespace")
        for pdb in self.pdbs.list():
            if pdb["metadata"].get("namespace") == ns:
                self.queue.add(object_key(pdb))

    async def run(self) -> None:
        # the resync matters here: disruptedPods entries expire with time alone
        await run_controller((self.pdbs, self.pods, self.replicasets, self.deployments), self.queue, self.sync,
                             workers=1, resync_keys=lambda: map(object_key, self.pdbs.list()),
                             resync_seconds=RESYNC_SECONDS)

    def _scale_of(self, pod: Obj) -> tuple[int, str] | None:
        ns = pod["metadata"].get("namespace")
        ref = next((r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
        if ref is None:
            return None
        if ref.get("kind") == "ReplicaSet":
            rs = self.replicasets.get(f"{ns}/{ref.get('name')}")
            if rs is None or rs["metadata"].get("uid") != ref.get("uid"):
                raise SyncFailed(f"found no controllers for pod {pod['metadata']['name']!r}")
            owner = next((r for r in rs["metadata"].get("ownerReferences") or []
                          if r.get("controller") and r.get("kind") == "Deployment"), None)
            if owner is not None:
                dep = self.deployments.get(f"{ns}/{owner.get('name')}")
                if dep is not None and dep["metadata"].get("uid") == owner.get("uid"):
                    return int((dep.get("spec") or {}).get("replicas", 1)), str(dep["metadata"]["uid"])
            return int((rs.get("spec") or {}).get("replicas", 1)), str(rs["metadata"]["uid"])
        raise SyncFailed(f"found no controllers for pod {pod['metadata']['name']!r}")

    async def sync(self, key: str) -> None:
        pdb = self.pdbs.get(key)
        if pdb is None:
            return
        ns = pdb["metadata"]["namespace"]
        selector = (pdb.get("spec") or {}).get("selector")
        pods = [p for p in self.pods.list() if p["metadata"].get("namespace") == ns and selector is not None
                and matches_selector(selector, p["metadata"].get("labels") or {})]
        if not pods:
            await record_event(self.client, pdb, "NoPods", "No matching pods found", component=COMPONENT)
        now = datetime.now(UTC)
        try:
            status, unmanaged = budget_status(pdb, pods, self._scale_of, now)
        except SyncFailed as exc:
            await record_event(self.client, pdb, "CalculateExpectedPodCountFailed",
                               f"Failed to calculate the number of expected pods: {exc}", type_="Warning",
                               component=COMPONENT)
            status, unmanaged = fail_safe(pdb, str(exc), now), []
        if unmanaged:
            await record_event(self.client, pdb, "UnmanagedPods",
                               "Pods selected by this PodDisruptionBudget (selector: "
                               f"{_selector_text(selector)}) were found to be unmanaged. As a result, the status of "
                               "the PDB cannot be calculated correctly, which may result in undefined behavior. To "
                               "account for these pods please set \".spec.minAvailable\" field of the PDB to an "
                               "integer value.", type_="Warning", component=COMPONENT)
        if _same(status, pdb.get("status") or {}):
            return
        try:
            await self.client.update_status("poddisruptionbudgets", {**pdb, "status": status})
        except (Conflict, NotFound):
            self.queue.add(key)  # an eviction wrote meanwhile: count again from the fresh object
        except ApiError as exc:
            log.warning("disruption: %s: %s", key, exc)


def _same(a: Obj, b: Obj) -> bool:
    def strip(s: Obj) -> Obj:
        return {**s, "conditions": [{k: v for k, v in c.items() if k != "lastTransitionTime"}
                                    for c in s.get("conditions") or []]}
    return strip(a) == strip(b)


def _selector_text(selector: Obj | None) -> str:
    if not selector:
        return "&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{},}"
    labels = ",".join(f"{k}: {v}" for k, v in sorted((selector.get("matchLabels") or {}).items()))
    return f"&LabelSelector{{MatchLabels:map[string]string{{{labels},}},MatchExpressions:[]LabelSelectorRequirement{{}},}}"
