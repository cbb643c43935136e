"""The built-in ingress controller: an HTTP reverse proxy on the host, following Ingress objects.

It plays ingress-nginx (the controller minikube's ``ingress`` addon installs): IngressClass
``nginx`` (controller ``k8s.io/ingress-nginx``, marked the default class) is created when
missing, and every Ingress of that class, or without a class while ours is the default, is
served on the host's port 80 (``Settings.ingress_port``). When the port is taken the controller
listens on another one and says so: a Warning event ``PortInUse`` on each Ingress and the real
port in ``status.loadBalancer.ingress[].ports``.

Routing, as ingress-nginx does it: rules of all Ingresses are merged per host; a rule with a
host beats a ``*.`` wildcard, which beats rules without host. Within a host, ``Exact`` paths
match exactly, ``Prefix`` paths by whole path elements (``/foo`` matches ``/foo/bar``, not
``/foobar``), ``ImplementationSpecific`` as a plain string prefix; the longest match wins.
With ``nginx.ingress.kubernetes.io/use-regex: "true"`` (or a ``rewrite-target``) on any Ingress
of a host, that host's paths are case-insensitive regular expressions anchored at the start,
tried longest first, and ``rewrite-target: /$1`` rewrites the path with the groups matched
(the course's ``/api/?(.*)`` and ``/?(.*)``). Requests go straight to a ready endpoint of the
backend Service, round robin; none ready answers 503, no rule 404.

Each client connection carries one request (``Connection: close`` upstream): simple, and
clients reconnect transparently. Changes to Ingresses, Services or endpoints apply to the next
request, with no restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from ..api.errors import AlreadyExists, ApiError, Conflict, NotFound
from ..client.base import Client
from ..client.events import record_event
from ..client.informer import Informer, object_key
from .proxier import service_endpoints

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CONTROLLER = "k8s.io/ingress-nginx"
CLASS_NAME = "nginx"
DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"
USE_REGEX = "nginx.ingress.kubernetes.io/use-regex"
REWRITE = "nginx.ingress.kubernetes.io/rewrite-target"
_MAX_HEAD = 64 * 1024
_BUF = 256 * 1024


@dataclass
class Route:
    path: str
    path_type: str
    namespace: str
    service: str
    port: Obj  # {"number": 80} or {"name": "http"}
    rewrite: str | None = None
    regex: re.Pattern[str] | None = None


@dataclass
class Host:
    routes: list[Route] = field(default_factory=list)
    regex: bool = False


def _prefix_match(prefix: str, path: str) -> bool:
    if prefix in ("", "/"):
        return True
    p = prefix.rstrip("/")
    return path == p or path.startswith(p + "/")


def build_table(ingresses: list[Obj]) -> tuple[dict[str, Host], list[Obj]]:
    """host -> routes (``""`` for rules without host), and the default backends (namespace added)."""
    table: dict[str, Host] = {}
    defaults: list[Obj] = []
    for ing in sorted(ingresses, key=lambda i: (i["metadata"].get("creationTimestamp") or "", object_key(i))):
        meta, spec = ing["metadata"], ing.get("spec") or {}
        ns = meta.get("namespace") or "default"
        ann = meta.get("annotations") or {}
        rewrite = ann.get(REWRITE)
        regex = ann.get(USE_REGEX, "").lower() == "true" or rewrite is not None
        backend = (spec.get("defaultBackend") or {}).get("service")
        if backend:
            defaults.append({"namespace": ns, **backend})
        for rule in spec.get("rules") or []:
            host = table.setdefault((rule.get("host") or "").lower(), Host())
            host.regex = host.regex or regex
            for p in (rule.get("http") or {}).get("paths") or []:
                svc = (p.get("backend") or {}).get("service") or {}
                host.routes.append(Route(path=p.get("path") or "/", path_type=p.get("pathType") or "Prefix",
                                         namespace=ns, service=svc.get("name") or "", port=svc.get("port") or {},
                                         rewrite=rewrite))
    for host in table.values():
        if host.regex:
            for r in host.routes:
                try:
                    r.regex = re.compile("^" + r.path.lstrip("^"), re.IGNORECASE)
                except re.error:
                    r.regex = re.compile("^" + re.escape(r.path), re.IGNORECASE)
            host.routes.sort(key=lambda r: -len(r.path))
    return table, defaults


def _host_for(table: dict[str, Host], host: str) -> Host | None:
    if host in table:
        return table[host]
    for pattern, h in table.items():
        if pattern.startswith("*.") and host.endswith(pattern[1:]) and "." not in host[: -len(pattern) + 1]:
            return h
    return table.get("")


def match(table: dict[str, Host], host: str, path: str) -> tuple[Route, str] | None:
    """The route for ``host`` + ``path`` (no query) and the path to send upstream."""
    h = _host_for(table, host.lower())
    if h is None:
        return None
    if h.regex:
        for r in h.routes:
            assert r.regex is not None
            m = r.regex.match(path)
            if m and (r.path_type != "Exact" or m.end() == len(path)):
                if r.rewrite is None:
                    return r, path
                return r, _expand(r.rewrite, m)
        return None
    best: tuple[tuple[int, int], Route] | None = None
    for r in h.routes:
        if r.path_type == "Exact":
            ok = path == r.path
        elif r.path_type == "Prefix":
            ok = _prefix_match(r.path, path)
        else:
            ok = path.startswith(r.path)
        if ok:
            score = (len(r.path.rstrip("/")) if r.path_type == "Prefix" else len(r.path), int(r.path_type == "Exact"))
            if best is None or score > best[0]:
                best = (score, r)
    return (best[1], path) if best else None


def _expand(template: str, m: re.Match[str]) -> str:
    out = re.sub(r"\$(\d)", lambda g: (m.group(int(g.group(1))) or "") if int(g.group(1)) <= (m.re.groups or 0)
                 else "", template)
    return out if out.startswith("/") else "/" + out


class IngressController:
    def __init__(self, client: Client, *, port: int = 80, bind_host: str | list[str] = "0.0.0.0",
                 address: str = "127.0.0.1") -> None:
        self.client = client
        self.wanted_port = port
        self.port: int | None = None
        self.bind_host = bind_host
        self.address = address
        self.ingresses = Informer(client, "ingresses")
        self.classes = Informer(client, "ingressclasses")
        self.services = Informer(client, "services")
        self.endpoints = Informer(client, "endpoints")
        self.table: dict[str, Host] = {}
        self.defaults: list[Obj] = []
        self._server: asyncio.base_events.Server | None = None
        self._counter = itertools.count()
        self._dirty = asyncio.Event()
        self._warned: set[str] = set()
        for inf in (self.ingresses, self.classes):
            inf.add_handler(lambda _t, _o: self._dirty.set())

    async def run(self) -> None:
        informers = [self.ingresses, self.classes, self.services, self.endpoints]
        tasks = [asyncio.create_task(i.run()) for i in informers]
        try:
            await self._ensure_class()
            await self._listen()
            await asyncio.gather(*(i.synced.wait() for i in informers))
            while True:
                self._dirty.clear()
                try:
                    await self.sync()
                except ApiError as exc:
                    log.warning("ingress sync failed: %s", exc)
                    await asyncio.sleep(1)
                    self._dirty.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._dirty.wait(), 30)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.close()

    async def _ensure_class(self) -> None:
        body = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                "metadata": {"name": CLASS_NAME, "annotations": {DEFAULT_CLASS: "true"},
                             "labels": {"app.kubernetes.io/component": "controller",
                                        "app.kubernetes.io/name": "ingress-nginx"}},
                "spec": {"controller": CONTROLLER}}
        with contextlib.suppress(AlreadyExists):
            await self.client.create("ingressclasses", body)

    async def _listen(self) -> None:
        candidates = [self.wanted_port, *range(8880, 8900), 0]
        for port in candidates:
            try:
                self._server = await asyncio.start_server(self._handle, self.bind_host, port, reuse_address=True,
                                                          limit=_MAX_HEAD)
            except OSError as exc:
                if port == self.wanted_port:
                    log.warning("ingress: port %d is taken (%s); trying another", port, exc.strerror)
                continue
            self.port = self._server.sockets[0].getsockname()[1]
            log.info("ingress controller listening on port %d", self.port)
            return
        raise OSError("no port for the ingress controller")

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)
            self._server = None

    def _ours(self, ing: Obj) -> bool:
        cls = (ing.get("spec") or {}).get("ingressClassName") or \
            ((ing["metadata"].get("annotations") or {}).get("kubernetes.io/ingress.class"))
        classes = self.classes.list()
        if cls is None:
            return any((c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"
                       and (c.get("spec") or {}).get("controller") == CONTROLLER for c in classes)
        return any(c["metadata"]["name"] == cls and (c.get("spec") or {}).get("controller") == CONTROLLER
                   for c in classes)

    async def sync(self) -> None:
        ours = [i for i in self.ingresses.list() if self._ours(i)]
        self.table, self.defaults = build_table(ours)
        lb: Obj = {"ip": self.address}
        if self.port != 80:
            lb["ports"] = [{"port": self.port, "protocol": "TCP"}]
        for ing in ours:
            key = object_key(ing)
            if self.port != self.wanted_port and key not in self._warned:
                self._warned.add(key)
                await record_event(self.client, ing, "PortInUse",
                                   f"port {self.wanted_port} is in use by another program; the ingress controller "
                                   f"serves this Ingress on port {self.port}", type_="Warning",
                                   component="ingress-nginx-controller")
            want = {"loadBalancer": {"ingress": [lb]}}
            if (ing.get("status") or {}) != want:
                try:
                    await self.client.update_status("ingresses", {**ing, "status": want})
                except (Conflict, NotFound):
                    self._dirty.set()
                else:
                    await record_event(self.client, ing, "Sync", "Scheduled for sync",
                                       component="ingress-nginx-controller")

    # ---- the proxy ----------------------------------------------------------------------------

    def _backend(self, namespace: str, service: str, port: Obj) -> tuple[str, int] | None:
        svc = self.services.get(f"{namespace}/{service}")
        if svc is None:
            return None
        sport = next((p for p in (svc.get("spec") or {}).get("ports") or []
                      if (port.get("number") is not None and p.get("port") == port.get("number"))
                      or (port.get("name") and p.get("name") == port.get("name"))), None)
        if sport is None:
            return None
        eps = service_endpoints(sport, self.endpoints.get(f"{namespace}/{service}"))
        return eps[next(self._counter) % len(eps)] if eps else None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            await _respond(writer, 400, "Bad Request")
            return
        headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
        host = next((v for k, v in headers if k.lower() == "host"), "")
        host = host.rsplit(":", 1)[0] if not host.startswith("[") else host
        path, sep, query = target.partition("?")
        found = match(self.table, host, path)
        if found is not None:
            route, upstream_path = found
            backend = self._backend(route.namespace, route.service, route.port)
        elif self.defaults:
            d = self.defaults[0]
            upstream_path, backend = path, self._backend(d["namespace"], d.get("name") or "", d.get("port") or {})
        else:
            await _respond(writer, 404, "Not Found")
            return
        if backend is None:
            await _respond(writer, 503, "Service Temporarily Unavailable")
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*backend, limit=_BUF), 5)
        except (OSError, TimeoutError):
            await _respond(writer, 502, "Bad Gateway")
            return
        peer = (writer.get_extra_info("peername") or ("",))[0]
        upgrade = any(k.lower() == "upgrade" for k, _ in headers)
        drop = {"connection", "keep-alive", "proxy-connection"} if not upgrade else {"keep-alive"}
        out = [f"{method} {upstream_path}{sep}{query} {version}"]
        out += [f"{k}: {v}" for k, v in headers if k.lower() not in drop]
        out += [f"X-Real-IP: {peer}", f"X-Forwarded-For: {peer}", f"X-Forwarded-Host: {host}",
                "X-Forwarded-Proto: http", f"X-Forwarded-Port: {self.port}"]
        if not upgrade:
            out.append("Connection: close")
        up_writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer, close=True))
        up_writer.close()


async def _respond(writer: asyncio.StreamWriter, code: int, reason: str) -> None:
    body = (f"<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}"
            f"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n").encode()
    writer.write(f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n"
                 f"Connection: close\r\n\r\n".encode() + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, close: bool = False) -> None:
    try:
        while True:
            data = await reader.read(_BUF)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if close:
            writer.close()
        elif writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
