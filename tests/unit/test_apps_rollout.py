"""Decisions of the Deployment/ReplicaSet machinery, without a cluster: surge/unavailable
rounding, template hash and equality, revisions, deletion ranking, expectations, validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from minikube_lite.api import register
from minikube_lite.api.errors import Invalid
from minikube_lite.api.register import by_plural, to_table
from minikube_lite.controllers import rollout as ro
from minikube_lite.controllers.expectations import Expectations


def deployment(replicas: int = 4, surge: Any = "25%", unavailable: Any = "25%", **spec: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
    }
    d["spec"].update(spec)
    return d


@pytest.mark.parametrize(("replicas", "surge", "unavailable", "expected"), [
    (4, "25%", "25%", (1, 1)),
    (10, "25%", "25%", (3, 2)),     # surge rounds up, unavailable down
    (3, "25%", "25%", (1, 0)),
    (1, "0%", "0%", (0, 1)),        # both zero after rounding: one may be unavailable
    (5, 2, 0, (2, 0)),
    (5, "100%", 3, (5, 3)),
])
def test_surge_and_unavailable(replicas: int, surge: Any, unavailable: Any, expected: tuple[int, int]) -> None:
    assert ro.surge_and_unavailable(deployment(replicas, surge, unavailable)) == expected


def test_recreate_has_no_surge_or_unavailability_budget() -> None:
    d = deployment()
    d["spec"]["strategy"] = {"type": "Recreate"}
    assert ro.max_surge(d) == 0 and ro.max_unavailable(d) == 0


def test_template_hash_is_stable_safe_and_collision_aware() -> None:
    t = deployment()["spec"]["template"]
    h = ro.template_hash(t)
    assert h == ro.template_hash(copy.deepcopy(t))
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(h) <= 10
    assert ro.template_hash(t, 1) != h
    changed = copy.deepcopy(t)
    changed["spec"]["containers"][0]["image"] = "busybox:2"
    assert ro.template_hash(changed) != h


def test_equal_ignore_hash() -> None:
    t = deployment()["spec"]["template"]
    with_hash = copy.deepcopy(t)
    with_hash["metadata"]["labels"][ro.HASH_LABEL] = "abc"
    assert ro.equal_ignore_hash(t, with_hash)
    with_hash["metadata"]["labels"]["extra"] = "x"
    assert not ro.equal_ignore_hash(t, with_hash)


def test_deletion_rank_prefers_unready_and_newer_pods() -> None:
    def pod(name: str, ready: bool, created: str, node: str = "n") -> dict[str, Any]:
        return {"metadata": {"name": name, "creationTimestamp": created},
                "spec": {"nodeName": node},
                "status": {"phase": "Running",
                           "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}
    pods = [pod("old-ready", True, "2024-01-01T00:00:00Z"), pod("new-ready", True, "2024-01-02T00:00:00Z"),
            pod("unready", False, "2024-01-01T00:00:00Z"), pod("unscheduled", False, "2024-01-01T00:00:00Z", "")]
    order = [p["metadata"]["name"] for p in sorted(pods, key=ro.deletion_rank)]
    assert order == ["unscheduled", "unready", "new-ready", "old-ready"]


def test_pod_available_waits_min_ready_seconds() -> None:
    at = ro.parse_time("2024-01-01T00:00:10Z")
    assert at is not None
    pod = {"metadata": {}, "status": {"conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:05Z"}]}}
    assert ro.pod_available(pod, 0, at) and ro.pod_available(pod, 5, at) and not ro.pod_available(pod, 6, at)


def test_expectations_hold_until_observed() -> None:
    e = Expectations()
    assert e.satisfied("ns/rs")
    e.expect_creations("ns/rs", 2)
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    assert not e.satisfied("ns/rs")
    e.lower_creations("ns/rs", 1)
    assert e.satisfied("ns/rs")
    e.expect_deletions("ns/rs", ["ns/a", "ns/b"])
    e.deletion_observed("ns/rs", "ns/a")
    e.deletion_observed("ns/rs", "ns/a")
    assert not e.satisfied("ns/rs")
    e.deletion_observed("ns/rs", "ns/b")
    assert e.satisfied("ns/rs")


def _causes(obj: dict[str, Any]) -> list[str]:
    res = by_plural("deployments")
    assert res is not None
    with pytest.raises(Invalid) as err:
        register.validate(res, obj)
    return [f"{c['field']}: {c['message']}" for c in err.value.status()["details"]["causes"]]


def test_validation_names_the_field() -> None:
    assert any(c.startswith("spec.replicas: Invalid value: -1") for c in _causes(deployment(-1)))
    bad = deployment()
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    assert any("`selector` does not match template `labels`" in c for c in _causes(bad))
    assert any(c.startswith("spec.strategy.rollingUpdate.maxUnavailable") for c in _causes(deployment(3, 0, 0)))
    bad = deployment()
    bad["spec"]["strategy"]["type"] = "Sideways"
    assert any(c.startswith('spec.strategy.type: Unsupported value: "Sideways"') for c in _causes(bad))
    assert any(c.startswith("spec.strategy.rollingUpdate.maxSurge") for c in _causes(deployment(3, "150x", 1)))


def test_selector_immutable_on_update() -> None:
    res = by_plural("deployments")
    assert res is not None
    old, new = deployment(), deployment()
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    with pytest.raises(Invalid) as err:
        register.validate_update(res, old, new)
    assert err.value.status()["details"]["causes"][0]["field"] == "spec.selector"


def test_table_columns() -> None:
    res = by_plural("deployments")
    assert res is not None
    d = deployment(3)
    d["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z"
    d["status"] = {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    table = to_table(res, [d])
    names = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert names == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert table["rows"][0]["cells"][:4] == ["web", "2/3", 3, 2]


def test_old_pods_are_not_scaled_down_on_a_stale_status() -> None:
    """Right after the old ReplicaSet went 4 -> 3 its status still says 4 available. Counting those
    would scale it to 1 and leave 2 ready pods where maxUnavailable=1 of 4 allows no fewer than 3
    (a CI run caught exactly that); at most spec.replicas of a ReplicaSet's pods count."""
    import asyncio

    from minikube_lite.controllers.deployment import DeploymentController

    d = {"metadata": {"name": "roll", "namespace": "ns"},
         "spec": {"replicas": 4, "strategy": {"type": "RollingUpdate",
                                              "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}}}

    def rs(name: str, created: str, spec: int, available: int) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
                "spec": {"replicas": spec}, "status": {"replicas": available, "availableReplicas": available}}

    new = rs("roll-new", "2026-01-01T00:01:00Z", 2, 1)
    old = rs("roll-old", "2026-01-01T00:00:00Z", 3, 4)  # the stale status
    scaled: list[tuple[str, int]] = []
    controller = DeploymentController(None)  # type: ignore[arg-type] - only the decision is run

    async def scale(_d: Any, target: dict[str, Any], replicas: int) -> tuple[bool, dict[str, Any]]:
        scaled.append((target["metadata"]["name"], replicas))
        return True, {**target, "spec": {"replicas": replicas}}

    controller._scale_rs = scale  # type: ignore[method-assign]
    asyncio.run(controller._reconcile_old(d, new, [old]))
    assert scaled == [("roll-old", 2)]  # 2 old + 1 new available = 3 = replicas - maxUnavailable
