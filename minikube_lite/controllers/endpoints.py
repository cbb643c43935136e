"""The endpoints controller: keeps each Service's Endpoints and EndpointSlices in step with its pods.

Kubernetes runs two controllers for this (``pkg/controller/endpoint`` and
``pkg/controller/endpointslice``); here one reconcile writes both from the same computation:

- only Services with a selector are managed; a Service without one keeps the Endpoints a user
  wrote by hand (the proxy and DNS then serve those);
- a pod counts when it is in the Service's namespace, matches the selector, has an IP and is
  not terminal; Ready pods go to ``addresses``, the others to ``notReadyAddresses`` (all to
  ``addresses`` with ``publishNotReadyAddresses``); a terminating pod leaves at once;
- each Service port's ``targetPort`` is resolved per pod (a number, or a container port's
  name), so pods naming the same port differently land in different subsets;
- EndpointSlices (``discovery.k8s.io/v1``) carry the same endpoints with ``ready``/``serving``/
  ``terminating`` conditions, labelled ``kubernetes.io/service-name`` and owned by the Service;
- the ``kubernetes`` Service's Endpoints name the API server, as kube-apiserver's own
  reconciler does.

It is event driven: a pod turning unready or dying is one watch event away, and the reconcile
of its Services follows at once (well under a second). Nothing is written when nothing changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from ..api.conditions import ready as pod_ready
from ..api.errors import AlreadyExists, Conflict, NotFound
from ..api.labels import matches_selector
from ..client.base import Client
from ..client.informer import Informer, object_key
from ..client.workqueue import WorkQueue

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"


def resolve_port(pod: Obj, target: Any, protocol: str) -> int | None:
    """A Service port's ``targetPort`` on one pod: a number, or the container port of that name."""
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and (p.get("protocol") or "TCP") == protocol:
                return int(p["containerPort"])
    return None


def _candidate(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return bool(status.get("podIP")) and status.get("phase") not in ("Succeeded", "Failed") \
        and not (pod.get("metadata") or {}).get("deletionTimestamp")


def selected_pods(service: Obj, pods: list[Obj]) -> list[Obj]:
    selector = (service.get("spec") or {}).get("selector")
    ns = service["metadata"].get("namespace")
    return [p for p in pods if p["metadata"].get("namespace") == ns and _candidate(p)
            and matches_selector({"matchLabels": selector}, p["metadata"].get("labels"))]


def _pod_ports(service: Obj, pod: Obj) -> tuple[tuple[str, int, str], ...] | None:
    """(name, port, protocol) of every Service port on this pod; None when a named port is missing."""
    out = []
    for sp in (service.get("spec") or {}).get("ports") or []:
        proto = sp.get("protocol") or "TCP"
        port = resolve_port(pod, sp.get("targetPort", sp.get("port")), proto)
        if port is None:
            return None
        out.append((sp.get("name") or "", port, proto))
    return tuple(out)


def _address(pod: Obj, service: Obj) -> Obj:
    meta = pod["metadata"]
    spec = pod.get("spec") or {}
    addr: Obj = {"ip": pod["status"]["podIP"]}
    if spec.get("hostname") and spec.get("subdomain") == service["metadata"]["name"]:
        addr["hostname"] = spec["hostname"]
    if spec.get("nodeName"):
        addr["nodeName"] = spec["nodeName"]
    addr["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta["name"],
                         "uid": meta.get("uid")}
    return addr


def _groups(service: Obj, pods: list[Obj]) -> dict[tuple[tuple[str, int, str], ...], list[tuple[Obj, bool]]]:
    """Pods grouped by their resolved port set: ports -> [(pod, ready)], sorted by IP."""
    publish_all = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[str, int, str], ...], list[tuple[Obj, bool]]] = {}
    for pod in sorted(selected_pods(service, pods), key=lambda p: (p["status"]["podIP"], p["metadata"]["name"])):
        ports = _pod_ports(service, pod)
        if ports is None:
            continue
        groups.setdefault(ports, []).append((pod, publish_all or pod_ready(pod)))
    return groups


