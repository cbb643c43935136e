"""The decisions of the horizontal pod autoscaler, as plain functions (no API, no clock of their own).

Kubernetes' ``pkg/controller/podautoscaler``: the replica calculator (``replica_calculator.go``)
turns pod metrics and requests into a replica count, and the controller (``horizontal.go``)
stabilises and limits it. Here, the same rules:

- ``group_pods``: pods being deleted or Failed are ignored; Pending pods are unready; a pod with
  no metric is missing; for CPU, a pod still in its first 5 minutes counts only once Ready and
  with a sample taken a full window after it became Ready, and a pod that has never been Ready
  within 30 s of starting is unready.
- ``resource_replicas`` (Utilization: usage as a percentage of the pods' requests) and
  ``plain_replicas`` (AverageValue): a ratio to the target within the tolerance (0.1) keeps the
  current count; otherwise ``ceil(ratio * ready pods)``, re-checked with missing pods assumed at
  the target (when scaling down) or idle (when scaling up) and unready pods idle (scaling up),
  never flipping the direction.
- ``stabilize`` (no ``behavior``: the highest recommendation of the last 5 minutes) and
  ``limit`` (min/max and the 2x-or-4 scale-up rate); with ``behavior``: ``stabilize_behavior``
  (scaleUp/scaleDown windows) and ``limit_behavior`` (the policies of each direction over their
  periods, selected by ``selectPolicy``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD = timedelta(minutes=5)
DELAY_OF_INITIAL_READINESS = timedelta(seconds=30)
DOWNSCALE_STABILIZATION = timedelta(minutes=5)


class MetricsError(Exception):
    """A metric cannot give a replica count (the message goes into the condition and the event)."""


@dataclass(frozen=True)
class PodInfo:
    """What the calculator needs of one pod."""

    name: str
    phase: str = "Running"
    deleting: bool = False
    start_time: datetime | None = None
    ready: bool | None = None  # the Ready condition's status; None: no such condition
    ready_transition: datetime | None = None
    requests: dict[str, float | None] = field(default_factory=dict)  # resource -> milli units (None: not set)
    containers: tuple[str, ...] = ()


@dataclass(frozen=True)
class PodMetric:
    value: float  # milli units (millicores, milli-bytes), as the metrics client keeps them
    timestamp: datetime
    window: timedelta


@dataclass(frozen=True)
class Proposal:
    replicas: int
    utilization: int | None  # percentage of request (Utilization targets)
    average: float  # the average usage of the counted pods, milli units


def group_pods(pods: list[PodInfo], metrics: dict[str, PodMetric], resource: str, now: datetime
               ) -> tuple[int, set[str], set[str], set[str]]:
    """(ready count, unready, missing, ignored) as ``groupPods``."""
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        if pod.deleting or pod.phase == "Failed":
            ignored.add(pod.name)
            continue
        if pod.phase == "Pending":
            unready.add(pod.name)
            continue
        metric = metrics.get(pod.name)
        if metric is None:
            missing.add(pod.name)
            continue
        if resource == "cpu":
            if pod.ready is None or pod.start_time is None:
                unready_now = True
            elif pod.start_time + CPU_INITIALIZATION_PERIOD > now:
                unready_now = (not pod.ready or pod.ready_transition is None
                               or metric.timestamp < pod.ready_transition + metric.window)
            else:
                unready_now = (not pod.ready and pod.ready_transition is not None
                               and pod.start_time + DELAY_OF_INITIAL_READINESS > pod.ready_transition)
            if unready_now:
                unready.add(pod.name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def pod_requests(pods: list[PodInfo], resource: str) -> dict[str, float]:
    """Each pod's request of ``resource`` (the sum over its containers); an error names the first
    container without one, as ``calculatePodRequests``."""
    out: dict[str, float] = {}
    for pod in pods:
        request = pod.requests.get(resource)
        if request is None:
            missing = next((c for c in pod.containers), "")
            raise MetricsError(f"missing request for {resource} in container {missing} of Pod {pod.name}")
        out[pod.name] = request
    return out


def _utilization(metrics: dict[str, PodMetric], requests: dict[str, float], target: int) -> tuple[float, int, float]:
    total = requested = 0.0
    count = 0
    for name, m in metrics.items():
        if name in requests:
            total += m.value
            requested += requests[name]
            count += 1
    if requested == 0:
        raise MetricsError("no metrics returned matched known pods")
    utilization = int(total * 100 / requested)
    return utilization / target, utilization, total / count


def resource_replicas(current: int, target: int, pods: list[PodInfo], metrics: dict[str, PodMetric],
                      resource: str, now: datetime, tolerance: float = TOLERANCE) -> Proposal:
    """``GetResourceReplicas``: a Utilization target (percent of request)."""
    if not pods:
        raise MetricsError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now)
    counted = {n: m for n, m in metrics.items() if n not in unready and n not in ignored
               and n in {p.name for p in pods}}
    requests = pod_requests(pods, resource)
    if not counted:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, utilization, average = _utilization(counted, requests, target)
    up_with_unready = bool(unready) and ratio > 1.0
    if not up_with_unready and not missing:
        if abs(1.0 - ratio) <= tolerance:
            return Proposal(current, utilization, average)
        return Proposal(math.ceil(ratio * ready), utilization, average)
    filled = dict(counted)
    for name in missing:
        value = requests[name] * target / 100 if ratio < 1.0 else 0.0
        filled[name] = PodMetric(value, now, timedelta(0))
    if up_with_unready:
        for name in unready:
            filled[name] = PodMetric(0.0, now, timedelta(0))
    new_ratio, _, _ = _utilization(filled, requests, target)
    return Proposal(_rechecked(current, ratio, new_ratio, len(filled), tolerance), utilization, average)


def plain_replicas(current: int, target: float, pods: list[PodInfo], metrics: dict[str, PodMetric],
                   resource: str, now: datetime, tolerance: float = TOLERANCE) -> Proposal:
    """``calcPlainMetricReplicas``: an AverageValue target (milli units per pod)."""
    if not pods:
        raise MetricsError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now)
    counted = {n: m for n, m in metrics.items() if n not in unready and n not in ignored
               and n in {p.name for p in pods}}
    if not counted:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    average = sum(m.value for m in counted.values()) / len(counted)
    ratio = average / target
    up_with_unready = bool(unready) and ratio > 1.0
    if not up_with_unready and not missing:
        if abs(1.0 - ratio) <= tolerance:
            return Proposal(current, None, average)
        return Proposal(math.ceil(ratio * ready), None, average)
    values = [m.value for m in counted.values()]
    values += [target if ratio < 1.0 else 0.0 for _ in missing]
    if up_with_unready:
        values += [0.0 for _ in unready]
    new_ratio = (sum(values) / len(values)) / target
    return Proposal(_rechecked(current, ratio, new_ratio, len(values), tolerance), None, average)


def _rechecked(current: int, ratio: float, new_ratio: float, count: int, tolerance: float) -> int:
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    replicas = math.ceil(new_ratio * count)
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas


# --- stabilisation and limits ----------------------------------------------------------------

@dataclass
class Recommendation:
    replicas: int
    at: datetime


@dataclass
class ScaleEvent:
    change: int
    at: datetime
    outdated: bool = False


Limited = tuple[int, str, str]  # (replicas, condition reason, message)
_WITHIN = ("DesiredWithinRange", "the desired count is within the acceptable range")


def stabilize(recs: list[Recommendation], desired: int, now: datetime,
              window: timedelta = DOWNSCALE_STABILIZATION) -> int:
    """``stabilizeRecommendation``: the highest recommendation within the window (``recs`` is
    updated: the oldest outdated entry is replaced by this one, else it is appended)."""
    highest, old = desired, None
    for i, rec in enumerate(recs):
        if rec.at < now - window:
            old = i
        elif rec.replicas > highest:
            highest = rec.replicas
    if old is not None:
        recs[old] = Recommendation(desired, now)
    else:
        recs.append(Recommendation(desired, now))
    return highest


def limit(current: int, desired: int, low: int, high: int) -> Limited:
    """``convertDesiredReplicasWithRules``: min/max, and no more than max(2x, 4) at once."""
    up_limit = max(2 * current, 4)
    if high > up_limit:
        ceiling, reason = up_limit, ("ScaleUpLimit", ("the desired replica count is increasing faster than the "
                                     "maximum scale rate"))
    else:
        ceiling, reason = high, ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
    if desired < low:
        return low, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    if desired > ceiling:
        return ceiling, *reason
    return desired, *_WITHIN


def stabilize_behavior(recs: list[Recommendation], current: int, desired: int, up_window: int, down_window: int,
                       now: datetime) -> tuple[int, str, str]:
    """``stabilizeRecommendationWithBehaviors``: the lowest recommendation of the scale-up window
    and the highest of the scale-down window bound the change from ``current``."""
    up, down = desired, desired
    for rec in recs:
        if rec.at > now - timedelta(seconds=up_window):
            up = min(up, rec.replicas)
        if rec.at > now - timedelta(seconds=down_window):
            down = max(down, rec.replicas)
    result = current
    result = max(result, up)
    result = min(result, down)
    longest = max(up_window, down_window)
    for i, rec in enumerate(recs):
        if rec.at < now - timedelta(seconds=longest):
            recs[i] = Recommendation(desired, now)
            break
    else:
        recs.append(Recommendation(desired, now))
    if result > desired:
        return result, "ScaleDownStabilized", ("recent recommendations were higher than current one, applying "
                                               "the highest recent recommendation")
    if result < desired:
        return result, "ScaleUpStabilized", ("recent recommendations were lower than current one, applying "
                                             "the lowest recent recommendation")
    return result, "ReadyForNewScale", "recommended size matches current size"


def _change_in_period(period: int, events: list[ScaleEvent], now: datetime) -> int:
    cutoff = now - timedelta(seconds=period)
    return sum(e.change for e in events if e.at > cutoff and not e.outdated)


def _proposals(current: int, ups: list[ScaleEvent], downs: list[ScaleEvent], rules: dict, now: datetime,
               step: Callable[[int, str, int], int]) -> list[int]:
    """Each policy's limit: from the replicas before the changes of its period, one ``step``."""
    out = []
    for policy in rules.get("policies") or []:
        period = int(policy.get("periodSeconds") or 0)
        start = current - _change_in_period(period, ups, now) + _change_in_period(period, downs, now)
        out.append(step(start, str(policy.get("type") or ""), int(policy.get("value") or 0)))
    return out


