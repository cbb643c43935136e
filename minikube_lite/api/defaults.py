"""Defaulting: the values Kubernetes fills in when a manifest leaves them out.

This is what ``pkg/apis/core/v1/defaults.go`` and the registries' ``PrepareForCreate`` do, so
that ``kubectl get -o yaml`` shows the object a learner would see on a real cluster
(``restartPolicy: Always``, ``imagePullPolicy``, ``protocol: TCP``, ``targetPort`` ...), and so
that the controllers and the kubelet can read those fields without guessing. Allocation of
cluster IPs and nodePorts is not defaulting: the API server does that. Everything here works in
place on plain dicts and never overwrites a value the user gave (except where Kubernetes does:
the namespace name label).

The generic helpers live here (a leaf module, public names): the PodSpec defaults every kind
with a pod template uses, image pull policy, QoS class. Each kind's own defaulter is declared
on its ``Kind`` in its module.
"""

from __future__ import annotations

from typing import Any

from minikube_lite.api.quantity import parse_quantity

_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_QOS_RESOURCES = ("cpu", "memory")


def image_tag(image: str) -> str:
    """The tag of an image reference as Kubernetes reads it: "latest" when none is written,
    "" when the image is pinned by digest only."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rsplit(":", 1)[1]
    return "" if digest else "latest"


def default_pull_policy(image: str) -> str:
    """Kubernetes' default ``imagePullPolicy``: Always for ``:latest`` (or no tag), else IfNotPresent."""
    return "Always" if image_tag(image) == "latest" else "IfNotPresent"


def _default_handler(handler: dict[str, Any] | None) -> None:
    http = (handler or {}).get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _default_container(c: dict[str, Any], *, host_network: bool) -> None:
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = default_pull_policy(c.get("image") or "")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    resources = c.setdefault("resources", {})
    # A limit without a request means "request the same" (SetDefaults_Pod).
    limits = resources.get("limits") or {}
    if limits:
        requests = resources.setdefault("requests", {})
        for name, value in limits.items():
            requests.setdefault(name, value)
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if host_network and not port.get("hostPort") and port.get("containerPort"):
            port["hostPort"] = port["containerPort"]
    for probe_name in _PROBES:
        probe = c.get(probe_name)
        if isinstance(probe, dict):
            probe.setdefault("timeoutSeconds", 1)
            probe.setdefault("periodSeconds", 10)
            probe.setdefault("successThreshold", 1)
            probe.setdefault("failureThreshold", 3)
            _default_handler(probe)
    lifecycle = c.get("lifecycle") or {}
    for hook in ("postStart", "preStop"):
        _default_handler(lifecycle.get(hook))
    for env in c.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")


def _default_volume(vol: dict[str, Any]) -> None:
    sources = [k for k in vol if k != "name"]
    if not sources:
        vol["emptyDir"] = {}
    for key in ("configMap", "secret", "downwardAPI", "projected"):
        if isinstance(vol.get(key), dict):
            vol[key].setdefault("defaultMode", 420)


def apply_defaults_to_pod_spec(spec: dict[str, Any]) -> None:
    """Kubernetes' PodSpec defaults, in place (also used for pod templates)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    host_network = bool(spec.get("hostNetwork"))
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                _default_container(c, host_network=host_network)
    for vol in spec.get("volumes") or []:
        if isinstance(vol, dict):
            _default_volume(vol)


def qos_class(spec: dict[str, Any]) -> str:
    """The pod's QoS class (Guaranteed, Burstable, BestEffort) from its containers' cpu/memory
    requests and limits, as the kubelet and ``kubectl describe`` report it."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        requests = {k: v for k, v in (res.get("requests") or {}).items() if k in _QOS_RESOURCES}
        limits = {k: v for k, v in (res.get("limits") or {}).items() if k in _QOS_RESOURCES}
        if requests or limits:
            any_set = True
        if set(limits) != set(_QOS_RESOURCES):
            guaranteed = False
        for name, value in requests.items():
            if _same_quantity(value, limits.get(name)) is False:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _same_quantity(a: Any, b: Any) -> bool:
    if b is None:
        return False
    try:
        return parse_quantity(a) == parse_quantity(b)
    except (ValueError, TypeError, ArithmeticError):
        return a == b
