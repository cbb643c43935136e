"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

kubectl prints the familiar columns (``READY STATUS RESTARTS AGE``) only because kube-apiserver
computes them; without a Table it falls back to ``NAME AGE``. The rules below follow the
printers of Kubernetes (``pkg/printers/internalversion/printers.go``): the column definitions,
how a pod's STATUS is derived from its phase and container states, how a service's ports and
external IP read, and the ``HumanDuration`` of ages. Like the real server, every row carries all
cells (priority-1 columns included); kubectl shows the priority-1 ones only with ``-o wide``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from minikube_lite.api.resources import Resource

_NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although some "
              "resources may allow a client to request the generation of an appropriate name automatically. "
              "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
              "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
_AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was created. "
             "It is not guaranteed to be set in happens-before order across separate operations. Clients "
             "may not set this value. It is represented in RFC3339 form and is in UTC.")


def _col(name: str, description: str, *, priority: int = 0, fmt: str = "", type_: str = "string") -> dict[str, Any]:
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


_NAME = _col("Name", _NAME_DESC, fmt="name")
_AGE = _col("Age", _AGE_DESC)

COLUMNS: dict[str, list[dict[str, Any]]] = {
    "Pod": [
        _NAME,
        _col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        _col("Status", "The aggregate status of the containers in this pod."),
        _col("Restarts", "The number of times the containers in this pod have been restarted and when the last "
                         "container in this pod has restarted."),
        _AGE,
        _col("IP", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
                   "allocated.", priority=1),
        _col("Node", "NodeName indicates in which node this pod is scheduled.", priority=1),
        _col("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods on the node, but "
                               "it cannot be scheduled right away as preemption victims receive their graceful "
                               "termination periods.", priority=1),
        _col("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness. A pod is "
                                "ready when all its containers are ready AND all conditions specified in the "
                                "readiness gates have status equal to \"True\"", priority=1),
    ],
    "Service": [
        _NAME,
        _col("Type", "type determines how the Service is exposed. Defaults to ClusterIP."),
        _col("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned randomly."),
        _col("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster will also "
                            "accept traffic for this service."),
        _col("Port(s)", "The list of ports that are exposed by this service."),
        _AGE,
        _col("Selector", "Route service traffic to pods with label keys and values matching this selector.",
             priority=1),
    ],
    "Namespace": [
        _NAME,
        _col("Status", "The status of the namespace"),
        _AGE,
    ],
    "Node": [
        _NAME,
        _col("Status", "The status of the node"),
        _col("Roles", "The roles of the node"),
        _AGE,
        _col("Version", "Kubelet Version reported by the node."),
        _col("Internal-IP", "List of addresses reachable to the node.", priority=1),
        _col("External-IP", "List of addresses reachable to the node.", priority=1),
        _col("OS-Image", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
             priority=1),
        _col("Kernel-Version", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
             priority=1),
        _col("Container-Runtime", "ContainerRuntime Version reported by the node through runtime remote API "
                                  "(e.g. containerd://1.4.2).", priority=1),
    ],
    "Event": [
        _col("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
        _col("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
        _col("Reason", "This should be a short, machine understandable string that gives the reason for the "
                       "transition into the object's current status."),
        _col("Object", "The object that this event is about."),
        _col("Subobject", "If referring to a piece of an object instead of an entire object, this string should "
                          "contain a valid JSON/Go field access statement, such as "
                          "desiredState.manifest.containers[2].", priority=1),
        _col("Source", "The component reporting this event. Should be a short machine understandable string.",
             priority=1),
        _col("Message", "A human-readable description of the status of this operation."),
        _col("First Seen", "The time at which the event was first recorded. (Time of server receipt is in "
                           "TypeMeta.)", priority=1),
        _col("Count", "The number of times this event has occurred.", priority=1),
        _col("Name", _NAME_DESC, priority=1, fmt="name"),
    ],
}
DEFAULT_COLUMNS = [_NAME, _AGE]


# --- time ------------------------------------------------------------------------------------

def human_duration(seconds: float) -> str:
    """A duration as Kubernetes prints ages: "87s", "2m21s", "12m", "5h3m", "30h", "5d3h", "45d", "2y3d"."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp ("2024-05-01T10:00:00Z", with optional fraction) as an aware datetime."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _since(value: Any, now: datetime) -> str:
    """Kubernetes' translateTimestampSince: "<unknown>" for no timestamp."""
    t = parse_time(value)
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


# --- pods ------------------------------------------------------------------------------------

def _condition_true(conditions: list[dict[str, Any]], ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in conditions)


def _terminated_reason(term: dict[str, Any], prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + term["reason"]
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode') or 0}"


def _later(current: datetime | None, state: dict[str, Any] | None) -> datetime | None:
    finished = parse_time(((state or {}).get("terminated") or {}).get("finishedAt"))
    if finished is not None and (current is None or finished > current):
        return finished
    return current


def pod_status_reason(pod: dict[str, Any]) -> tuple[str, int, int, int, datetime | None]:
    """STATUS, ready containers, total containers, restarts and the last restart time of a pod,
    derived as Kubernetes' printPod derives them."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    conditions = status.get("conditions") or []
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecars = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        restarts += cs.get("restartCount") or 0
        last_restart = _later(last_restart, cs.get("lastState"))
        is_sidecar = cs.get("name") in sidecars
        if is_sidecar:
            sidecar_restarts += cs.get("restartCount") or 0
            last_sidecar_restart = _later(last_sidecar_restart, cs.get("lastState"))
        state = cs.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term is not None and (term.get("exitCode") or 0) == 0:
            continue
        if is_sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term is not None:
            reason = _terminated_reason(term, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount") or 0
            last_restart = _later(last_restart, cs.get("lastState"))
            state = cs.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None:
                reason = _terminated_reason(term)
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, total, restarts, last_restart


def _pod_cells(pod: dict[str, Any], now: datetime) -> list[Any]:
    reason, ready, total, restarts, last_restart = pod_status_reason(pod)
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    pod_ips = status.get("podIPs") or []
    ip = (pod_ips[0].get("ip") if pod_ips else "") or status.get("podIP") or "<none>"
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        true_count = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
        gates_text = f"{true_count}/{len(gates)}"
    return [
        _name(pod), f"{ready}/{total}", reason, restarts_text, _age(pod, now),
        ip, spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates_text,
    ]


# --- services --------------------------------------------------------------------------------

def service_ports(ports: list[dict[str, Any]]) -> str:
    """PORT(S) as kubectl shows it: "3050:31515/TCP,443/TCP"."""
    pieces = []
    for p in ports:
        protocol = p.get("protocol") or "TCP"
        if p.get("nodePort"):
            pieces.append(f"{p.get('port')}:{p['nodePort']}/{protocol}")
        else:
            pieces.append(f"{p.get('port')}/{protocol}")
    return ",".join(pieces)


def _load_balancer_ips(svc: dict[str, Any], wide: bool) -> str:
    ingress = (((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")) or []
    result = ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress if i.get("ip") or i.get("hostname"))
    if not wide and len(result) > 16:
        result = result[:13] + "..."
    return result


def service_external_ip(svc: dict[str, Any], *, wide: bool = True) -> str:
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    external = spec.get("externalIPs") or []
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if stype == "LoadBalancer":
        lb = _load_balancer_ips(svc, wide)
        if external:
            return ",".join(([lb] if lb else []) + external)
        return lb or "<pending>"
    if stype == "ExternalName":
        return spec.get("externalName") or ""
    return "<unknown>"


def format_selector(selector: dict[str, str] | None) -> str:
    if not selector:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _service_cells(svc: dict[str, Any], now: datetime) -> list[Any]:
    spec = svc.get("spec") or {}
    cluster_ips = spec.get("clusterIPs") or []
    internal = (cluster_ips[0] if cluster_ips else "") or spec.get("clusterIP") or "<none>"
    ports = service_ports(spec.get("ports") or []) or "<none>"
    return [_name(svc), spec.get("type") or "ClusterIP", internal, service_external_ip(svc), ports,
            _age(svc, now), format_selector(spec.get("selector"))]


# --- namespaces, nodes, events ---------------------------------------------------------------

def _namespace_cells(ns: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(ns), (ns.get("status") or {}).get("phase") or "", _age(ns, now)]


def node_roles(node: dict[str, Any]) -> list[str]:
    roles: set[str] = set()
    for key, value in ((node.get("metadata") or {}).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return sorted(roles)


def _node_address(node: dict[str, Any], kind: str) -> str:
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == kind:
            return addr.get("address") or "<none>"
    return "<none>"


def _node_cells(node: dict[str, Any], now: datetime) -> list[Any]:
    status = node.get("status") or {}
    states = []
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            states = ["Ready" if cond.get("status") == "True" else "NotReady"]
    if not states:
        states = ["Unknown"]
    if (node.get("spec") or {}).get("unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo") or {}
    return [
        _name(node), ",".join(states), ",".join(node_roles(node)) or "<none>", _age(node, now),
        info.get("kubeletVersion") or "",
        _node_address(node, "InternalIP"), _node_address(node, "ExternalIP"),
        info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _event_cells(ev: dict[str, Any], now: datetime) -> list[Any]:
    first = _since(ev.get("firstTimestamp"), now)
    if not ev.get("firstTimestamp"):
        first = _since(ev.get("eventTime"), now)
    last = _since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 0
    series = ev.get("series")
    if series:
        last = _since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1
    involved = ev.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent") or ""
    host = source.get("host") or ev.get("reportingInstance") or ""
    source_text = f"{component}, {host}" if host else component
    return [last, ev.get("type") or "", ev.get("reason") or "", target, involved.get("fieldPath") or "",
            source_text, (ev.get("message") or "").strip(), first, count, _name(ev)]


def _default_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _age(obj, now)]


def _name(obj: dict[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("name") or ""


def _age(obj: dict[str, Any], now: datetime) -> str:
    return _since((obj.get("metadata") or {}).get("creationTimestamp"), now)


_CELLS = {
    "Pod": _pod_cells,
    "Service": _service_cells,
    "Namespace": _namespace_cells,
    "Node": _node_cells,
    "Event": _event_cells,
}
from minikube_lite.api import apps as _apps

_CELLS.update(_apps.CELLS)
COLUMNS.update(_apps._columns())
from minikube_lite.api import config as _config
from minikube_lite.api import coordination as _coordination
from minikube_lite.api import cronjob as _cronjob
from minikube_lite.api import daemonset as _daemonset
from minikube_lite.api import endpoints as _endpoints
from minikube_lite.api import job as _job
from minikube_lite.api import networking as _networking
from minikube_lite.api import replicationcontroller as _rc
from minikube_lite.api import statefulset as _statefulset
from minikube_lite.api import storage as _storage

for _kinds in (_config, _endpoints, _storage, _networking, _coordination, _job, _cronjob, _statefulset, _daemonset,
               _rc):
    _CELLS.update(_kinds.CELLS)
    COLUMNS.update(_kinds.columns())


# Rows of finished pods carry a "Completed" condition, as Kubernetes' printer marks them.
_POD_DONE_CONDITIONS = {
    "Succeeded": {"type": "Completed", "status": "True", "reason": "Succeeded",
                  "message": "The pod has completed successfully."},
    "Failed": {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."},
}


def _row_object(obj: dict[str, Any], include_object: str) -> dict[str, Any] | None:
    if include_object == "Object":
        return obj
    if include_object == "None":
        return None
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def to_table(resource: Resource, objs: list[dict[str, Any]], *, include_object: str = "Metadata",
             resource_version: str = "", now: datetime | None = None) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objs`` as kube-apiserver answers ``kubectl get``.

    ``include_object``: "Metadata" (PartialObjectMetadata per row, the default), "Object" (the
    whole object, sent by ``--sort-by``) or "None".
    """
    now = now or datetime.now(UTC)
    cells_of = _CELLS.get(resource.kind, _default_cells)
    rows = []
    for obj in objs:
        row: dict[str, Any] = {"cells": cells_of(obj, now)}
        if resource.kind == "Pod":
            phase = (obj.get("status") or {}).get("phase")
            if phase in _POD_DONE_CONDITIONS:
                row["conditions"] = [dict(_POD_DONE_CONDITIONS[phase])]
        embedded = _row_object(obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [dict(c) for c in COLUMNS.get(resource.kind, DEFAULT_COLUMNS)],
        "rows": rows,
    }
