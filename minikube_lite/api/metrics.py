"""metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics: the resource metrics API (``kubectl top``).

In Kubernetes these are served by metrics-server through the aggregator, read-only (get, list),
from samples it scrapes off the kubelets and keeps in memory. Here the kinds are declared like
any other (discovery, OpenAPI) with only the ``get`` and ``list`` verbs, and their objects are
computed per request from the kubelets' samples (kubelet/metrics.py) by apiserver/metrics.py
instead of read from the store. The Table is metrics-server's: ``NAME CPU MEMORY WINDOW``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minikube_lite.api.kind import Kind
from minikube_lite.api.models import K8sModel, Time, TypedObject
from minikube_lite.api.quantity import parse_quantity
from minikube_lite.api.resources import Resource
from minikube_lite.api.tables import NAME_COLUMN, column, name

OPENAPI_PACKAGE = "io.k8s.metrics.pkg.apis.metrics.v1beta1"
GROUP, VERSION = "metrics.k8s.io", "v1beta1"


class NodeMetrics(TypedObject):
    """NodeMetrics sets resource usage metrics of a node."""

    timestamp: Time | None = None
    window: str | None = None
    usage: dict[str, str] | None = None
    """The memory working set and the CPU usage rate of the node over the window."""


class ContainerMetrics(K8sModel):
    """ContainerMetrics sets resource usage metrics of a container."""

    name: str | None = None
    usage: dict[str, str] | None = None


class PodMetrics(TypedObject):
    """PodMetrics sets resource usage metrics of a pod."""

    timestamp: Time | None = None
    window: str | None = None
    containers: list[ContainerMetrics] | None = None
    """Metrics for all containers are collected within the same time window."""


_COLUMNS = [NAME_COLUMN, column("CPU", "CPU usage"), column("Memory", "Memory usage"),
            column("Window", "Time window")]


def _sum(containers: list[dict[str, Any]], resource: str) -> str:
    total = sum(parse_quantity((c.get("usage") or {}).get(resource, "0")) for c in containers)
    return f"{int(total * 1_000_000_000)}n" if resource == "cpu" else f"{int(total) // 1024}Ki"


def node_metrics_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    usage = obj.get("usage") or {}
    return [name(obj), usage.get("cpu", ""), usage.get("memory", ""), obj.get("window", "")]


def pod_metrics_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    containers = obj.get("containers") or []
    return [name(obj), _sum(containers, "cpu"), _sum(containers, "memory"), obj.get("window", "")]


NODE_METRICS = Kind(
    Resource(GROUP, VERSION, "nodes", "", "NodeMetrics", False, verbs=("get", "list")),
    model=NodeMetrics, columns=_COLUMNS, cells=node_metrics_cells)
POD_METRICS = Kind(
    Resource(GROUP, VERSION, "pods", "", "PodMetrics", True, verbs=("get", "list")),
    model=PodMetrics, columns=_COLUMNS, cells=pod_metrics_cells)
KINDS = [NODE_METRICS, POD_METRICS]
