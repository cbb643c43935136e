"""The Eviction API: ``POST /api/v1/namespaces/<ns>/pods/<name>/eviction`` (policy/v1 Eviction).

What ``kubectl drain`` uses instead of deleting pods: the API server deletes the pod only if
that keeps its PodDisruptionBudget satisfied, as kube-apiserver's ``EvictionREST`` does:

- a pod that is not running (Pending, Succeeded, Failed) or already being deleted is deleted
  without looking at budgets;
- otherwise the budgets of its namespace whose selector picks it (a budget with an empty
  selector picks nothing here) are read: none -- it is deleted; more than one -- refused (500,
  "more than one PodDisruptionBudget"); one -- a pod that is not Ready may go if the budget is
  met (``unhealthyPodEvictionPolicy`` IfHealthyBudget, or always with AlwaysAllow); a Ready pod
  needs ``status.disruptionsAllowed`` > 0, which is decremented and the pod noted in
  ``status.disruptedPods`` in the same write (so two evictions at once cannot both take the
  last disruption); with none left the answer is ``429 TooManyRequests`` "Cannot evict pod as
  it would violate the pod's disruption budget.", which kubectl drain retries every 5 s.

Before the delete the pod gets the ``DisruptionTarget`` condition (``EvictionByEvictionAPI``);
the delete honours the Eviction's ``deleteOptions`` (grace period, preconditions, dry run).
"""

from __future__ import annotations

from typing import Any

from ..api.conditions import ready
from ..api.errors import ApiError, BadRequest, Conflict
from ..api.labels import matches_selector
from ..api.register import by_plural
from ..api.times import now_rfc3339
from .registry import Registry

MAX_DISRUPTED_PODS = 2000
TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget."
_RETRIES = 5

Obj = dict[str, Any]


def _too_many(message: str) -> ApiError:
    return ApiError(TOO_MANY, code=429, reason="TooManyRequests",
                    details={"causes": [{"reason": "DisruptionBudget", "message": message}]})


def check_budget(pdb: Obj, pod_name: str) -> Obj:
    """``checkAndDecrement``: the budget's new status after one more disruption, or the refusal."""
    meta, status = pdb.get("metadata") or {}, dict(pdb.get("status") or {})
    name = meta.get("name")
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 1):
        raise _too_many(f"The disruption budget {name} is still being processed by the server.")
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise ApiError(f'pods "{pod_name}" is forbidden: pdb disruptions allowed is negative', code=403,
                       reason="Forbidden")
    disrupted = dict(status.get("disruptedPods") or {})
    if len(disrupted) >= MAX_DISRUPTED_PODS:
        raise ApiError(f'pods "{pod_name}" is forbidden: DisruptedPods map too big - too many evictions not '
                       "confirmed by PDB controller", code=403, reason="Forbidden")
    if allowed == 0:
        raise _too_many(f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy pods and "
                        f"has {status.get('currentHealthy', 0)} currently")
    disrupted[pod_name] = now_rfc3339()
    status.update(disruptionsAllowed=allowed - 1, disruptedPods=disrupted)
    return status


def _budgets_for(registry: Registry, pod: Obj) -> list[Obj]:
    res = by_plural("poddisruptionbudgets")
    if res is None:
        return []
    ns = pod["metadata"]["namespace"]
    items, _, _ = registry.list(res, ns)
    labels = pod["metadata"].get("labels") or {}
    out = []
    for pdb in items:
        selector = (pdb.get("spec") or {}).get("selector")
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            continue  # a nil or empty selector matches nothing here
        if matches_selector(selector, labels):
            out.append(pdb)
    return out


def _ignores_budgets(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def evict(registry: Registry, namespace: str, name: str, eviction: Any, *, dry_run: bool = False) -> Obj:
    """Evict the pod or raise; returns the ``Status`` to answer (201)."""
    if not isinstance(eviction, dict) or eviction.get("kind") not in (None, "Eviction"):
        raise BadRequest("the body of an eviction must be a policy/v1 Eviction")
    body_name = (eviction.get("metadata") or {}).get("name")
    if body_name and body_name != name:
        raise BadRequest("name in URL does not match name in Eviction object")
    options = eviction.get("deleteOptions") or {}
    dry_run = dry_run or "All" in (options.get("dryRun") or [])
    pods = by_plural("pods")
    assert pods is not None
    for _ in range(_RETRIES):
        pod = registry.get(pods, namespace, name)
        if not _ignores_budgets(pod):
            budgets = _budgets_for(registry, pod)
            if len(budgets) > 1:
                raise ApiError("This pod has more than one PodDisruptionBudget, which the eviction subresource "
                               "does not support.", code=500, reason="InternalError")
            if budgets and not _allowed_unhealthy(budgets[0], pod):
                status = check_budget(budgets[0], name)
                if not dry_run:
                    try:
                        _write_budget_status(registry, budgets[0], status)
                    except Conflict:
                        continue  # another eviction or the controller wrote: decide again
        break
    else:
        raise ApiError("too many conflicts while evicting: try again", code=429, reason="TooManyRequests")
    if not dry_run:
        _mark_disruption_target(registry, pod)
    preconditions = options.get("preconditions") or None
    registry.delete(pods, namespace, name, grace_period_seconds=options.get("gracePeriodSeconds"),
                    preconditions=preconditions, dry_run=dry_run)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _allowed_unhealthy(pdb: Obj, pod: Obj) -> bool:
    """A pod that is not Ready may go without using up a disruption (IfHealthyBudget / AlwaysAllow)."""
    if ready(pod):
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    status = pdb.get("status") or {}
    desired = int(status.get("desiredHealthy") or 0)
    return int(status.get("currentHealthy") or 0) >= desired > 0


def _write_budget_status(registry: Registry, pdb: Obj, status: Obj) -> None:
    res = by_plural("poddisruptionbudgets")
    assert res is not None
    meta = pdb["metadata"]
    registry.update(res, meta["namespace"], meta["name"], {**pdb, "status": status}, subresource="status",
                    field_validation="Ignore")


def _mark_disruption_target(registry: Registry, pod: Obj) -> None:
    pods = by_plural("pods")
    assert pods is not None
    conditions = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") != "DisruptionTarget"]
    conditions.append({"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                       "message": "Eviction API: evicting", "lastTransitionTime": now_rfc3339()})
    updated = {**pod, "status": {**(pod.get("status") or {}), "conditions": conditions}}
    try:
        registry.update(pods, pod["metadata"]["namespace"], pod["metadata"]["name"], updated, subresource="status",
                        field_validation="Ignore")
    except Conflict:
        pass  # the kubelet wrote meanwhile; the condition is a courtesy, the delete is what counts
