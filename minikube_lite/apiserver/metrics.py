"""Serving metrics.k8s.io/v1beta1 (``kubectl top``): NodeMetrics and PodMetrics from the kubelets.

metrics-server answers these from the samples it keeps in memory; here each kubelet keeps its
own (kubelet/metrics.py) and this module asks every Ready node's kubelet on its HTTPS endpoint
(``/minikube-lite/resource-metrics``, nodeproxy.py, as logs and exec go), side by side with a short
timeout; a node that does not answer is left out, as metrics-server leaves out a failed scrape.
Nothing is stored. get and list only (the kinds' verbs); label and
field selectors as on any list; a Table when asked (``kubectl get podmetrics``). A node or pod
without a full sampling window yet is absent, as with metrics-server: ``get`` is then a 404
NotFound with the kind's name, as metrics-server answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minikube_lite.api import register
from minikube_lite.api.errors import ApiError, NotFound
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


SCRAPE_TIMEOUT = 2.0


def _ready(node: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


async def _scrape(app: Any, node: str) -> dict[str, Any] | None:
    from . import nodeproxy

    try:
        code, chunks = await asyncio.wait_for(nodeproxy.get(app, node, "/minikube-lite/resource-metrics",
                                                            timeout=SCRAPE_TIMEOUT), SCRAPE_TIMEOUT)
        body = b"".join([c async for c in chunks])
        return json.loads(body) if code == 200 else None
    except (ApiError, OSError, TimeoutError, ValueError) as e:
        log.info("metrics of node %s: %s", node, e)
        return None


async def collect(app: Any, registry: Any, res: Resource, namespace: str | None) -> list[dict[str, Any]]:
    """Every NodeMetrics (``res.plural == "nodes"``) or every PodMetrics (in ``namespace`` if given)."""
    nodes, _, _ = registry.list(register.by_plural("nodes", ""), None)
    names = sorted(n["metadata"]["name"] for n in nodes if _ready(n))
    scraped = await asyncio.gather(*(_scrape(app, n) for n in names))
    items: list[dict[str, Any]] = []
    for node, got in zip(names, scraped, strict=True):
        if got is None:
            continue
        if res.plural == "nodes":
            obj = got.get("node")
            if obj is not None:
                obj["metadata"]["labels"] = _node_labels(registry, node)
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
