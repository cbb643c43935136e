"""The kubelet: keeps the pods bound to this node running as Docker containers.

It is a reconcile loop in the client-go manner. Triggers (the pod watch filtered on
``spec.nodeName``, the Docker event stream, a periodic resync, back-off timers) only put the
pod's key on a work queue; ``_sync_pod(key)`` then compares what the API wants with what
Docker runs and acts, and is the same function whatever woke it (level-triggered: a missed
event costs latency, never correctness).

One pod is one pause container (holding the network namespace and the pod IP) plus one
container per spec container joined to it. Containers are found only through their labels
(see runtime.py), so a restarted daemon adopts what runs, and a container without this
cluster's label is never touched. Deaths are learned from Docker's ``die`` events (well under
0.1 s), so a killed container is replaced in about the time Docker takes to create and start
one; the new container gets ``restartCount + 1``, the dead one is kept for ``logs --previous``.

This module holds the sync loop (triggers, reconcile, starting containers, the node); the
other ideas live beside it as mixins: images.py (pulls), termination.py (graceful delete),
status_writer.py (status writes), logs.py (``kubectl logs``), see base.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.types import Mount

from minikube_lite.api.errors import AlreadyExists, Conflict, Gone, NotFound
from minikube_lite.client.base import Client
from minikube_lite.config import NODE_LEASE_DURATION_SECONDS, NODE_LEASE_NAMESPACE

from ..api.times import now_rfc3339
from ..config import METRICS_RESOLUTION_SECONDS
from . import cgroups
from .backoff import Backoff
from .base import docker_message, pod_key, pod_uid
from .events import EventRecorder
from .exec import Attach, Exec
from .images import ImagePuller
from .logs import Logs
from .metrics import Metrics
from .node import conditions as node_conditions
from .node import lease_object, node_object, status_events
from .nodeaddress import claim as claim_address
from .nodeaddress import not_ready
from .nodeaddress import release as release_address
from .probes import Prober
from .runtime import SANDBOX, ContainerRecord, Runtime
from .spec import (
    ConfigError,
    app_container_args,
    pause_container_args,
    pod_references,
    referenced_objects,
    resolve_env,
    run_as_non_root,
    verify_non_root,
)
from .status import Observed, Waiting, group_records, should_restart
from .status_writer import StatusWriter
from .termination import Termination
from .volumes import HostVolume, MountError, Volumes, container_mounts
from .workqueue import WorkQueue

log = logging.getLogger(__name__)


POST_START_TIMEOUT_SECONDS = 120.0  # Kubernetes gives hooks no timeout; a stuck one must not hold the pod forever
#: what a pod reads from the API besides itself (spec.pod_references): watched while a pod of the node reads one
REFERENCED_KINDS = ("configmaps", "secrets", "persistentvolumeclaims")


class Kubelet(Termination, StatusWriter, Logs, Metrics, Exec, Attach, Prober, Volumes, ImagePuller):
    """Runs the pods bound to ``node_name`` on the local Docker engine."""

    def __init__(
        self,
        client: Client,
        *,
        node_name: str,
        cluster_id: str,
        network_name: str,
        docker_client: docker.DockerClient | None = None,
        resync_seconds: float = 30.0,
        heartbeat_seconds: float = 20.0,
        lease_seconds: float = 10.0,
        docker_threads: int = 16,
        dns_server: str | None = None,
        root_dir: Path | str | None = None,
        image_pull: str = "local-fallback",
        metrics_resolution: float = METRICS_RESOLUTION_SECONDS,
        serving_state_dir: Path | None = None,
        control_plane: bool = True,
        own_address: bool = False,
        node_ip: str = "",
        serving_context: Callable[[str, tuple[str, ...]], ssl.SSLContext] | None = None,
    ) -> None:
        """``dns_server``: the cluster DNS address given to pods (``dnsPolicy: ClusterFirst``);
        None leaves Docker's default resolver. ``root_dir``: the kubelet's folder for pod volumes
        and termination messages (the daemon passes ``<state dir>/kubelet``). ``image_pull``: what a
        failed pull does when the engine holds an image of that name (images.py). ``serving_state_dir``:
        the cluster's state folder whose CA signs this kubelet's HTTPS endpoint (server.py), which
        the API server reaches for logs, exec, attach, port-forward and metrics; None serves none.
        ``own_address``: the node takes an address of its own on the bridge (nodeaddress.py), its
        InternalIP and where its endpoint listens, instead of the bridge's gateway (node agents of
        this machine). ``node_ip``: the node's address as the API server reaches it (kubelet
        ``--node-ip``; a node on another machine), else the gateway of the pods' bridge.
        ``serving_context``: makes the endpoint's TLS context from (node, addresses) instead of the
        state folder's CA (a joined node's certificate comes by CSR, node/serving.py)."""
        self._client = client
        self.node_name = node_name
        self.cluster_id = cluster_id
        self.network_name = network_name
        self.runtime = Runtime(cluster_id=cluster_id, network_name=network_name, docker_client=docker_client,
                               node_name=node_name)
        # The resync is the safety net, not the fast path: Docker events, the pod/config watches
        # and the reconnect resync drive every change. 30 s (Kubernetes' kubelet uses 60 s) keeps
        # a steady node of 50 pods under 1% of a core (bench/bench_deployments.py).
        self._resync_seconds = resync_seconds
        self.dns_server = dns_server
        self._heartbeat_seconds = heartbeat_seconds
        self._lease_seconds = lease_seconds
        # A pool of our own: long Docker calls (pulls, stops) must not starve the process-wide
        # default executor the API server and other components share.
        self._pool = ThreadPoolExecutor(max_workers=docker_threads, thread_name_prefix="kubelet-docker")
        self._pods: dict[str, dict[str, Any]] = {}  # key -> pod, as the watch last saw it
        self._listed = False  # the initial list is in: only then may unknown containers be removed
        self._queue = WorkQueue(self._sync_pod)
        self._events = EventRecorder(client, node_name=node_name)
        self._starting = True  # no registration yet in this run (its events say "Starting kubelet.")
        self._conditions_before: list[dict[str, Any]] | None = None
        self._backoff = Backoff()  # (uid, container) -> restart back-off
        self._pull_backoff = Backoff()  # (uid, container) -> image pull back-off
        self._pull_failed_at: dict[tuple[str, str], float] = {}
        self.image_pull = image_pull
        self._waiting: dict[str, dict[str, Waiting]] = {}  # uid -> container -> why it waits
        self._written: dict[str, dict[str, Any]] = {}  # uid -> the status last written
        self._die_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._probes = {}
        self._kills = set()
        self._last_records = {}
        self._volumes: dict[str, dict[str, HostVolume]] = {}  # uid -> volume name -> host folder
        self._messages: dict[str, dict[str, str]] = {}  # uid -> container id -> termination message
        self.root_dir = Path(root_dir) if root_dir is not None else (
            Path(tempfile.gettempdir()) / f"minikube-lite-kubelet-{cluster_id[:12]}")
        self._tasks: list[asyncio.Task[Any]] = []
        self._reference_watches: dict[str, asyncio.Task[None]] = {}  # kind -> its watch, while a pod reads one
        self._events_thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runtime_version = "unknown"
        self._stopping = False
        self.metrics_resolution = metrics_resolution  # metrics.py: how often containers are sampled
        self._samples = {}
        self._node_samples = (None, None)
        self._cgroup_files = {}
        self.cgroup_root = cgroups.CGROUP_ROOT
        self._serving_state_dir = serving_state_dir
        self._serving_context = serving_context
        self.node_ip = node_ip
        self.runtime.node_ip = node_ip or None  # a hostNetwork pod's IP is its node's
        self.control_plane = control_plane  # the first node (the role label); node agents are workers
        self.pod_cidr = ""  # the Node's spec.podCIDR (controllers/nodeipam.py): where pod IPs come from
        self._explicit_ips = True
        self._reserved_ips: set[str] = set()
        self.server: Any = None  # server.py, once listening
        self._prepared = False  # prepare() done, for the next run()
        self.kubelet_port = 0
        self.own_address = own_address
        self._claimed = ""  # the address we put on the bridge (own_address), once taken

    # ---- plumbing ---------------------------------------------------------------------------

    @property
    def host_ip(self) -> str:
        """The node's address: ``node_ip`` or its own (``own_address``), else the gateway of the pods' bridge."""
        return self.node_ip or self.runtime.host_ip or "127.0.0.1"

    # ---- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        """Register the node and keep this node's pods running, until cancelled.

        May be called again after it failed (the daemon's supervisor does): each run starts
        with a fresh work queue and a fresh view of the pods.
        """
        self._loop = asyncio.get_running_loop()
        started = time.monotonic()
        self._stopping = False
        self._listed = False
        self._queue = WorkQueue(self._sync_pod)
        if not self._prepared:
            await self.prepare()
        self._prepared = False  # a later run (after a failure) looks at the engine again
        self._starting = True  # the next registration is this run's first: "Starting kubelet."
        if self._claims_address():  # needs the API: the node IPAM controller's range
            # what the Node said before this kubelet's first write (the events tell what changed)
            self._conditions_before = await self._node_conditions()
            await self._claim_address()
        await self._serve()
        await self._register_node()
        log.info("node %s registered, Ready, %.2fs after the kubelet started", self.node_name, time.monotonic() - started)
        # the Lease first: its renewal is what says this kubelet is the one answering (`start` waits
        # for it), and its requests go out before the watches' lists
        self._spawn(self._lease_loop(), "kubelet node lease")
        self._start_docker_events()
        self._spawn(self._watch_pods(), "kubelet pod watch")
        self._spawn(self._resync_loop(), "kubelet resync")
        self._spawn(self._heartbeat_loop(), "kubelet heartbeat")
        self._spawn(self._metrics_loop(), "kubelet resource metrics")
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self._stop_background()

    async def prepare(self) -> None:
        """What comes before the API: the engine answers, the pods' network, the kubelet's endpoint,
        the pause image and the runtime's version. A node agent does it while the API server is still
        starting (node/agent.py); ``run`` does it itself otherwise."""
        self._loop = asyncio.get_running_loop()
        await self._docker(self.runtime.ping)
        await self._docker(self.runtime.ensure_network)  # also learns the bridge's gateway
        # side by side: `minikube-lite start` waits for the node to be Ready
        _, self._runtime_version = await asyncio.gather(self._docker(self.runtime.ensure_pause_image),
                                                        self._docker(self.runtime.version))
        if not self._claims_address():  # else the endpoint waits for the node's own address (run)
            await self._serve()
        elif self._serves:
            # its code loaded now, while the API server starts, not once the node's range came
            from . import server  # noqa: F401
        self._prepared = True

    @property
    def _serves(self) -> bool:
        """Whether this kubelet has an HTTPS endpoint (a serving certificate, made or given)."""
        return self._serving_state_dir is not None or self._serving_context is not None

    def _claims_address(self) -> bool:
        return self.own_address and not self.node_ip

    async def _serve(self) -> None:
        """The kubelet's HTTPS endpoint, on the node's address."""
        if self._serves and self.server is None:
            from .server import KubeletServer

            # the port of last time when it is free, so the Node's endpoint stays what it was
            port_file = self.root_dir / "kubelet.port"
            try:
                wanted = int(port_file.read_text())
            except (OSError, ValueError):
                wanted = 0
            server = KubeletServer(self, self._serving_state_dir, port=wanted, context=self._serving_context)
            self.kubelet_port = await server.start(self.host_ip)
            self.server = server
            with contextlib.suppress(OSError):
                port_file.parent.mkdir(parents=True, exist_ok=True)
                port_file.write_text(str(self.kubelet_port))

    async def _stop_background(self) -> None:
        self._stop_all_probes()
        tasks, self._tasks = [*self._tasks, *self._kills, *self._reference_watches.values()], []
        self._reference_watches = {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._queue.close()
        self.runtime.close()  # also ends the Docker event thread

    async def shutdown(self, *, remove_containers: bool = True, stop_containers: bool = False) -> None:
        """Stop the loops; with ``remove_containers`` also kill and remove every container of this node;
        with ``stop_containers`` kill them and keep them, as a machine switched off leaves them (the
        next kubelet of the node replaces them, as a rebooted kubelet its dead containers).

        With neither the containers keep running and the next kubelet of the node adopts them.
        """
        self._stopping = True
        await self._stop_background()
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if remove_containers or stop_containers:
            # removed (the cluster goes) or killed and kept (a machine switched off, node stop)
            act, what = (self.runtime.remove, "remove") if remove_containers else (self.runtime.kill_id, "stop")
            try:
                found = await self._docker(self.runtime.list_ids)
                await asyncio.gather(*(self._docker(act, c["Id"]) for c in found), return_exceptions=True)
            except docker.errors.DockerException as e:
                log.warning("could not %s the pod containers: %s", what, e)
            # memory-backed emptyDirs go with their containers (and must not pin the folder)
            await self._docker(self._unmount_all)
        if self._claimed:  # only the address we added (never a --node-ip given to us)
            with contextlib.suppress(OSError):
                await release_address(self.runtime.bridge, self._claimed)
            self.node_ip, self.runtime.node_ip, self._claimed = "", None, ""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._events.flush(), 2.0)
        self.runtime.close()
        self._pool.shutdown(wait=False)

    # ---- node -------------------------------------------------------------------------------

    async def _readd_address(self, ip: str) -> None:
        from ..proxy.hostnet import add_node_address

        try:
            await self._docker(self.runtime.ensure_network)
            await asyncio.to_thread(add_node_address, self.runtime.bridge, ip)
        except Exception as e:  # noqa: BLE001 - the engine may be gone again: the next reconnect retries
            log.warning("could not put the node's address %s back: %s", ip, e)

    async def _claim_address(self) -> None:
        """Wait for the node's pod range and take its own address (nodeaddress.py)."""
        registration = not_ready(node_object(
            self.node_name, internal_ip="", runtime_version=self._runtime_version, now=now_rfc3339(),
            kubelet_port=10250, control_plane=self.control_plane), self.node_name)
        got = await claim_address(self._client, self.node_name, registration, bridge=self.runtime.bridge,
                                  gateway=self.runtime.host_ip or "")
        if got is not None:
            self.node_ip, self.pod_cidr = got
            self.runtime.node_ip = self._claimed = self.node_ip

    async def _node_conditions(self) -> list[dict[str, Any]]:
        try:
            node = await self._client.get("nodes", self.node_name)
        except NotFound:
            return []
        return _conditions_of(node)

    async def _register_node(self) -> None:
        desired = node_object(self.node_name, internal_ip=self.host_ip, runtime_version=self._runtime_version,
                              now=now_rfc3339(), kubelet_port=self.kubelet_port or 10250,
                              control_plane=self.control_plane)
        try:
            node = await self._client.get("nodes", self.node_name)
            before = _conditions_of(node)
        except NotFound:
            before = []
            try:
                node = await self._client.create("nodes", desired)
            except AlreadyExists:
                node = await self._client.get("nodes", self.node_name)
        if self._conditions_before is not None:
            before, self._conditions_before = self._conditions_before, None
        labels = (node.get("metadata") or {}).get("labels") or {}
        if any(labels.get(k) != v for k, v in desired["metadata"]["labels"].items()):
            node["metadata"]["labels"] = {**labels, **desired["metadata"]["labels"]}
            node = await self._client.update("nodes", node)
        for attempt in range(5):  # the node IPAM controller writes spec.podCIDR right after the create
            status = dict(desired["status"])
            status["conditions"] = node_conditions(now_rfc3339(), (node.get("status") or {}).get("conditions"))
            node["status"] = status
            try:
                await self._client.update_status("nodes", node)
            except Conflict:
                if attempt == 4:
                    raise
                node = await self._client.get("nodes", self.node_name)
                continue
            # as the kubelet references its node in events: kind Node, its name as the uid
            ref = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": self.node_name, "uid": self.node_name}}
            for reason, message in status_events(self.node_name, before, status["conditions"],
                                                 starting=self._starting):
                self._events.record(ref, reason, message)
            self._starting = False
            return

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            try:
                for _ in range(3):
                    node = await self._client.get("nodes", self.node_name)
                    status = node.setdefault("status", {})
                    status["conditions"] = node_conditions(now_rfc3339(), status.get("conditions"))
                    try:
                        await self._client.update_status("nodes", node)
                        break
                    except Conflict:
                        continue
            except NotFound:
                with contextlib.suppress(Exception):
                    await self._register_node()
            except Exception as e:  # noqa: BLE001 - the next beat tries again
                log.warning("node heartbeat failed: %s", e)

    async def _renew_lease(self) -> None:
        renew = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # a MicroTime
        try:
            lease = await self._client.get("leases.coordination.k8s.io", self.node_name, namespace=NODE_LEASE_NAMESPACE)
        except NotFound:
            node = await self._client.get("nodes", self.node_name)
            with contextlib.suppress(AlreadyExists):  # a racing renewal made it; the next one renews
                await self._client.create("leases.coordination.k8s.io", lease_object(node, renew), namespace=NODE_LEASE_NAMESPACE)
            return
        spec = lease.setdefault("spec", {})
        if spec.get("holderIdentity") != self.node_name:
            spec["acquireTime"] = renew
            spec["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1
        spec.update({"holderIdentity": self.node_name,
                     "leaseDurationSeconds": NODE_LEASE_DURATION_SECONDS, "renewTime": renew})
        await self._client.update("leases.coordination.k8s.io", lease, namespace=NODE_LEASE_NAMESPACE)

    async def _lease_loop(self) -> None:
        """Renew the node's Lease now and every ``lease_seconds``; a failed renewal is retried at
        once with a short pause (200 ms, doubling up to the period), as Kubernetes' lease controller."""
        pause = 0.2
        while True:
            try:
                await self._renew_lease()
                pause = 0.2
                await asyncio.sleep(self._lease_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - Conflict, a missing namespace ...: try again soon
                log.warning("node lease renewal failed: %s", e)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self._lease_seconds)

    # ---- triggers ---------------------------------------------------------------------------

    async def _watch_pods(self) -> None:
        selector = f"spec.nodeName={self.node_name}"
        while True:
            try:
                items, rv = await self._client.list("pods", field_selector=selector)
                fresh = {pod_key(p): p for p in items}
                gone = set(self._pods) - set(fresh)
                self._pods = fresh
                self._listed = True
                self._watch_what_pods_read()
                for key in [*fresh, *gone]:
                    self._queue.add(key)
                await self._sweep_orphans()
                async for event in self._client.watch("pods", resource_version=rv, field_selector=selector):
                    if event.type == "ERROR":
                        break
                    if event.type == "BOOKMARK":
                        continue
                    self._on_pod_event(event.type, event.object)
            except asyncio.CancelledError:
                raise
            except Gone:
                continue
            except Exception as e:  # noqa: BLE001 - relist after a short pause
                log.warning("pod watch failed (%s); relisting", e)
                await asyncio.sleep(1.0)

    def _on_pod_event(self, kind: str, pod: dict[str, Any]) -> None:
        key = pod_key(pod)
        if kind == "DELETED":
            old = self._pods.get(key)
            if old is not None and pod_uid(old) == pod_uid(pod):
                del self._pods[key]
                self._watch_what_pods_read()
            self._queue.add(key)
            return
        old = self._pods.get(key)
        self._pods[key] = pod
        if old is None or pod_uid(old) != pod_uid(pod):
            self._watch_what_pods_read()
        if old is None or _needs_sync(old, pod):
            self._queue.add(key)

    def _watch_what_pods_read(self) -> None:
        """A watch of config maps, of secrets, of claims while a pod of this node reads one (and none
        else), as the kubelet's watch-based managers (pkg/kubelet/util/manager) watch only the objects
        its pods reference: an idle node holds no connection for them (issue 14) nor lists them."""
        wanted = {kind for pod in self._pods.values() for kind, _ in pod_references(pod)}
        for kind in REFERENCED_KINDS:
            task = self._reference_watches.get(kind)
            if kind in wanted and (task is None or task.done()):
                self._reference_watches[kind] = asyncio.get_running_loop().create_task(
                    self._watch_referenced(kind), name=f"kubelet {kind} watch")
            elif kind not in wanted and task is not None:
                task.cancel()
                del self._reference_watches[kind]

    async def _watch_referenced(self, resource: str) -> None:
        """Sync the pods that read a config map / secret / claim when it changes (env, volumes, binding)."""
        while True:
            try:
                _, rv = await self._client.list(resource)
                # a change between a pod's sync and this list came with no event: those pods again
                self._sync_readers(resource)
                async for event in self._client.watch(resource, resource_version=rv):
                    if event.type == "ERROR":
                        break
                    if event.type == "BOOKMARK":
                        continue
                    meta = event.object.get("metadata") or {}
                    self._sync_readers(resource, meta.get("name", ""), meta.get("namespace", "default"))
            except asyncio.CancelledError:
                raise
            except Gone:
                continue
            except Exception as e:  # noqa: BLE001 - e.g. the kind is not served: try again later
                log.debug("%s watch failed (%s); retrying", resource, e)
                await asyncio.sleep(5.0)

    def _sync_readers(self, kind: str, name: str | None = None, namespace: str | None = None) -> None:
        """Queue the pods that read object ``name`` of ``kind`` in ``namespace`` (without: any of the kind)."""
        for key, pod in list(self._pods.items()):
            if namespace is not None and (pod.get("metadata") or {}).get("namespace", "default") != namespace:
                continue
            if any(k == kind and (name is None or n == name) for k, n in pod_references(pod)):
                self._queue.add(key)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self._resync_seconds)
            for key in list(self._pods):
                self._queue.add(key)
            try:
                await self._sweep_orphans()
            except Exception as e:  # noqa: BLE001 - Docker may be restarting; next round
                log.warning("resync could not list containers: %s", e)

    async def _sweep_orphans(self) -> None:
        """Queue every pod key whose containers belong to no pod we know (the sync removes them)."""
        if not self._listed:
            return
        owned = await self._docker(self.runtime.all_pod_keys)
        for ns, name, uid in owned:
            key = f"{ns}/{name}"
            pod = self._pods.get(key)
            if pod is None or pod_uid(pod) != uid:
                self._queue.add(key)
        # Volume folders of pods that are gone and have no container left (e.g. deleted while the
        # daemon was down): nothing else would ever remove them.
        known = {pod_uid(p) for p in self._pods.values()} | {uid for _, _, uid in owned}
        pods_dir = self.root_dir / "pods"
        leftovers = [d.name for d in pods_dir.iterdir() if d.name not in known] if pods_dir.is_dir() else []
        for uid in leftovers:
            await self._docker(self._remove_pod_dir, uid)

    def _start_docker_events(self) -> None:
        loop = asyncio.get_running_loop()

        def deliver(event: dict[str, Any] | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: we are shutting down
                loop.call_soon_threadsafe(self._on_docker_event, event)

        self._events_thread = self.runtime.start_event_thread(deliver)

    def _on_docker_event(self, event: dict[str, Any] | None) -> None:
        if self._stopping:
            return
        if event is None:  # the engine came back: anything may have happened meanwhile
            log.info("reconnected to the Docker engine; resyncing every pod")
            for key in list(self._pods):
                self._queue.add(key)
            asyncio.get_running_loop().create_task(self._sweep_orphans())
            if self._claimed:  # an engine restarted may have made its bridge again
                asyncio.get_running_loop().create_task(self._readd_address(self._claimed))
            return
        action = str(event.get("Action") or event.get("status") or "")
        actor = event.get("Actor") or {}
        cid = actor.get("ID") or event.get("id") or ""
        attrs = actor.get("Attributes") or {}
        if cid:
            self.runtime.note_event(cid, action)
        if action in ("die", "oom", "destroy"):
            for fut in self._die_waiters.pop(cid, []):
                if not fut.done():
                    fut.set_result(None)
            ns, name = attrs.get("io.kubernetes.pod.namespace"), attrs.get("io.kubernetes.pod.name")
            if ns and name:
                self._queue.add(f"{ns}/{name}")

    # ---- the sync ---------------------------------------------------------------------------

    async def _sync_pod(self, key: str) -> None:
        ns, name = key.split("/", 1)
        pod = self._pods.get(key)
        records = await self._docker(self.runtime.pod_containers, ns, name)
        if pod is None:
            if self._listed and records:
                await self._remove(records)
            for uid in {r.pod_uid for r in records}:
                self._forget(uid)
            return
        uid = pod_uid(pod)
        stale = [r for r in records if r.pod_uid != uid]
        if stale:  # an older pod of the same name
            await self._remove(stale)
            for old_uid in {r.pod_uid for r in stale}:
                self._forget(old_uid)
        records = [r for r in records if r.pod_uid == uid]
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            await self._terminate(pod, records)
            return
        if _death_unreported(pod, records):
            # Report the crash before the restart, as the kubelet does: `kubectl get pods -w`, the
            # endpoints and the dashboard see "0/1 Error" (or Completed, OOMKilled) for a moment.
            self._last_records[uid] = records
            await self._write_status(pod, records)
        records = await self._reconcile(pod, records)
        self._sync_probes(pod, records)
        await self._collect_messages(pod, records)
        self._last_records[uid] = records
        await self._write_status(pod, records)
        await self._collect_old_attempts(records)

    async def _reconcile(self, pod: dict[str, Any], records: list[ContainerRecord]) -> list[ContainerRecord]:
        """Make Docker match the pod's spec; returns the records after any change."""
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy") or "Always"
        uid = pod_uid(pod)
        ns, name = pod["metadata"].get("namespace", "default"), pod["metadata"]["name"]
        grouped = group_records(records)
        sandboxes = grouped.get(SANDBOX, [])
        sandbox = sandboxes[-1] if sandboxes else None

        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") or _finished(spec, grouped, policy):
            # A pod that will run nothing more gives its network namespace back.
            if any(s.running for s in sandboxes):
                await self._remove([s for s in sandboxes if s.running])
                return await self._docker(self.runtime.pod_containers_of, ns, name, uid)
            return records

        try:
            self._volumes[uid] = await self._setup_volumes(pod)
        except MountError as e:
            self._events.record(pod, "FailedMount", str(e), type="Warning")
            self._queue.add_after(pod_key(pod), 2.0)
            if uid not in self._volumes:  # nothing ran yet: the pod waits in ContainerCreating
                if not (pod.get("status") or {}).get("containerStatuses"):
                    await self._write_status(pod, records)
                return records

        if sandbox is None or not sandbox.running:
            if sandbox is None and not records and not (pod.get("status") or {}).get("containerStatuses"):
                await self._write_status(pod, records)  # ContainerCreating while the sandbox comes up
            running = [r for r in records if r.name != SANDBOX and r.running]
            if sandbox is not None:
                self._events.record(pod, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
            if running:  # they lost their network with the old sandbox
                await asyncio.gather(*(self._docker(self.runtime.kill, r) for r in running))
            await self._create_sandbox(pod, sandbox.restart_count + 1 if sandbox else 0)
            if sandboxes:
                await self._remove(sandboxes)
            records = await self._docker(self.runtime.pod_containers_of, ns, name, uid)
            grouped = group_records(records)
            sandbox = grouped[SANDBOX][-1] if grouped.get(SANDBOX) else None
            if sandbox is None or not sandbox.running:
                raise RuntimeError(f"the pause container of pod {ns}/{name} did not start")

        changed = False
        for init in spec.get("initContainers") or []:
            attempts = grouped.get(init["name"], [])
            latest = attempts[-1] if attempts else None
            if latest is not None and latest.finished and latest.exit_code == 0 and not latest.error:
                continue
            if latest is None:
                changed |= await self._start_container(pod, init, sandbox, 0)
            elif latest.finished and policy != "Never":
                changed |= await self._restart(pod, init, sandbox, latest)
            elif latest.status == "created":
                changed |= await self._start_existing(pod, latest)
            break  # the next init container waits for this one
        else:
            for container in spec.get("containers") or []:
                attempts = grouped.get(container["name"], [])
                latest = attempts[-1] if attempts else None
                if latest is None:
                    changed |= await self._start_container(pod, container, sandbox, 0)
                elif latest.running:
                    self._waiting.get(uid, {}).pop(container["name"], None)
                elif latest.finished:
                    if should_restart(policy, latest.exit_code):
                        changed |= await self._restart(pod, container, sandbox, latest)
                    else:
                        self._waiting.get(uid, {}).pop(container["name"], None)
                elif latest.status == "created":
                    changed |= await self._start_existing(pod, latest)
            for container in spec.get("ephemeralContainers") or []:  # kubectl debug: started once, never restarted
                if not grouped.get(container["name"]):
                    changed |= await self._start_container(pod, container, sandbox, 0, grouped=grouped)
        if changed:
            records = await self._docker(self.runtime.pod_containers_of, ns, name, uid)
        return records

    async def _create_sandbox(self, pod: dict[str, Any], attempt: int) -> None:
        meta = pod["metadata"]
        labels = self.runtime.labels(pod, SANDBOX, attempt)
        create, host = pause_container_args(pod, labels=labels, network=self.network_name,
                                            dns_server=self.dns_server)
        docker_name = self.runtime.container_name(meta.get("namespace", "default"), meta["name"], meta["uid"],
                                                  SANDBOX, attempt)
        bridged = host["network_mode"] != "host"
        ip = await self._pod_address() if bridged else None
        try:
            cid = await self._docker(self.runtime.create, docker_name, create, host, join_network=bridged, ip=ip)
            try:
                await self._docker(self.runtime.start, cid)
            except docker.errors.APIError as e:
                if not (ip and "user configured subnets" in str(e)):
                    raise
                # a network Docker configured itself (an older cluster's): Docker's own addresses
                self._explicit_ips = False
                await self._docker(self.runtime.remove, cid)
                cid = await self._docker(self.runtime.create, docker_name, create, host, join_network=True)
                await self._docker(self.runtime.start, cid)
        finally:
            self._reserved_ips.discard(ip or "")

    async def _pod_address(self) -> str | None:
        """The first free address of this node's ``spec.podCIDR`` (podnet.py), or None for Docker's."""
        if not self.pod_cidr:
            with contextlib.suppress(Exception):
                node = await self._client.get("nodes", self.node_name)
                self.pod_cidr = str((node.get("spec") or {}).get("podCIDR") or "")
        if not (self.pod_cidr and self._explicit_ips and self.runtime.subnet):
            return None
        import ipaddress

        if not ipaddress.ip_network(self.pod_cidr, strict=False).subnet_of(
                ipaddress.ip_network(self.runtime.subnet, strict=False)):
            return None
        from .podnet import pick_address

        used = await self._docker(self.runtime.network_ips)
        ip = pick_address(self.pod_cidr, used | self._reserved_ips | {self.host_ip}, self.runtime.host_ip or "")
        if ip:
            self._reserved_ips.add(ip)
        return ip

    async def _restart(self, pod: dict[str, Any], container: dict[str, Any], sandbox: ContainerRecord,
                       latest: ContainerRecord) -> bool:
        """Run a finished container again, unless it is in its restart back-off."""
        uid, cname = pod_uid(pod), container["name"]
        meta = pod["metadata"]
        now = time.time()
        key = (uid, cname)
        finished = latest.finished_ts or latest.created_ts or now
        wait = self._backoff.wait_time(key, finished, now)
        if wait > 0:
            delay = int(self._backoff.delay(key, now))
            message = (f"back-off {delay}s restarting failed container={cname} "
                       f"pod={meta['name']}_{meta.get('namespace', 'default')}({uid})")
            waiting = self._waiting.setdefault(uid, {})
            if waiting.get(cname) != Waiting("CrashLoopBackOff", message):
                waiting[cname] = Waiting("CrashLoopBackOff", message)
                self._events.record(pod, "BackOff", "Back-off restarting failed container "
                                    f"{cname} in pod {meta['name']}_{meta.get('namespace', 'default')}({uid})",
                                    type="Warning", container=cname)
            self._queue.add_after(pod_key(pod), wait + 0.05)
            return False
        self._backoff.record(key, now)
        return await self._start_container(pod, container, sandbox, latest.restart_count + 1)

    async def _start_existing(self, pod: dict[str, Any], record: ContainerRecord) -> bool:
        """Start a container that was created but never started (e.g. the daemon died in between)."""
        try:
            await self._docker(self.runtime.start, record.id)
        except docker.errors.APIError as e:
            self._events.record(pod, "Failed", f"Error: {docker_message(e)}", type="Warning",
                                container=record.name)
        return True

    async def _start_container(self, pod: dict[str, Any], container: dict[str, Any], sandbox: ContainerRecord,
                               attempt: int, grouped: dict[str, list[ContainerRecord]] | None = None) -> bool:
        """Pull if needed, create and start attempt ``attempt`` of ``container``; False if it must wait."""
        uid, cname = pod_uid(pod), container["name"]
        meta = pod["metadata"]
        waiting = self._waiting.setdefault(uid, {})
        if not await self._ensure_image(pod, container):
            return False
        try:
            if run_as_non_root(pod, container):
                verify_non_root(pod, container, await self._docker(self.runtime.image_user, container["image"]))
            env = await self._environment(pod, container, sandbox.ip)
            mounts = await self._docker(self._mounts, pod, container, attempt)
        except ConfigError as e:
            waiting[cname] = Waiting("CreateContainerConfigError", str(e))
            self._events.record(pod, "Failed", f"Error: {e}", type="Warning", container=cname)
            self._queue.add_after(pod_key(pod), 5.0)
            return False
        labels = self.runtime.labels(pod, cname, attempt)
        create, host = app_container_args(pod, container, pause_id=sandbox.id, labels=labels, env=env)
        host["mounts"] = mounts
        target = (grouped or {}).get(container.get("targetContainerName") or "")
        if target and target[-1].running:  # an ephemeral container sharing the target's processes
            host["pid_mode"] = f"container:{target[-1].id}"
        docker_name = self.runtime.container_name(meta.get("namespace", "default"), meta["name"], uid, cname,
                                                  attempt)
        try:
            cid = await self._docker(self.runtime.create, docker_name, create, host)
        except docker.errors.APIError as e:
            waiting[cname] = Waiting("CreateContainerError", docker_message(e))
            self._events.record(pod, "Failed", f"Error: {docker_message(e)}", type="Warning", container=cname)
            self._queue.add_after(pod_key(pod), 5.0)
            return False
        self._events.record(pod, "Created", f"Created container: {cname}", container=cname)
        waiting.pop(cname, None)
        try:
            await self._docker(self.runtime.start, cid)
        except docker.errors.APIError as e:
            # The container stays "created" with Docker's error: ContainerCannotRun, restarted with back-off.
            self._events.record(pod, "Failed", f"Error: failed to start container \"{cname}\": "
                                f"{docker_message(e)}", type="Warning", container=cname)
            return True
        self._events.record(pod, "Started", f"Started container {cname}", container=cname)
        hook = (container.get("lifecycle") or {}).get("postStart")
        if hook:
            await self._post_start(pod, container, cid, sandbox.ip or "", hook)
        return True

    async def _post_start(self, pod: dict[str, Any], container: dict[str, Any], cid: str, pod_ip: str,
                          hook: dict[str, Any]) -> None:
        """Run ``lifecycle.postStart`` right after the start, as the kubelet does before it moves on;
        a failing hook kills the container (events ``FailedPostStartHook`` and ``Killing``) and the
        restart policy takes over."""
        cname, meta = container["name"], pod["metadata"]
        if (hook.get("sleep") or {}).get("seconds") is not None:
            await asyncio.sleep(float(hook["sleep"]["seconds"]))
            return
        record = await self._docker(self.runtime.inspect, cid)
        if record is None or not record.running:
            return  # it died at once: the restart policy handles it
        ok, output = await self._run_probe(hook, container, record, pod_ip, POST_START_TIMEOUT_SECONDS)
        if ok:
            return
        where = f'Container "{cname}" in Pod "{meta["name"]}_{meta.get("namespace", "default")}({pod_uid(pod)})"'
        if "exec" in hook:
            command = (hook["exec"] or {}).get("command") or []
            what = f"Exec lifecycle hook ({command})"
        else:
            what = f"HTTP lifecycle hook ({(hook.get('httpGet') or {}).get('path') or '/'})"
        message = f"{what} for {where} failed - error: {output}"
        self._waiting.setdefault(pod_uid(pod), {})[cname] = Waiting("PostStartHookError", message)
        self._events.record(pod, "FailedPostStartHook", message, type="Warning", container=cname)
        self._events.record(pod, "Killing", "FailedPostStartHook", container=cname)
        grace = float((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        await self._stop_container(pod, record, grace, event=False)

    async def _environment(self, pod: dict[str, Any], container: dict[str, Any], pod_ip: str | None) -> list[str]:
        ns = pod["metadata"].get("namespace", "default")
        objects: dict[tuple[str, str], dict[str, Any] | None] = {}
        for resource, name in referenced_objects(container):
            try:
                objects[(resource, name)] = await self._client.get(resource, name, namespace=ns)
            except NotFound:
                objects[(resource, name)] = None
            except Exception:  # noqa: BLE001 - e.g. the kind is not served yet: treat as missing
                objects[(resource, name)] = None
        return resolve_env(pod, container, lookup=lambda r, n: objects.get((r, n)), pod_ip=pod_ip,
                           host_ip=self.host_ip)

    def _mounts(self, pod: dict[str, Any], container: dict[str, Any], attempt: int) -> list[Mount]:
        """The container's volume mounts plus its termination message file (blocking: file system)."""
        uid = pod_uid(pod)
        mounts = container_mounts(container, self._volumes.get(uid, {}))
        log_file = self.termination_log(uid, container["name"], attempt)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_bytes(b"")
        log_file.chmod(0o666)  # any container user may write its message
        mounts.append(Mount(target=container.get("terminationMessagePath") or "/dev/termination-log",
                            source=str(log_file), type="bind"))
        return mounts

    async def _collect_old_attempts(self, records: list[ContainerRecord]) -> None:
        """Keep the newest two attempts of each container (the live one and the previous, for logs)."""
        extra: list[ContainerRecord] = []
        for cname, attempts in group_records(records).items():
            keep = 1 if cname == SANDBOX else 2
            extra.extend(r for r in attempts[:-keep] if not r.running)
        if extra:
            await self._remove(extra)

    def _observed(self, uid: str, records: list[ContainerRecord], pod: dict[str, Any]) -> Observed:
        observed = self._probe_view(uid, records, pod)
        observed.messages = self._messages.get(uid, {})
        return observed

    def _forget(self, uid: str) -> None:
        self._forget_probes(uid)
        self._volumes.pop(uid, None)
        self._messages.pop(uid, None)
        self._last_records.pop(uid, None)
        with contextlib.suppress(RuntimeError):  # the pool is shut down: the next start sweeps
            self._pool.submit(self._remove_pod_dir, uid)
        self._waiting.pop(uid, None)
        self._written.pop(uid, None)
        self._backoff.forget_where(lambda k: isinstance(k, tuple) and k[0] == uid)
        self._pull_backoff.forget_where(lambda k: isinstance(k, tuple) and k[0] == uid)
        for k in [k for k in self._pull_failed_at if k[0] == uid]:
            del self._pull_failed_at[k]


def _conditions_of(node: dict[str, Any]) -> list[dict[str, Any]]:
    return list((node.get("status") or {}).get("conditions") or [])


def _needs_sync(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """A pod event matters to the kubelet unless only status/resourceVersion moved (its own writes)."""
    if old.get("spec") != new.get("spec"):
        return True
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return any(om.get(k) != nm.get(k) for k in ("uid", "deletionTimestamp", "deletionGracePeriodSeconds",
                                                  "labels", "annotations"))


def _finished(spec: dict[str, Any], grouped: dict[str, list[ContainerRecord]], policy: str) -> bool:
    """Whether the pod will run nothing more: every app container finished and is not to be restarted
    (or an init container failed under ``restartPolicy: Never``)."""
    if policy == "Never":
        for init in spec.get("initContainers") or []:
            attempts = grouped.get(init["name"], [])
            if attempts and attempts[-1].finished and (attempts[-1].exit_code != 0 or attempts[-1].error):
                return True
    containers = spec.get("containers") or []
    if not containers or policy == "Always":
        return False
    for c in containers:
        attempts = grouped.get(c["name"], [])
        if not attempts or not attempts[-1].finished:
            return False
        if should_restart(policy, attempts[-1].exit_code):
            return False
    return True


def _death_unreported(pod: dict[str, Any], records: list[ContainerRecord]) -> bool:
    """Whether a container the pod's status still shows running has died since."""
    latest = {name: attempts[-1] for name, attempts in group_records(records).items() if name != SANDBOX}
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        record = latest.get(cs.get("name"))
        if (record is not None and record.finished and "running" in (cs.get("state") or {})
                and cs.get("containerID") == f"docker://{record.id}"):
            return True
    return False