def desired_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    subsets = []
    for ports, members in _groups(service, pods).items():
        subset: Obj = {}
        ready = [_address(p, service) for p, ok in members if ok]
        unready = [_address(p, service) for p, ok in members if not ok]
        if ready:
            subset["addresses"] = ready
        if unready:
            subset["notReadyAddresses"] = unready
        if ports:
            subset["ports"] = [{**({"name": n} if n else {}), "port": port, "protocol": proto}
                               for n, port, proto in ports]
        subsets.append(subset)
    return subsets


def desired_endpoints(service: Obj, pods: list[Obj]) -> Obj:
    meta = service["metadata"]
    labels = dict(meta.get("labels") or {})
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    obj: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "labels": labels}}
    subsets = desired_subsets(service, pods)
    if subsets:
        obj["subsets"] = subsets
    return obj


def _slice_name(service_name: str, ports: tuple[tuple[str, int, str], ...]) -> str:
    digest = hashlib.sha256(repr(ports).encode()).hexdigest()[:5]
    return f"{service_name[:200]}-{digest}"


def desired_slices(service: Obj, pods: list[Obj]) -> list[Obj]:
    meta = service["metadata"]
    groups = _groups(service, pods)
    if not groups:  # Kubernetes keeps one (empty) slice per Service
        groups = {tuple((sp.get("name") or "", 0, sp.get("protocol") or "TCP")
                        for sp in (service.get("spec") or {}).get("ports") or []): []}
    out = []
    for ports, members in groups.items():
        labels = {**(meta.get("labels") or {}), SERVICE_NAME_LABEL: meta["name"], MANAGED_BY_LABEL: MANAGED_BY}
        if (service.get("spec") or {}).get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        endpoints = []
        for pod, ready in members:
            addr = _address(pod, service)
            ep: Obj = {"addresses": [addr["ip"]],
                       "conditions": {"ready": ready, "serving": pod_ready(pod), "terminating": False},
                       "targetRef": addr["targetRef"]}
            if addr.get("nodeName"):
                ep["nodeName"] = addr["nodeName"]
            if addr.get("hostname"):
                ep["hostname"] = addr["hostname"]
            endpoints.append(ep)
        out.append({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": _slice_name(meta["name"], ports), "namespace": meta.get("namespace"),
                         "labels": labels,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": meta["name"],
                                              "uid": meta.get("uid"), "controller": True,
                                              "blockOwnerDeletion": True}]},
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": [{"name": n, "port": port, "protocol": proto} if port else {"name": n, "protocol": proto}
                      for n, port, proto in ports],
        })
    return out


def _same(current: Obj | None, desired: Obj, fields: tuple[str, ...]) -> bool:
    if current is None:
        return False
    if ((current.get("metadata") or {}).get("labels") or {}) != (desired["metadata"].get("labels") or {}):
        return False
    return all(_strip(current.get(f)) == _strip(desired.get(f)) for f in fields)


