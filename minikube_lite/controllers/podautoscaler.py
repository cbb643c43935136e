"""kube-controller-manager's horizontal pod autoscaler controller (``pkg/controller/podautoscaler``).

Every ``sync_period`` (``--horizontal-pod-autoscaler-sync-period``, 15 s) each autoscaling/v2
HorizontalPodAutoscaler is reconciled as ``reconcileAutoscaler`` does, entirely through the API
with the controller's own identity (the ``horizontal-pod-autoscaler`` ServiceAccount):

1. GET the target's ``/scale`` (``AbleToScale``: SucceededGetScale / FailedGetScale);
2. the pods of ``scale.status.selector`` and their PodMetrics from ``metrics.k8s.io/v1beta1``
   (the resource metrics API, as metrics-server serves it), one proposal per metric
   (``podautoscaler_policy.py``; ``ScalingActive``: ValidMetricFound / FailedGetResourceMetric ...),
   the highest wins;
3. stabilisation and limits (``ScalingLimited``), with or without ``spec.behavior``;
4. a changed count is written to ``/scale`` with a ``SuccessfulRescale`` event ("New size: 3;
   reason: cpu resource utilization (percentage of request) above target");
5. ``status``: currentReplicas, desiredReplicas, currentMetrics, lastScaleTime, conditions.

A new HPA, or one whose spec changed (a new ``generation``), is reconciled at once; recommendations
and scale events are kept in memory per HPA, as Kubernetes keeps them.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..api import register
from ..api.conditions import find
from ..api.errors import ApiError, Conflict, NotFound
from ..api.quantity import parse_quantity
from ..api.tables import parse_time
from ..api.times import rfc3339
from ..client.base import Client
from ..client.controller import run_controller
from ..client.events import record_event
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue
from . import podautoscaler_policy as policy
from .podautoscaler_policy import MetricsError, PodInfo, PodMetric, Proposal, Recommendation, ScaleEvent

log = logging.getLogger(__name__)
COMPONENT = "horizontal-pod-autoscaler"
SYNC_PERIOD_SECONDS = 15.0
Obj = dict[str, Any]
_SUFFIXES = ((18, "E"), (15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k"))


def milli_quantity(milli: float) -> str:
    """``resource.NewMilliQuantity(v, DecimalSI).String()``: ``12m``, ``1``, ``52428800``, ``5k``."""
    m = int(milli)
    if m % 1000:
        return f"{m}m"
    whole = m // 1000
    if whole == 0:
        return "0"
    for exp, suffix in _SUFFIXES:
        if whole % 10**exp == 0:
            return f"{whole // 10**exp}{suffix}"
    return str(whole)


def _milli(value: Any) -> float:
    return float(parse_quantity(value) * Decimal(1000))


def _now() -> datetime:
    return datetime.now(UTC)


def pod_info(pod: Obj, resource: str, container: str | None = None) -> PodInfo:
    """The calculator's view of a pod: phase, readiness and the request of ``resource``."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    ready = find(status.get("conditions"), "Ready")
    containers = [c for c in spec.get("containers") or [] if container is None or c.get("name") == container]
    total: float | None = 0.0
    lacking = ""
    for c in containers:
        req = ((c.get("resources") or {}).get("requests") or {}).get(resource)
        if req is None:
            total, lacking = None, c.get("name", "")
            break
        total = (total or 0.0) + _milli(req)
    if not containers:
        total = None
    return PodInfo(name=meta.get("name", ""), phase=status.get("phase") or "Pending",
                   deleting=bool(meta.get("deletionTimestamp")), start_time=parse_time(status.get("startTime")),
                   ready=None if ready is None else ready.get("status") == "True",
                   ready_transition=parse_time((ready or {}).get("lastTransitionTime")),
                   requests={resource: total}, containers=(lacking,) if lacking else tuple(
                       c.get("name", "") for c in containers))


def pod_metric(obj: Obj, resource: str, container: str | None = None) -> PodMetric | None:
    """A PodMetrics' usage of ``resource`` (its containers summed); None when a container lacks it."""
    total = 0.0
    containers = [c for c in obj.get("containers") or [] if container is None or c.get("name") == container]
    if not containers:
        return None
    for c in containers:
        value = (c.get("usage") or {}).get(resource)
        if value is None:
            return None
        total += _milli(value)
    window = str(obj.get("window") or "0s").rstrip("s")
    try:
        seconds = float(window)
    except ValueError:
        seconds = 0.0
    return PodMetric(total, parse_time(obj.get("timestamp")) or _now(), timedelta(seconds=seconds))


