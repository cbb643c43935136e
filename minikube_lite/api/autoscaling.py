"""autoscaling/v2 and autoscaling/v1 HorizontalPodAutoscaler: schema, defaults, validation, Table.

Kubernetes serves one HorizontalPodAutoscaler in two versions from one storage (autoscaling/v2
in etcd): v1 is the old CPU-only view (``targetCPUUtilizationPercentage``), and what v1 cannot
say (other metrics, behavior, conditions) travels in ``autoscaling.alpha.kubernetes.io/*``
annotations. Here both versions are declared below and stored under the same key; every write
is stored in the v2 form (a v1 write is converted by its decoder, ``autoscaling_convert.py``)
and a v1 read converts back (``Kind.convert``), so the controller and every client see one
object. Rules follow ``pkg/apis/autoscaling/validation`` and the v2 defaults
(``minReplicas: 1``, a CPU target of 80% when no metric is given, and the default scaling rules
filled into a ``behavior`` that is present). The Table is kube-apiserver's printer of 1.32:
``NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE`` with TARGETS like ``cpu: 12%/50%``.
The controller is ``controllers/podautoscaler.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minikube_lite.api import autoscaling_convert as conv
from minikube_lite.api.apps import LabelSelector
from minikube_lite.api.kind import Kind, StoreView, Strategy
from minikube_lite.api.models import K8sModel, Quantity, Time, TypedObject
from minikube_lite.api.quantity import parse_quantity
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, name
from minikube_lite.api.validation import ErrorList, decode, validate_label_selector

OPENAPI_PACKAGE = "io.k8s.api.autoscaling.v2"
Obj = dict[str, Any]

METRIC_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]
TARGET_TYPES = ["AverageValue", "Utilization", "Value"]
POLICY_TYPES = ["Percent", "Pods"]
SELECT_POLICIES = ["Disabled", "Max", "Min"]
MAX_STABILIZATION_SECONDS = 3600
MAX_PERIOD_SECONDS = 1800


class CrossVersionObjectReference(K8sModel):
    """CrossVersionObjectReference contains enough information to let you identify the referred resource."""

    kind: str | None = None
    name: str | None = None
    apiVersion: str | None = None


class MetricTarget(K8sModel):
    type: str | None = None
    value: Quantity | None = None
    averageValue: Quantity | None = None
    averageUtilization: int | None = None


class ResourceMetricSource(K8sModel):
    name: str | None = None
    target: MetricTarget | None = None


class ContainerResourceMetricSource(K8sModel):
    name: str | None = None
    container: str | None = None
    target: MetricTarget | None = None


class MetricIdentifier(K8sModel):
    name: str | None = None
    selector: LabelSelector | None = None


class PodsMetricSource(K8sModel):
    metric: MetricIdentifier | None = None
    target: MetricTarget | None = None


class ObjectMetricSource(K8sModel):
    describedObject: CrossVersionObjectReference | None = None
    target: MetricTarget | None = None
    metric: MetricIdentifier | None = None


class ExternalMetricSource(K8sModel):
    metric: MetricIdentifier | None = None
    target: MetricTarget | None = None


class MetricSpec(K8sModel):
    type: str | None = None
    resource: ResourceMetricSource | None = None
    containerResource: ContainerResourceMetricSource | None = None
    pods: PodsMetricSource | None = None
    object: ObjectMetricSource | None = None
    external: ExternalMetricSource | None = None


class HPAScalingPolicy(K8sModel):
    type: str | None = None
    value: int | None = None
    periodSeconds: int | None = None


class HPAScalingRules(K8sModel):
    stabilizationWindowSeconds: int | None = None
    selectPolicy: str | None = None
    policies: list[HPAScalingPolicy] | None = None


class HorizontalPodAutoscalerBehavior(K8sModel):
    scaleUp: HPAScalingRules | None = None
    scaleDown: HPAScalingRules | None = None


class HorizontalPodAutoscalerSpec(K8sModel):
    scaleTargetRef: CrossVersionObjectReference | None = None
    minReplicas: int | None = None
    maxReplicas: int | None = None
    metrics: list[MetricSpec] | None = None
    behavior: HorizontalPodAutoscalerBehavior | None = None


class MetricValueStatus(K8sModel):
    value: Quantity | None = None
    averageValue: Quantity | None = None
    averageUtilization: int | None = None


class ResourceMetricStatus(K8sModel):
    name: str | None = None
    current: MetricValueStatus | None = None


class ContainerResourceMetricStatus(K8sModel):
    name: str | None = None
    container: str | None = None
    current: MetricValueStatus | None = None


class PodsMetricStatus(K8sModel):
    metric: MetricIdentifier | None = None
    current: MetricValueStatus | None = None


class ObjectMetricStatus(K8sModel):
    metric: MetricIdentifier | None = None
    current: MetricValueStatus | None = None
    describedObject: CrossVersionObjectReference | None = None


class ExternalMetricStatus(K8sModel):
    metric: MetricIdentifier | None = None
    current: MetricValueStatus | None = None


class MetricStatus(K8sModel):
    type: str | None = None
    resource: ResourceMetricStatus | None = None
    containerResource: ContainerResourceMetricStatus | None = None
    pods: PodsMetricStatus | None = None
    object: ObjectMetricStatus | None = None
    external: ExternalMetricStatus | None = None


class HorizontalPodAutoscalerCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class HorizontalPodAutoscalerStatus(K8sModel):
    observedGeneration: int | None = None
    lastScaleTime: Time | None = None
    currentReplicas: int | None = None
    desiredReplicas: int | None = None
    currentMetrics: list[MetricStatus] | None = None
    conditions: list[HorizontalPodAutoscalerCondition] | None = None


class HorizontalPodAutoscaler(TypedObject):
    """HorizontalPodAutoscaler is the configuration for a horizontal pod autoscaler, which automatically
    manages the replica count of any resource implementing the scale subresource based on the metrics specified."""

    spec: HorizontalPodAutoscalerSpec | None = None
    status: HorizontalPodAutoscalerStatus | None = None


# --- defaults --------------------------------------------------------------------------------

def default_scale_up() -> Obj:
    """``GenerateHPAScaleUpRules``' defaults: double or add 4 pods per 15 s, whichever is more."""
    return {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                         {"type": "Percent", "value": 100, "periodSeconds": 15}]}


