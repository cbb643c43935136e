"""Serving metrics.k8s.io/v1beta1 (``kubectl top``): NodeMetrics and PodMetrics from the kubelets.

As metrics-server, the answers come from the last scrape kept in memory (metrics_scraper.py):
each kubelet keeps its own samples (kubelet/metrics.py), the scraper reads every Ready node's
kubelet endpoint once per metric resolution over a kept-alive HTTPS connection, and a request
never waits for a kubelet (except for the very first round). A node whose scrape failed is left
out, as metrics-server leaves out a failed scrape. get and list only (the kinds' verbs); label and
field selectors as on any list; a Table when asked (``kubectl get podmetrics``). A node or pod
without a full sampling window yet is absent, as with metrics-server: ``get`` is then a 404
NotFound with the kind's name, as metrics-server answers.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minikube_lite.api import register
from minikube_lite.api.errors import NotFound
from minikube_lite.api.metrics import GROUP
from minikube_lite.api.resources import Resource

from .selectors import parse_field_selector, parse_label_selector

__all__ = ["GROUP", "collect", "handle"]

log = logging.getLogger(__name__)


def _node_labels(registry: Any, node: str) -> dict[str, str]:
    res = register.by_plural("nodes", "")
    try:
        return dict((registry.get(res, None, node).get("metadata") or {}).get("labels") or {})
    except NotFound:
        return {}


def scraper(app: Any, registry: Any) -> Any:
    """The app's scraper and store (made on first use; the daemon runs its loop)."""
    found = getattr(app.state, "metrics_scraper", None)
    if found is None:
        from .metrics_scraper import MetricsScraper

        found = app.state.metrics_scraper = MetricsScraper(app, registry)
    return found


async def collect(app: Any, registry: Any, res: Resource, namespace: str | None) -> list[dict[str, Any]]:
    """Every NodeMetrics (``res.plural == "nodes"``) or every PodMetrics (in ``namespace`` if given)."""
    scraped = await scraper(app, registry).latest()
    items: list[dict[str, Any]] = []
    for node, got in sorted(scraped.items()):
        if res.plural == "nodes":
            obj = got.get("node")
            if obj is not None:  # a copy: the stored scrape is shared by every request
                obj = {**obj, "metadata": {**obj["metadata"], "labels": _node_labels(registry, node)}}
                items.append(obj)
        else:
            items.extend(p for p in got.get("pods") or []
                         if namespace is None or p["metadata"]["namespace"] == namespace)
    return items


async def handle(request: Request, app: Any, registry: Any, res: Resource,
                 namespace: str | None, name: str | None, wants_table: bool) -> Response:
    q = request.query_params
    items = await collect(app, registry, res, namespace)
    if name is not None:
        found = [i for i in items if i["metadata"]["name"] == name]
        if not found:
            raise NotFound(f"{res.plural}.{res.group}", name)
        items = found
    else:
        labels = parse_label_selector(q.get("labelSelector"))
        fields = parse_field_selector(q.get("fieldSelector"), f"{res.plural}.{res.group}")
        items = [i for i in items if (labels is None or labels(i))
                 and (fields is None or fields(i))]
    if wants_table:
        body: dict[str, Any] = register.to_table(res, items, include_object=q.get("includeObject", "Metadata"))
    elif name is not None:
        body = items[0]
    else:
        body = {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": {}, "items": items}
    return Response(json.dumps(body, separators=(",", ":")).encode(), media_type="application/json")
