"""The kubelet's only door to the Docker engine (the "container runtime" of this node).

Every call here blocks (the Docker SDK speaks HTTP over a socket); the kubelet runs them in
its own thread pool so the event loop never waits on Docker. Containers are found only by
their labels: the cluster label first, then the pod's namespace, name and uid, the container
name and the restart count. That is what lets a restarted daemon adopt what runs, and what
keeps containers of other clusters (or of anyone else) out of reach: every query filters on
``io.minikube-lite.cluster=<cluster id>`` and every change goes through a record that came
out of such a query.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import docker
import docker.errors
import docker.types

from minikube_lite.config import CLUSTER_LABEL, NODE_LABEL

from .pause import PAUSE_IMAGE, ensure_pause_image

log = logging.getLogger(__name__)

LABEL_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_POD = "io.kubernetes.pod.name"
LABEL_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER = "io.kubernetes.container.name"
LABEL_RESTART_COUNT = "io.kubernetes.container.restartCount"
SANDBOX = "POD"  # the container name of the pause container, as Kubernetes' dockershim named it

_ZERO_TIME = "0001-01-01T00:00:00Z"


def epoch(docker_time: str | None) -> float | None:
    """Docker's RFC 3339 time (nanoseconds, ``Z``) as seconds since the epoch; None for zero."""
    if not docker_time or docker_time.startswith("0001-01-01"):
        return None
    main, _, frac = docker_time.rstrip("Z").partition(".")
    try:
        stamp = datetime.strptime(main[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
    digits = "".join(ch for ch in frac if ch.isdigit())
    return stamp + (float("0." + digits) if digits else 0.0)


def k8s_time(docker_time: str | None) -> str | None:
    """Docker's nanosecond RFC 3339 time -> Kubernetes' second-precision form (None for zero)."""
    if not docker_time or docker_time.startswith("0001-01-01"):
        return None
    return docker_time[:19] + "Z"


# States in which a container's inspect output no longer changes (see Runtime._inspected).
_SETTLED_STATES = ("running", "exited", "dead")
_MAX_INSPECTED = 10_000


@dataclass
class ContainerRecord:
    """What the kubelet needs to know of one of its containers (from ``docker inspect``)."""

    id: str
    docker_name: str
    name: str  # the Kubernetes container name; SANDBOX for the pause container
    namespace: str
    pod: str
    pod_uid: str
    restart_count: int
    status: str  # created / running / paused / restarting / removing / exited / dead
    exit_code: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    oom_killed: bool = False
    error: str = ""
    image: str = ""
    image_id: str = ""
    ip: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    created_ts: float = 0.0
    finished_ts: float | None = None

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused", "restarting")

    @property
    def finished(self) -> bool:
        """Ran and stopped, or could not be started at all."""
        return self.status in ("exited", "dead") or (self.status == "created" and bool(self.error))

    @classmethod
    def from_inspect(cls, data: dict[str, Any], network: str, host_ip: str | None = None) -> ContainerRecord:
        """``host_ip``: the address of a container in the host's network namespace (``hostNetwork``)."""
        labels = data["Config"].get("Labels") or {}
        state = data.get("State") or {}
        networks = (data.get("NetworkSettings") or {}).get("Networks") or {}
        ip = (networks.get(network) or {}).get("IPAddress") or None
        if (data.get("HostConfig") or {}).get("NetworkMode") == "host":
            ip = host_ip
        return cls(
            id=data["Id"],
            docker_name=data.get("Name", "").lstrip("/"),
            name=labels.get(LABEL_CONTAINER, ""),
            namespace=labels.get(LABEL_NAMESPACE, ""),
            pod=labels.get(LABEL_POD, ""),
            pod_uid=labels.get(LABEL_UID, ""),
            restart_count=_int(labels.get(LABEL_RESTART_COUNT)),
            status=state.get("Status", ""),
            exit_code=int(state.get("ExitCode") or 0),
            started_at=k8s_time(state.get("StartedAt")),
            finished_at=k8s_time(state.get("FinishedAt")),
            oom_killed=bool(state.get("OOMKilled")),
            error=state.get("Error") or "",
            image=data["Config"].get("Image", ""),
            image_id=data.get("Image", ""),
            ip=ip,
            labels=labels,
            created_ts=epoch(data.get("Created")) or 0.0,
            finished_ts=epoch(state.get("FinishedAt")),
        )


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


class Runtime:
    """Blocking Docker operations, all scoped to one cluster's label."""

    def __init__(self, *, cluster_id: str, network_name: str,
                 docker_client: docker.DockerClient | None = None, node_name: str = "") -> None:
        """``node_name``: the containers are also labelled with, and looked for by, this node, so
        the node agents sharing an engine never see (let alone remove) each other's."""
        self.cluster_id = cluster_id
        self.node_name = node_name
        self.network_name = network_name
        # the node's address on the pods' network (the bridge's gateway), set by ensure_network;
        # it is also the IP of hostNetwork pods
        self.host_ip: str | None = None
        # the node's own address when it is not the gateway (podnet.py): a hostNetwork pod's IP
        self.node_ip: str | None = None
        self.bridge = ""  # the bridge's interface on the host, set by ensure_network
        self.subnet = ""  # the bridge's subnet (podnet.py), set by ensure_network
        self._docker = docker_client
        self._owned_client = docker_client is None
        self._events_stream: Any = None
        self._events_client: docker.DockerClient | None = None
        self._stop_events = threading.Event()
        # container id -> (state the sparse list showed, record from inspect). A container never
        # changes once running or exited except by changing state (a restart is a new container),
        # so a record is reused while its state is unchanged: a resync of every pod then costs one
        # list call per pod instead of an inspect per container (docker inspect dominated the
        # idle CPU with 50 pods).
        self._inspected: dict[str, tuple[str, ContainerRecord]] = {}
        # containers Docker sent an "oom" event for. Docker's inspect can say OOMKilled false for a
        # container the OOM killer ended (exit 137: the pod showed reason Error instead of
        # OOMKilled, seen once in CI with other containers exiting at the same moment); the event,
        # which names the container, counts too.
        self._oom_events: set[str] = set()

    # -- connection -------------------------------------------------------------------------
    @property
    def docker(self) -> docker.DockerClient:
        if self._docker is None:
            self._docker = docker.from_env(timeout=120)
        return self._docker

    def ping(self) -> None:
        self.docker.ping()

    def version(self) -> str:
        return str(self.docker.version().get("Version", "unknown"))

    def close(self) -> None:
        self._stop_events.set()
        stream = self._events_stream
        if stream is not None:
            try:
                stream.close()
            except Exception as e:  # noqa: BLE001 - closing a dead stream may fail in many ways
                log.debug("closing the docker event stream: %s", e)
        if self._owned_client and self._docker is not None:
            self._docker.close()
            self._docker = None

    @property
    def cluster_filter(self) -> str:
        return f"{CLUSTER_LABEL}={self.cluster_id}"

    def container_name(self, namespace: str, pod: str, uid: str, container: str, attempt: int) -> str:
        """``mkl_<cluster>_<container>_<pod>_<namespace>_<uid>_<attempt>`` (dockershim's k8s_ scheme)."""
        return f"mkl_{self.cluster_id[:8]}_{container}_{pod}_{namespace}_{uid}_{attempt}"

    def labels(self, pod: dict[str, Any], container: str, restart_count: int) -> dict[str, str]:
        meta = pod["metadata"]
        return {
            CLUSTER_LABEL: self.cluster_id,
            **({NODE_LABEL: self.node_name} if self.node_name else {}),
            LABEL_NAMESPACE: meta.get("namespace", "default"),
            LABEL_POD: meta["name"],
            LABEL_UID: meta.get("uid", ""),
            LABEL_CONTAINER: container,
            LABEL_RESTART_COUNT: str(restart_count),
        }

    # -- network and images -----------------------------------------------------------------
    def ensure_network(self) -> str:
        """Create the pods' bridge network when missing; returns its gateway address."""
        self._drop_duplicate_networks()
        try:
            net = self.docker.networks.get(self.network_name)
        except docker.errors.NotFound:
            try:
                from .podnet import create_network

                net = create_network(self.docker, self.network_name, {CLUSTER_LABEL: self.cluster_id})
            except docker.errors.APIError:
                net = self.docker.networks.get(self.network_name)  # created meanwhile by someone else
            self._drop_duplicate_networks()
            net = self.docker.networks.get(self.network_name)
            net.reload()
        self.host_ip = "127.0.0.1"
        from .podnet import network_subnet

        self.subnet = network_subnet(net.attrs)
        self.bridge = str((net.attrs.get("Options") or {}).get("com.docker.network.bridge.name")
                          or f"br-{net.id[:12]}")
        for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
            if cfg.get("Gateway"):
                self.host_ip = str(cfg["Gateway"]).split("/")[0]
                break
        return self.host_ip

    def _drop_duplicate_networks(self) -> None:
        """Two networks of this cluster with one name (two creates raced: Docker's duplicate check is
        best effort) make every container start fail with "network ... is ambiguous"; keep the
        oldest, remove the others when nothing is attached to them."""
        same = [n for n in self.docker.api.networks(names=[self.network_name])
                if n.get("Name") == self.network_name and (n.get("Labels") or {}).get(CLUSTER_LABEL) == self.cluster_id]
        if len(same) < 2:
            return
        same.sort(key=lambda n: n.get("Created", ""))
        for extra in same[1:]:
            try:
                self.docker.api.remove_network(extra["Id"])
                log.warning("removed a duplicate network %s (%s)", self.network_name, extra["Id"][:12])
            except docker.errors.APIError as e:
                log.warning("duplicate network %s (%s) could not be removed: %s", self.network_name,
                            extra["Id"][:12], e)

    def ensure_pause_image(self) -> str:
        return ensure_pause_image(self.docker, PAUSE_IMAGE)

    def image_present(self, image: str) -> bool:
        try:
            self.docker.images.get(image)
            return True
        except docker.errors.ImageNotFound:
            return False

    def image_user(self, image: str) -> str:
        """The user the image runs as (its ``USER``; "" means root)."""
        return str((self.docker.api.inspect_image(image).get("Config") or {}).get("User") or "")

    def pull(self, image: str) -> None:
        repository, tag = _split_image(image)
        self.docker.images.pull(repository, tag=tag)

    # -- listing ----------------------------------------------------------------------------
    @property
    def owner_filters(self) -> list[str]:
        """The labels of this kubelet's containers: the cluster's, and the node's when it has one."""
        return [self.cluster_filter, *([f"{NODE_LABEL}={self.node_name}"] if self.node_name else [])]

    def list_ids(self, *label_filters: str) -> list[dict[str, Any]]:
        """Sparse list (id, labels, state) of this node's containers matching the labels."""
        filters = {"label": [*self.owner_filters, *label_filters]}
        return self.docker.api.containers(all=True, filters=filters)

    def inspect(self, container_id: str) -> ContainerRecord | None:
        try:
            data = self.docker.api.inspect_container(container_id)
        except docker.errors.NotFound:
            return None
        labels = data["Config"].get("Labels") or {}
        if labels.get(CLUSTER_LABEL) != self.cluster_id or (self.node_name and labels.get(NODE_LABEL) != self.node_name):
            return None  # never look at (let alone touch) a container that is not ours
        record = ContainerRecord.from_inspect(data, self.network_name, self.node_ip or self.host_ip)
        record.oom_killed = record.oom_killed or record.id in self._oom_events
        return record

    def _inspect_listed(self, listed: dict[str, Any]) -> ContainerRecord | None:
        """``inspect`` of a container seen in a sparse list, reusing the last one if its state held."""
        cid, state = listed["Id"], str(listed.get("State") or "")
        cached = self._inspected.get(cid)
        if cached is not None and cached[0] == state:
            return cached[1]
        record = self.inspect(cid)
        if record is not None and state in _SETTLED_STATES:
            if len(self._inspected) > _MAX_INSPECTED:
                self._inspected.clear()
            self._inspected[cid] = (state, record)
        else:
            self._inspected.pop(cid, None)
        return record

    def note_event(self, container_id: str, action: str) -> None:
        """A Docker event for one of the containers: its cached inspect is dropped (the event can
        arrive before the sparse list shows the new state, so the list's state alone cannot be
        trusted to invalidate the cache right after it), and an "oom" is remembered (see
        ``_oom_events``) until the container is removed."""
        self._inspected.pop(container_id, None)
        if action == "oom":
            if len(self._oom_events) > _MAX_INSPECTED:
                self._oom_events.clear()
            self._oom_events.add(container_id)
        elif action == "destroy":
            self._oom_events.discard(container_id)

    def pod_containers(self, namespace: str, pod: str) -> list[ContainerRecord]:
        """All containers of pod ``namespace/pod`` (any uid), oldest attempt first."""
        found = self.list_ids(f"{LABEL_NAMESPACE}={namespace}", f"{LABEL_POD}={pod}")
        records = [r for r in (self._inspect_listed(c) for c in found) if r is not None]
        records.sort(key=lambda r: (r.name, r.restart_count, r.started_at or ""))
        return records

    def pod_containers_of(self, namespace: str, pod: str, uid: str) -> list[ContainerRecord]:
        """The containers of one incarnation (uid) of pod ``namespace/pod``."""
        return [r for r in self.pod_containers(namespace, pod) if r.pod_uid == uid]

    def all_pod_keys(self) -> list[tuple[str, str, str]]:
        """(namespace, pod, uid) of every container this cluster owns."""
        return [((c.get("Labels") or {}).get(LABEL_NAMESPACE, ""), (c.get("Labels") or {}).get(LABEL_POD, ""),
                 (c.get("Labels") or {}).get(LABEL_UID, "")) for c in self.list_ids()]

    # -- lifecycle --------------------------------------------------------------------------
    def network_ips(self) -> set[str]:
        """The addresses taken on the pods' network (every node's containers: one bridge)."""
        data = self.docker.api.inspect_network(self.network_name)
        return {str(c.get("IPv4Address", "")).split("/")[0] for c in (data.get("Containers") or {}).values()}

    def create(self, name: str, create: dict[str, Any], host: dict[str, Any], *,
               join_network: bool = False, ip: str | None = None) -> str:
        """Create a container (not started); a leftover of ours with the same name is replaced."""
        labels = create.get("labels") or {}
        if labels.get(CLUSTER_LABEL) != self.cluster_id:
            raise ValueError("refusing to create a container without this cluster's label")
        api = self.docker.api
        kwargs = dict(create)
        stdin_once = bool(kwargs.pop("stdin_once", False))
        kwargs["host_config"] = api.create_host_config(**host)
        if join_network:
            kwargs["networking_config"] = api.create_networking_config(
                {self.network_name: api.create_endpoint_config(ipv4_address=ip) if ip else
                 api.create_endpoint_config()})

        def create_it() -> str:
            if not stdin_once:
                return str(api.create_container(name=name, **kwargs)["Id"])
            # The SDK's create_container has no stdin_once: build its config and set the flag.
            config = docker.types.ContainerConfig(api._version, **{"command": None, **kwargs})
            config["StdinOnce"] = True
            return str(api.create_container_from_config(config, name)["Id"])

        try:
            return create_it()
        except docker.errors.APIError as e:
            if e.status_code != 409:
                raise
            old = self.inspect(name)
            if old is None:
                raise
            self.remove(old.id)
            return create_it()

    def start(self, container_id: str) -> None:
        self.docker.api.start(container_id)

    def kill(self, record: ContainerRecord, signal: str = "SIGKILL") -> None:
        try:
            self.docker.api.kill(record.id, signal=signal)
        except docker.errors.APIError as e:
            if e.status_code not in (404, 409):  # gone, or not running any more
                raise

    def kill_id(self, container_id: str) -> None:
        """SIGKILL a container by id, keeping it (a stopped node's containers)."""
        try:
            self.docker.api.kill(container_id)
        except docker.errors.APIError as e:
            if e.status_code not in (404, 409):
                raise

    def remove(self, container_id: str) -> None:
        self._inspected.pop(container_id, None)
        try:
            self.docker.api.remove_container(container_id, force=True)
        except docker.errors.APIError as e:
            if e.status_code not in (404, 409):  # 409: removal already in progress
                raise

    def exec(self, container_id: str, command: list[str]) -> int:
        exec_id = self.docker.api.exec_create(container_id, command)["Id"]
        self.docker.api.exec_start(exec_id)
        return int(self.docker.api.exec_inspect(exec_id).get("ExitCode") or 0)

    def exec_output(self, container_id: str, command: list[str]) -> tuple[int, str]:
        """Run ``command`` in the container and wait: (exit code, combined output, at most 10 KiB)."""
        api = self.docker.api
        exec_id = api.exec_create(container_id, command, stdout=True, stderr=True)["Id"]
        output = api.exec_start(exec_id) or b""
        code = api.exec_inspect(exec_id).get("ExitCode")
        return int(code if code is not None else -1), bytes(output)[:10240].decode(errors="replace")

    def read_file(self, container_id: str, path: str, limit: int = 4096) -> str | None:
        """A small file from a (possibly stopped) container, e.g. its termination message."""
        import io
        import tarfile

        try:
            stream, _ = self.docker.api.get_archive(container_id, path)
            data = b"".join(stream)
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                member = tar.next()
                if member is None or not member.isfile():
                    return None
                f = tar.extractfile(member)
                return f.read(limit).decode(errors="replace") if f else None
        except (docker.errors.APIError, tarfile.TarError):
            return None

    # -- logs -------------------------------------------------------------------------------
    def logs(self, container_id: str, *, follow: bool = False, tail: int | None = None,
             timestamps: bool = False, since: float | None = None) -> Iterator[bytes] | bytes:
        kwargs: dict[str, Any] = {"stdout": True, "stderr": True, "timestamps": timestamps,
                                  "tail": "all" if tail is None else tail}
        if since is not None:
            kwargs["since"] = int(since)
        if follow:
            return self.docker.api.logs(container_id, stream=True, follow=True, **kwargs)
        return self.docker.api.logs(container_id, stream=False, follow=False, **kwargs)

    # -- events -----------------------------------------------------------------------------
    def start_event_thread(self, callback: Callable[[dict[str, Any] | None], None]) -> threading.Thread:
        """Feed this cluster's container events to ``callback`` from a thread, until ``close()``.

        ``callback(None)`` signals a reconnection after the engine went away (state may have
        changed unseen, so the kubelet resyncs everything).
        """
        stop = self._stop_events = threading.Event()  # this thread's own: a later run gets another
        thread = threading.Thread(target=self._watch_events, args=(callback, stop), name="kubelet-docker-events",
                                  daemon=True)
        thread.start()
        return thread

    def _watch_events(self, callback: Callable[[dict[str, Any] | None], None], stop: threading.Event) -> None:
        failed = False
        while not stop.is_set():
            try:
                client = self.docker
                if self._owned_client:  # a connection of its own: the stream holds it for hours
                    if self._events_client is not None:
                        self._events_client.close()
                    client = self._events_client = docker.from_env(timeout=None)
                stream = client.events(decode=True, filters={"label": self.owner_filters,
                                                             "type": "container"})
                self._events_stream = stream
                if stop.is_set():  # closed while we were connecting
                    stream.close()
                    return
                if failed:
                    callback(None)
                    failed = False
                for event in stream:
                    callback(event)
            except Exception as e:  # noqa: BLE001 - the engine may vanish in many ways
                if not stop.is_set():
                    log.warning("docker event stream broke (%s); reconnecting", e)
            if not stop.is_set():
                failed = True
                time.sleep(0.5)


def _split_image(image: str) -> tuple[str, str | None]:
    if "@" in image:
        return image, None
    name, _, tag = image.rpartition(":")
    if name and "/" not in tag:
        return name, tag
    return image, "latest"