def scale_up_limit(current: int, ups: list[ScaleEvent], downs: list[ScaleEvent], rules: dict, now: datetime) -> int:
    """``calculateScaleUpLimitWithScalingRules``."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    proposals = _proposals(current, ups, downs, rules, now, lambda start, kind, value: start + value
                           if kind == "Pods" else math.ceil(start * (1 + value / 100)))
    if not proposals:
        return current
    return max(proposals) if select == "Max" else min(proposals)


def scale_down_limit(current: int, ups: list[ScaleEvent], downs: list[ScaleEvent], rules: dict, now: datetime) -> int:
    """``calculateScaleDownLimitWithBehaviors``."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    proposals = _proposals(current, ups, downs, rules, now, lambda start, kind, value: start - value
                           if kind == "Pods" else int(start * (1 - value / 100)))
    if not proposals:
        return current
    return min(proposals) if select == "Max" else max(proposals)


def limit_behavior(current: int, desired: int, low: int, high: int, behavior: dict, ups: list[ScaleEvent],
                   downs: list[ScaleEvent], now: datetime) -> Limited:
    """``convertDesiredReplicasWithBehaviorRate``."""
    if desired > current:
        cap = max(scale_up_limit(current, ups, downs, behavior.get("scaleUp") or {}, now), current)
        if high > cap:
            ceiling, reason = cap, ("ScaleUpLimit", ("the desired replica count is increasing faster than the "
                                    "maximum scale rate"))
        else:
            ceiling, reason = high, ("TooManyReplicas", ("the desired replica count is more than the maximum "
                                     "replica count"))
        if desired > ceiling:
            return ceiling, *reason
    elif desired < current:
        floor_ = min(scale_down_limit(current, ups, downs, behavior.get("scaleDown") or {}, now), current)
        if low < floor_:
            floor, reason = floor_, ("ScaleDownLimit", ("the desired replica count is decreasing faster than the "
                                     "maximum scale rate"))
        else:
            floor, reason = low, ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
        if desired < floor:
            return floor, *reason
    return desired, *_WITHIN


def mark_outdated(events: list[ScaleEvent], longest_period: int, now: datetime) -> None:
    for e in events:
        if e.at < now - timedelta(seconds=longest_period):
            e.outdated = True


def record_scale(ups: list[ScaleEvent], downs: list[ScaleEvent], before: int, after: int, now: datetime) -> None:
    """``storeScaleEvent``: an outdated slot is reused, else the event is appended."""
    events, change = (ups, after - before) if after > before else (downs, before - after)
    if change == 0:
        return
    for i, e in enumerate(events):
        if e.outdated:
            events[i] = ScaleEvent(change, now)
            return
    events.append(ScaleEvent(change, now))
