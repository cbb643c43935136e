"""The Node object this kubelet registers and keeps fresh.

Kubernetes learners read a node with ``kubectl get nodes`` / ``describe node``: it must say
Ready, carry the usual labels, addresses and real capacity (CPUs, memory, a pod limit of 110 as
the kubelet's default) and the versions of the kubelet and the runtime. The heartbeat is two
small writes: the node's Lease in ``kube-node-lease`` renewed every 10 s (a quarter of its 40 s
duration, as Kubernetes' node lease controller does; ``kubectl describe node`` shows it) and the
conditions' ``lastHeartbeatTime`` moved every ~20 s.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

KUBELET_VERSION = "v1.32.0"
MAX_PODS = 110

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def memory_kib() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"


def capacity() -> dict[str, str]:
    cap = {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{memory_kib()}Ki",
        "pods": str(MAX_PODS),
    }
    try:
        cap["ephemeral-storage"] = f"{shutil.disk_usage('/').total // 1024}Ki"
    except OSError:
        pass
    return cap


def conditions(now: str, previous: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Ready=True plus the three pressures False; transition times kept from ``previous``."""
    old = {c.get("type"): c for c in previous or []}

    def cond(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
        was = old.get(kind)
        since = was.get("lastTransitionTime") if was and was.get("status") == status else now
        return {"type": kind, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": since,
                "reason": reason, "message": message}

    return [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]


#: the event a node condition's new status makes the kubelet record (its nodestatus setters)
_CONDITION_EVENTS = {
    ("MemoryPressure", "False"): "NodeHasSufficientMemory", ("MemoryPressure", "True"): "NodeHasInsufficientMemory",
    ("DiskPressure", "False"): "NodeHasNoDiskPressure", ("DiskPressure", "True"): "NodeHasDiskPressure",
    ("PIDPressure", "False"): "NodeHasSufficientPID", ("PIDPressure", "True"): "NodeHasInsufficientPID",
    ("Ready", "True"): "NodeReady", ("Ready", "False"): "NodeNotReady",
}


def status_events(node_name: str, previous: list[dict[str, Any]] | None, current: list[dict[str, Any]], *,
                  starting: bool) -> list[tuple[str, str]]:
    """(reason, message) of the events the kubelet records about its node, in its order: "Starting
    kubelet." when it starts, each condition whose status is new or changed ("Node X status is now:
    NodeHasSufficientMemory" ...), the allocatable enforcement when it starts, then NodeReady."""
    before = {c.get("type"): c.get("status") for c in previous or []}
    out = [("Starting", "Starting kubelet.")] if starting else []
    ready = []
    for c in current:
        reason = _CONDITION_EVENTS.get((c.get("type"), c.get("status")))
        if reason and before.get(c.get("type")) != c.get("status"):
            (ready if c.get("type") == "Ready" else out).append((reason, f"Node {node_name} status is now: {reason}"))
    if starting:
        out.append(("NodeAllocatableEnforced", "Updated Node Allocatable limit across pods"))
    return out + ready


def node_object(node_name: str, *, internal_ip: str, runtime_version: str, now: str,
                kubelet_port: int = 10250, control_plane: bool = True) -> dict[str, Any]:
    """The Node; ``control_plane``: the first node carries kubeadm's role label, as minikube's does
    (without its NoSchedule taint: minikube leaves the control-plane schedulable), workers none."""
    machine = os.uname().machine.lower()  # what platform.machine() reads (platform: ~0.1 MB of the agent)
    arch = _ARCH.get(machine, machine)
    cap = capacity()
    machine_id = _read("/etc/machine-id")
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node_name,
            "labels": {
                "kubernetes.io/hostname": node_name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": arch,
                **({"node-role.kubernetes.io/control-plane": ""} if control_plane else {}),
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": node_status(node_name, internal_ip=internal_ip, runtime_version=runtime_version, now=now,
                              cap=cap, machine_id=machine_id, arch=arch, kubelet_port=kubelet_port),
    }


def node_status(node_name: str, *, internal_ip: str, runtime_version: str, now: str,
                cap: dict[str, str] | None = None, machine_id: str = "", arch: str = "amd64",
                previous: dict[str, Any] | None = None, kubelet_port: int = 10250) -> dict[str, Any]:
    cap = cap or capacity()
    return {
        "capacity": dict(cap),
        "allocatable": dict(cap),
        "conditions": conditions(now, (previous or {}).get("conditions")),
        "addresses": [{"type": "InternalIP", "address": internal_ip},
                      {"type": "Hostname", "address": node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        "nodeInfo": {
            "machineID": machine_id,
            "systemUUID": machine_id,
            "bootID": _read("/proc/sys/kernel/random/boot_id"),
            "kernelVersion": os.uname().release,
            "osImage": os_image(),
            "containerRuntimeVersion": f"docker://{runtime_version}",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": arch,
        },
        "images": [],
    }


def lease_object(node: dict[str, Any], renew_time: str) -> dict[str, Any]:
    """The node's Lease, owned by the Node so that deleting the node removes it."""
    from minikube_lite.config import NODE_LEASE_DURATION_SECONDS, NODE_LEASE_NAMESPACE

    meta = node.get("metadata") or {}
    owner = {"apiVersion": "v1", "kind": "Node", "name": meta.get("name"), "uid": meta.get("uid")}
    return {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": meta.get("name"), "namespace": NODE_LEASE_NAMESPACE,
                     "ownerReferences": [owner] if meta.get("uid") else []},
        "spec": {"holderIdentity": meta.get("name"), "leaseDurationSeconds": NODE_LEASE_DURATION_SECONDS,
                 "renewTime": renew_time},
    }
