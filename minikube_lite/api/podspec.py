"""Validation of a PodSpec, as ``pkg/apis/core/validation`` does it (ValidatePodSpec).

Shared by every kind that carries a pod template (Pod, ReplicaSet, Deployment, and the
workload kinds to come), so it is a leaf module of its own with public names: a kind's module
calls ``validate_pod_spec(errs, spec, "spec.template.spec")``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from minikube_lite.api.quantity import parse_quantity
from minikube_lite.api.validation import (
    ErrorList,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_ip,
    is_valid_port_name,
    is_valid_port_num,
    validate_labels,
)


def validate_resources(errs: ErrorList, res: dict[str, Any] | None, path: str) -> None:
    """requests and limits: quantities, requests not above limits."""
    if not res:
        return
    parsed: dict[str, dict[str, Decimal]] = {}
    for kind in ("limits", "requests"):
        parsed[kind] = {}
        for rname, qty in (res.get(kind) or {}).items():
            p = f"{path}.{kind}[{rname}]"
            errs.each(p, rname, is_qualified_name(rname))
            try:
                value = parse_quantity(qty)
            except (ValueError, TypeError, ArithmeticError):
                errs.invalid(p, qty, "must be a valid quantity")
                continue
            if value < 0:
                errs.invalid(p, qty, "must be greater than or equal to 0")
            parsed[kind][rname] = value
    for rname, req in parsed["requests"].items():
        lim = parsed["limits"].get(rname)
        if lim is not None and req > lim:
            errs.invalid(f"{path}.requests[{rname}]", res["requests"][rname],
                         f"must be less than or equal to {rname} limit of {res['limits'][rname]}")


def _validate_probe(errs: ErrorList, probe: dict[str, Any] | None, path: str, *, liveness: bool) -> None:
    if probe is None:
        return
    handlers = [k for k in ("exec", "httpGet", "tcpSocket", "grpc") if probe.get(k) is not None]
    if not handlers:
        errs.required(path, "must specify a handler type")
    elif len(handlers) > 1:
        errs.forbidden(f"{path}.{handlers[1]}", "may not specify more than 1 handler type")
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        value = probe.get(key)
        if value is not None and value < 0:
            errs.invalid(f"{path}.{key}", value, "must be greater than or equal to 0")
    if liveness and probe.get("successThreshold") not in (None, 1):
        errs.invalid(f"{path}.successThreshold", probe["successThreshold"], "must be 1")
    _validate_handler_ports(errs, probe, path)


def _validate_handler_ports(errs: ErrorList, handler: dict[str, Any], path: str) -> None:
    for key in ("httpGet", "tcpSocket"):
        action = handler.get(key)
        if action is None:
            continue
        port = action.get("port")
        if port is None:
            errs.required(f"{path}.{key}.port")
        elif isinstance(port, int):
            errs.each(f"{path}.{key}.port", port, is_valid_port_num(port))
        else:
            errs.each(f"{path}.{key}.port", port, is_valid_port_name(port))
    scheme = (handler.get("httpGet") or {}).get("scheme")
    errs.enum(f"{path}.httpGet.scheme", scheme, ["HTTP", "HTTPS"])
    grpc = handler.get("grpc")
    if grpc is not None:
        errs.each(f"{path}.grpc.port", grpc.get("port") or 0, is_valid_port_num(grpc.get("port") or 0))


def _validate_container(errs: ErrorList, c: dict[str, Any], path: str, volumes: set[str], *,
                        init: bool) -> None:
    name = c.get("name")
    errs.present(f"{path}.name", name, is_dns1123_label)
    image = c.get("image")
    if not image:
        errs.required(f"{path}.image")
    elif image != image.strip():
        errs.invalid(f"{path}.image", image, "must not have leading or trailing whitespace")
    port_names: set[str] = set()
    for i, port in enumerate(c.get("ports") or []):
        p = f"{path}.ports[{i}]"
        if port.get("name"):
            errs.each(f"{p}.name", port["name"], is_valid_port_name(port["name"]))
            if port["name"] in port_names:
                errs.duplicate(f"{p}.name", port["name"])
            port_names.add(port["name"])
        cp = port.get("containerPort")
        errs.present(f"{p}.containerPort", cp, is_valid_port_num)
        if port.get("hostPort"):
            errs.each(f"{p}.hostPort", port["hostPort"], is_valid_port_num(port["hostPort"]))
        errs.enum(f"{p}.protocol", port.get("protocol"), ["TCP", "UDP", "SCTP"])
        if port.get("hostIP"):
            errs.each(f"{p}.hostIP", port["hostIP"], is_valid_ip(port["hostIP"]))
    for i, env in enumerate(c.get("env") or []):
        p = f"{path}.env[{i}]"
        ename = env.get("name")
        if not ename:
            errs.required(f"{p}.name")
        elif "=" in ename or not all(32 <= ord(ch) < 127 for ch in ename):
            errs.invalid(f"{p}.name", ename, "a valid environment variable name must consist only of printable "
                         "ASCII characters other than '='")
        source = env.get("valueFrom")
        if source is not None:
            kinds = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
                     if source.get(k) is not None]
            if env.get("value"):
                errs.invalid(f"{p}.valueFrom", "", "may not be specified when `value` is not empty")
            if not kinds:
                errs.invalid(f"{p}.valueFrom", "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                             "`configMapKeyRef` or `secretKeyRef`")
            elif len(kinds) > 1:
                errs.invalid(f"{p}.valueFrom", "", "may not have more than one field specified at a time")
            for key in ("configMapKeyRef", "secretKeyRef"):
                ref = source.get(key)
                if ref is not None and not ref.get("key"):
                    errs.required(f"{p}.valueFrom.{key}.key")
            if source.get("fieldRef") is not None and not source["fieldRef"].get("fieldPath"):
                errs.required(f"{p}.valueFrom.fieldRef.fieldPath")
    mount_paths: set[str] = set()
    for i, vm in enumerate(c.get("volumeMounts") or []):
        p = f"{path}.volumeMounts[{i}]"
        if not vm.get("name"):
            errs.required(f"{p}.name")
        elif vm["name"] not in volumes:
            errs.not_found(f"{p}.name", vm["name"])
        mp = vm.get("mountPath")
        if not mp:
            errs.required(f"{p}.mountPath")
        elif mp in mount_paths:
            errs.invalid(f"{p}.mountPath", mp, "must be unique")
        else:
            mount_paths.add(mp)
        errs.enum(f"{p}.mountPropagation", vm.get("mountPropagation"), ["Bidirectional", "HostToContainer", "None"])
    validate_resources(errs, c.get("resources"), f"{path}.resources")
    _validate_probe(errs, c.get("livenessProbe"), f"{path}.livenessProbe", liveness=True)
    _validate_probe(errs, c.get("startupProbe"), f"{path}.startupProbe", liveness=True)
    _validate_probe(errs, c.get("readinessProbe"), f"{path}.readinessProbe", liveness=False)
    for hook in ("postStart", "preStop"):
        handler = (c.get("lifecycle") or {}).get(hook)
        if handler is not None:
            if not any(handler.get(k) is not None for k in ("exec", "httpGet", "tcpSocket", "sleep")):
                errs.required(f"{path}.lifecycle.{hook}", "must specify a handler type")
            _validate_handler_ports(errs, handler, f"{path}.lifecycle.{hook}")
    errs.enum(f"{path}.imagePullPolicy", c.get("imagePullPolicy"), ["Always", "IfNotPresent", "Never"])
    errs.enum(f"{path}.terminationMessagePolicy", c.get("terminationMessagePolicy"),
              ["File", "FallbackToLogsOnError"])
    restart = c.get("restartPolicy")
    if restart is not None:
        if init:
            errs.enum(f"{path}.restartPolicy", restart, ["Always"])
        else:
            errs.forbidden(f"{path}.restartPolicy", "may not be set for non-init containers")


_VOLUME_SOURCES = (
    "emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim", "projected", "downwardAPI", "nfs",
    "csi", "ephemeral", "image", "awsElasticBlockStore", "gcePersistentDisk", "gitRepo", "iscsi", "glusterfs",
    "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "azureDisk", "vsphereVolume",
    "quobyte", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
)


def validate_pod_spec(errs: ErrorList, spec: dict[str, Any] | None, path: str = "spec") -> None:
    """ValidatePodSpec: volumes, containers, policies, names and tolerations of ``spec`` at ``path``."""
    spec = spec or {}
    volumes: set[str] = set()
    for i, vol in enumerate(spec.get("volumes") or []):
        p = f"{path}.volumes[{i}]"
        vname = vol.get("name")
        if errs.present(f"{p}.name", vname, is_dns1123_label):
            if vname in volumes:
                errs.duplicate(f"{p}.name", vname)
            volumes.add(vname)
        sources = [s for s in _VOLUME_SOURCES if vol.get(s) is not None]
        if not sources:
            errs.required(p, "must specify a volume type")
        elif len(sources) > 1:
            errs.forbidden(f"{p}.{sources[1]}", "may not specify more than 1 volume type")
        if vol.get("hostPath") is not None and not vol["hostPath"].get("path"):
            errs.required(f"{p}.hostPath.path")
        if vol.get("persistentVolumeClaim") is not None and not vol["persistentVolumeClaim"].get("claimName"):
            errs.required(f"{p}.persistentVolumeClaim.claimName")
    containers = spec.get("containers") or []
    if not containers:
        errs.required(f"{path}.containers")
    names: set[str] = set()
    for field_name, init in (("initContainers", True), ("containers", False), ("ephemeralContainers", False)):
        for i, c in enumerate(spec.get(field_name) or []):
            p = f"{path}.{field_name}[{i}]"
            _validate_container(errs, c, p, volumes, init=init and field_name == "initContainers")
            if c.get("name"):
                if c["name"] in names:
                    errs.duplicate(f"{p}.name", c["name"])
                names.add(c["name"])
    errs.enum(f"{path}.restartPolicy", spec.get("restartPolicy"), ["Always", "OnFailure", "Never"])
    errs.enum(f"{path}.dnsPolicy", spec.get("dnsPolicy"),
              ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"])
    if spec.get("dnsPolicy") == "None" and not spec.get("dnsConfig"):
        errs.required(f"{path}.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None")
    validate_labels(errs, spec.get("nodeSelector"), f"{path}.nodeSelector")
    for key in ("serviceAccountName", "nodeName", "priorityClassName", "runtimeClassName"):
        if spec.get(key):
            errs.each(f"{path}.{key}", spec[key], is_dns1123_subdomain(spec[key]))
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            errs.each(f"{path}.{key}", spec[key], is_dns1123_label(spec[key]))
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and not 1 <= ads <= 2**31 - 1:
        errs.invalid(f"{path}.activeDeadlineSeconds", ads, "must be between 1 and 2147483647, inclusive")
    for i, tol in enumerate(spec.get("tolerations") or []):
        p = f"{path}.tolerations[{i}]"
        if tol.get("key"):
            errs.each(f"{p}.key", tol["key"], is_qualified_name(tol["key"]))
        op = tol.get("operator")
        errs.enum(f"{p}.operator", op, ["Equal", "Exists"])
        if op == "Exists" and tol.get("value"):
            errs.invalid(f"{p}.operator", tol["value"], "value must be empty when `operator` is 'Exists'")
        if not tol.get("key") and op != "Exists":
            errs.invalid(f"{p}.operator", op or "", "operator must be Exists when `key` is empty, which means "
                         '"match all values and all keys"')
        errs.enum(f"{p}.effect", tol.get("effect") or None, ["NoSchedule", "PreferNoSchedule", "NoExecute"])
    for i, secret in enumerate(spec.get("imagePullSecrets") or []):
        if not secret.get("name"):
            errs.required(f"{path}.imagePullSecrets[{i}].name")
    for i, gate in enumerate(spec.get("readinessGates") or []):
        ctype = gate.get("conditionType") or ""
        errs.each(f"{path}.readinessGates[{i}].conditionType", ctype, is_qualified_name(ctype))
    errs.enum(f"{path}.preemptionPolicy", spec.get("preemptionPolicy"), ["Never", "PreemptLowerPriority"])
    errs.enum(f"{path}.os.name", (spec.get("os") or {}).get("name"), ["linux", "windows"])
    for i, alias in enumerate(spec.get("hostAliases") or []):
        errs.each(f"{path}.hostAliases[{i}].ip", alias.get("ip") or "", is_valid_ip(alias.get("ip") or ""))
    validate_resources(errs, spec.get("resources"), f"{path}.resources")

