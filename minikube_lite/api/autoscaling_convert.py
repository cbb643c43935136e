"""autoscaling/v1 <-> autoscaling/v2 HorizontalPodAutoscaler conversion (``pkg/apis/autoscaling/v1``).

autoscaling/v1 knows one target, ``targetCPUUtilizationPercentage``, and one current value,
``status.currentCPUUtilizationPercentage``. Kubernetes' conversion keeps what v1 cannot say in
annotations of the v1 view, so a v1 read-modify-write loses nothing:
``autoscaling.alpha.kubernetes.io/metrics`` (the other metrics), ``.../behavior``,
``.../conditions`` and ``.../current-metrics``; a v1 write takes them back out. The v1 models
are here too (the v1 schema a v1 write is checked against, and its OpenAPI). A leaf module.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from minikube_lite.api.models import K8sModel, Time, TypedObject

Obj = dict[str, Any]
V1, V2 = "autoscaling/v1", "autoscaling/v2"
METRICS = "autoscaling.alpha.kubernetes.io/metrics"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"
_ANNOTATIONS = (METRICS, BEHAVIOR, CONDITIONS, CURRENT_METRICS)


class CrossVersionObjectReferenceV1(K8sModel):
    __openapi_name__ = "io.k8s.api.autoscaling.v1.CrossVersionObjectReference"
    kind: str | None = None
    name: str | None = None
    apiVersion: str | None = None


class HorizontalPodAutoscalerSpecV1(K8sModel):
    __openapi_name__ = "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec"
    scaleTargetRef: CrossVersionObjectReferenceV1 | None = None
    minReplicas: int | None = None
    maxReplicas: int | None = None
    targetCPUUtilizationPercentage: int | None = None


class HorizontalPodAutoscalerStatusV1(K8sModel):
    __openapi_name__ = "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerStatus"
    observedGeneration: int | None = None
    lastScaleTime: Time | None = None
    currentReplicas: int | None = None
    desiredReplicas: int | None = None
    currentCPUUtilizationPercentage: int | None = None


class HorizontalPodAutoscalerV1(TypedObject):
    """configuration of a horizontal pod autoscaler."""

    __openapi_name__ = "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler"
    spec: HorizontalPodAutoscalerSpecV1 | None = None
    status: HorizontalPodAutoscalerStatusV1 | None = None


def _is_cpu_utilization(metric: Obj) -> bool:
    res = metric.get("resource") or {}
    return (metric.get("type") == "Resource" and res.get("name") == "cpu"
            and (res.get("target") or {}).get("type") == "Utilization")


def _load(annotations: dict[str, str], key: str) -> Any:
    text = annotations.pop(key, None)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _as_version(obj: Obj, version: str) -> tuple[Obj, Obj, dict[str, str]]:
    """A copy of ``obj`` as ``version``: (the copy, its metadata, a copy of its annotations)."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = version
    meta = out.setdefault("metadata", {})
    return out, meta, dict(meta.get("annotations") or {})


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def to_v1(obj: Obj) -> Obj:
    """The v1 view of a stored (v2) object."""
    if obj.get("apiVersion") != V2:
        return obj
    out, meta, annotations = _as_version(obj, V1)
    spec = out.get("spec") or {}
    metrics = spec.pop("metrics", None) or []
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"].get("averageUtilization")
    others = [m for m in metrics if m is not cpu]
    if others:
        annotations[METRICS] = _dump(others)
    behavior = spec.pop("behavior", None)
    if behavior:
        annotations[BEHAVIOR] = _dump(behavior)
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentMetrics", None) or []
        conditions = status.pop("conditions", None)
        for m in current:
            res = m.get("resource") or {}
            if m.get("type") == "Resource" and res.get("name") == "cpu" and \
                    (res.get("current") or {}).get("averageUtilization") is not None:
                status["currentCPUUtilizationPercentage"] = res["current"]["averageUtilization"]
        if current:
            annotations[CURRENT_METRICS] = _dump(current)
        if conditions:
            annotations[CONDITIONS] = _dump(conditions)
    if annotations:
        meta["annotations"] = annotations
    return out


def to_v2(obj: Obj) -> Obj:
    """The stored (v2) form of a v1 object (the annotations the v1 view carried go back in place)."""
    if obj.get("apiVersion") != V1:
        return obj
    out, meta, annotations = _as_version(obj, V2)
    spec = out.setdefault("spec", {})
    target = spec.pop("targetCPUUtilizationPercentage", None)
    metrics: list[Obj] = []
    if target is not None:
        metrics.append({"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}})
    extra = _load(annotations, METRICS)
    if isinstance(extra, list):
        metrics += [m for m in extra if isinstance(m, dict)]
    if metrics:
        spec["metrics"] = metrics
    behavior = _load(annotations, BEHAVIOR)
    if isinstance(behavior, dict):
        spec["behavior"] = behavior
    current, conditions = _load(annotations, CURRENT_METRICS), _load(annotations, CONDITIONS)
    status = out.get("status")
    if isinstance(status, dict):
        out["status"] = _status_to_v2(status, current, conditions)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


def _status_to_v2(status: Obj, current: Any, conditions: Any) -> Obj:
    status = dict(status)
    cpu = status.pop("currentCPUUtilizationPercentage", None)
    metrics = current if isinstance(current, list) else []
    if cpu is not None and not metrics:
        metrics = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}}]
    if metrics:
        status["currentMetrics"] = metrics
    if isinstance(conditions, list):
        status["conditions"] = conditions
    return status


def with_v2_status(obj: Obj) -> Obj:
    """A stored object whose status came from a v1 ``/status`` write: that status in the v2 shape."""
    status = obj.get("status")
    if not isinstance(status, dict) or "currentCPUUtilizationPercentage" not in status:
        return obj
    out = dict(obj)
    out["status"] = _status_to_v2(status, None, None)
    return out
