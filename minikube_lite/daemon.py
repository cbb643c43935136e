"""The daemon: API server, scheduler, kubelet and proxy on one asyncio loop, in one process.

Like k3s's single binary, ``minikube-lite start`` runs everything here; the components talk
only through the API (``LocalClient``), never through each other's internals, so each could
run elsewhere with an HTTP client instead.

The API is served over HTTPS with the cluster's certificates (``auth/pki.py``), every request
authenticated and authorised (``auth/middleware.py``), and each component's client carries its
own identity through the same authorizer.

Run as ``python -m minikube_lite.daemon --state-dir DIR --port PORT``. SIGTERM (``minikube-lite
stop``) stops the pods' containers and exits; the desired state stays in the store and comes
back with the next start.
"""

from __future__ import annotations

import gc

# The daemon's own process loads without the cyclic GC: its imports allocate ~10^5 objects, ≈ 140
# collections and ≈ 9 % of its start (docs/performance.md). _start_when_serving turns it back on.
if __name__ == "__main__":
    gc.disable()

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import pkgutil
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from .api import metrics
from .api.apiregistration import apiservice_object
from .api.errors import AlreadyExists, NotFound
from .api.register import BUILTIN, by_plural, warm_up
from .api.times import now_rfc3339
from .apiserver import metrics as metrics_api
from .apiserver.app import crd_handler_running, create_app
from .apiserver.registry import Registry
from .auth import pki
from .auth.rbac import MASTERS, AlwaysAllowAuthorizer, RBACAuthorizer, UserInfo
from .client.local import LocalClient
from .config import DEFAULT_PORT, DNS_SERVICE_IP, KUBERNETES_SERVICE_IP, METRICS_RESOLUTION_SECONDS, Settings
from .malloc import fix_mmap_threshold, trim_after_bursts
from .node.networking import USERS as NODE_USERS
from .store.factory import open_store

log = logging.getLogger("minikube_lite.daemon")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
#: how long a stop waits for components still starting (so the kubelet can remove its containers)
STARTING_GRACE_SECONDS = 20.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# How long an idle keep-alive connection stays open: kube-apiserver's IdleTimeout (90 s, "matches
# http.DefaultTransport keep-alive timeout"). uvicorn's 5 s default closed the connection kubectl
# drain reuses for its eviction retry every 5 s: the retry then failed with EOF.
IDLE_TIMEOUT_SECONDS = 90
#: kube-apiserver's --authorization-mode values served here (RBAC, with NodeRestriction admission)
AUTHORIZATION_MODES = ("RBAC", "AlwaysAllow")


