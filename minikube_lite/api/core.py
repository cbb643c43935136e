"""Namespace, Node and Event (core/v1): validation, defaults, Tables and strategies.

A Namespace's DELETE only marks it ``Terminating`` (``pkg/registry/core/namespace``'s REST
Delete): the namespace controller empties it and removes the ``kubernetes`` finalizer through
``/finalize``, and the namespace then goes. ``default``, ``kube-system`` and ``kube-public``
may not be deleted (the NamespaceLifecycle admission).
"""

from __future__ import annotations

import copy
import ipaddress
from datetime import datetime
from typing import Any

from minikube_lite.api import mergekeys
from minikube_lite.api.errors import ApiError
from minikube_lite.api.kind import DeleteOps, Kind, Strategy
from minikube_lite.api.models import Event, Namespace, Node
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, NAME_DESCRIPTION, age, column, name, since
from minikube_lite.api.validation import ErrorList, is_dns1123_label, is_qualified_name

from .times import now_rfc3339

Obj = dict[str, Any]

NAMESPACE_FINALIZER = "kubernetes"
# kube-apiserver's NamespaceLifecycle admission refuses to delete these.
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")


# --- Namespace -------------------------------------------------------------------------------

NAMESPACE_RESOURCE = Resource("", "v1", "namespaces", "namespace", "Namespace", False, ("ns",), (),
                              tuple(v for v in ALL_VERBS if v != "deletecollection"), ("status", "finalize"))

def validate_namespace(errs: ErrorList, obj: dict[str, Any]) -> None:
    for i, fin in enumerate((obj.get("spec") or {}).get("finalizers") or []):
        errs.each(f"spec.finalizers[{i}]", fin, is_qualified_name(fin))
    errs.enum("status.phase", (obj.get("status") or {}).get("phase") or None, ["Active", "Terminating"])


def default_namespace(obj: dict[str, Any]) -> None:
    meta = obj.setdefault("metadata", {})
    if meta.get("name"):
        labels = meta.get("labels") or {}
        labels["kubernetes.io/metadata.name"] = meta["name"]
        meta["labels"] = labels
    spec = obj.setdefault("spec", {})
    if not spec.get("finalizers"):
        spec["finalizers"] = ["kubernetes"]
    status = obj.get("status") or {}
    status.setdefault("phase", "Active")
    obj["status"] = status


NAMESPACE_COLUMNS = [
        NAME_COLUMN,
        column("Status", "The status of the namespace"),
        AGE_COLUMN,
]


def namespace_cells(ns: dict[str, Any], now: datetime) -> list[Any]:
    return [name(ns), (ns.get("status") or {}).get("phase") or "", age(ns, now)]


class NamespaceStrategy(Strategy):
    def update_subresource(self, subresource: str, old: Obj, obj: Obj) -> Obj | None:
        """``/finalize``: only ``spec.finalizers`` changes."""
        if subresource != "finalize":
            return None
        new = copy.deepcopy(old)
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        new.setdefault("spec", {})["finalizers"] = list(spec.get("finalizers") or [])
        return new

    def may_vanish(self, obj: Obj) -> bool:
        """A namespace waits for its ``spec.finalizers`` (the namespace controller's ``/finalize``)."""
        return not (obj.get("spec") or {}).get("finalizers")

    def delete(self, obj: Obj, ops: DeleteOps, *, dry_run: bool) -> tuple[Obj, bool] | None:
        """Deleting a namespace only marks it Terminating; the namespace controller empties it,
        removes the ``kubernetes`` finalizer (``/finalize``) and the namespace then goes."""
        meta = obj["metadata"]
        ns_name = meta["name"]
        if ns_name in IMMORTAL_NAMESPACES:
            raise ApiError(f'namespaces "{ns_name}" is forbidden: this namespace may not be deleted',
                           code=403, reason="Forbidden", details={"name": ns_name, "kind": "namespaces"})
        if meta.get("deletionTimestamp"):
            return obj, False
        if not (obj.get("spec") or {}).get("finalizers") and not meta.get("finalizers"):
            if not dry_run:
                ops.remove()
            return obj, True
        meta["deletionTimestamp"] = now_rfc3339()
        meta["deletionGracePeriodSeconds"] = 0
        obj.setdefault("status", {})["phase"] = "Terminating"
        if dry_run:
            return obj, False
        return ops.mark(obj), False


NAMESPACE = Kind(
    NAMESPACE_RESOURCE, model=Namespace, validate=validate_namespace, default=default_namespace,
    name_rule=is_dns1123_label, columns=NAMESPACE_COLUMNS, cells=namespace_cells,
    merge_keys=mergekeys.merge_keys(mergekeys.CONDITIONS), strategy=NamespaceStrategy(),
)


