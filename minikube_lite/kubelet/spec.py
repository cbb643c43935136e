"""A pod's spec, translated into what ``docker create`` takes.

Pure functions (no Docker, no API calls) so every rule can be tested with plain dicts:
image pull policy defaults, CPU and memory quantities, environment variables (values, field
references, config map and secret keys), security context and resources. The pause container
gets the pod's hostname and network; app containers join its network namespace with
``network_mode="container:<pause id>"`` and never get a Docker restart policy (the kubelet
restarts them itself; two restarters would fight).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from ..api.defaults import default_pull_policy
from ..api.quantity import parse_quantity as _parse_quantity
from ..config import KUBERNETES_SERVICE_IP
from .pause import PAUSE_IMAGE


class ConfigError(Exception):
    """The container cannot be configured yet (``CreateContainerConfigError``)."""


def security_setting(pod: dict[str, Any], container: dict[str, Any], field: str) -> Any:
    """A securityContext field as it applies to ``container``: its own, else the pod's."""
    ctx = container.get("securityContext") or {}
    return ctx[field] if field in ctx else ((pod.get("spec") or {}).get("securityContext") or {}).get(field)


def run_as_non_root(pod: dict[str, Any], container: dict[str, Any]) -> bool:
    return bool(security_setting(pod, container, "runAsNonRoot"))


def verify_non_root(pod: dict[str, Any], container: dict[str, Any], image_user: str) -> None:
    """Kubernetes' check before a ``runAsNonRoot`` container starts (``verifyRunAsNonRoot``):
    the effective user must be known to be non-zero, else ``CreateContainerConfigError``."""
    meta = pod.get("metadata") or {}
    where = f'(pod: "{meta.get("name")}_{meta.get("namespace", "default")}({meta.get("uid", "")})", ' \
            f'container: {container.get("name")})'
    uid = security_setting(pod, container, "runAsUser")
    if uid is not None:
        if int(uid) == 0:
            raise ConfigError(f"container's runAsUser breaks non-root policy {where}")
        return
    user = image_user.split(":", 1)[0]
    if user in ("", "0", "root"):
        raise ConfigError(f"container has runAsNonRoot and image will run as root {where}")
    if not user.isdigit():
        raise ConfigError(f"container has runAsNonRoot and image has non-numeric user ({user}), "
                          f"cannot verify user is non-root {where}")


# ---- images -------------------------------------------------------------------------------

def pull_policy(container: dict[str, Any]) -> str:
    """``imagePullPolicy`` as set (the API server defaults it), else Kubernetes' default by tag."""
    policy = container.get("imagePullPolicy")
    if policy in ("Always", "IfNotPresent", "Never"):
        return policy
    return default_pull_policy(container.get("image", ""))


# ---- quantities ---------------------------------------------------------------------------


def parse_quantity(value: Any) -> float:
    """A Kubernetes quantity (``"500m"``, ``"128Mi"``, ``2``) as a number (the API's own parser)."""
    return float(_parse_quantity(value))


# ---- environment --------------------------------------------------------------------------

Lookup = Callable[[str, str], dict[str, Any] | None]
"""``lookup("configmaps" | "secrets", name)`` -> the object in the pod's namespace, or None."""


def referenced_objects(container: dict[str, Any]) -> set[tuple[str, str]]:
    """The config maps and secrets a container's environment reads, as (resource, name)."""
    refs: set[tuple[str, str]] = set()
    for env in container.get("env") or []:
        source = env.get("valueFrom") or {}
        if "configMapKeyRef" in source:
            refs.add(("configmaps", source["configMapKeyRef"].get("name", "")))
        if "secretKeyRef" in source:
            refs.add(("secrets", source["secretKeyRef"].get("name", "")))
    for env_from in container.get("envFrom") or []:
        if "configMapRef" in env_from:
            refs.add(("configmaps", env_from["configMapRef"].get("name", "")))
        if "secretRef" in env_from:
            refs.add(("secrets", env_from["secretRef"].get("name", "")))
    return refs