def default_scale_down() -> Obj:
    """``GenerateHPAScaleDownRules``' defaults: a 300 s window, then down to any size per 15 s."""
    return {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _fill_rules(rules: Obj | None, defaults: Obj) -> Obj:
    if rules is None:
        return defaults
    for key in ("stabilizationWindowSeconds", "selectPolicy", "policies"):
        if rules.get(key) is None:
            rules[key] = defaults[key]
    return rules


def default_hpa(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _fill_rules(behavior.get("scaleUp"), default_scale_up())
        behavior["scaleDown"] = _fill_rules(behavior.get("scaleDown"), default_scale_down())


# --- validation ------------------------------------------------------------------------------

def _path_segment(errs: ErrorList, path: str, value: str) -> None:
    for bad in ("/", "%"):
        if bad in value:
            errs.invalid(path, value, f"may not contain '{bad}'")
    if value in (".", ".."):
        errs.invalid(path, value, f"may not be '{value}'")


def _validate_target(errs: ErrorList, target: Obj | None, path: str, *, resource: bool) -> None:
    if target is None:
        errs.required(path)
        return
    kind = target.get("type")
    if not kind:
        errs.required(f"{path}.type", "must specify a metric target type")
    elif kind not in TARGET_TYPES:
        errs.not_supported(f"{path}.type", kind, TARGET_TYPES)
    util = target.get("averageUtilization")
    if util is not None and util < 1:
        errs.invalid(f"{path}.averageUtilization", util, "must be greater than 0")
    for key in ("value", "averageValue"):
        value = target.get(key)
        if value is not None:
            try:
                if parse_quantity(value) <= 0:
                    errs.invalid(f"{path}.{key}", value, "must be positive")
            except (TypeError, ValueError):
                pass  # the model already said it is no quantity
    wanted = {"Utilization": "averageUtilization", "AverageValue": "averageValue", "Value": "value"}.get(kind or "")
    if wanted and target.get(wanted) is None:
        errs.required(f"{path}.{wanted}", f"must set {wanted} when metric target type is {kind}")
    if resource and kind == "Value":
        errs.invalid(f"{path}.type", kind, "must be either Utilization or AverageValue")


def _validate_metric(errs: ErrorList, metric: Obj, path: str) -> None:
    kind = metric.get("type")
    if not kind:
        errs.required(f"{path}.type", "must specify a metric source type")
        return
    if kind not in METRIC_TYPES:
        errs.not_supported(f"{path}.type", kind, METRIC_TYPES)
        return
    field = kind[0].lower() + kind[1:]
    others = [f for f in ("resource", "containerResource", "pods", "object", "external")
              if f != field and metric.get(f) is not None]
    if others:
        errs.forbidden(path, "must populate the given metric source only")
    source = metric.get(field)
    if source is None:
        errs.required(f"{path}.{field}", f"must populate information for the given metric source (type {kind})")
        return
    here = f"{path}.{field}"
    if kind in ("Resource", "ContainerResource"):
        if not source.get("name"):
            errs.required(f"{here}.name", "must specify a resource name")
        if kind == "ContainerResource" and not source.get("container"):
            errs.required(f"{here}.container", "must specify a container")
    else:
        if not (source.get("metric") or {}).get("name"):
            errs.required(f"{here}.metric.name", "must specify a metric name")
        selector = (source.get("metric") or {}).get("selector")
        if selector is not None:
            validate_label_selector(errs, selector, f"{here}.metric.selector")
        if kind == "Object":
            ref = source.get("describedObject") or {}
            for key in ("kind", "name"):
                if not ref.get(key):
                    errs.required(f"{here}.describedObject.{key}")
    _validate_target(errs, source.get("target"), f"{here}.target", resource=kind in ("Resource", "ContainerResource"))


def _validate_rules(errs: ErrorList, rules: Obj | None, path: str) -> None:
    if rules is None:
        return
    window = rules.get("stabilizationWindowSeconds")
    if window is not None and window < 0:
        errs.invalid(f"{path}.stabilizationWindowSeconds", window, "must be greater than or equal to zero")
    elif window is not None and window > MAX_STABILIZATION_SECONDS:
        errs.invalid(f"{path}.stabilizationWindowSeconds", window,
                     f"must be less than or equal to {MAX_STABILIZATION_SECONDS}")
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        errs.not_supported(f"{path}.selectPolicy", select, SELECT_POLICIES)
    policies = rules.get("policies")
    if policies is not None and not policies:
        errs.required(f"{path}.policies", "must specify at least one Policy")
    for i, policy in enumerate(policies or []):
        here = f"{path}.policies[{i}]"
        if policy.get("type") not in POLICY_TYPES:
            errs.not_supported(f"{here}.type", policy.get("type"), POLICY_TYPES)
        value = policy.get("value")
        if value is None or value <= 0:
            errs.invalid(f"{here}.value", value, "must be greater than zero")
        period = policy.get("periodSeconds")
        if period is None or period <= 0:
            errs.invalid(f"{here}.periodSeconds", period, "must be greater than zero")
        elif period > MAX_PERIOD_SECONDS:
            errs.invalid(f"{here}.periodSeconds", period, f"must be less than or equal to {MAX_PERIOD_SECONDS}")


def validate_hpa(errs: ErrorList, obj: Obj) -> None:
    spec = obj.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    for key in ("kind", "name"):
        if not ref.get(key):
            errs.required(f"spec.scaleTargetRef.{key}")
        else:
            _path_segment(errs, f"spec.scaleTargetRef.{key}", ref[key])
    low, high = spec.get("minReplicas"), spec.get("maxReplicas")
    if low is not None and low < 1:
        errs.invalid("spec.minReplicas", low, "must be greater than or equal to 1")
    if high is None or high < 1:
        errs.invalid("spec.maxReplicas", high or 0, "must be greater than 0")
    elif low is not None and low > high:
        errs.invalid("spec.maxReplicas", high, "must be greater than or equal to `minReplicas`")
    for i, metric in enumerate(spec.get("metrics") or []):
        _validate_metric(errs, metric, f"spec.metrics[{i}]")
    behavior = spec.get("behavior") or {}
    _validate_rules(errs, behavior.get("scaleUp"), "spec.behavior.scaleUp")
    _validate_rules(errs, behavior.get("scaleDown"), "spec.behavior.scaleDown")


class HPAStrategy(Strategy):
    def prepare_create(self, obj: Obj, store: StoreView) -> None:
        obj["status"] = {}  # PrepareForCreate: the controller writes it


# --- the Table -------------------------------------------------------------------------------

def format_metrics(specs: list[Obj], statuses: list[Obj]) -> str:
    """``formatHPAMetrics`` of kube-apiserver 1.32: ``cpu: 12%/50%``, at most two, then ``+ N more...``."""
    if not specs:
        return "<none>"
    shown: list[str] = []
    for i, spec in enumerate(specs):
        kind = spec.get("type")
        status = statuses[i] if i < len(statuses) else {}
        field = (kind or "")[:1].lower() + (kind or "")[1:]
        source, current = spec.get(field) or {}, ((status.get(field) or {}).get("current") or {})
        target = source.get("target") or {}
        if kind in ("Resource", "ContainerResource"):
            if target.get("averageValue") is not None:
                now = current.get("averageValue")
                shown.append(f"{source.get('name')}: {now if now is not None else '<unknown>'}/{target['averageValue']}")
            else:
                util = current.get("averageUtilization")
                want = target.get("averageUtilization")
                shown.append(f"{source.get('name')}: {f'{util}%' if util is not None else '<unknown>'}/"
                             f"{f'{want}%' if want is not None else '<auto>'}")
        elif kind in ("External", "Object") and target.get("averageValue") is not None:
            now = current.get("averageValue")
            shown.append(f"{now if now is not None else '<unknown>'}/{target['averageValue']} (avg)")
        elif kind in ("External", "Object"):
            now = current.get("value")
            shown.append(f"{now if now is not None else '<unknown>'}/{target.get('value')}")
        elif kind == "Pods":
            now = current.get("averageValue")
            shown.append(f"{now if now is not None else '<unknown>'}/{target.get('averageValue')}")
        else:
            shown.append("<unknown type>")
    text = ", ".join(shown[:2])
    return f"{text} + {len(shown) - 2} more..." if len(shown) > 2 else text


COLUMNS = [NAME_COLUMN,
           column("Reference", "scaleTargetRef points to the target resource to scale, and is used to the pods for "
                  "which metrics should be collected, as well as to actually change the replica count."),
           column("Targets", "metrics contains the specifications for which to use to calculate the desired "
                  "replica count (the maximum replica count across all metrics will be used)."),
           column("MinPods", "minReplicas is the lower limit for the number of replicas to which the autoscaler "
                  "can scale down."),
           column("MaxPods", "maxReplicas is the upper limit for the number of replicas to which the autoscaler "
                  "can scale up. It cannot be less that minReplicas."),
           column("Replicas", "currentReplicas is current number of replicas of pods managed by this "
                  "autoscaler, as last seen by the autoscaler."),
           AGE_COLUMN]


def hpa_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    low = spec.get("minReplicas")
    return [name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}",
            format_metrics(spec.get("metrics") or [], status.get("currentMetrics") or []),
            "<unset>" if low is None else str(low), int(spec.get("maxReplicas") or 0),
            int(status.get("currentReplicas") or 0), age(obj, now)]


# --- autoscaling/v1: the same objects in the old shape ---------------------------------------

def decode_v1(obj: Obj, field_validation: str) -> tuple[Obj, list[str]]:
    """A v1 write decoded against the v1 schema and turned into the stored v2 form. A status
    write arrives as the stored (v2) object carrying the request's v1 status."""
    if obj.get("apiVersion") == conv.V2:
        return decode(HPA_V2.resource, HorizontalPodAutoscaler, conv.with_v2_status(obj), field_validation)
    cleaned, warnings = decode(HPA_V1_RESOURCE, conv.HorizontalPodAutoscalerV1, obj, field_validation)
    return conv.to_v2(cleaned), warnings


def hpa_v1_cells(obj: Obj, now: datetime) -> list[Any]:
    return hpa_cells(conv.to_v2(obj), now)


_RESOURCE_ARGS = ("autoscaling", "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler",
                  True, ("hpa",), ("all",), tuple(ALL_VERBS), ("status",))
HPA_V2 = Kind(
    Resource(_RESOURCE_ARGS[0], "v2", *_RESOURCE_ARGS[1:]),  # type: ignore[arg-type]
    model=HorizontalPodAutoscaler, validate=validate_hpa, default=default_hpa, columns=COLUMNS, cells=hpa_cells,
    strategy=HPAStrategy())
HPA_V1_RESOURCE = Resource(_RESOURCE_ARGS[0], "v1", *_RESOURCE_ARGS[1:])  # type: ignore[arg-type]
HPA_V1 = Kind(
    HPA_V1_RESOURCE, model=conv.HorizontalPodAutoscalerV1, validate=validate_hpa, default=default_hpa,
    columns=COLUMNS, cells=hpa_v1_cells, strategy=HPAStrategy(), decode=decode_v1, convert=conv.to_v1)
#: v2 first: the group's preferred version, as kube-apiserver lists autoscaling
KINDS = [HPA_V2, HPA_V1]