def _sa(name: str, namespace: str = "kube-system") -> UserInfo:
    return UserInfo(f"system:serviceaccount:{namespace}:{name}", "",
                    ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"))


# Who each component is when it calls the API (kube-controller-manager's controllers run with
# their own ServiceAccounts, --use-service-account-credentials, as kubeadm and minikube set it).
IDENTITIES: dict[str, UserInfo] = {
    "scheduler": UserInfo("system:kube-scheduler", "", ("system:authenticated",)),
    # the machine's node components (node/networking.py: an HA cluster's first node agent runs them)
    **{name: UserInfo(user, "", (*groups, "system:authenticated")) for name, (user, groups) in NODE_USERS.items()},
    "endpoints-controller": _sa("endpoint-controller"),
    "garbagecollector": _sa("generic-garbage-collector"),
    "namespace-controller": _sa("namespace-controller"),
    "replicaset-controller": _sa("replicaset-controller"),
    "deployment-controller": _sa("deployment-controller"),
    "job-controller": _sa("job-controller"),
    "cronjob-controller": _sa("cronjob-controller"),
    "statefulset-controller": _sa("statefulset-controller"),
    "daemonset-controller": _sa("daemon-set-controller"),
    "replicationcontroller-controller": _sa("replication-controller"),
    "storage-controller": _sa("persistent-volume-binder"),
    "serviceaccount-controller": _sa("serviceaccount-controller"),
    "root-ca-cert-publisher": _sa("root-ca-cert-publisher"),
    "node-lifecycle-controller": _sa("node-controller"),
    "node-ipam-controller": _sa("node-controller"),
    "taint-eviction-controller": _sa("node-controller"),
    "pod-garbage-collector": _sa("pod-garbage-collector"),
    "disruption-controller": _sa("disruption-controller"),
    "horizontal-pod-autoscaler": _sa("horizontal-pod-autoscaler"),
    "clusterrole-aggregation-controller": _sa("clusterrole-aggregation-controller"),
    "certificate-controller": _sa("certificate-controller"),
    # kube-apiserver's own loopback client (the event TTL sweep is the apiserver's job)
    "event-ttl": UserInfo("system:apiserver", "", (MASTERS, "system:authenticated")),
}


def node_identity(node_name: str) -> UserInfo:
    return UserInfo(f"system:node:{node_name}", "", ("system:nodes", "system:authenticated"))


def bootstrap(registry: Registry, settings: Settings) -> None:
    """The objects every cluster starts with: namespaces and the ``kubernetes`` service (another
    API server starting on the same etcd at the same moment may create one first: fine)."""
    ns_res = by_plural("namespaces")
    svc_res = by_plural("services")
    assert ns_res is not None and svc_res is not None
    for ns in SYSTEM_NAMESPACES:
        with contextlib.suppress(AlreadyExists):
            registry.ensure(ns_res, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    with contextlib.suppress(AlreadyExists):
        _ensure_kubernetes_service(registry, settings, svc_res)
    _ensure_apiservices(registry)


def publish_cluster_info(registry: Registry, settings: Settings) -> None:
    """kubeadm's discovery ConfigMap (kube-public/cluster-info); written once the API serves, with the
    other post-start work (PyYAML, which writes its kubeconfig, stays off the path to /readyz)."""
    ca = pki.paths(settings.state_dir).ca_crt
    if settings.secure and ca.exists():
        from .auth import clusterinfo

        clusterinfo.ensure(registry, settings.server_url, ca.read_bytes())


#: groupPriorityMinimum / versionPriority of the built-in groups (kube-apiserver's autoregister)
_GROUP_PRIORITY = {"": (18000, 1), "apps": (17800, 15), "events.k8s.io": (17750, 15),
                   "autoscaling": (17500, 9), "batch": (17400, 15), "networking.k8s.io": (17200, 15),
                   "policy": (17100, 15), "certificates.k8s.io": (17300, 9), "storage.k8s.io": (16800, 15), "apiextensions.k8s.io": (16700, 15),
                   "coordination.k8s.io": (16500, 15), "discovery.k8s.io": (16200, 15),
                   "apiregistration.k8s.io": (18000, 15), "rbac.authorization.k8s.io": (17000, 15),
                   "authentication.k8s.io": (17700, 15), "authorization.k8s.io": (17600, 15)}


def _ensure_apiservices(registry: Registry) -> None:
    """An APIService per group/version served: "Local" for the built-in groups, as kube-apiserver's
    autoregister writes them, and ``v1beta1.metrics.k8s.io`` as metrics-server registers it
    (served in-process from the kubelets' samples, apiserver/metrics.py)."""
    res = by_plural("apiservices", "apiregistration.k8s.io")
    assert res is not None
    now = now_rfc3339()
    served = list(dict.fromkeys((k.resource.group, k.resource.version) for k in BUILTIN))
    for group, version in served:
        if group == metrics.GROUP:
            obj = apiservice_object(group, version, now=now, group_priority=100, version_priority=100,
                                    service={"namespace": "kube-system", "name": "metrics-server", "port": 443})
        else:
            gp, vp = _GROUP_PRIORITY.get(group, (1000, 15))
            obj = apiservice_object(group, version, now=now, group_priority=gp, version_priority=vp)
        with contextlib.suppress(AlreadyExists):
            registry.ensure(res, obj)


def _ensure_kubernetes_service(registry: Registry, settings: Settings, svc_res: Any) -> None:
    registry.ensure(svc_res, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": KUBERNETES_SERVICE_IP,
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": settings.port}]},
    })


class Daemon:
    def __init__(self, settings: Settings, *, with_kubelet: bool = True, leader_elect: bool = False,
                 control_plane_only: bool = False, election_timing: dict[str, float] | None = None,
                 max_requests_inflight: int = 400, max_mutating_requests_inflight: int = 200,
                 hpa_sync_period: float = 15.0, hpa_downscale_stabilization: float = 300.0,
                 metric_resolution: float = METRICS_RESOLUTION_SECONDS, authorization_mode: str = "RBAC",
                 anonymous_auth: bool = True) -> None:
        if authorization_mode not in AUTHORIZATION_MODES:  # before the store is opened or written
            raise SystemExit(f"--authorization-mode: {authorization_mode!r} is not one of {', '.join(AUTHORIZATION_MODES)}")
        if settings.host not in LOOPBACK and authorization_mode == "AlwaysAllow":
            raise SystemExit(f"refusing to serve the API on {settings.host} with --authorization-mode=AlwaysAllow: "
                             "anyone who reaches it could do anything (loopback only; use RBAC)")
        self.settings = settings
        self.hpa_sync_period, self.hpa_downscale_stabilization = hpa_sync_period, hpa_downscale_stabilization
        self.metric_resolution = metric_resolution
        self.leader_elect, self.control_plane_only = leader_elect, control_plane_only
        self.election_timing = election_timing or {}
        self.identity = f"{socket.gethostname()}_{uuid.uuid4()}"  # this daemon in the Leases it holds
        self.electors: dict[str, Any] = {}
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = open_store(settings)
        self.registry = Registry(self.store)
        bootstrap(self.registry, settings)
        if settings.host not in LOOPBACK and not settings.secure:
            raise SystemExit(f"refusing to serve the API on {settings.host} without TLS and authentication")
        from .auth.storepolicy import StorePolicy

        self.policy = StorePolicy(self.registry)  # the default policy until the RBAC watch is up
        self.authorizer = (AlwaysAllowAuthorizer if authorization_mode == "AlwaysAllow" else RBACAuthorizer)(self.policy)
        self.authorizer.node_lookup = self._lookup  # NodeRestriction reads the pod a node writes status of
        from .auth.nodecerts import kubelet_client_context

        # the API server reaches the kubelets' HTTPS endpoints with its kubelet-client certificate
        # (apiserver/nodeproxy.py), with or without authentication of its own clients
        self._kubelet_tls = kubelet_client_context(settings.state_dir)
        if settings.secure:
            pki.ensure_client(settings.state_dir)
            extra_ips = tuple(i for i in (settings.host, *settings.apiserver_ips) if i not in ("0.0.0.0", "::"))
            pki.ensure_serving(settings.state_dir, extra_ips, settings.apiserver_names)
        self.client = LocalClient(self.registry, authorizer=self.authorizer,
                                  user=UserInfo("system:apiserver", "", (MASTERS, "system:authenticated")))
        self.with_kubelet = with_kubelet
        self.kubelet: Any = None
        self._ipam_started = False  # started with the kubelet, before the other controllers
        self._tasks: list[asyncio.Task[None]] = []
        self._server: uvicorn.Server | None = None
        self.app: Starlette = create_app(self.registry, server_address=f"{settings.host}:{settings.port}",
                                       max_requests_inflight=max_requests_inflight,
                                       max_mutating_requests_inflight=max_mutating_requests_inflight)
        self.app.router.lifespan_context = self._lifespan
        self.app.state.kubelet_tls = self._kubelet_tls
        # metrics.k8s.io for in-process clients (the HPA controller), as the API serves it over HTTP:
        # read from every node's kubelet endpoint
        self.client.metrics_source = lambda res, ns: metrics_api.collect(self.app, self.registry, res, ns)
        self.asgi: Any = self.app
        if settings.secure:
            from .apiserver.authapi import AuthAPI
            from .auth.authn import Authenticator
            from .auth.middleware import AuthMiddleware
            from .auth.tokens import Issuer

            self.asgi = AuthMiddleware(self.app, Authenticator(settings.state_dir, self._lookup), self.authorizer,
                                       anonymous=anonymous_auth)
            p = pki.paths(settings.state_dir)
            self.app.state.auth = AuthAPI(self.authorizer, Issuer(p.sa_key, p.sa_pub), self._lookup)
            self.client.auth_api = self.app.state.auth
        else:
            from .apiserver.authapi import AuthAPI

            self.app.state.auth = AuthAPI(self.authorizer, None, self._lookup)

    def _lookup(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        res = by_plural(resource)
        if res is None:
            return None
        try:
            return self.registry.get(res, namespace if res.namespaced else None, name)
        except NotFound:
            return None

    def client_for(self, component: str) -> LocalClient:
        return self.client.as_user(IDENTITIES[component])

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        starter = asyncio.create_task(self._start_when_serving())
        # after a request storm, the freed heap goes back to the OS (malloc.py; =0: off, to compare)
        if os.environ.get("MINIKUBE_LITE_MALLOC_TRIM", "1") != "0":
            self._tasks.append(asyncio.create_task(trim_after_bursts(), name="malloc-trim"))
        try:
            async with crd_handler_running(app):
                yield
        finally:
            # A stop that comes while the components are still starting (the preload runs in a
            # thread and cannot be interrupted) waits for them, bounded: otherwise the kubelet
            # would not exist yet to remove its containers, and they would outlive the daemon.
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(starter), timeout=STARTING_GRACE_SECONDS)
            starter.cancel()
            with contextlib.suppress(BaseException):
                await starter
            await self.stop_components()

    async def _start_when_serving(self) -> None:
        """Start the components once the API answers.

        uvicorn runs the lifespan before it binds its socket; importing the kubelet (the Docker
        SDK), the controllers and compiling the schemas there would hold ``/readyz`` back by
        several hundred milliseconds. They load in a worker thread instead, after the API is up;
        the components list and watch through the API like any client, so nothing is missed.
        """
        while self._server is None or not self._server.started:
            await asyncio.sleep(0.005)
        gc.enable()  # off while the process loaded (top of this module)
        t0 = time.monotonic()
        if self.with_kubelet and not self.control_plane_only:
            await self._start_kubelet_first()
        await asyncio.to_thread(_preload_components)
        log.info("components loaded in %.2fs", time.monotonic() - t0)
        try:
            await self.start_components()
            log.info("components started %.2fs after the API", time.monotonic() - t0)
        except Exception:
            log.exception("starting the components failed")
            raise
        # the kinds' validators compiled after the node's components started, not before: the node
        # is Ready that much sooner (issue 14), and a request before then compiles its kind's own
        await asyncio.to_thread(warm_up)

    async def start_components(self) -> None:
        """The scheduler, the controllers and the node's components (kubelet, proxy, DNS, ingress).

        With ``leader_elect`` (several API servers on one etcd) the scheduler and the controllers
        run only while this daemon holds their Lease (``kube-system/kube-scheduler``,
        ``kube-system/kube-controller-manager``), as kube-scheduler and kube-controller-manager
        do with ``--leader-elect``; with ``control_plane_only`` the node's components are left
        to another daemon."""
        from .auth.storepolicy import ClusterRoleAggregator
        from .auth.storepolicy import bootstrap as rbac_bootstrap
        from .scheduler.scheduler import Scheduler

        rbac_bootstrap(self.registry)  # kube-apiserver's rbac/bootstrap-roles post-start hook
        publish_cluster_info(self.registry, self.settings)
        scheduler: list[tuple[str, Any]] = [("scheduler", Scheduler(self.client_for("scheduler")))]
        # the API server's own: the RBAC watch cache, and metrics.k8s.io's store of the kubelets'
        # last scrape (metrics-server's loop, one round per metric resolution)
        scraper = metrics_api.scraper(self.app, self.registry)
        scraper.resolution = self.metric_resolution
        components: list[tuple[str, Any]] = [("rbac-policy", self.policy), ("metrics-scraper", scraper)]
        if self.control_plane_only:
            from .controllers.endpoints import EndpointsController

            api_ip = "127.0.0.1" if self.settings.host in ("0.0.0.0", "", "localhost") else self.settings.host
            controllers: list[tuple[str, Any]] = [
                ("endpoints-controller", EndpointsController(self.client_for("endpoints-controller"), api_endpoint=(api_ip, self.settings.port)))]
            dns_ip = DNS_SERVICE_IP  # the pods' network is made by whoever runs the node (start --ha: the CLI)
        else:
            networking, dns_ip = await _networking_components(self.client_for, self.settings)
            controllers = [networking[0]]  # the endpoints controller; the rest is the node's
            components += networking[1:]
            if self.settings.multi_host:  # start --multi-host: the overlay's router (node/overlay.py)
                from .node.overlay import master_component

                try:
                    components.append(("overlay-routes", await master_component(self.client, self.settings, dns_ip)))
                except Exception as exc:  # noqa: BLE001 - the cluster runs; pods of other machines cannot reach it
                    log.error("the overlay is not available: %s", exc)
        controllers += self._controllers()
        # each node's pod range, a slice of the pods' bridge (kubelet/podnet.py); a leader-elected
        # controller, so with --ha either API server's does it
        if not self._ipam_started:
            controllers.append(("node-ipam-controller", await self._node_ipam()))
        controllers.append(("clusterrole-aggregation-controller",
                            ClusterRoleAggregator(self.client_for("clusterrole-aggregation-controller"))))
        if self.settings.secure:
            from .controllers.serviceaccount import ServiceAccountController

            ca_pem = pki.paths(self.settings.state_dir).ca_crt.read_text()
            controllers.append(("serviceaccount-controller", ServiceAccountController(
                self.client_for("serviceaccount-controller"), ca_pem=ca_pem,
                cm_client=self.client_for("root-ca-cert-publisher"))))
            controllers.append(("certificate-controller", self._certificate_controller()))
            if dns_ip and dns_ip != DNS_SERVICE_IP:
                await asyncio.to_thread(self._add_node_address, dns_ip)
        if self.leader_elect:
            self._tasks.append(asyncio.create_task(self._elected("kube-scheduler", scheduler), name="elect-scheduler"))
            self._tasks.append(asyncio.create_task(self._elected("kube-controller-manager", controllers),
                                                   name="elect-controller-manager"))
        else:
            components = scheduler + controllers + components
        if self.with_kubelet and not self.control_plane_only and self.kubelet is None:
            self._start_kubelet(dns_ip)
        for name, comp in components:
            self._tasks.append(asyncio.create_task(self._supervise(name, comp), name=name))

    async def _start_kubelet_first(self) -> None:
        """The node's kubelet starts before the other components are even loaded: like Kubernetes'
        kubelet it registers its Node and posts Ready as soon as its runtime answers, needing
        nothing of the controllers (the node IPAM controller's podCIDR comes when it comes), so
        ``start`` sees the node Ready that much sooner (issue 14). The cluster DNS address it
        gives pods is the bridge's gateway, which start_components finds the same way."""
        from .config import CLUSTER_LABEL
        from .proxy.hostnet import ensure_network

        await asyncio.to_thread(importlib.import_module, f"{__package__}.kubelet.kubelet")
        try:
            _, gateway = await asyncio.to_thread(ensure_network, self.settings.network_name,
                                                 self.settings.cluster_id, CLUSTER_LABEL)
        except Exception:  # noqa: BLE001 - no engine yet: start_components says so, the kubelet too
            gateway = ""
        self._start_kubelet(gateway or DNS_SERVICE_IP)
        if not self.leader_elect:  # the nodes' pod ranges too: every node agent waits for its range
            ipam = await self._node_ipam()
            self._tasks.append(asyncio.create_task(self._supervise("node-ipam-controller", ipam),
                                                   name="node-ipam-controller"))
            self._ipam_started = True

    async def _node_ipam(self) -> Any:
        await asyncio.to_thread(importlib.import_module, f"{__package__}.controllers.nodeipam")
        from .controllers.nodeipam import NodeIPAM

        cidr = await asyncio.to_thread(_pod_subnet, self.settings.network_name)
        return NodeIPAM(self.client_for("node-ipam-controller"), cluster_cidr=cidr)

    def _start_kubelet(self, dns_ip: str) -> None:
        from .kubelet.kubelet import Kubelet

        self.kubelet = Kubelet(self.client.as_user(node_identity(self.settings.node_name)),
                               node_name=self.settings.node_name,
                               cluster_id=self.settings.cluster_id, network_name=self.settings.network_name,
                               dns_server=dns_ip, root_dir=self.settings.state_dir / "kubelet",
                               image_pull=self.settings.image_pull, metrics_resolution=self.metric_resolution,
                               serving_state_dir=self.settings.state_dir)
        self._tasks.append(asyncio.create_task(self._supervise("kubelet", self.kubelet), name="kubelet"))

    def _certificate_controller(self) -> Any:
        """csrapproving + csrsigning with the cluster CA; the approver's SubjectAccessReviews are
        answered by this API server's authorizer."""
        from .auth.requestinfo import Attributes
        from .controllers.certificates import CertificateController

        def review(user: str, uid: str, groups: list[str], extra: dict[str, list[str]], subresource: str) -> bool:
            who = UserInfo(user, uid, tuple(groups), tuple(sorted((k, tuple(v)) for k, v in extra.items())))
            attrs = Attributes("create", True, api_group="certificates.k8s.io", api_version="v1",
                               resource="certificatesigningrequests", subresource=subresource)
            return self.authorizer.authorize(who, attrs)[0]

        p = pki.paths(self.settings.state_dir)
        return CertificateController(self.client_for("certificate-controller"), review=review,
                                     ca_crt=p.ca_crt, ca_key=p.ca_key)

    async def _elected(self, lease: str, components: list[tuple[str, Any]]) -> None:
        """Run ``components`` while this daemon holds the Lease ``kube-system/<lease>``."""
        from .client.leaderelection import LeaderElector

        elector = LeaderElector(self.client, lease, identity=self.identity, **self.election_timing)
        self.electors[lease] = elector

        async def lead() -> None:
            await asyncio.gather(*(self._supervise(name, comp) for name, comp in components))

        await elector.run(lead)

    def _controllers(self) -> list[tuple[str, Any]]:
        components: list[tuple[str, Any]] = []
        from .controllers.garbagecollector import GarbageCollector
        components.append(("garbagecollector", GarbageCollector(self.client_for("garbagecollector"))))
        from .controllers.namespace import NamespaceController
        components.append(("namespace-controller", NamespaceController(self.client_for("namespace-controller"))))
        from .controllers.eventttl import EventTTL
        components.append(("event-ttl", EventTTL(self.client_for("event-ttl"))))
        from .controllers.deployment import DeploymentController
        from .controllers.replicaset import ReplicaSetController
        components += [("replicaset-controller", ReplicaSetController(self.client_for("replicaset-controller"))),
                       ("deployment-controller", DeploymentController(self.client_for("deployment-controller")))]
        from .controllers.cronjob import CronJobController
        from .controllers.daemonset import DaemonSetController
        from .controllers.job import JobController
        from .controllers.replicationcontroller import ReplicationControllerController
        from .controllers.statefulset import StatefulSetController
        components += [(name, cls(self.client_for(name))) for name, cls in (
            ("job-controller", JobController), ("cronjob-controller", CronJobController),
            ("statefulset-controller", StatefulSetController), ("daemonset-controller", DaemonSetController),
            ("replicationcontroller-controller", ReplicationControllerController))]
        from .controllers.nodelifecycle import NodeLifecycleController
        from .controllers.podgc import PodGC
        from .controllers.tainteviction import TaintEvictionController
        components += [("node-lifecycle-controller", NodeLifecycleController(self.client_for("node-lifecycle-controller"))),
                       ("taint-eviction-controller", TaintEvictionController(self.client_for("taint-eviction-controller"))),
                       ("pod-garbage-collector", PodGC(self.client_for("pod-garbage-collector")))]
        from .controllers.disruption import DisruptionController
        components.append(("disruption-controller", DisruptionController(self.client_for("disruption-controller"))))
        from .controllers.podautoscaler import HorizontalPodAutoscalerController
        components.append(("horizontal-pod-autoscaler", HorizontalPodAutoscalerController(
            self.client_for("horizontal-pod-autoscaler"), sync_period=self.hpa_sync_period,
            downscale_stabilization=self.hpa_downscale_stabilization)))
        from .controllers.storage import StorageController
        components.append(("storage-controller",
                           StorageController(self.client_for("storage-controller"), volumes_dir=self.settings.state_dir / "volumes")))
        return components

    async def _supervise(self, name: str, component: Any) -> None:
        """Keep a component running: a crash is logged and the component restarted after 1 s."""
        while True:
            try:
                await component.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s crashed; restarting it in 1s", name)
                await asyncio.sleep(1)

    async def stop_components(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self.kubelet is not None:
            try:
                await self.kubelet.shutdown(remove_containers=True)
            except Exception:
                log.exception("kubelet shutdown failed")
        self.store.close()

    def _add_node_address(self, node_ip: str) -> None:
        """The node's address joins the serving certificate once the pods' network is known."""
        s = self.settings
        extra = tuple(i for i in (node_ip, s.host, *s.apiserver_ips) if i not in ("0.0.0.0", "::"))
        if pki.ensure_serving(s.state_dir, extra, s.apiserver_names):
            from .auth import tls

            tls.reload(s.state_dir)
            log.info("serving certificate now also names %s", node_ip)

    async def serve(self) -> None:
        from .apiserver.upgrade import default_handlers, lazy_websockets, streaming_protocol

        # httptools, plus the SPDY/3.1 upgrades of exec, attach and port-forward (upgrade.py), which
        # pass the same authentication and authorization as every other request
        gate = getattr(self.asgi, "check", None)
        from functools import partial

        from .apiserver.nodeproxy import bound, proxy_upgrade

        protocol = streaming_protocol(self.app, default_handlers(), gate=gate, proxy=partial(proxy_upgrade, self.app),
                                      proxy_ws=partial(bound, self.app))
        tls_options: dict[str, Any] = {}
        if self.settings.secure:
            from .auth import tls

            protocol = tls.with_peer_identity(protocol)
            tls_options = {"ssl_context_factory": tls.context_factory(self.settings.state_dir)}
        config = uvicorn.Config(self.asgi, host=self.settings.host, port=self.settings.port, log_level="warning",
                                access_log=False, lifespan="on", timeout_graceful_shutdown=2, http=protocol,
                                ws=lazy_websockets, timeout_keep_alive=IDLE_TIMEOUT_SECONDS,
                                **tls_options)  # type: ignore[arg-type]
        self._server = uvicorn.Server(config)
        await self._server.serve()


async def _networking_components(client_for: Any, settings: Settings) -> tuple[list[tuple[str, Any]], str]:
    """The endpoints controller, kube-proxy, cluster DNS and ingress (issue 6), and the DNS address.

    The cluster DNS listens on the gateway of the cluster's own bridge (unique per cluster, so
    several clusters on one host never answer for each other); the pods' network is created
    here when missing so that address is known before the kubelet creates any pod.
    """
    from .controllers.endpoints import EndpointsController
    from .node import networking

    dns_ip = await _pods_network(settings)
    api_ip = "127.0.0.1" if settings.host in ("0.0.0.0", "", "localhost") else settings.host
    return [("endpoints-controller", EndpointsController(client_for("endpoints-controller"),
                                                         api_endpoint=(api_ip, settings.port))),
            *networking.build(client_for, settings, dns_ip, settings.ingress_port)], dns_ip


async def _pods_network(settings: Settings) -> str:
    """The pods' network (made when missing) and its gateway, the cluster DNS's address."""
    from .config import CLUSTER_LABEL
    from .proxy.hostnet import ensure_network

    try:
        _, dns_ip = await asyncio.to_thread(ensure_network, settings.network_name, settings.cluster_id,
                                            CLUSTER_LABEL)
    except Exception as exc:  # noqa: BLE001 - no engine yet: the kubelet will report it
        log.warning("cannot prepare the pods' network (%s); cluster DNS on %s", exc, DNS_SERVICE_IP)
        dns_ip = ""
    return dns_ip or DNS_SERVICE_IP


def _pod_subnet(network_name: str) -> str:
    """The pods' bridge's subnet (the cluster's pod CIDR), or "" without an engine or network."""
    try:
        import docker

        from .kubelet.podnet import network_subnet

        client = docker.from_env()
        try:
            return network_subnet(client.api.inspect_network(network_name))
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - no engine: no ranges, Docker's own addresses
        log.warning("cannot read the pods' subnet: %s", exc)
        return ""


_COMPONENT_PACKAGES = ("scheduler", "controllers", "kubelet", "proxy", "dns")


def _preload_components() -> None:
    """Import every component module (run in a worker thread)."""
    for package in _COMPONENT_PACKAGES:
        try:
            pkg = importlib.import_module(f"{__package__}.{package}")
        except ImportError:
            continue
        for info in pkgutil.iter_modules(pkg.__path__):
            try:
                importlib.import_module(f"{pkg.__name__}.{info.name}")
            except Exception:
                log.debug("preloading %s.%s failed", pkg.__name__, info.name, exc_info=True)
    from .auth.rbac import default_objects

    default_objects()  # the default RBAC policy, read on first use (rbac.DefaultPolicy)


#: what the daemon imports on its way to serving, after its module's imports (Daemon(), serve()); a
#: unit test (test_prestart.py) holds it to what that way imports
_SERVING_MODULES = ("store.sqlite", "auth.storepolicy", "auth.nodecerts", "auth.authn", "auth.middleware", "auth.tokens",
                    "auth.tls", "apiserver.authapi", "apiserver.upgrade", "apiserver.remotecommand",
                    "dashboard")


def _preload_serving() -> None:
    """Import now what the path to serving imports later (a daemon waiting for its command line)."""
    for name in _SERVING_MODULES:
        importlib.import_module(f"{__package__}.{name}")
    for name in ("uvicorn.lifespan.on", "uvicorn.protocols.http.httptools_impl", "uvloop", "encodings.idna"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="minikube-lite-daemon")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--no-kubelet", action="store_true", help="API server and controllers only")
    parser.add_argument("--insecure-no-auth", action="store_true",
                        help="plain HTTP, no authentication or authorization (benchmarks; loopback only)")
    parser.add_argument("--authorization-mode", default="RBAC",
                        help="RBAC, or AlwaysAllow (kube-apiserver's flag; AlwaysAllow on loopback only: benchmarks)")
    parser.add_argument("--anonymous-auth", type=_flag_bool, default=True, metavar="true|false",
                        help="requests without credentials are system:anonymous (true, kube-apiserver's default) "
                             "or a 401 (false)")
    parser.add_argument("--ingress-port", type=int, default=int(os.environ.get("MINIKUBE_LITE_INGRESS_PORT", "80")),
                        help="host port of the built-in ingress controller (another is used, with an event, if taken)")
    parser.add_argument("--max-requests-inflight", type=int,
                        default=int(os.environ.get("MINIKUBE_LITE_MAX_REQUESTS_INFLIGHT", "400")),
                        help="reads served at once before 429 (kube-apiserver's flag; 0: no limit)")
    parser.add_argument("--max-mutating-requests-inflight", type=int,
                        default=int(os.environ.get("MINIKUBE_LITE_MAX_MUTATING_REQUESTS_INFLIGHT", "200")),
                        help="writes served at once before 429 (kube-apiserver's flag; 0: no limit)")
    parser.add_argument("--image-pull", choices=("local-fallback", "kubernetes"), default=None,
                        help="what a failed pull does when the engine holds the image [default: as saved]")
    parser.add_argument("--horizontal-pod-autoscaler-sync-period", type=float,
                        default=float(os.environ.get("MINIKUBE_LITE_HPA_SYNC_PERIOD", "15")),
                        help="seconds between two reconciles of an HPA (kube-controller-manager's flag)")
    parser.add_argument("--horizontal-pod-autoscaler-downscale-stabilization", type=float,
                        default=float(os.environ.get("MINIKUBE_LITE_HPA_DOWNSCALE_STABILIZATION", "300")),
                        help="seconds of recommendations a scale-down without spec.behavior looks back over")
    parser.add_argument("--metric-resolution", type=float,
                        default=float(os.environ.get("MINIKUBE_LITE_METRIC_RESOLUTION", str(METRICS_RESOLUTION_SECONDS))),
                        help="seconds between two samples of the containers' usage (metrics-server's flag; "
                             "2 s here, see kubelet/metrics.py)")
    parser.add_argument("--leader-elect", action="store_true",
                        help="run the scheduler and controllers only while holding their Lease (several API servers)")
    parser.add_argument("--leader-elect-lease-duration", type=float, default=15.0)
    parser.add_argument("--leader-elect-renew-deadline", type=float, default=10.0)
    parser.add_argument("--leader-elect-retry-period", type=float, default=2.0)
    parser.add_argument("--control-plane-only", action="store_true",
                        help="no kubelet, proxy, DNS or ingress: another daemon runs the node")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default=os.environ.get("MINIKUBE_LITE_LOOP", "auto"),
                        help="event loop (uvicorn's choice): auto is uvloop when installed")
    parser.add_argument("--store", default="", help="sqlite (default) or etcd://HOST:PORT[,HOST:PORT...]")
    parser.add_argument("--etcd-cafile", default="", help="CA bundle to verify etcd's serving certificate")
    parser.add_argument("--etcd-certfile", default="", help="client certificate for etcd (TLS)")
    parser.add_argument("--etcd-keyfile", default="", help="client key for etcd (TLS)")
    parser.add_argument("--args-from-stdin", action="store_true",
                        help="load, then read the command line to run from stdin (minikube-lite start: cli/prestart.py)")
    args = parser.parse_args(argv)
    if args.args_from_stdin:
        from .cli import prestart

        _preload_serving()
        command = prestart.await_command(args.state_dir.expanduser())
        if command is not None:
            main(command)
        return
    logging.basicConfig(level=os.environ.get("MINIKUBE_LITE_LOG", "INFO"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    saved = Settings.load(args.state_dir.expanduser().resolve())
    settings = Settings(state_dir=args.state_dir.expanduser().resolve(), port=args.port, host=args.host,
                        ingress_port=args.ingress_port, store=args.store, etcd_cafile=args.etcd_cafile,
                        etcd_certfile=args.etcd_certfile, etcd_keyfile=args.etcd_keyfile,
                        image_pull=args.image_pull or saved.image_pull, apiserver_ips=saved.apiserver_ips,
                        apiserver_names=saved.apiserver_names, listen_address=saved.listen_address,
                        multi_host=saved.multi_host, secure=not args.insecure_no_auth)
    from .store.base import StoreError

    try:
        daemon = Daemon(settings, with_kubelet=not args.no_kubelet, leader_elect=args.leader_elect,
                        control_plane_only=args.control_plane_only,
                        election_timing={"lease_duration": args.leader_elect_lease_duration,
                                         "renew_deadline": args.leader_elect_renew_deadline,
                                         "retry_period": args.leader_elect_retry_period},
                        max_requests_inflight=args.max_requests_inflight,
                        max_mutating_requests_inflight=args.max_mutating_requests_inflight,
                        hpa_sync_period=args.horizontal_pod_autoscaler_sync_period,
                        hpa_downscale_stabilization=args.horizontal_pod_autoscaler_downscale_stabilization,
                        metric_resolution=args.metric_resolution, authorization_mode=args.authorization_mode,
                        anonymous_auth=args.anonymous_auth)
    except (StoreError, ValueError) as exc:  # etcd unreachable, a bad --store: say so, no traceback
        log.error("cannot open the store: %s", exc)
        sys.exit(1)
    fix_mmap_threshold()  # closed connections' TLS buffers go back to the OS (malloc.py)
    run_loop(daemon.serve(), args.loop)


def _flag_bool(value: str) -> bool:
    """A boolean flag's value as Go's flag package reads ``--flag=false``."""
    v = value.strip().lower()
    if v in ("1", "t", "true"):
        return True
    if v in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r}: true or false")


def run_loop(main: Any, loop: str = "auto") -> None:
    """Run ``main`` on uvloop when installed (``auto``; uvicorn's ``--loop`` choice), else asyncio's loop.

    uvloop's TLS transport is compiled (asyncio's is pure Python): every request and every
    encrypted byte of a large list body costs the event loop less (docs/performance.md).
    """
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                raise SystemExit("--loop uvloop: uvloop is not installed") from None
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


if __name__ == "__main__":
    main()
