"""PodDisruptionBudget decisions: the disruption controller's status, the Eviction API's check,
and the kind's validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from minikube_lite.api import register
from minikube_lite.api.errors import ApiError
from minikube_lite.apiserver.eviction import check_budget
from minikube_lite.controllers.disruption import SyncFailed, budget_status

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _pod(name: str, ready: bool = True, owner: str | None = "rs", deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "labels": {"app": "web"}}
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "uid": owner, "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def _pdb(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "default", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


def scale_of(replicas: int):  # type: ignore[no-untyped-def]
    def f(pod: dict[str, Any]) -> tuple[int, str] | None:
        refs = pod["metadata"].get("ownerReferences")
        return (replicas, refs[0]["uid"]) if refs else None
    return f


def test_min_available_integer_counts_the_pods_found() -> None:
    pods = [_pod("a"), _pod("b"), _pod("c", ready=False), _pod("d", deleting=True)]
    status, _ = budget_status(_pdb(minAvailable=2), pods, scale_of(4), NOW)
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"],
            status["disruptionsAllowed"]) == (4, 2, 2, 0)
    assert status["conditions"][0]["reason"] == "InsufficientPods"
    assert status["observedGeneration"] == 1


def test_percentages_and_max_unavailable_use_the_controllers_scale() -> None:
    pods = [_pod("a"), _pod("b"), _pod("c")]
    status, _ = budget_status(_pdb(minAvailable="50%"), pods, scale_of(3), NOW)
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == (3, 2, 1)
    status, _ = budget_status(_pdb(maxUnavailable="34%"), pods, scale_of(3), NOW)  # 34% of 3 rounds up to 2
    assert (status["desiredHealthy"], status["disruptionsAllowed"]) == (1, 2)
    assert status["conditions"][0]["reason"] == "SufficientPods"
    status, unmanaged = budget_status(_pdb(maxUnavailable=1), [*pods, _pod("lone", owner=None)], scale_of(3), NOW)
    assert [p["metadata"]["name"] for p in unmanaged] == ["lone"]


def test_recently_disrupted_pods_do_not_count_as_healthy() -> None:
    pdb = _pdb(minAvailable=1)
    pdb["status"] = {"disruptedPods": {"a": "2025-12-31T23:59:30Z", "b": (NOW - timedelta(minutes=5)).isoformat()}}
    status, _ = budget_status(pdb, [_pod("a"), _pod("b")], scale_of(2), NOW)
    assert status["currentHealthy"] == 1 and status["disruptedPods"] == {"a": "2025-12-31T23:59:30Z"}


def test_a_missing_controller_fails_the_sync() -> None:
    def missing(pod: dict[str, Any]) -> tuple[int, str]:
        raise SyncFailed("found no controllers for pod 'a'")
    with pytest.raises(SyncFailed):
        budget_status(_pdb(maxUnavailable=1), [_pod("a")], missing, NOW)


def test_eviction_check_decrements_or_refuses_with_429() -> None:
    pdb = _pdb(minAvailable=1)
    pdb["status"] = {"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1}
    status = check_budget(pdb, "a")
    assert status["disruptionsAllowed"] == 0 and "a" in status["disruptedPods"]
    pdb["status"] = status
    with pytest.raises(ApiError) as err:
        check_budget(pdb, "b")
    body = err.value.status()
    assert (body["code"], body["reason"], body["message"]) == (
        429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.")
    assert body["details"]["causes"] == [{"reason": "DisruptionBudget",
                                          "message": "The disruption budget web needs 1 healthy pods and has 2 "
                                                     "currently"}]
    pdb["metadata"]["generation"] = 2  # not seen by the controller yet
    with pytest.raises(ApiError) as err:
        check_budget(pdb, "b")
    assert err.value.details["causes"][0]["message"] == "The disruption budget web is still being processed by the server."


def test_pdb_validation() -> None:
    from minikube_lite.api.policy import validate_pdb
    from minikube_lite.api.validation import ErrorList

    assert register.by_plural("poddisruptionbudgets", "policy") is not None

    def errors(**spec: Any) -> str:
        errs = ErrorList()
        validate_pdb(errs, {"spec": spec})
        return " | ".join(f"{c['field']}: {c['message']}" for c in errs.causes)
    assert errors(minAvailable=1, selector={"matchLabels": {"a": "b"}}) == ""
    assert errors(selector={}) == ""  # an empty selector selects every pod
    assert "spec: Invalid value" in errors(minAvailable=1, maxUnavailable=1)
    assert "minAvailable and maxUnavailable cannot be both set" in errors(minAvailable=1, maxUnavailable=1)
    assert errors(minAvailable="150%") == 'spec.minAvailable: Invalid value: "150%": must not be greater than 100%'
    assert "must be an integer or percentage (e.g '5%')" in errors(maxUnavailable="ten")
    assert errors(minAvailable=-1) == "spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"
    assert errors(unhealthyPodEvictionPolicy="Sometimes") == (
        'spec.unhealthyPodEvictionPolicy: Unsupported value: "Sometimes": supported values: "AlwaysAllow", '
        '"IfHealthyBudget"')
