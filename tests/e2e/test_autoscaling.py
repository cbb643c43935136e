"""HorizontalPodAutoscaler on the real engine with the real kubectl: the workers scale out under load and back.

The cluster is its own (the HPA sync period and the metric resolution at 2 s instead of 15 s, so
the file takes well under 90 s); the workload is examples/autoscaling/worker.yaml (busy loops
toggled by a ConfigMap), the HPA is what ``kubectl autoscale`` (1.27, autoscaling/v1) makes, with
a 5 s scale-down window set through autoscaling/v2. Every figure comes from ``docker stats``
through metrics.k8s.io; nothing is faked.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import Cluster, running_cluster, wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "autoscaling" / "worker.yaml"
TARGETS = re.compile(r"^cpu: (<unknown>|\d+%)/50%$")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("hpa"), extra_env={
            "MINIKUBE_LITE_HPA_SYNC_PERIOD": "2", "MINIKUBE_LITE_METRIC_RESOLUTION": "2"}) as c:
        yield c


def _replicas(cluster: Cluster, name: str) -> int:
    return int(cluster.kubectl("get", "deployment", name, "-o", "jsonpath={.spec.replicas}").stdout or 0)


def _hpa_row(cluster: Cluster, version: str | None = None) -> list[str]:
    out = cluster.kubectl("get", "hpa", "worker", version=version).stdout.splitlines()
    assert re.split(r"\s{2,}", out[0].strip()) == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS",
                                                   "REPLICAS", "AGE"]
    return re.split(r"\s{2,}", out[1].strip())


def _events(cluster: Cluster) -> list[str]:
    items = json.loads(cluster.kubectl("get", "events", "--field-selector",
                                       "involvedObject.kind=HorizontalPodAutoscaler", "-o", "json").stdout)["items"]
    return [f"{e['reason']}: {e['message']}" for e in items]


def _load(cluster: Cluster, busy: str) -> None:
    cluster.kubectl("patch", "configmap", "worker-load", "-p", json.dumps({"data": {"busy": busy}}))


def test_workers_scale_out_under_load_and_back(cluster: Cluster) -> None:
    docs = [d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d["kind"] != "HorizontalPodAutoscaler"]
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    cluster.kubectl("create", "deployment", "bystander", "--image=minikube-lite/busybox:1.0", "--", "sleep", "3600")
    out = cluster.kubectl("autoscale", "deployment", "worker", "--cpu-percent=50", "--min=1", "--max=3",
                          version="1.27").stdout
    assert "horizontalpodautoscaler.autoscaling/worker autoscaled" in out
    row = _hpa_row(cluster, "1.33")
    assert row[1] == "Deployment/worker" and TARGETS.match(row[2]) and row[3:5] == ["1", "3"], row
    # the v1 object kubectl made, read in v2 (one storage), gets a short scale-down window
    v2 = json.loads(cluster.kubectl("get", "hpa", "worker", "-o", "json").stdout)
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
    cluster.kubectl("patch", "hpa", "worker", "--type=merge", "-p",
                    '{"spec":{"behavior":{"scaleDown":{"stabilizationWindowSeconds":5}}}}')

    # idle: a measured utilisation shows, and the count stays at 1
    wait_for(lambda: re.match(r"^cpu: \d+%/50%$", _hpa_row(cluster)[2]), timeout=40, interval=0.5,
             what="a measured CPU utilisation in TARGETS")
    assert _replicas(cluster, "worker") == 1
    for version in ("1.27", "1.33"):
        assert re.match(r"^cpu: \d+%/50%$", _hpa_row(cluster, version)[2])

    # load on: the first scale-out decision comes within a few sync periods
    started = time.monotonic()
    _load(cluster, "1")
    wait_for(lambda: _replicas(cluster, "worker") > 1, timeout=30, interval=0.5, what="a scale-out")
    took = time.monotonic() - started
    wait_for(lambda: _replicas(cluster, "worker") == 3, timeout=30, interval=0.5, what="3 workers")
    assert any(e.startswith("SuccessfulRescale: New size: ") and e.endswith(
        "; reason: cpu resource utilization (percentage of request) above target") for e in _events(cluster))
    hpa = json.loads(cluster.kubectl("get", "hpa", "worker", "-o", "json").stdout)
    status = hpa["status"]
    assert status["lastScaleTime"] and status["desiredReplicas"] >= 2
    current = status["currentMetrics"][0]["resource"]
    assert current["name"] == "cpu" and current["current"]["averageUtilization"] > 50, current
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["AbleToScale"]["status"] == "True" and conditions["ScalingActive"]["reason"] == "ValidMetricFound"
    assert _replicas(cluster, "bystander") == 1  # only the workers
    # autoscaling/v1 sees the same object: its CPU target and current utilisation
    v1 = json.loads(cluster.kubectl("get", "--raw",
                                    "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/worker").stdout)
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50 and "metrics" not in v1["spec"]
    assert v1["status"]["currentCPUUtilizationPercentage"] >= 0
    assert "autoscaling.alpha.kubernetes.io/behavior" in v1["metadata"]["annotations"]

    # load off: back to the minimum after the 5 s window
    _load(cluster, "0")
    wait_for(lambda: _replicas(cluster, "worker") == 1, timeout=45, interval=0.5, what="back to 1 worker")
    assert "SuccessfulRescale: New size: 1; reason: All metrics below target" in _events(cluster)
    print(f"load applied -> first scale-out: {took:.1f}s (2 s sync period, 2 s metric resolution)")


def test_bad_hpa_and_missing_requests(cluster: Cluster) -> None:
    bad = cluster.kubectl("apply", "-f", "-", check=False, input=(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: bad}\n"
        "spec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: x}\n  minReplicas: 3\n"
        "  maxReplicas: 2\n  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization}}}]\n"))
    assert bad.returncode != 0
    assert "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`" in bad.stderr
    assert "spec.metrics[0].resource.target.averageUtilization: Required value" in bad.stderr
    # a target whose pods request no CPU: ScalingActive False, with Kubernetes' message
    cluster.kubectl("create", "deployment", "norequest", "--image=minikube-lite/busybox:1.0", "--", "sleep", "3600")
    cluster.kubectl("autoscale", "deployment", "norequest", "--cpu-percent=50", "--max=2", version="1.33")

    def reason() -> str:
        hpa = json.loads(cluster.kubectl("get", "hpa", "norequest", "-o", "json").stdout)
        cond = {c["type"]: c for c in (hpa.get("status") or {}).get("conditions") or []}.get("ScalingActive", {})
        return cond.get("message", "") if "missing request for cpu" in cond.get("message", "") else ""

    message = wait_for(reason, timeout=30, interval=0.5, what="the missing-request condition")
    assert re.search(r"failed to get cpu utilization: missing request for cpu in container busybox of Pod "
                     r"norequest-\S+$", message), message
    assert _hpa_row_of(cluster, "norequest")[2] == "cpu: <unknown>/50%"


def _hpa_row_of(cluster: Cluster, name: str) -> list[str]:
    return re.split(r"\s{2,}", cluster.kubectl("get", "hpa", name).stdout.splitlines()[1].strip())


def test_memory_average_value_needs_no_requests(cluster: Cluster) -> None:
    cluster.kubectl("create", "deployment", "memwatch", "--image=minikube-lite/busybox:1.0", "--", "sleep", "3600")
    cluster.kubectl("apply", "-f", "-", input=(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: memwatch}\n"
        "spec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: memwatch}\n  maxReplicas: 2\n"
        "  metrics: [{type: Resource, resource: {name: memory, target: {type: AverageValue, averageValue: 64Mi}}}]\n"))

    def measured() -> str:
        cell = _hpa_row_of(cluster, "memwatch")[2]
        return cell if re.match(r"^memory: \d+(k|M|Mi|Ki)?/64Mi$", cell) else ""

    wait_for(measured, timeout=30, interval=0.5, what="a measured memory average in TARGETS")
    hpa = json.loads(cluster.kubectl("get", "hpa", "memwatch", "-o", "json").stdout)
    current = hpa["status"]["currentMetrics"][0]["resource"]
    assert current["name"] == "memory" and "averageUtilization" not in current["current"]
    assert hpa["status"]["desiredReplicas"] == 1  # a sleeping busybox is far below 64Mi