def _strip(value: Any) -> Any:
    """Compare ignoring what the server may add (targetRef.resourceVersion, empty lists)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "resourceVersion" and v not in (None, [], {})}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


class EndpointsController:
    """Reconciles ``namespace/service`` keys from a work queue fed by Service and Pod events."""

    def __init__(self, client: Client, *, api_endpoint: tuple[str, int] | None = None,
                 slices: bool = True) -> None:
        self.client = client
        self.api_endpoint = api_endpoint
        self.slices = slices
        self.services = Informer(client, "services")
        self.pods = Informer(client, "pods")
        self.endpoints = Informer(client, "endpoints")
        self.slice_informer = Informer(client, "endpointslices", label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY}") \
            if slices else None
        self.queue = WorkQueue("endpoints")
        self._pod_services: dict[str, set[str]] = {}  # pod key -> service keys it was in last time
        self.services.add_handler(lambda _t, o: self.queue.add(object_key(o)))
        self.pods.add_handler(self._on_pod)
        self.endpoints.add_handler(self._on_endpoints)

    def _on_pod(self, _etype: str, pod: Obj) -> None:
        key = object_key(pod)
        ns = pod["metadata"].get("namespace")
        before = self._pod_services.get(key, set())
        now = {object_key(s) for s in self.services.list()
               if s["metadata"].get("namespace") == ns and (s.get("spec") or {}).get("selector")
               and matches_selector({"matchLabels": s["spec"]["selector"]}, pod["metadata"].get("labels"))}
        self._pod_services[key] = now
        if _etype == "DELETED":
            self._pod_services.pop(key, None)
        for svc_key in before | now:
            self.queue.add(svc_key)

    def _on_endpoints(self, etype: str, ep: Obj) -> None:
        if etype == "DELETED":  # someone deleted what we keep: write it again
            self.queue.add(object_key(ep))

    async def run(self) -> None:
        informers = [self.services, self.pods, self.endpoints]
        if self.slice_informer is not None:
            informers.append(self.slice_informer)
        tasks = [asyncio.create_task(i.run()) for i in informers]
        try:
            await asyncio.gather(*(i.synced.wait() for i in informers))
            for svc in self.services.list():
                self.queue.add(object_key(svc))
            tasks.append(asyncio.create_task(self.queue.run(self.reconcile, workers=2)))
            tasks.append(asyncio.create_task(self._resync()))
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(60)
            for svc in self.services.list():
                self.queue.add(object_key(svc))

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        service = self.services.get(key)
        if service is None:
            await self._delete_all(ns, name)
            return
        spec = service.get("spec") or {}
        if ns == "default" and name == "kubernetes" and self.api_endpoint is not None:
            await self._write_endpoints(self._api_endpoints(service))
            return
        if not spec.get("selector") or spec.get("type") == "ExternalName":
            return  # Endpoints of a Service without a selector belong to the user
        pods = self.pods.list()
        await self._write_endpoints(desired_endpoints(service, pods))
        if self.slice_informer is not None:
            await self._write_slices(service, desired_slices(service, pods))

    def _api_endpoints(self, service: Obj) -> Obj:
        assert self.api_endpoint is not None
        ip, port = self.api_endpoint
        return {"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": "kubernetes", "namespace": "default",
                             "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port,
                                                                     "protocol": "TCP"}]}]}

    async def _write_endpoints(self, desired: Obj) -> None:
        meta = desired["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        current = self.endpoints.get(key)
        if _same(current, desired, ("subsets",)):
            return
        if current is None:
            try:
                await self.client.create("endpoints", desired, namespace=meta["namespace"])
                return
            except AlreadyExists:
                current = await self.client.get("endpoints", meta["name"], namespace=meta["namespace"])
        body = {**desired, "metadata": {**current["metadata"], "labels": meta.get("labels") or {}}}
        if "subsets" not in desired:
            body.pop("subsets", None)
        try:
            await self.client.update("endpoints", body, namespace=meta["namespace"])
        except (Conflict, NotFound):
            self.queue.add_after(key, 0.05)  # our cache was behind: try again with the newer copy

    async def _write_slices(self, service: Obj, desired: list[Obj]) -> None:
        assert self.slice_informer is not None
        ns, name = service["metadata"].get("namespace"), service["metadata"]["name"]
        current = {s["metadata"]["name"]: s for s in self.slice_informer.list()
                   if s["metadata"].get("namespace") == ns
                   and (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == name}
        for want in desired:
            have = current.pop(want["metadata"]["name"], None)
            if _same(have, want, ("endpoints", "ports", "addressType")):
                continue
            try:
                if have is None:
                    await self.client.create("endpointslices", want, namespace=ns)
                else:
                    body = {**want, "metadata": {**have["metadata"], "labels": want["metadata"]["labels"]}}
                    await self.client.update("endpointslices", body, namespace=ns)
            except (Conflict, AlreadyExists, NotFound):
                self.queue.add_after(f"{ns}/{name}", 0.05)
        for stale in current:
            try:
                await self.client.delete("endpointslices", stale, namespace=ns)
            except NotFound:
                pass

    async def _delete_all(self, ns: str, name: str) -> None:
        if ns == "default" and name == "kubernetes":
            return
        try:
            if self.endpoints.get(f"{ns}/{name}") is not None:
                await self.client.delete("endpoints", name, namespace=ns)
        except NotFound:
            pass
        if self.slice_informer is None:
            return
        for s in self.slice_informer.list():
            meta = s["metadata"]
            if meta.get("namespace") == ns and (meta.get("labels") or {}).get(SERVICE_NAME_LABEL) == name:
                try:
                    await self.client.delete("endpointslices", meta["name"], namespace=ns)
                except NotFound:
                    pass