def set_condition(status: Obj, type_: str, value: bool, reason: str, message: str, now: datetime) -> None:
    """``setCondition``: lastTransitionTime moves only when the status changes."""
    conditions = status.setdefault("conditions", [])
    text = "True" if value else "False"
    for c in conditions:
        if c.get("type") == type_:
            if c.get("status") != text:
                c["lastTransitionTime"] = rfc3339(now)
            c.update(status=text, reason=reason, message=message)
            return
    conditions.append({"type": type_, "status": text, "lastTransitionTime": rfc3339(now), "reason": reason,
                       "message": message})


class _Failed(Exception):
    """A reconcile that stops with a condition already set and an event to record."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class HorizontalPodAutoscalerController:
    def __init__(self, client: Client, *, sync_period: float = SYNC_PERIOD_SECONDS,
                 downscale_stabilization: float = policy.DOWNSCALE_STABILIZATION.total_seconds(),
                 tolerance: float = policy.TOLERANCE) -> None:
        self.client = client
        self.sync_period = sync_period
        self.downscale_window = timedelta(seconds=downscale_stabilization)
        self.tolerance = tolerance
        self.hpas = Informer(client, "horizontalpodautoscalers")
        self.hpas.add_handler(self._on_event)
        self.queue = WorkQueue("horizontal-pod-autoscaler")
        self._generations: dict[str, Any] = {}
        self.recommendations: dict[str, list[Recommendation]] = {}
        self.scale_ups: dict[str, list[ScaleEvent]] = {}
        self.scale_downs: dict[str, list[ScaleEvent]] = {}

    def _on_event(self, etype: str, obj: Obj) -> None:
        key = object_key(obj)
        if etype == "DELETED":
            for store in (self._generations, self.recommendations, self.scale_ups, self.scale_downs):
                store.pop(key, None)
            return
        generation = (obj.get("metadata") or {}).get("generation")
        if self._generations.get(key) != generation:  # new, or its spec changed: now (not on status writes)
            self._generations[key] = generation
            self.queue.add(key)

    async def run(self) -> None:
        """The informer, then every HPA once per sync period (and at once when new or changed)."""
        await run_controller([self.hpas], self.queue, self._sync, workers=1,
                             resync_keys=lambda: list(self.hpas.cache), resync_seconds=self.sync_period)

    async def _sync(self, key: str) -> None:
        hpa = self.hpas.get(key)
        if hpa is not None:
            await self.reconcile(copy.deepcopy(hpa))

    # ---- one HPA --------------------------------------------------------------------------------

    async def reconcile(self, hpa: Obj) -> None:
        now = _now()
        key = object_key(hpa)
        meta, spec = hpa["metadata"], hpa.get("spec") or {}
        namespace = meta.get("namespace") or "default"
        original = copy.deepcopy(hpa.get("status") or {})
        status = hpa.setdefault("status", {})
        ref = spec.get("scaleTargetRef") or {}
        try:
            target, scale = await self._get_scale(namespace, ref)
        except _Failed as failed:
            set_condition(status, "AbleToScale", False, "FailedGetScale",
                          f"the HPA controller was unable to get the target's current scale: {failed.message}", now)
            await self._event(hpa, "Warning", "FailedGetScale", failed.message)
            await self._write_status(hpa, original)
            return
        set_condition(status, "AbleToScale", True, "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale", now)
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        self.recommendations.setdefault(key, [Recommendation(current, now)])
        low, high = int(spec.get("minReplicas") or 1), int(spec.get("maxReplicas") or 0)
        metric_statuses = status.get("currentMetrics") or []
        reason, desired = "", 0
        if current == 0 and low != 0:
            set_condition(status, "ScalingActive", False, "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", now)
        elif current > high:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", high
        elif current < low:
            reason, desired = "Current number of replicas below Spec.MinReplicas", low
        else:
            try:
                proposal, metric_name, metric_statuses = await self._compute(hpa, scale, current, now)
            except _Failed as failed:
                self._set_replicas_and_metrics(status, current, metric_statuses)
                await self._write_status(hpa, original)
                await self._event(hpa, "Warning", "FailedComputeMetricsReplicas", failed.message)
                return
            set_condition(status, "ScalingActive", True, "ValidMetricFound",
                          f"the HPA was able to successfully calculate a replica count from {metric_name}", now)
            desired = proposal
            if desired > current:
                reason = f"{metric_name} above target"
            elif desired < current:
                reason = "All metrics below target"
            desired = self._normalize(key, hpa, current, desired, low, high, now)
        rescale = desired != current and not (current == 0 and low != 0)
        if rescale:
            try:
                await self.client.update_scale(target, ref.get("name", ""), {**scale, "spec": {"replicas": desired}},
                                               namespace=namespace)
            except ApiError as exc:
                set_condition(status, "AbleToScale", False, "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {exc.message}", now)
                self._set_replicas_and_metrics(status, current, metric_statuses)
                await self._write_status(hpa, original)
                await self._event(hpa, "Warning", "FailedRescale",
                                  f"New size: {desired}; reason: {reason}; error: {exc.message}")
                return
            set_condition(status, "AbleToScale", True, "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", now)
            await self._event(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            if spec.get("behavior"):
                policy.record_scale(self.scale_ups.setdefault(key, []), self.scale_downs.setdefault(key, []),
                                    current, desired, now)
            log.info("%s: scaled %s from %d to %d (%s)", key, ref.get("name"), current, desired, reason)
            status["lastScaleTime"] = rfc3339(now)
        else:
            desired = current
        self._set_replicas_and_metrics(status, current, metric_statuses)
        status["desiredReplicas"] = desired
        if meta.get("generation") is not None:
            status["observedGeneration"] = meta["generation"]
        await self._write_status(hpa, original)

    def _normalize(self, key: str, hpa: Obj, current: int, desired: int, low: int, high: int, now: datetime) -> int:
        status, behavior = hpa["status"], (hpa.get("spec") or {}).get("behavior")
        recs = self.recommendations.setdefault(key, [])
        if not behavior:
            stabilized = policy.stabilize(recs, desired, now, self.downscale_window)
            if stabilized != desired:
                set_condition(status, "AbleToScale", True, "ScaleDownStabilized",
                              "recent recommendations were higher than current one, applying the highest recent "
                              "recommendation", now)
            else:
                set_condition(status, "AbleToScale", True, "ReadyForNewScale", "recommended size matches current size",
                              now)
            final, reason, message = policy.limit(current, stabilized, low, high)
        else:
            up, down = behavior.get("scaleUp") or {}, behavior.get("scaleDown") or {}
            ups, downs = self.scale_ups.setdefault(key, []), self.scale_downs.setdefault(key, [])
            policy.mark_outdated(ups, max((p.get("periodSeconds", 0) for p in up.get("policies") or []), default=0), now)
            policy.mark_outdated(downs, max((p.get("periodSeconds", 0) for p in down.get("policies") or []), default=0),
                                 now)
            stabilized, why, text = policy.stabilize_behavior(
                recs, current, desired, int(up.get("stabilizationWindowSeconds") or 0),
                int(down.get("stabilizationWindowSeconds") if down.get("stabilizationWindowSeconds") is not None
                    else 300), now)
            set_condition(status, "AbleToScale", True, why, text, now)
            final, reason, message = policy.limit_behavior(current, stabilized, low, high, behavior, ups, downs, now)
        set_condition(status, "ScalingLimited", final != stabilized, reason, message, now)
        return final

    @staticmethod
    def _set_replicas_and_metrics(status: Obj, current: int, metrics: list[Obj]) -> None:
        status["currentReplicas"] = current
        if metrics:
            status["currentMetrics"] = metrics
        else:
            status.pop("currentMetrics", None)

    async def _get_scale(self, namespace: str, ref: Obj) -> tuple[str, Obj]:
        api_version, kind = ref.get("apiVersion") or "", ref.get("kind") or ""
        res = register.by_kind(api_version, kind)
        if res is None:
            group = api_version.rpartition("/")[0]
            raise _Failed("FailedGetScale", f'no matches for kind "{kind}" in group "{group}"')
        target = f"{res.plural}.{res.group}" if res.group else res.plural
        try:
            return target, await self.client.get_scale(target, ref.get("name", ""), namespace=namespace)
        except ApiError as exc:
            raise _Failed("FailedGetScale", exc.message) from exc

    # ---- metrics ------------------------------------------------------------------------------

    async def _compute(self, hpa: Obj, scale: Obj, current: int, now: datetime) -> tuple[int, str, list[Obj]]:
        """``computeReplicasForMetrics``: the highest proposal over the metrics, with their statuses."""
        status, metrics = hpa["status"], (hpa.get("spec") or {}).get("metrics") or []
        namespace = hpa["metadata"].get("namespace") or "default"
        selector = (scale.get("status") or {}).get("selector") or ""
        if not selector:
            message = "selector is required"
            set_condition(status, "ScalingActive", False, "InvalidSelector",
                          "the HPA target's scale is missing a selector", now)
            await self._event(hpa, "Warning", "SelectorRequired", message)
            raise _Failed("SelectorRequired", message)
        statuses: list[Obj] = [{"type": ""} for _ in metrics]
        best, best_name, invalid, first_error = 0, "", 0, ""
        cache: dict[str, Any] = {}
        for i, metric in enumerate(metrics):
            try:
                replicas, name, metric_status = await self._one(metric, namespace, selector, current, now, cache)
            except _Failed as failed:
                invalid += 1
                first_error = first_error or failed.message
                set_condition(status, "ScalingActive", False, failed.reason,
                              f"the HPA was unable to compute the replica count: {failed.message}", now)
                await self._event(hpa, "Warning", failed.reason, failed.message)
                continue
            statuses[i] = metric_status
            if replicas > best:
                best, best_name = replicas, name
        if metrics and (invalid >= len(metrics) or (invalid and best < current)):
            raise _Failed("FailedComputeMetricsReplicas",
                          f"invalid metrics ({invalid} invalid out of {len(metrics)}), first error is: {first_error}")
        return best, best_name, statuses

    async def _one(self, metric: Obj, namespace: str, selector: str, current: int, now: datetime,
                   cache: dict[str, Any]) -> tuple[int, str, Obj]:
        kind = metric.get("type")
        if kind not in ("Resource", "ContainerResource"):
            what = {"Pods": "pods", "Object": "object", "External": "external"}.get(kind or "", str(kind))
            api = "external metrics API" if kind == "External" else "custom metrics API"
            raise _Failed(f"FailedGet{kind}Metric",
                          f"failed to get {what} metric value: unable to fetch metrics from {api}: no "
                          f"{'external.metrics.k8s.io' if kind == 'External' else 'custom.metrics.k8s.io'} "
                          "API is served by this cluster")
        source = metric.get("resource" if kind == "Resource" else "containerResource") or {}
        resource, container = source.get("name", ""), source.get("container") if kind == "ContainerResource" else None
        target = source.get("target") or {}
        utilization = target.get("type") == "Utilization" or target.get("averageValue") is None
        reason = "FailedGetResourceMetric" if kind == "Resource" else "FailedGetContainerResourceMetric"
        try:
            pods, metrics = await self._pods_and_metrics(namespace, selector, resource, container, cache)
            if utilization:
                proposal = policy.resource_replicas(current, int(target.get("averageUtilization") or 0), pods,
                                                    metrics, resource, now, self.tolerance)
            else:
                proposal = policy.plain_replicas(current, _milli(target["averageValue"]), pods, metrics, resource,
                                                 now, self.tolerance)
        except MetricsError as exc:
            verb = "utilization" if utilization else "usage"
            prefix = f"{resource} " + ("container " if container else "")
            raise _Failed(reason, f"failed to get {prefix}{verb}: {exc}") from exc
        return proposal.replicas, self._metric_name(resource, container, utilization), \
            self._status(kind, resource, container, proposal)

    @staticmethod
    def _metric_name(resource: str, container: str | None, utilization: bool) -> str:
        what = f"{resource} container resource" if container else f"{resource} resource"
        return f"{what} utilization (percentage of request)" if utilization else what

    @staticmethod
    def _status(kind: str, resource: str, container: str | None, p: Proposal) -> Obj:
        current: Obj = {"averageValue": milli_quantity(p.average)}
        if p.utilization is not None:
            current["averageUtilization"] = p.utilization
        if kind == "ContainerResource":
            return {"type": kind, "containerResource": {"name": resource, "container": container, "current": current}}
        return {"type": kind, "resource": {"name": resource, "current": current}}

    async def _pods_and_metrics(self, namespace: str, selector: str, resource: str, container: str | None,
                                cache: dict[str, Any]) -> tuple[list[PodInfo], dict[str, PodMetric]]:
        if "metrics" not in cache:
            try:
                cache["metrics"], _ = await self.client.list("pods.metrics.k8s.io", namespace=namespace,
                                                             label_selector=selector)
            except ApiError as exc:
                cache["metrics"] = exc
        items = cache["metrics"]
        if isinstance(items, ApiError):
            raise MetricsError(f"unable to get metrics for resource {resource}: unable to fetch metrics from "
                               f"resource metrics API: {items.message}")
        if not items:
            raise MetricsError(f"unable to get metrics for resource {resource}: no metrics returned from "
                               "resource metrics API")
        if "pods" not in cache:
            cache["pods"], _ = await self.client.list("pods", namespace=namespace, label_selector=selector)
        metrics = {}
        for item in items:
            m = pod_metric(item, resource, container)
            if m is not None:
                metrics[item["metadata"]["name"]] = m
        return [pod_info(p, resource, container) for p in cache["pods"]], metrics

    # ---- writes -------------------------------------------------------------------------------

    async def _event(self, hpa: Obj, type_: str, reason: str, message: str) -> None:
        await record_event(self.client, hpa, reason, message, type_=type_, component=COMPONENT)

    async def _write_status(self, hpa: Obj, original: Obj) -> None:
        """``updateStatusIfNeeded``: only a changed status is written (a conflict waits for the next sync)."""
        if hpa.get("status") == original:
            return
        try:
            await self.client.update_status("horizontalpodautoscalers", hpa, namespace=hpa["metadata"]["namespace"])
        except (Conflict, NotFound) as exc:
            log.debug("status of %s not written: %s", object_key(hpa), exc)
