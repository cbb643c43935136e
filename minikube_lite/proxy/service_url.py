"""The URLs ``minikube-lite service NAME --url`` prints, as ``minikube service --url`` does.

A NodePort Service answers on the node's address at each ``nodePort``; a LoadBalancer Service
on its ``status.loadBalancer.ingress`` address at each ``port`` (the proxy serves it on the
host). A ClusterIP Service is not reachable from outside the cluster: say so.
"""

from __future__ import annotations

from typing import Any


def node_ip(node: dict[str, Any]) -> str:
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == "InternalIP" and addr.get("address"):
            return str(addr["address"])
    return "127.0.0.1"


def service_urls(svc: dict[str, Any], node: dict[str, Any]) -> tuple[list[str], str | None]:
    """(urls, problem): one URL per port, or a message why there is none."""
    spec = svc.get("spec") or {}
    name = (svc.get("metadata") or {}).get("name")
    stype = spec.get("type") or "ClusterIP"
    ports = [p for p in spec.get("ports") or [] if (p.get("protocol") or "TCP") == "TCP"]
    if stype == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        host = next((i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")), None)
        if host is None:
            return [], f'service "{name}" has no external address yet (see `kubectl describe service {name}`)'
        return [f"http://{host}:{p['port']}" for p in ports], None
    if stype == "NodePort":
        ip = node_ip(node)
        return [f"http://{ip}:{p['nodePort']}" for p in ports if p.get("nodePort")], None
    return [], f'service "{name}" is of type {stype}: no node port exposes it (use NodePort or LoadBalancer)'
