"""The horizontal pod autoscaler's decisions (controllers/podautoscaler_policy.py, podautoscaler.py)
and the HorizontalPodAutoscaler kind (api/autoscaling.py): Kubernetes' rules, case by case.

The reconcile tests drive the controller with a small in-memory client (the decisions only; the
e2e test tests/e2e/test_autoscaling.py runs it against a real cluster).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from minikube_lite.api import autoscaling, autoscaling_convert
from minikube_lite.api.validation import ErrorList
from minikube_lite.controllers import podautoscaler_policy as p
from minikube_lite.controllers.podautoscaler import HorizontalPodAutoscalerController, milli_quantity

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(hours=1)


def pod(name: str, *, request: float | None = 100.0, phase: str = "Running", ready: bool | None = True,
        start: datetime = OLD, transition: datetime = OLD, deleting: bool = False) -> p.PodInfo:
    return p.PodInfo(name, phase, deleting, start, ready, transition, {"cpu": request}, ("main",))


def metric(value: float, at: datetime = NOW) -> p.PodMetric:
    return p.PodMetric(value, at, timedelta(seconds=15))


def test_within_tolerance_keeps_the_count() -> None:
    pods = [pod("a"), pod("b")]
    got = p.resource_replicas(2, 50, pods, {"a": metric(54), "b": metric(54)}, "cpu", NOW)
    assert (got.replicas, got.utilization, got.average) == (2, 54, 54)


def test_scale_up_and_down_by_the_usage_ratio() -> None:
    pods = [pod("a"), pod("b")]
    assert p.resource_replicas(2, 50, pods, {"a": metric(200), "b": metric(200)}, "cpu", NOW).replicas == 8
    four = [pod(n) for n in "abcd"]
    assert p.resource_replicas(4, 50, four, {n: metric(10) for n in "abcd"}, "cpu", NOW).replicas == 1


def test_missing_pods_count_at_target_when_scaling_down_and_idle_when_scaling_up() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    # a and b idle, c has no metric: assumed at 100% of the target, so 3 -> ceil(3 * 0.35) = 2, not 1
    assert p.resource_replicas(3, 50, pods, {"a": metric(1), "b": metric(1)}, "cpu", NOW).replicas == 2
    # a busy, b and c missing: assumed idle, ratio 200/300 / 0.5 = 1.33 -> 4
    assert p.resource_replicas(3, 50, pods, {"a": metric(200)}, "cpu", NOW).replicas == 4


def test_unready_pods_dampen_a_scale_up_and_never_flip_it() -> None:
    pods = [pod("a"), pod("b", ready=False, start=NOW - timedelta(seconds=20), transition=NOW - timedelta(seconds=20))]
    got = p.resource_replicas(2, 50, pods, {"a": metric(100), "b": metric(100)}, "cpu", NOW)
    assert got.utilization == 100 and got.replicas == 2  # b counted as idle: ratio 1.0, within tolerance
    got = p.resource_replicas(2, 50, pods, {"a": metric(300), "b": metric(0)}, "cpu", NOW)
    assert got.replicas == 6  # (300 + 0) / 200 = 1.5 of request / 0.5 = 3.0 * 2


def test_a_young_pod_counts_only_with_a_sample_a_window_after_it_became_ready() -> None:
    ready_at = NOW - timedelta(seconds=10)
    young = pod("a", start=NOW - timedelta(seconds=30), transition=ready_at)
    ready, unready, _missing, _ignored = p.group_pods([young], {"a": metric(100, at=NOW)}, "cpu", NOW)
    assert (ready, unready) == (0, {"a"})  # sample at ready+10s, window 15s
    ready, unready, _, _ = p.group_pods([young], {"a": metric(100, at=NOW)}, "memory", NOW)
    assert (ready, unready) == (1, set())  # only CPU waits
    gone = [pod("x", deleting=True), pod("y", phase="Failed"), pod("z", phase="Pending"), pod("w")]
    assert p.group_pods(gone, {}, "cpu", NOW) == (0, {"z"}, {"w"}, {"x", "y"})


def test_missing_requests_and_no_metrics_are_errors_with_kubernetes_words() -> None:
    with pytest.raises(p.MetricsError, match="^missing request for cpu in container main of Pod a$"):
        p.resource_replicas(1, 50, [pod("a", request=None)], {"a": metric(10)}, "cpu", NOW)
    with pytest.raises(p.MetricsError, match=r"did not receive metrics for targeted pods \(pods might be unready\)"):
        p.resource_replicas(1, 50, [pod("a", phase="Pending")], {"a": metric(10)}, "cpu", NOW)
    with pytest.raises(p.MetricsError, match="no pods returned by selector"):
        p.resource_replicas(1, 50, [], {}, "cpu", NOW)


def test_average_value_targets() -> None:
    pods = [pod("a"), pod("b")]
    mib = 2**20 * 1000  # milli-bytes
    got = p.plain_replicas(2, 100 * mib, pods, {"a": metric(300 * mib), "b": metric(100 * mib)}, "memory", NOW)
    assert got.replicas == 4 and got.utilization is None and got.average == 200 * mib
    assert p.plain_replicas(2, 100 * mib, pods, {"a": metric(105 * mib), "b": metric(100 * mib)}, "memory",
                            NOW).replicas == 2


def test_stabilization_keeps_the_highest_recent_recommendation() -> None:
    recs = [p.Recommendation(5, NOW - timedelta(minutes=6)), p.Recommendation(4, NOW - timedelta(minutes=2))]
    assert p.stabilize(recs, 1, NOW) == 4
    assert recs[0] == p.Recommendation(1, NOW)  # the outdated entry was reused
    assert p.stabilize(recs, 1, NOW + timedelta(minutes=4)) == 1


def test_limits_without_behavior() -> None:
    assert p.limit(1, 10, 1, 10)[:2] == (4, "ScaleUpLimit")  # max(2x, 4)
    assert p.limit(3, 10, 1, 5)[:2] == (5, "TooManyReplicas")
    assert p.limit(3, 0, 2, 5)[:2] == (2, "TooFewReplicas")
    assert p.limit(3, 4, 1, 5) == (4, "DesiredWithinRange", "the desired count is within the acceptable range")


def test_behavior_policies_and_select_policy() -> None:
    up = autoscaling.default_scale_up()  # 4 pods or 100% per 15 s, the most
    assert p.scale_up_limit(2, [], [], up, NOW) == 6
    assert p.scale_up_limit(10, [], [], up, NOW) == 20
    assert p.scale_up_limit(10, [], [], {**up, "selectPolicy": "Min"}, NOW) == 14
    assert p.scale_up_limit(10, [], [], {**up, "selectPolicy": "Disabled"}, NOW) == 10
    # 4 added 5 s ago count against the period: the period started at 6
    assert p.scale_up_limit(10, [p.ScaleEvent(4, NOW - timedelta(seconds=5))], [], up, NOW) == 12
    down = {"selectPolicy": "Max", "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60},
                                                 {"type": "Percent", "value": 50, "periodSeconds": 60}]}
    assert p.scale_down_limit(10, [], [], down, NOW) == 5
    assert p.scale_down_limit(10, [], [], {**down, "selectPolicy": "Min"}, NOW) == 9
    behavior = {"scaleUp": up, "scaleDown": down}
    assert p.limit_behavior(10, 1, 1, 20, behavior, [], [], NOW)[:2] == (5, "ScaleDownLimit")
    assert p.limit_behavior(2, 30, 1, 5, behavior, [], [], NOW)[:2] == (5, "TooManyReplicas")
    assert p.limit_behavior(2, 30, 1, 50, behavior, [], [], NOW)[:2] == (6, "ScaleUpLimit")


def test_behavior_stabilization_windows() -> None:
    recs = [p.Recommendation(8, NOW - timedelta(seconds=20))]
    # scale-down window 60 s holds the 8 seen 20 s ago
    assert p.stabilize_behavior(recs, 8, 2, 0, 60, NOW)[:2] == (8, "ScaleDownStabilized")
    recs = [p.Recommendation(3, NOW - timedelta(seconds=20))]
    # scale-up window 60 s: the lowest recent recommendation (3) bounds a jump to 9
    assert p.stabilize_behavior(recs, 3, 9, 60, 0, NOW)[:2] == (3, "ScaleUpStabilized")
    assert p.stabilize_behavior([], 3, 9, 0, 300, NOW)[:2] == (9, "ReadyForNewScale")


def test_quantities_and_targets_column() -> None:
    assert [milli_quantity(v) for v in (12, 1000, 1500, 52428800000, 5000000, 0)] == \
        ["12m", "1", "1500m", "52428800", "5k", "0"]
    cpu = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}
    mem = {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "64Mi"}}}
    assert autoscaling.format_metrics([cpu], []) == "cpu: <unknown>/50%"
    assert autoscaling.format_metrics([cpu], [{"type": ""}]) == "cpu: <unknown>/50%"
    status = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}},
              {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "10Mi"}}}]
    assert autoscaling.format_metrics([cpu, mem], status) == "cpu: 12%/50%, memory: 10Mi/64Mi"
    assert autoscaling.format_metrics([cpu, mem, cpu], status) == "cpu: 12%/50%, memory: 10Mi/64Mi + 1 more..."
    assert autoscaling.format_metrics([], []) == "<none>"


def test_v1_and_v2_convert_both_ways_without_loss() -> None:
    v2 = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "w"},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w"}, "maxReplicas": 5, "minReplicas": 1,
                   "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                       "type": "Utilization", "averageUtilization": 50}}},
                       {"type": "Resource", "resource": {"name": "memory", "target": {
                           "type": "AverageValue", "averageValue": "64Mi"}}}],
                   "behavior": {"scaleDown": {"stabilizationWindowSeconds": 5}}},
          "status": {"currentReplicas": 2, "desiredReplicas": 3, "conditions": [{"type": "AbleToScale"}],
                     "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
                         "averageUtilization": 70, "averageValue": "70m"}}}]}}
    v1 = autoscaling_convert.to_v1(v2)
    assert v1["spec"] == {"scaleTargetRef": {"kind": "Deployment", "name": "w"}, "maxReplicas": 5, "minReplicas": 1,
                          "targetCPUUtilizationPercentage": 50}
    assert v1["status"] == {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 70}
    assert set(v1["metadata"]["annotations"]) == {autoscaling_convert.METRICS, autoscaling_convert.BEHAVIOR,
                                                  autoscaling_convert.CONDITIONS,
                                                  autoscaling_convert.CURRENT_METRICS}
    assert autoscaling_convert.to_v2(v1) == v2


def test_validation_and_defaults() -> None:
    obj: dict[str, Any] = {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "a/b"}, "maxReplicas": 3,
                                    "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 0,
                                                                           "periodSeconds": 2000}]}}}}
    errs = ErrorList()
    autoscaling.validate_hpa(errs, obj)
    messages = [f"{c['field']}: {c['message']}" for c in errs.causes]
    assert "spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'" in messages
    assert "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero" in messages
    assert any(m.startswith("spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 2000") for m in messages)
    autoscaling.default_hpa(obj)
    assert obj["spec"]["minReplicas"] == 1
    assert obj["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 80}
    assert obj["spec"]["behavior"]["scaleDown"] == autoscaling.default_scale_down()
    assert obj["spec"]["behavior"]["scaleUp"]["selectPolicy"] == "Max"


# --- reconcile with an in-memory client ----------------------------------------------------------

class FakeClient:
    def __init__(self, replicas: int, usage: list[str], request: str | None = "100m") -> None:
        self.replicas = replicas
        self.usage = usage
        self.request = request
        self.events: list[tuple[str, str]] = []
        self.statuses: list[dict[str, Any]] = []

    async def get_scale(self, resource: str, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        return {"kind": "Scale", "metadata": {"name": name, "resourceVersion": "7"},
                "spec": {"replicas": self.replicas}, "status": {"replicas": self.replicas, "selector": "app=w"}}

    async def update_scale(self, resource: str, name: str, body: dict[str, Any], *,
                           namespace: str | None = None) -> dict[str, Any]:
        self.replicas = body["spec"]["replicas"]
        return body

    async def list(self, resource: str, **_: Any) -> tuple[list[dict[str, Any]], str]:
        stamp = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if resource == "pods":
            requests = {"cpu": self.request} if self.request else {}
            return [{"metadata": {"name": f"w{i}"}, "spec": {"containers": [
                {"name": "main", "resources": {"requests": requests}}]},
                "status": {"phase": "Running", "startTime": stamp, "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": stamp}]}}
                for i in range(len(self.usage))], "1"
        return [{"metadata": {"name": f"w{i}"}, "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "window": "15s", "containers": [{"name": "main", "usage": {"cpu": u, "memory": "1Mi"}}]}
                for i, u in enumerate(self.usage)], "1"

    async def update_status(self, resource: str, obj: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.statuses.append(obj["status"])
        return obj

    async def create(self, resource: str, obj: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.events.append((obj["reason"], obj["message"]))
        return obj

    async def patch(self, resource: str, name: str, patch: Any, **_: Any) -> dict[str, Any]:
        return {}


def _hpa(**spec: Any) -> dict[str, Any]:
    obj = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "w", "namespace": "default", "uid": f"u-{id(spec)}", "generation": 1},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "w"},
                    "maxReplicas": 5, **spec}, "status": {}}
    autoscaling.default_hpa(obj)
    obj["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = 50
    return obj


def test_reconcile_scales_out_with_the_event_and_conditions() -> None:
    client = FakeClient(1, ["200m"])
    ctl = HorizontalPodAutoscalerController(client)  # type: ignore[arg-type]
    asyncio.run(ctl.reconcile(_hpa()))
    assert client.replicas == 4  # ratio 4 -> 4, within max(2x, 4)
    assert ("SuccessfulRescale", ("New size: 4; reason: cpu resource utilization (percentage of request) "
            "above target")) in client.events
    status = client.statuses[-1]
    assert status["currentReplicas"] == 1 and status["desiredReplicas"] == 4 and status["lastScaleTime"]
    assert status["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageValue": "200m", "averageUtilization": 200}}}]
    reasons = {c["type"]: c["reason"] for c in status["conditions"]}
    assert reasons == {"AbleToScale": "SucceededRescale", "ScalingActive": "ValidMetricFound",
                       "ScalingLimited": "DesiredWithinRange"}


def test_reconcile_scale_down_waits_for_the_window() -> None:
    client = FakeClient(4, ["1m"] * 4)
    ctl = HorizontalPodAutoscalerController(client)  # type: ignore[arg-type]
    asyncio.run(ctl.reconcile(_hpa()))
    assert client.replicas == 4  # the first recommendation (4, now) holds it for 5 minutes
    assert {c["type"]: c["reason"] for c in client.statuses[-1]["conditions"]}["AbleToScale"] == "ScaleDownStabilized"
    hpa = _hpa(behavior={"scaleDown": {"stabilizationWindowSeconds": 0}})
    ctl = HorizontalPodAutoscalerController(client)  # type: ignore[arg-type]
    asyncio.run(ctl.reconcile(hpa))
    assert client.replicas == 1
    assert ("SuccessfulRescale", "New size: 1; reason: All metrics below target") in client.events


def test_reconcile_reports_missing_requests() -> None:
    client = FakeClient(2, ["50m", "50m"], request=None)
    ctl = HorizontalPodAutoscalerController(client)  # type: ignore[arg-type]
    asyncio.run(ctl.reconcile(_hpa()))
    assert client.replicas == 2
    active = {c["type"]: c for c in client.statuses[-1]["conditions"]}["ScalingActive"]
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert active["message"] == ("the HPA was unable to compute the replica count: failed to get cpu utilization: "
                                 "missing request for cpu in container main of Pod w0")
    assert client.statuses[-1].get("currentMetrics") is None
    assert ("FailedComputeMetricsReplicas", ("invalid metrics (1 invalid out of 1), first error is: failed to get "
            "cpu utilization: missing request for cpu in container main of Pod w0")) in client.events


def test_reconcile_clamps_to_min_and_max_first() -> None:
    client = FakeClient(9, ["1m"] * 9)
    ctl = HorizontalPodAutoscalerController(client)  # type: ignore[arg-type]
    asyncio.run(ctl.reconcile(_hpa()))
    assert client.replicas == 5
    assert ("SuccessfulRescale", "New size: 5; reason: Current number of replicas above Spec.MaxReplicas") in client.events