# --- Node ------------------------------------------------------------------------------------

NODE_RESOURCE = Resource("", "v1", "nodes", "node", "Node", False, ("no",), (), tuple(ALL_VERBS), ("status",))

def validate_node(errs: ErrorList, obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    for i, taint in enumerate(spec.get("taints") or []):
        p = f"spec.taints[{i}]"
        key = taint.get("key") or ""
        errs.each(f"{p}.key", key, is_qualified_name(key))
        if not taint.get("effect"):
            errs.required(f"{p}.effect")
        else:
            errs.enum(f"{p}.effect", taint["effect"], ["NoSchedule", "PreferNoSchedule", "NoExecute"])
    for key in ("podCIDR",):
        if spec.get(key):
            try:
                ipaddress.ip_network(spec[key], strict=False)
            except ValueError:
                errs.invalid(f"spec.{key}", spec[key], "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")


def default_node(obj: dict[str, Any]) -> None:
    status = obj.get("status")
    if isinstance(status, dict) and status.get("capacity") and not status.get("allocatable"):
        status["allocatable"] = dict(status["capacity"])


NODE_COLUMNS = [
        NAME_COLUMN,
        column("Status", "The status of the node"),
        column("Roles", "The roles of the node"),
        AGE_COLUMN,
        column("Version", "Kubelet Version reported by the node."),
        column("Internal-IP", "List of addresses reachable to the node.", priority=1),
        column("External-IP", "List of addresses reachable to the node.", priority=1),
        column("OS-Image", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
             priority=1),
        column("Kernel-Version", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
             priority=1),
        column("Container-Runtime", "ContainerRuntime Version reported by the node through runtime remote API "
                                  "(e.g. containerd://1.4.2).", priority=1),
]


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


def node_cells(node: dict[str, Any], now: datetime) -> list[Any]:
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
        name(node), ",".join(states), ",".join(node_roles(node)) or "<none>", age(node, now),
        info.get("kubeletVersion") or "",
        _node_address(node, "InternalIP"), _node_address(node, "ExternalIP"),
        info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


NODE = Kind(
    NODE_RESOURCE, model=Node, validate=validate_node, default=default_node, columns=NODE_COLUMNS,
    cells=node_cells, merge_keys=mergekeys.merge_keys(mergekeys.CONDITIONS, {"status.addresses": "type"}),
)


# --- Event -----------------------------------------------------------------------------------

EVENT_RESOURCE = Resource("", "v1", "events", "event", "Event", True, ("ev",), (), tuple(ALL_VERBS))

def validate_event(errs: ErrorList, obj: dict[str, Any]) -> None:
    ns = (obj.get("metadata") or {}).get("namespace") or ""
    involved = obj.get("involvedObject") or {}
    ins = involved.get("namespace") or ""
    if not obj.get("eventTime") and ns and ins and ns != ins:
        errs.invalid("involvedObject.namespace", ins, "does not match event.namespace")
    if obj.get("count") is not None and obj["count"] < 0:
        errs.invalid("count", obj["count"], "must be greater than or equal to 0")


EVENT_COLUMNS = [
        column("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
        column("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
        column("Reason", "This should be a short, machine understandable string that gives the reason for the "
                       "transition into the object's current status."),
        column("Object", "The object that this event is about."),
        column("Subobject", "If referring to a piece of an object instead of an entire object, this string should "
                          "contain a valid JSON/Go field access statement, such as "
                          "desiredState.manifest.containers[2].", priority=1),
        column("Source", "The component reporting this event. Should be a short machine understandable string.",
             priority=1),
        column("Message", "A human-readable description of the status of this operation."),
        column("First Seen", "The time at which the event was first recorded. (Time of server receipt is in "
                           "TypeMeta.)", priority=1),
        column("Count", "The number of times this event has occurred.", priority=1),
        column("Name", NAME_DESCRIPTION, priority=1, fmt="name"),
]


def event_cells(ev: dict[str, Any], now: datetime) -> list[Any]:
    first = since(ev.get("firstTimestamp"), now)
    if not ev.get("firstTimestamp"):
        first = since(ev.get("eventTime"), now)
    last = since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 0
    series = ev.get("series")
    if series:
        last = since(series.get("lastObservedTime"), now)
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
            source_text, (ev.get("message") or "").strip(), first, count, name(ev)]


EVENT = Kind(EVENT_RESOURCE, model=Event, validate=validate_event, columns=EVENT_COLUMNS, cells=event_cells)
