"""Warnings for valid Kubernetes fields that minikube-lite stores but does not act on.

The same YAML must work here and on a real cluster, so nothing Kubernetes accepts is refused. But
a field that changes behaviour on a real node and changes nothing here (``hostPID: true``, an NFS
volume) must not be ignored in silence: the write succeeds and the
answer carries a ``Warning`` header per field, which kubectl prints as ``Warning: ...`` the way it
prints Kubernetes' own deprecation warnings.

Only fields whose value would make a difference are reported: ``hostPID: false`` says
nothing. Pods are checked directly and through the pod template of Deployments
and ReplicaSets; Services for the fields the proxy does not implement.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_SUFFIX = "minikube-lite stores it but does not act on it"

# pod spec field -> what happens here instead (reported when the value is set and not false/empty)
_POD_FIELDS = {
    "hostPID": "the pod's containers see only their own processes",
    "hostIPC": "the pod gets its own IPC namespace",
    "shareProcessNamespace": "each container keeps its own process namespace",
    "readinessGates": "Ready follows the containers' readiness only",
    "activeDeadlineSeconds": "the pod is not stopped when the deadline passes",
    "dnsConfig": "pods use the cluster DNS settings of their dnsPolicy",
    "hostAliases": "no entries are added to the containers' /etc/hosts",
    "runtimeClassName": "every pod runs with the Docker engine's default runtime",
}
_POD_SECURITY_FIELDS = {
    "fsGroup": "volume files keep their owners",
    "supplementalGroups": "the containers get no supplementary groups",
    "sysctls": "no sysctls are set",
}
_CONTAINER_SECURITY_FIELDS = {
    "seccompProfile": "the engine's default seccomp profile applies",
    "seLinuxOptions": "no SELinux labels are set",
    "appArmorProfile": "the engine's default AppArmor profile applies",
    "procMount": "the engine's default /proc mount applies",
}
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
SUPPORTED_VOLUMES = ("emptyDir", "hostPath", "configMap", "secret", "downwardAPI", "projected",
                     "persistentVolumeClaim")
_SERVICE_FIELDS = {
    "externalIPs": "traffic to those addresses is not routed",
    "loadBalancerSourceRanges": "the load balancer port accepts every client",
}


def _set(value: Any) -> bool:
    return value not in (None, False, "", [], {})


def _warn(path: str, why: str) -> str:
    return f"{path}: {_SUFFIX} ({why})"


def _containers(spec: dict[str, Any], base: str) -> Iterator[tuple[str, dict[str, Any], bool]]:
    for field, init in (("initContainers", True), ("containers", False)):
        for i, c in enumerate(spec.get(field) or []):
            if isinstance(c, dict):
                yield f"{base}.{field}[{i}]", c, init


def pod_spec_warnings(spec: dict[str, Any], base: str = "spec") -> list[str]:
    out: list[str] = []
    for field, why in _POD_FIELDS.items():
        if _set(spec.get(field)):
            out.append(_warn(f"{base}.{field}", why))
    for field, why in _POD_SECURITY_FIELDS.items():
        if _set((spec.get("securityContext") or {}).get(field)):
            out.append(_warn(f"{base}.securityContext.{field}", why))
    for i, vol in enumerate(spec.get("volumes") or []):
        if not isinstance(vol, dict):
            continue
        kinds = [k for k in vol if k != "name"]
        if kinds and not any(k in SUPPORTED_VOLUMES for k in kinds):
            out.append(_warn(f"{base}.volumes[{i}].{kinds[0]}", "the volume is mounted as an empty directory"))
    for path, c, init in _containers(spec, base):
        if init and c.get("restartPolicy") == "Always":
            out.append(_warn(f"{path}.restartPolicy", "a sidecar init container runs like any init container, "
                                                     "to completion before the app containers start"))
        for probe in _PROBES:
            if _set((c.get(probe) or {}).get("grpc")):
                out.append(_warn(f"{path}.{probe}.grpc", "grpc probes always fail here; use exec, httpGet or "
                                                         "tcpSocket"))
        for field, why in _CONTAINER_SECURITY_FIELDS.items():
            if _set((c.get("securityContext") or {}).get(field)):
                out.append(_warn(f"{path}.securityContext.{field}", why))
        for j, m in enumerate(c.get("volumeMounts") or []):
            if isinstance(m, dict) and _set(m.get("subPathExpr")):
                out.append(_warn(f"{path}.volumeMounts[{j}].subPathExpr", "the whole volume is mounted"))
            if isinstance(m, dict) and m.get("mountPropagation") not in (None, "None"):
                out.append(_warn(f"{path}.volumeMounts[{j}].mountPropagation", "mounts are not propagated"))
    return out


def warnings_for(kind: str, obj: dict[str, Any]) -> list[str]:
    """The warnings a write of ``obj`` (a ``kind``) gets for fields minikube-lite does not act on."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    if kind == "Pod":
        return pod_spec_warnings(spec)
    if kind in ("Deployment", "ReplicaSet"):
        template = (spec.get("template") or {}).get("spec")
        return pod_spec_warnings(template, "spec.template.spec") if isinstance(template, dict) else []
    if kind == "Service":
        out = [_warn(f"spec.{field}", why) for field, why in _SERVICE_FIELDS.items() if _set(spec.get(field))]
        if spec.get("sessionAffinity") == "ClientIP":
            out.append(_warn("spec.sessionAffinity", "connections are spread across endpoints regardless of client"))
        return out
    return []