def pod_references(pod: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (resource, name) a pod reads: config maps and secrets (environment and volumes), claims."""
    spec = pod.get("spec") or {}
    refs: set[tuple[str, str]] = set()
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        refs |= referenced_objects(c)
    for vol in spec.get("volumes") or []:
        if "configMap" in vol:
            refs.add(("configmaps", (vol["configMap"] or {}).get("name", "")))
        if "secret" in vol:
            refs.add(("secrets", (vol["secret"] or {}).get("secretName", "")))
        if "persistentVolumeClaim" in vol:
            refs.add(("persistentvolumeclaims", (vol["persistentVolumeClaim"] or {}).get("claimName", "")))
        for src in (vol.get("projected") or {}).get("sources") or []:
            if "configMap" in src:
                refs.add(("configmaps", (src["configMap"] or {}).get("name", "")))
            if "secret" in src:
                refs.add(("secrets", (src["secret"] or {}).get("name", "")))
    return refs


def _object_data(resource: str, obj: dict[str, Any]) -> dict[str, str]:
    if resource == "secrets":
        data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
        data.update(obj.get("stringData") or {})
        return data
    return dict(obj.get("data") or {})


def _field_ref(pod: dict[str, Any], path: str, *, pod_ip: str | None, host_ip: str | None) -> str:
    meta = pod.get("metadata") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", "default"),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": (pod.get("spec") or {}).get("nodeName", ""),
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", "default"),
        "status.podIP": pod_ip or "",
        "status.podIPs": pod_ip or "",
        "status.hostIP": host_ip or "",
        "status.hostIPs": host_ip or "",
    }
    if path in simple:
        return simple[path]
    match = re.fullmatch(r"metadata\.(labels|annotations)\[['\"]?(.+?)['\"]?\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise ConfigError(f"unsupported fieldRef {path!r}")


def _resource_ref(container: dict[str, Any], ref: dict[str, Any]) -> str:
    resource = ref.get("resource", "")
    divisor = parse_quantity(ref.get("divisor") or 1)
    kind, _, name = resource.partition(".")
    value = ((container.get("resources") or {}).get(kind) or {}).get(name)
    if value is None:
        return "0"
    amount = parse_quantity(value) / divisor
    return str(int(-(-amount // 1)))  # Kubernetes rounds up


def field_ref_value(pod: dict[str, Any], path: str, *, pod_ip: str | None, host_ip: str | None) -> str:
    """The value of a downward API ``fieldRef`` (environment and downwardAPI volumes)."""
    return _field_ref(pod, path, pod_ip=pod_ip, host_ip=host_ip)


def resource_ref_value(container: dict[str, Any], ref: dict[str, Any]) -> str:
    """The value of a downward API ``resourceFieldRef`` for ``container``."""
    return _resource_ref(container, ref)


# What every container gets for the ``kubernetes`` Service (the kubelet always adds the master
# Service's variables, even with enableServiceLinks: false): in-cluster clients read these.
MASTER_SERVICE_ENV = {
    "KUBERNETES_SERVICE_HOST": KUBERNETES_SERVICE_IP, "KUBERNETES_SERVICE_PORT": "443",
    "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": f"tcp://{KUBERNETES_SERVICE_IP}:443",
    "KUBERNETES_PORT_443_TCP": f"tcp://{KUBERNETES_SERVICE_IP}:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
    "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": KUBERNETES_SERVICE_IP,
}


def _referenced_data(lookup: Lookup, resource: str, kind: str, ref: dict[str, Any]) -> dict[str, str] | None:
    """The data of the ConfigMap or Secret ``ref`` names; None when it is missing and optional."""
    obj = lookup(resource, ref.get("name", ""))
    if obj is None:
        if ref.get("optional"):
            return None
        raise ConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found')
    return _object_data(resource, obj)


def resolve_env(pod: dict[str, Any], container: dict[str, Any], *, lookup: Lookup,
                pod_ip: str | None, host_ip: str | None) -> list[str]:
    """``NAME=value`` strings in Kubernetes' order: the API server's Service variables, ``envFrom``,
    then ``env`` (later ones win)."""
    ns = (pod.get("metadata") or {}).get("namespace", "default")
    env: dict[str, str] = dict(MASTER_SERVICE_ENV)
    for env_from in container.get("envFrom") or []:
        prefix = env_from.get("prefix", "")
        for key, resource, kind in (("configMapRef", "configmaps", "ConfigMap"), ("secretRef", "secrets", "Secret")):
            if key in env_from:
                for k, v in (_referenced_data(lookup, resource, kind, env_from[key]) or {}).items():
                    env[prefix + k] = v
    for item in container.get("env") or []:
        name = item.get("name", "")
        if "value" in item or "valueFrom" not in item:
            env[name] = _expand(str(item.get("value", "")), env)
            continue
        source = item["valueFrom"] or {}
        if "fieldRef" in source:
            env[name] = _field_ref(pod, source["fieldRef"].get("fieldPath", ""), pod_ip=pod_ip, host_ip=host_ip)
        elif "resourceFieldRef" in source:
            env[name] = _resource_ref(container, source["resourceFieldRef"])
        else:
            for key, resource, kind in (("configMapKeyRef", "configmaps", "ConfigMap"),
                                        ("secretKeyRef", "secrets", "Secret")):
                if key not in source:
                    continue
                ref = source[key]
                data = _referenced_data(lookup, resource, kind, ref)
                if data is None:
                    break
                if ref.get("key") not in data:
                    if ref.get("optional"):
                        break
                    raise ConfigError(f"couldn't find key {ref.get('key')} in {kind} {ns}/{ref.get('name')}")
                env[name] = data[ref["key"]]
                break
    return [f"{k}={v}" for k, v in env.items()]


def _expand(value: str, env: dict[str, str]) -> str:
    """``$(VAR)`` references to earlier variables, ``$$`` escapes, as Kubernetes expands them."""
    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", repl, value)


def expand_args(args: list[str] | None, env: list[str]) -> list[str] | None:
    if args is None:
        return None
    values = dict(e.split("=", 1) for e in env)
    return [_expand(str(a), values) for a in args]


# ---- docker create ------------------------------------------------------------------------

def _user(pod: dict[str, Any], container: dict[str, Any]) -> str | None:
    uid = security_setting(pod, container, "runAsUser")
    gid = security_setting(pod, container, "runAsGroup")
    if uid is None and gid is None:
        return None
    if uid is None:
        return None  # Docker cannot set a group alone; the image's user stays
    return f"{uid}:{gid}" if gid is not None else str(uid)


def host_resources(container: dict[str, Any]) -> dict[str, Any]:
    """CPU and memory limits/requests as Docker host-config settings."""
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    out: dict[str, Any] = {}
    if "memory" in limits:
        out["mem_limit"] = int(parse_quantity(limits["memory"]))
        out["memswap_limit"] = out["mem_limit"]  # no swap, as on a Kubernetes node
    if "cpu" in limits:
        out["nano_cpus"] = int(parse_quantity(limits["cpu"]) * 1e9)
    cpu_request = requests.get("cpu", limits.get("cpu"))
    if cpu_request is not None:
        out["cpu_shares"] = max(2, int(parse_quantity(cpu_request) * 1024))
    return out


def app_container_args(pod: dict[str, Any], container: dict[str, Any], *, pause_id: str, labels: dict[str, str],
                       env: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(create_container kwargs, host config kwargs) of one app or init container."""
    ctx = container.get("securityContext") or {}
    caps = ctx.get("capabilities") or {}
    host: dict[str, Any] = {
        "network_mode": f"container:{pause_id}",
        "ipc_mode": f"container:{pause_id}",
        "privileged": bool(ctx.get("privileged", False)),
        "read_only": bool(ctx.get("readOnlyRootFilesystem", False)),
        **host_resources(container),
    }
    if ctx.get("allowPrivilegeEscalation") is False:
        host["security_opt"] = ["no-new-privileges"]  # the process's no_new_privs flag, as runc sets it
    if caps.get("add"):
        host["cap_add"] = list(caps["add"])
    if caps.get("drop"):
        host["cap_drop"] = list(caps["drop"])
    create: dict[str, Any] = {
        "image": container["image"],
        "labels": labels,
        "environment": env,
        "detach": True,
        "stdin_open": bool(container.get("stdin", False)),
        "tty": bool(container.get("tty", False)),
        "stdin_once": bool(container.get("stdin", False) and container.get("stdinOnce", False)),
    }
    if container.get("command"):
        create["entrypoint"] = expand_args(container["command"], env)
        create["command"] = expand_args(container.get("args") or [], env)
    elif container.get("args"):
        create["command"] = expand_args(container["args"], env)
    if container.get("workingDir"):
        create["working_dir"] = container["workingDir"]
    user = _user(pod, container)
    if user:
        create["user"] = user
    return create, host


def pause_container_args(pod: dict[str, Any], *, labels: dict[str, str], network: str,
                         dns_server: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(create_container kwargs, host config kwargs) of the pod's pause container.

    App containers share its network namespace and its ``/etc/resolv.conf``, so the cluster DNS
    settings (``dns_server`` with Kubernetes' search list and ``ndots:5``) are set here only.
    A ``hostNetwork`` pod's pause container joins the host's network namespace instead of the
    pods' bridge: its containers' ports are the host's, its IP is the node's.
    """
    spec = pod.get("spec") or {}
    host_network = bool(spec.get("hostNetwork"))
    hostname = spec.get("hostname") or pod["metadata"]["name"]
    port_bindings: dict[str, Any] = {}
    for c in [] if host_network else spec.get("containers") or []:  # with the host's network a port is the host's
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                key = f"{p['containerPort']}/{(p.get('protocol') or 'TCP').lower()}"
                port_bindings[key] = (p.get("hostIP") or "0.0.0.0", int(p["hostPort"]))
    host: dict[str, Any] = {"network_mode": "host" if host_network else network, "ipc_mode": "shareable"}
    # ClusterFirst means the node's resolver for a hostNetwork pod, unless ClusterFirstWithHostNet
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if dns_server and (policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not host_network)):
        ns = pod["metadata"].get("namespace", "default")
        host["dns"] = [dns_server]
        host["dns_search"] = [f"{ns}.svc.cluster.local", "svc.cluster.local", "cluster.local"]
        host["dns_opt"] = ["ndots:5"]
    if port_bindings:
        host["port_bindings"] = port_bindings
    # the pause program, as PID 1, ignores SIGTERM (pause.py); Kubernetes' pause exits on it. With
    # SIGKILL as its stop signal the engine's own stop (dockerd shutting down or restarting,
    # ``docker stop``) ends it at once instead of waiting its 10 s stop timeout for nothing.
    create: dict[str, Any] = {"image": PAUSE_IMAGE, "labels": labels, "detach": True, "stop_signal": "SIGKILL"}
    if not host_network:  # a hostNetwork pod has the node's hostname, as on Kubernetes
        create["hostname"] = hostname[:63]
    if port_bindings:
        create["ports"] = [tuple(k.split("/")) for k in port_bindings]
    return create, host
