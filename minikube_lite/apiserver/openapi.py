"""OpenAPI documents describing the served kinds, in the shapes kubectl downloads.

Why this exists: ``kubectl apply`` and ``kubectl create -f`` validate by default. Before sending
anything they download the server's OpenAPI (v3 at ``/openapi/v3`` for kubectl 1.29+, v2 at
``/openapi/v2`` for 1.27/1.28) and look for the PATCH operation of the object's kind (found by its
``x-kubernetes-group-version-kind`` extension). When that operation lists a ``fieldValidation``
query parameter, kubectl concludes the server validates, sends ``?fieldValidation=Strict`` and
does no client-side schema validation. Without any OpenAPI, apply fails outright.
``kubectl explain`` reads the kinds' schemas from the same documents.

Everything is generated from the register of kinds (``api/register.py``): for each kind its
collection paths (list, create, deletecollection), its item path (get, replace, patch, delete),
its subresource paths and a schema. Kinds with a hand-written description below (Pod, Service,
the Scale subresource) get a real schema; every other kind gets a permissive object schema that
still carries its group-version-kind, so registering a kind is enough.

How kubectl computes client-side apply patches matters here: it uses an OpenAPI schema only if
the v3 PATCH operation accepts ``application/strategic-merge-patch+json`` or, failing that, if a
v2 definition carries the kind's group-version-kind; otherwise it uses the Go types compiled into
it, which are exact for every built-in kind. Our schemas are abridged (a field missing from them
makes kubectl warn, and permissive ones would lose the lists' merge keys), so the v3 PATCH
operations do not advertise strategic merge patch and the v2 definitions carry no
group-version-kind: kubectl then computes patches from its own types. The v3 schemas carry the
group-version-kind, which is what ``kubectl explain`` (OpenAPI v3 based since kubectl 1.27) uses.

The v2 document is served as protobuf (gnostic's ``openapi.v2.Document`` message) because that is
what kubectl asks for and parses. The encoder here is a few dozen lines of hand-written protobuf
wire format (varints and length-delimited fields) for just the messages needed, rather than a
dependency on ``protobuf`` plus generated gnostic classes: the message set is small and fixed,
and it keeps the server free of a compiled dependency. Vendor extensions are ``NamedAny`` whose
``Any.yaml`` holds the value as JSON text (JSON is YAML).

All documents are computed once per register revision and cached (a kind registered at run
time changes them, as a CRD changes kube-apiserver's); the v3 root advertises each group
document at ``/openapi/v3/<path>?hash=<digest of the document>`` as Kubernetes does.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import struct
from collections.abc import Mapping
from typing import Any

from minikube_lite.api import register
from minikube_lite.api.mergekeys import OBJECT_META, PRIMITIVE, RETAIN_KEYS_LISTS, list_keys
from minikube_lite.api.resources import Resource

V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
V3_CONTENT_TYPE = "application/json"
V2_JSON_CONTENT_TYPE = "application/json"

API_VERSION = "v1.32.0"  # reported in info.version; informational only

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
V3_REF = "#/components/schemas/"
V2_REF = "#/definitions/"

GVK_EXT = "x-kubernetes-group-version-kind"
ACTION_EXT = "x-kubernetes-action"

PATCH_TYPES = [  # strategic merge patch deliberately left out, see the module docstring
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
]

Schema = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Schema building blocks (authored with v3 references; converted for v2)
# ---------------------------------------------------------------------------------------------


def _ref(name: str, description: str = "") -> Schema:
    out: Schema = {"allOf": [{"$ref": V3_REF + name}]}
    if description:
        out["description"] = description
    return out


def _str(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, **extra}


def _int(description: str, fmt: str = "int32") -> Schema:
    return {"type": "integer", "format": fmt, "description": description}


def _bool(description: str) -> Schema:
    return {"type": "boolean", "description": description}


def _time(description: str) -> Schema:
    return _ref(META + "Time", description)


def _str_map(description: str) -> Schema:
    return {"type": "object", "additionalProperties": {"type": "string", "default": ""},
            "description": description}


def _quantity_map(description: str) -> Schema:
    return {"type": "object", "additionalProperties": {"type": "string", "format": "quantity"},
            "description": description}


def _free(description: str) -> Schema:
    """An object whose inside is not described here."""
    return {"type": "object", "description": description, "x-kubernetes-preserve-unknown-fields": True}


def _str_list(description: str) -> Schema:
    return {"type": "array", "items": {"type": "string", "default": ""}, "description": description,
            "x-kubernetes-list-type": "atomic"}


def _list(items: Schema, description: str) -> Schema:
    """An array; atomic unless the kind declares a merge key for its path (``_annotate_lists``)."""
    return {"type": "array", "items": items, "description": description, "x-kubernetes-list-type": "atomic"}


def _annotate_lists(pool: dict[str, Schema], root: str, path: str, merge_keys: Mapping[str, str]) -> None:
    """Write the kind's merge keys (``Kind.merge_keys``, the register's) onto the arrays of the
    definitions reachable from ``root`` at dotted ``path``: patch merge key and strategy, and
    ``x-kubernetes-list-type`` map (keys ``mergekeys.list_keys``) or set. Definitions outside
    ``pool`` are left alone."""
    seen: set[tuple[str, str]] = set()

    def visit(node: Any, at: str) -> None:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if ref is None and len(node.get("allOf") or []) == 1:
            ref = node["allOf"][0].get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name in pool and (name, at) not in seen:
                seen.add((name, at))
                visit(pool[name], at)
        if node.get("type") == "array":
            mkey = merge_keys.get(at)
            if mkey == PRIMITIVE:
                node.update({"x-kubernetes-patch-strategy": "merge", "x-kubernetes-list-type": "set"})
            elif mkey is not None:
                last = at.rsplit(".", 1)[-1]
                strategy = "merge,retainKeys" if last in RETAIN_KEYS_LISTS else "merge"
                node.update({"x-kubernetes-patch-merge-key": mkey, "x-kubernetes-patch-strategy": strategy,
                             "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(list_keys(mkey))})
            visit(node.get("items"), at)
        for key, child in (node.get("properties") or {}).items():
            visit(child, f"{at}.{key}" if at else key)

    visit(pool[root], path)


def _object(description: str, properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    out: Schema = {"type": "object", "description": description, "properties": properties}
    if required:
        out["required"] = required
    return out


def _published(group: str, version: str, kind: str) -> Any:
    """The registered kind (``Kind``) that publishes its own schemas under this group-version-kind
    (a custom kind; its list kind too), or None."""
    api_version = f"{group}/{version}" if group else version
    for k in (kind, kind.removesuffix("List")):
        res = register.by_kind(api_version, k)
        if res is not None:
            declared = register.kind_for(res)
            if declared.openapi is not None and declared.definition_name:
                return declared
    return None


def _def_name(group: str, version: str, kind: str) -> str:
    """Kubernetes-style definition name, e.g. io.k8s.api.core.v1.Pod, io.k8s.api.apps.v1.Deployment;
    a custom kind's is its own (com.example.v1.Widget)."""
    custom = _published(group, version, kind)
    if custom is not None:
        base = custom.definition_name
        return base + "List" if kind != custom.resource.kind and kind.endswith("List") else base
    short = group.split(".")[0] if group else "core"
    return f"io.k8s.api.{short}.{version}.{kind}"


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _kind_header(description: str) -> dict[str, Schema]:
    return {
        "apiVersion": _str("Versioned schema of this object, e.g. v1 or apps/v1."),
        "kind": _str("The kind of object this is, in CamelCase, e.g. Pod."),
        "metadata": _ref(META + "ObjectMeta", description or "Standard object metadata."),
    }


def _meta_schemas() -> dict[str, Schema]:
    """Shared object-metadata, list-metadata and request/response schemas."""
    pool = _meta_pool()
    _annotate_lists(pool, META + "ObjectMeta", "metadata", OBJECT_META)
    return pool


def _meta_pool() -> dict[str, Schema]:
    return {
        META + "Time": {"type": "string", "format": "date-time",
                        "description": "A timestamp in RFC 3339 form, e.g. 2024-01-02T15:04:05Z."},
        META + "ObjectMeta": _object("Metadata every persisted object has.", {
            "name": _str("Unique name within the namespace (or cluster, for cluster-scoped kinds)."),
            "generateName": _str("Prefix for a server-generated name, used when name is empty."),
            "namespace": _str("The namespace the object lives in; empty for cluster-scoped kinds."),
            "uid": _str("Unique id assigned by the server when the object is created."),
            "resourceVersion": _str("Opaque version of the object, changed by every write; used for "
                                    "optimistic concurrency and watches."),
            "generation": _int("Sequence number of the desired state (spec); raised by the server.",
                               "int64"),
            "creationTimestamp": _time("When the object was created (set by the server)."),
            "deletionTimestamp": _time("When graceful deletion was requested (set by the server)."),
            "deletionGracePeriodSeconds": _int("Seconds allowed for graceful deletion.", "int64"),
            "labels": _str_map("Key/value pairs used to organise and select objects."),
            "annotations": _str_map("Arbitrary key/value metadata, not used for selection."),
            "ownerReferences": _list(_ref(META + "OwnerReference"),
                                     "Objects this one depends on; it is garbage collected with them."),
            "finalizers": {"type": "array", "items": {"type": "string", "default": ""},
                           "description": "Keys that must be removed before the object is deleted."},
            "managedFields": {"type": "array", "items": _free("One field manager's entry."),
                              "description": "Which manager owns which fields (server-side apply).",
                              "x-kubernetes-list-type": "atomic"},
        }),
        META + "OwnerReference": _object("Identifies an owning object.", {
            "apiVersion": _str("API version of the owner."),
            "kind": _str("Kind of the owner."),
            "name": _str("Name of the owner."),
            "uid": _str("UID of the owner."),
            "controller": _bool("Whether the owner is the managing controller."),
            "blockOwnerDeletion": _bool("Whether the owner waits for this object's deletion."),
        }, ["apiVersion", "kind", "name", "uid"]),
        META + "ListMeta": _object("Metadata of a list response.", {
            "resourceVersion": _str("Where a watch started from this list continues."),
            "continue": _str("Token for the next page when the list was limited."),
            "remainingItemCount": _int("Items left after this page, when known.", "int64"),
        }),
        META + "Status": _object("Result of an operation that returns no object, or an error.", {
            "apiVersion": _str("Versioned schema of this object."),
            "kind": _str("Always Status."),
            "metadata": _ref(META + "ListMeta", "Standard list metadata."),
            "status": _str("Success or Failure."),
            "message": _str("Human-readable description of the result."),
            "reason": _str("Machine-readable reason, e.g. NotFound, AlreadyExists, Invalid."),
            "details": _free("Extra data about the reason: name, kind, causes."),
            "code": _int("HTTP status code of the result."),
        }),
        META + "DeleteOptions": _object("Options for a delete request.", {
            "apiVersion": _str("Versioned schema of this object."),
            "kind": _str("Always DeleteOptions."),
            "gracePeriodSeconds": _int("Seconds before the object is deleted; 0 means now.", "int64"),
            "propagationPolicy": _str("Orphan, Background or Foreground garbage collection."),
            "dryRun": _str_list("When present, nothing is persisted. Only All is valid."),
            "preconditions": _free("uid and/or resourceVersion the object must still have."),
        }),
        # As kube-openapi publishes intstr.IntOrString: oneOf integer/string in v3, and (v2 has no
        # oneOf) type string with format int-or-string in v2 (_to_v2_schema).
        INT_OR_STRING: {"oneOf": [{"type": "integer"}, {"type": "string"}], "format": "int-or-string",
                         "description": "An integer or a string, e.g. 8080 or http."},
        META + "Patch": {"type": "object",
                         "description": "A patch body; its format is given by the Content-Type."},
    }


# ---------------------------------------------------------------------------------------------
# Described kinds. Keyed by (group, version, kind); any served kind missing here is permissive.
# ---------------------------------------------------------------------------------------------

CORE = "io.k8s.api.core.v1."


def _pod_schemas() -> dict[str, Schema]:
    container_props: dict[str, Schema] = {
        "name": _str("Name of the container, unique within the pod (DNS label)."),
        "image": _str("Container image reference, e.g. nginx:1.27."),
        "command": _str_list("Entrypoint; replaces the image's ENTRYPOINT. Not run in a shell."),
        "args": _str_list("Arguments to the entrypoint; replace the image's CMD."),
        "workingDir": _str("Working directory inside the container."),
        "ports": _list(_ref(CORE + "ContainerPort"), "Ports the container exposes (informational)."),
        "env": _list(_ref(CORE + "EnvVar"), "Environment variables set in the container."),
        "envFrom": _list(_free("A ConfigMap or Secret whose keys become variables."),
                         "Sources of environment variables."),
        "resources": _ref(CORE + "ResourceRequirements", "CPU and memory requests and limits."),
        "volumeMounts": _list(_ref(CORE + "VolumeMount"), "Pod volumes mounted into the container."),
        "volumeDevices": _list(_free("A block device."), "Block devices used by the container."),
        "livenessProbe": _ref(CORE + "Probe", "Restart the container when this check fails."),
        "readinessProbe": _ref(CORE + "Probe", "Remove the pod from service endpoints when this fails."),
        "startupProbe": _ref(CORE + "Probe", "Other probes wait until this one succeeds."),
        "lifecycle": _free("postStart and preStop hooks."),
        "terminationMessagePath": _str("File whose content becomes the termination message."),
        "terminationMessagePolicy": _str("File or FallbackToLogsOnError."),
        "imagePullPolicy": _str("Always, Never or IfNotPresent."),
        "securityContext": _free("Security options of the container (user, capabilities, ...)."),
        "restartPolicy": _str("Always makes an init container a sidecar."),
        "resizePolicy": _list(_free("A resource and its resize policy."), "How resources are resized."),
        "stdin": _bool("Keep a stdin buffer open for the container."),
        "stdinOnce": _bool("Close stdin after the first attach ends."),
        "tty": _bool("Allocate a TTY (needs stdin)."),
    }
    container = _object("A single application container run in a pod.", container_props, ["name"])
    probe = _object("A health check run against a container.", {
        "exec": _free("Run a command; exit status 0 is success."),
        "httpGet": _free("HTTP GET on path/port; a 2xx or 3xx status is success."),
        "tcpSocket": _free("Open a TCP connection to port."),
        "grpc": _free("gRPC health check on port."),
        "initialDelaySeconds": _int("Seconds after start before the first check."),
        "periodSeconds": _int("Seconds between checks (default 10)."),
        "timeoutSeconds": _int("Seconds before a check times out (default 1)."),
        "successThreshold": _int("Consecutive successes to count as healthy."),
        "failureThreshold": _int("Consecutive failures to count as failed."),
        "terminationGracePeriodSeconds": _int("Grace period when a failing probe kills.", "int64"),
    })
    spec = _object("Desired state of a pod.", {
        "containers": _list(_ref(CORE + "Container"), "Containers of the pod; at least one."),
        "initContainers": _list(_ref(CORE + "Container"), "Containers run to completion, in order, "
                                "before the application containers start."),
        "ephemeralContainers": _list(_free("A debugging container."), "Containers added for debugging."),
        "volumes": _list(_ref(CORE + "Volume"), "Volumes the containers can mount."),
        "restartPolicy": _str("Always, OnFailure or Never (default Always)."),
        "terminationGracePeriodSeconds": _int("Seconds between SIGTERM and SIGKILL on deletion.", "int64"),
        "activeDeadlineSeconds": _int("Seconds the pod may run before it is failed.", "int64"),
        "dnsPolicy": _str("ClusterFirst, Default, None or ClusterFirstWithHostNet."),
        "dnsConfig": _free("Extra DNS nameservers, searches and options."),
        "nodeSelector": _str_map("Labels a node must have to run the pod."),
        "nodeName": _str("Node the pod is bound to; set by the scheduler."),
        "serviceAccountName": _str("Service account the pod runs as."),
        "serviceAccount": _str("Deprecated alias of serviceAccountName."),
        "automountServiceAccountToken": _bool("Mount the service account token."),
        "hostNetwork": _bool("Use the node's network namespace."),
        "hostPID": _bool("Use the node's PID namespace."),
        "hostIPC": _bool("Use the node's IPC namespace."),
        "shareProcessNamespace": _bool("Share one PID namespace between the containers."),
        "securityContext": _free("Pod-wide security options."),
        "imagePullSecrets": _list(_free("A reference to a Secret by name."),
                                  "Secrets used to pull the images."),
        "hostname": _str("Hostname of the pod (default: its name)."),
        "subdomain": _str("Subdomain; the FQDN is hostname.subdomain.namespace.svc."),
        "affinity": _free("Node and pod (anti-)affinity rules."),
        "schedulerName": _str("Scheduler that places the pod."),
        "tolerations": _list(_free("A toleration of a node taint."), "Taints the pod tolerates."),
        "hostAliases": _list(_free("An ip and its hostnames."), "Extra /etc/hosts entries."),
        "priorityClassName": _str("Name of the pod's PriorityClass."),
        "priority": _int("Priority value, resolved from priorityClassName."),
        "readinessGates": _list(_free("A pod condition type."), "Extra conditions for readiness."),
        "runtimeClassName": _str("RuntimeClass used to run the pod."),
        "enableServiceLinks": _bool("Inject service environment variables (default true)."),
        "preemptionPolicy": _str("PreemptLowerPriority or Never."),
        "overhead": _quantity_map("Resources used by the pod sandbox."),
        "topologySpreadConstraints": _list(_free("A spread constraint."),
                                           "How pods spread across topology domains."),
        "setHostnameAsFQDN": _bool("Set the hostname to the FQDN."),
        "os": _free("Operating system of the containers."),
        "hostUsers": _bool("Use the host's user namespace (default true)."),
        "schedulingGates": _list(_free("A gate by name."), "Gates that block scheduling while present."),
        "resourceClaims": _list(_free("A claim by name."), "Dynamic resource claims."),
    }, ["containers"])
    status = _object("Observed state of a pod (written by the system).", {
        "phase": _str("Pending, Running, Succeeded, Failed or Unknown."),
        "conditions": _list(_free("A condition: type, status, reason, message, times."),
                            "Current service state of the pod."),
        "message": _str("Why the pod is in this state."),
        "reason": _str("Short CamelCase reason, e.g. Evicted."),
        "hostIP": _str("IP of the node the pod runs on."),
        "podIP": _str("IP of the pod."),
        "podIPs": _list(_free("An ip."), "IPs of the pod."),
        "startTime": _time("When the kubelet accepted the pod."),
        "containerStatuses": _list(_free("State, readiness and restarts of one container."),
                                   "Status of each application container."),
        "initContainerStatuses": _list(_free("State of one init container."),
                                       "Status of each init container."),
        "qosClass": _str("Guaranteed, Burstable or BestEffort."),
    })
    volume_props: dict[str, Schema] = {"name": _str("Name of the volume, referenced by volumeMounts.")}
    for source, text in [
        ("emptyDir", "A directory that lives as long as the pod."),
        ("hostPath", "A file or directory of the node."),
        ("configMap", "Keys of a ConfigMap as files."),
        ("secret", "Keys of a Secret as files."),
        ("persistentVolumeClaim", "A PersistentVolumeClaim in the same namespace."),
        ("projected", "Several sources projected into one directory."),
        ("downwardAPI", "Pod fields as files."),
        ("nfs", "An NFS export."),
    ]:
        volume_props[source] = _free(text)
    return {
        CORE + "Pod": _object("A group of containers scheduled together on one node.", {
            **_kind_header("Standard object metadata."),
            "spec": _ref(CORE + "PodSpec", "Desired behaviour of the pod."),
            "status": _ref(CORE + "PodStatus", "Most recently observed status of the pod."),
        }),
        CORE + "PodSpec": spec,
        CORE + "PodStatus": status,
        CORE + "Container": container,
        CORE + "ContainerPort": _object("A network port of a container.", {
            "name": _str("Optional IANA service name, referable by services."),
            "containerPort": _int("Port number on the pod's IP."),
            "protocol": _str("TCP (default), UDP or SCTP."),
            "hostPort": _int("Port on the node to map to, rarely needed."),
            "hostIP": _str("Node IP to bind the host port to."),
        }, ["containerPort"]),
        CORE + "EnvVar": _object("An environment variable.", {
            "name": _str("Name of the variable."),
            "value": _str("Value; $(VAR) references are expanded."),
            "valueFrom": _free("Take the value from a ConfigMap/Secret key or a pod field."),
        }, ["name"]),
        CORE + "VolumeMount": _object("Where a volume is mounted in a container.", {
            "name": _str("Name of the pod volume."),
            "mountPath": _str("Path inside the container."),
            "subPath": _str("Path inside the volume to mount instead of its root."),
            "subPathExpr": _str("Like subPath, with $(VAR) expansion."),
            "readOnly": _bool("Mount read-only."),
            "mountPropagation": _str("None, HostToContainer or Bidirectional."),
        }, ["name", "mountPath"]),
        CORE + "ResourceRequirements": _object("Compute resources of a container.", {
            "limits": _quantity_map("Maximum resources allowed, e.g. cpu: 500m, memory: 128Mi."),
            "requests": _quantity_map("Resources reserved for scheduling."),
        }),
        CORE + "Probe": probe,
        CORE + "Volume": _object("A named volume of a pod; exactly one source is set.", volume_props, ["name"]),
    }


def _service_schemas() -> dict[str, Schema]:
    return {
        CORE + "Service": _object("A stable virtual IP and DNS name in front of a set of pods.", {
            **_kind_header("Standard object metadata."),
            "spec": _ref(CORE + "ServiceSpec", "Desired behaviour of the service."),
            "status": _ref(CORE + "ServiceStatus", "Most recently observed status of the service."),
        }),
        CORE + "ServiceSpec": _object("Desired state of a service.", {
            "ports": _list(_ref(CORE + "ServicePort"), "Ports the service exposes."),
            "selector": _str_map("Pods with these labels receive the traffic."),
            "type": _str("ClusterIP (default), NodePort, LoadBalancer or ExternalName."),
            "clusterIP": _str("Virtual IP of the service; None makes it headless."),
            "clusterIPs": _str_list("Virtual IPs of the service (one per IP family)."),
            "externalIPs": _str_list("Extra IPs the service accepts traffic on."),
            "externalName": _str("DNS name returned for ExternalName services."),
            "sessionAffinity": _str("ClientIP or None."),
            "loadBalancerIP": _str("Requested load balancer IP (deprecated)."),
            "externalTrafficPolicy": _str("Cluster or Local."),
            "internalTrafficPolicy": _str("Cluster or Local."),
            "ipFamilies": _str_list("IPv4 and/or IPv6."),
            "ipFamilyPolicy": _str("SingleStack, PreferDualStack or RequireDualStack."),
            "publishNotReadyAddresses": _bool("Include unready pods in DNS."),
            "allocateLoadBalancerNodePorts": _bool("Allocate node ports for LoadBalancer services."),
        }),
        CORE + "ServicePort": _object("A port of a service.", {
            "name": _str("Name of the port; required when there are several."),
            "protocol": _str("TCP (default), UDP or SCTP."),
            "port": _int("Port the service listens on."),
            "targetPort": _ref(INT_OR_STRING, "Port number or name on the pods (default: port)."),
            "nodePort": _int("Port on every node, for NodePort and LoadBalancer services."),
            "appProtocol": _str("Application protocol hint."),
        }, ["port"]),
        CORE + "ServiceStatus": _object("Observed state of a service.", {
            "loadBalancer": _free("Ingress points of the load balancer."),
            "conditions": _list(_free("A condition."), "Current state of the service."),
        }),
    }


def _scale_schemas() -> dict[str, Schema]:
    name = "io.k8s.api.autoscaling.v1.Scale"
    return {
        name: _object("The scale subresource: desired and observed replica counts.", {
            **_kind_header("Standard object metadata."),
            "spec": _object("Desired replicas.", {"replicas": _int("Desired number of replicas.")}),
            "status": _object("Observed replicas.", {
                "replicas": _int("Observed number of replicas."),
                "selector": _str("Label selector of the pods, in string form."),
            }, ["replicas"]),
        }),
    }


# (group, version, kind) -> builder of {definition name: schema}; the kind's own schema must be
# named _def_name(group, version, kind).
DESCRIBED: dict[tuple[str, str, str], Any] = {
    ("", "v1", "Pod"): _pod_schemas,
    ("", "v1", "Service"): _service_schemas,
    ("autoscaling", "v1", "Scale"): _scale_schemas,
}


def _kind_schemas(group: str, version: str, kind: str) -> dict[str, Schema]:
    """The kind's schema (described or permissive), with its group-version-kind."""
    custom = _published(group, version, kind)
    if custom is not None:
        return custom.openapi()
    name = _def_name(group, version, kind)
    builder = DESCRIBED.get((group, version, kind))
    if builder is not None:
        schemas = builder()
        declared = register.kind_named(kind)
        if declared is not None:
            _annotate_lists(schemas, name, "", declared.merge_keys)
    else:
        schemas = {name: {
            "type": "object",
            "description": f"{kind} ({group + '/' if group else ''}{version}). Fields are not described "
                           "here; the server validates them.",
            "properties": _kind_header("Standard object metadata."),
            "x-kubernetes-preserve-unknown-fields": True,
        }}
    schemas[name] = {**schemas[name], GVK_EXT: [_gvk(group, version, kind)]}
    return schemas


def _list_schema(group: str, version: str, kind: str) -> Schema:
    custom = _published(group, version, kind)
    if custom is not None:
        return custom.openapi()[_def_name(group, version, kind + "List")]
    return {
        "type": "object",
        "description": f"A list of {kind} objects.",
        "properties": {
            "apiVersion": _str("Versioned schema of this object."),
            "kind": _str(f"Always {kind}List."),
            "metadata": _ref(META + "ListMeta", "Standard list metadata."),
            "items": {"type": "array", "items": _ref(_def_name(group, version, kind)),
                      "description": f"The {kind} objects."},
        },
        "required": ["items"],
        GVK_EXT: [_gvk(group, version, kind + "List")],
    }


# ---------------------------------------------------------------------------------------------
# Paths and operations (neutral form, rendered to v3 or v2)
# ---------------------------------------------------------------------------------------------
#
# An operation is described once as a dict: id, action, description, gvk (or None), params
# (list of (name, in, type, description)), body (schema name or None, plus the accepted
# content types), responses ({code: (schema name or None, description)}), produces.


def _param(name: str, where: str, typ: str, description: str) -> tuple[str, str, str, str]:
    return (name, where, typ, description)


P_PRETTY = _param("pretty", "query", "string", "If 'true', the output is pretty printed.")
P_DRYRUN = _param("dryRun", "query", "string", "When present (All), nothing is persisted.")
P_MANAGER = _param("fieldManager", "query", "string", "Name of the actor making the change.")
P_VALIDATION = _param("fieldValidation", "query", "string",
                      "How to treat unknown or duplicate fields in the body: Ignore, Warn or Strict "
                      "(a 422 error naming the field). The server validates.")
P_FORCE = _param("force", "query", "boolean", "Apply patches only: take over conflicting fields.")
P_GRACE = _param("gracePeriodSeconds", "query", "integer", "Seconds before deletion; 0 means now.")
P_PROPAGATION = _param("propagationPolicy", "query", "string", "Orphan, Background or Foreground.")
LIST_PARAMS = [
    _param("labelSelector", "query", "string", "Only objects whose labels match, e.g. app=web,tier!=db."),
    _param("fieldSelector", "query", "string", "Only objects whose fields match, e.g. metadata.name=web."),
    _param("limit", "query", "integer", "Maximum number of objects in one response."),
    _param("continue", "query", "string", "Token from a previous limited list."),
    _param("resourceVersion", "query", "string", "Version to list or watch from."),
    _param("timeoutSeconds", "query", "integer", "Time limit of a list or watch call."),
    _param("watch", "query", "boolean", "Stream changes as ADDED/MODIFIED/DELETED events."),
    _param("allowWatchBookmarks", "query", "boolean", "Ask for BOOKMARK events while watching."),
]


def _title(s: str) -> str:
    return s[:1].upper() + s[1:]


def _op_id(verb: str, r: Resource, namespaced: bool, suffix: str = "") -> str:
    group = _title(r.group.split(".")[0]) if r.group else "Core"
    ns = "Namespaced" if namespaced else ""
    return f"{verb}{group}{_title(r.version)}{ns}{r.kind}{suffix}"


def _operations(r: Resource) -> dict[str, dict[str, dict[str, Any]]]:
    """path -> method -> neutral operation, for one resource."""
    base = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
    coll = f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{base}/{r.plural}"
    item = coll + "/{name}"
    kind_def = _def_name(r.group, r.version, r.kind)
    list_def = _def_name(r.group, r.version, r.list_kind)
    gvk = _gvk(r.group, r.version, r.kind)
    ns_params = [_param("namespace", "path", "string", "Object name and auth scope.")] if r.namespaced else []
    name_param = [_param("name", "path", "string", f"Name of the {r.kind}.")]
    verbs = set(r.verbs)
    ok = {"200": (kind_def, "OK"), "401": (None, "Unauthorized")}
    paths: dict[str, dict[str, dict[str, Any]]] = {}

    def op(id_: str, action: str, desc: str, params: list, responses: dict, body: str | None = None,
           consumes: list[str] | None = None, op_gvk: dict[str, str] | None = gvk,
           produces: list[str] | None = None) -> dict[str, Any]:
        return {"id": id_, "action": action, "description": desc, "params": params, "responses": responses,
                "body": body, "consumes": consumes or ["*/*"], "gvk": op_gvk,
                "produces": produces or ["application/json", "application/yaml"]}

    write = [P_DRYRUN, P_MANAGER, P_VALIDATION]
    c: dict[str, dict[str, Any]] = {"parameters": ns_params + [P_PRETTY]}
    if "list" in verbs:
        c["get"] = op(_op_id("list", r, r.namespaced), "list", f"List or watch {r.kind} objects.",
                      LIST_PARAMS, {"200": (list_def, "OK"), "401": (None, "Unauthorized")},
                      produces=["application/json", "application/yaml", "application/json;stream=watch"])
    if "create" in verbs:
        c["post"] = op(_op_id("create", r, r.namespaced), "post", f"Create a {r.kind}.", write,
                       {"200": (kind_def, "OK"), "201": (kind_def, "Created"),
                        "202": (kind_def, "Accepted"), "401": (None, "Unauthorized")}, body=kind_def)
    if "deletecollection" in verbs:
        c["delete"] = op(_op_id("deletecollection", r, r.namespaced), "deletecollection",
                         f"Delete a collection of {r.kind} objects.",
                         LIST_PARAMS[:2] + [P_DRYRUN, P_GRACE, P_PROPAGATION],
                         {"200": (META + "Status", "OK"), "401": (None, "Unauthorized")},
                         body=META + "DeleteOptions")
    if len(c) > 1:
        paths[coll] = c
    if r.namespaced and "list" in verbs:
        paths[f"{base}/{r.plural}"] = {"parameters": [P_PRETTY], "get": op(
            _op_id("list", r, False, "ForAllNamespaces"), "list",
            f"List or watch {r.kind} objects of all namespaces.", LIST_PARAMS,
            {"200": (list_def, "OK"), "401": (None, "Unauthorized")},
            produces=["application/json", "application/yaml", "application/json;stream=watch"])}

    i: dict[str, dict[str, Any]] = {"parameters": name_param + ns_params + [P_PRETTY]}
    if "get" in verbs:
        i["get"] = op(_op_id("read", r, r.namespaced), "get", f"Read the named {r.kind}.", [], ok)
    if "update" in verbs:
        i["put"] = op(_op_id("replace", r, r.namespaced), "put", f"Replace the named {r.kind}.", write,
                      {**ok, "201": (kind_def, "Created")}, body=kind_def)
    if "patch" in verbs:
        i["patch"] = op(_op_id("patch", r, r.namespaced), "patch", f"Partially update the named {r.kind}.",
                        write + [P_FORCE], {**ok, "201": (kind_def, "Created")}, body=META + "Patch",
                        consumes=PATCH_TYPES)
    if "delete" in verbs:
        i["delete"] = op(_op_id("delete", r, r.namespaced), "delete", f"Delete the named {r.kind}.",
                         [P_DRYRUN, P_GRACE, P_PROPAGATION],
                         {"200": (kind_def, "OK"), "202": (kind_def, "Accepted"),
                          "401": (None, "Unauthorized")}, body=META + "DeleteOptions")
    if len(i) > 1:
        paths[item] = i

    for sub in r.subresources:
        sub_params = {"parameters": name_param + ns_params + [P_PRETTY]}
        if sub == "log":
            paths[f"{item}/log"] = {**sub_params, "get": op(
                _op_id("read", r, r.namespaced, "Log"), "get", f"Read the log of the named {r.kind}.",
                [_param("container", "query", "string", "Container to read; needed when several."),
                 _param("follow", "query", "boolean", "Stream the log as it grows."),
                 _param("previous", "query", "boolean", "Log of the previous, terminated instance."),
                 _param("tailLines", "query", "integer", "Only this many lines from the end."),
                 _param("sinceSeconds", "query", "integer", "Only lines newer than this many seconds."),
                 _param("timestamps", "query", "boolean", "Prefix each line with its timestamp.")],
                {"200": (None, "OK (text)"), "401": (None, "Unauthorized")}, op_gvk=None,
                produces=["text/plain", "application/json"])}
            continue
        if sub == "eviction":
            continue  # a POST-only subresource (policy/v1 Eviction), like bindings not described
        if sub in r.subresource_kinds:
            s_kind, s_group, s_version = r.subresource_kinds[sub]
        elif sub in ("status", "finalize"):
            s_kind, s_group, s_version = r.kind, r.group, r.version
        else:
            continue  # connect-style subresources (exec, attach, ...) and bindings are not described
        s_def = _def_name(s_group, s_version, s_kind)
        s_gvk = _gvk(s_group, s_version, s_kind)
        s_ok = {"200": (s_def, "OK"), "201": (s_def, "Created"), "401": (None, "Unauthorized")}
        suffix = _title(sub)
        ops: dict[str, dict[str, Any]] = {}
        if sub != "finalize":
            ops["get"] = op(_op_id("read", r, r.namespaced, suffix), "get",
                            f"Read the {sub} of the named {r.kind}.", [], s_ok, op_gvk=s_gvk)
            ops["patch"] = op(_op_id("patch", r, r.namespaced, suffix), "patch",
                              f"Partially update the {sub} of the named {r.kind}.", write + [P_FORCE], s_ok,
                              body=META + "Patch", consumes=PATCH_TYPES, op_gvk=s_gvk)
        ops["put"] = op(_op_id("replace", r, r.namespaced, suffix), "put",
                        f"Replace the {sub} of the named {r.kind}.", write, s_ok, body=s_def, op_gvk=s_gvk)
        paths[f"{item}/{sub}"] = {**sub_params, **ops}
    return paths


def _gv_path(r: Resource) -> str:
    return f"apis/{r.group}/{r.version}" if r.group else f"api/{r.version}"


def _defined_kinds(resources: list[Resource]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for r in resources:
        kinds = [(r.group, r.version, r.kind)]
        kinds += [(g, v, k) for k, g, v in (r.subresource_kinds[s] for s in r.subresources
                                            if s in r.subresource_kinds)]
        for k in kinds:
            if k not in out:
                out.append(k)
    return out


def _schemas_for(resources: list[Resource]) -> dict[str, Schema]:
    """Every schema the resources' operations refer to, transitively."""
    pool = _meta_schemas()
    roots = [META + "Status", META + "DeleteOptions", META + "Patch"]
    for group, version, kind in _defined_kinds(resources):
        pool.update(_kind_schemas(group, version, kind))
        roots.append(_def_name(group, version, kind))
    for r in resources:
        pool[_def_name(r.group, r.version, r.list_kind)] = _list_schema(r.group, r.version, r.kind)
        roots.append(_def_name(r.group, r.version, r.list_kind))
    out: dict[str, Schema] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out[name] = pool[name]
        todo.extend(_refs(pool[name]))
    return dict(sorted(out.items()))


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.append(v.rsplit("/", 1)[-1])
            else:
                found.extend(_refs(v))
    elif isinstance(node, list):
        for v in node:
            found.extend(_refs(v))
    return found


# ---------------------------------------------------------------------------------------------
# OpenAPI v3
# ---------------------------------------------------------------------------------------------


def _v3_param(p: tuple[str, str, str, str]) -> dict[str, Any]:
    name, where, typ, desc = p
    out: dict[str, Any] = {"name": name, "in": where, "description": desc, "schema": {"type": typ}}
    if where == "path":
        out["required"] = True
    else:
        out["schema"]["uniqueItems"] = True
    return out


def _v3_operation(o: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": o["description"], "operationId": o["id"],
                           "parameters": [_v3_param(p) for p in o["params"]]}
    if o["body"]:
        body_schema = {"$ref": V3_REF + o["body"]}
        types = o["consumes"] if o["consumes"] != ["*/*"] else ["*/*"]
        out["requestBody"] = {"content": {t: {"schema": body_schema} for t in types},
                              "required": o["action"] != "delete" and o["action"] != "deletecollection"}
    responses: dict[str, Any] = {}
    for code, (schema, desc) in o["responses"].items():
        resp: dict[str, Any] = {"description": desc}
        if schema:
            resp["content"] = {t: {"schema": {"$ref": V3_REF + schema}} for t in o["produces"]}
        elif code == "200":
            resp["content"] = {t: {"schema": {"type": "string"}} for t in o["produces"]}
        responses[code] = resp
    out["responses"] = responses
    out[ACTION_EXT] = o["action"]
    if o["gvk"]:
        out[GVK_EXT] = o["gvk"]
    return out


def _v3_path_item(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method, o in item.items():
        if method == "parameters":
            out["parameters"] = [_v3_param(p) for p in o]
        else:
            out[method] = _v3_operation(o)
    return out


def _digest(doc: Any) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()


def _v3_documents() -> dict[str, tuple[dict[str, Any], str]]:
    """group-version path ("api/v1", "apis/apps/v1") -> (document, hash)."""
    return _v3_documents_at(register.revision())


@functools.lru_cache(maxsize=2)
def _v3_documents_at(revision: int) -> dict[str, tuple[dict[str, Any], str]]:
    by_gv: dict[str, list[Resource]] = {}
    for r in register.resources():
        by_gv.setdefault(_gv_path(r), []).append(r)
    docs: dict[str, tuple[dict[str, Any], str]] = {}
    for gv, resources in by_gv.items():
        paths: dict[str, Any] = {}
        for r in resources:
            for path, item in _operations(r).items():
                paths[path] = _v3_path_item(item)
        doc = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": API_VERSION},
            "paths": paths,
            "components": {"schemas": copy.deepcopy(_schemas_for(resources))},
        }
        docs[gv] = (doc, _digest(doc))
    return docs


def v3_root() -> dict[str, Any]:
    """The ``GET /openapi/v3`` discovery document: each group-version's document URL with its hash."""
    return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={h}"}
                      for gv, (_, h) in _v3_documents().items()}}


def _normalize_gv(path: str) -> str:
    path = path.split("?", 1)[0].strip("/")
    path = path.removeprefix("openapi/v3/")
    return path


def v3_group(path: str) -> dict[str, Any] | None:
    """The OpenAPI 3 document of one group-version ("api/v1", "/openapi/v3/apis/apps/v1"); None if unknown.

    Callers must not modify the returned document (it is cached).
    """
    found = _v3_documents().get(_normalize_gv(path))
    return found[0] if found else None


def v3_group_bytes(path: str) -> bytes | None:
    """``v3_group`` serialized once (the documents are large; avoid re-encoding on every request)."""
    return _v3_group_bytes(_normalize_gv(path), register.revision())


@functools.lru_cache(maxsize=256)
def _v3_group_bytes(gv: str, revision: int) -> bytes | None:
    found = _v3_documents().get(gv)
    return None if found is None else json.dumps(found[0], separators=(",", ":")).encode()


def v3_hash(path: str) -> str | None:
    """The hash advertised for a group-version document (useful for ETag / Cache-Control)."""
    found = _v3_documents().get(_normalize_gv(path))
    return found[1] if found else None


# ---------------------------------------------------------------------------------------------
# OpenAPI v2 (Swagger 2.0)
# ---------------------------------------------------------------------------------------------


def _to_v2_schema(node: Any) -> Any:
    """Rewrite a v3 schema for v2: #/definitions/ references, single allOf flattened."""
    if isinstance(node, list):
        return [_to_v2_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    if "allOf" in node and len(node["allOf"]) == 1 and set(node["allOf"][0]) == {"$ref"}:
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return {"$ref": V2_REF + node["allOf"][0]["$ref"].rsplit("/", 1)[-1], **_to_v2_schema(rest)}
    out: dict[str, Any] = {}
    if node.get("format") == "int-or-string" and "oneOf" in node:
        node = {"type": "string", **{k: v for k, v in node.items() if k != "oneOf"}}
    for k, v in node.items():
        if k == "$ref":
            out[k] = V2_REF + v.rsplit("/", 1)[-1]
        elif k in ("x-kubernetes-preserve-unknown-fields", GVK_EXT):
            continue  # v3-only; the group-version-kind is dropped on purpose (module docstring)
        elif k == "properties":
            out[k] = {name: _to_v2_schema(s) for name, s in v.items()}
        else:
            out[k] = _to_v2_schema(v)
    return out


def _v2_param(p: tuple[str, str, str, str]) -> dict[str, Any]:
    name, where, typ, desc = p
    out: dict[str, Any] = {"name": name, "in": where, "description": desc, "type": typ}
    if where == "path":
        out["required"] = True
    else:
        out["uniqueItems"] = True
    return out


def _v2_operation(o: dict[str, Any]) -> dict[str, Any]:
    params = [_v2_param(p) for p in o["params"]]
    if o["body"]:
        params.insert(0, {"name": "body", "in": "body",
                          "required": o["action"] not in ("delete", "deletecollection"),
                          "schema": {"$ref": V2_REF + o["body"]}})
    out: dict[str, Any] = {"description": o["description"], "consumes": o["consumes"],
                           "produces": o["produces"], "schemes": ["https"], "operationId": o["id"],
                           "parameters": params}
    responses: dict[str, Any] = {}
    for code, (schema, desc) in o["responses"].items():
        resp: dict[str, Any] = {"description": desc}
        if schema:
            resp["schema"] = {"$ref": V2_REF + schema}
        elif code == "200":
            resp["schema"] = {"type": "string"}
        responses[code] = resp
    out["responses"] = responses
    out[ACTION_EXT] = o["action"]
    if o["gvk"]:
        out[GVK_EXT] = o["gvk"]
    return out


def _v2_document() -> dict[str, Any]:
    return _v2_document_at(register.revision())


@functools.lru_cache(maxsize=2)
def _v2_document_at(revision: int) -> dict[str, Any]:
    resources = register.resources()
    paths: dict[str, Any] = {}
    for r in resources:
        for path, item in _operations(r).items():
            paths[path] = {m: ([_v2_param(p) for p in o] if m == "parameters" else _v2_operation(o))
                           for m, o in item.items()}
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": API_VERSION},
        "paths": paths,
        "definitions": {name: _to_v2_schema(s) for name, s in _schemas_for(resources).items()},
    }


def v2_json() -> dict[str, Any]:
    """The Swagger 2.0 document as JSON (``GET /openapi/v2`` with ``Accept: application/json``).

    Callers must not modify the returned document (it is cached).
    """
    return _v2_document()


def v2_json_bytes() -> bytes:
    """``v2_json`` serialized once (per register revision)."""
    return _v2_json_bytes(register.revision())


@functools.lru_cache(maxsize=2)
def _v2_json_bytes(revision: int) -> bytes:
    return json.dumps(_v2_document(), separators=(",", ":")).encode()


def v2_wants_protobuf(accept: str | None) -> bool:
    """Whether a ``GET /openapi/v2`` Accept header asks for protobuf.

    kubectl 1.27/1.28 send ``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` (with an
    ``@``) but want the reply labelled ``V2_PROTOBUF_CONTENT_TYPE`` (with a dot).
    """
    return bool(accept) and "protobuf" in accept and "proto-openapi" in accept


def v2_protobuf() -> bytes:
    """The Swagger 2.0 document as a serialized gnostic ``openapi.v2.Document``."""
    return _v2_protobuf(register.revision())


@functools.lru_cache(maxsize=2)
def _v2_protobuf(revision: int) -> bytes:
    return _enc_document(_v2_document())


# ---------------------------------------------------------------------------------------------
# Protobuf wire format, for gnostic's openapi.v2 messages (github.com/google/gnostic-models,
# openapiv2/OpenAPIv2.proto). Field numbers below are those of that .proto.
# ---------------------------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _bytes(field: int, data: bytes) -> bytes:
    """A length-delimited field (wire type 2): strings, bytes and embedded messages."""
    return _key(field, 2) + _varint(len(data)) + data


def _s(field: int, value: str | None) -> bytes:
    return _bytes(field, value.encode()) if value else b""


def _ss(field: int, values: list[str] | None) -> bytes:
    return b"".join(_bytes(field, v.encode()) for v in values or [])


def _b(field: int, value: bool | None) -> bytes:
    return _key(field, 0) + b"\x01" if value else b""


def _i(field: int, value: int | None) -> bytes:
    return _key(field, 0) + _varint(int(value)) if value else b""


def _d(field: int, value: float | None) -> bytes:
    return _key(field, 1) + struct.pack("<d", float(value)) if value else b""


def _m(field: int, data: bytes) -> bytes:
    return _bytes(field, data)


def _enc_any(value: Any) -> bytes:
    # Any { google.protobuf.Any value = 1; string yaml = 2; } -- JSON text is valid YAML.
    return _s(2, json.dumps(value, separators=(",", ":")))


def _enc_named_any(name: str, value: Any) -> bytes:
    # NamedAny { string name = 1; Any value = 2; }
    return _s(1, name) + _m(2, _enc_any(value))


def _enc_extensions(field: int, obj: dict[str, Any]) -> bytes:
    return b"".join(_m(field, _enc_named_any(k, v)) for k, v in obj.items() if k.startswith("x-"))


def _enc_schema(s: dict[str, Any]) -> bytes:
    out = _s(1, s.get("$ref")) + _s(2, s.get("format")) + _s(3, s.get("title")) + _s(4, s.get("description"))
    if "default" in s:
        out += _m(5, _enc_any(s["default"]))
    out += _d(7, s.get("maximum")) + _d(9, s.get("minimum"))
    out += _i(11, s.get("maxLength")) + _i(12, s.get("minLength")) + _s(13, s.get("pattern"))
    out += _i(14, s.get("maxItems")) + _i(15, s.get("minItems")) + _b(16, s.get("uniqueItems"))
    out += _ss(19, s.get("required"))
    out += b"".join(_m(20, _enc_any(v)) for v in s.get("enum", []))
    if "additionalProperties" in s:
        ap = s["additionalProperties"]
        # AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2; } }
        item = (_key(2, 0) + (b"\x01" if ap else b"\x00")) if isinstance(ap, bool) else _m(1, _enc_schema(ap))
        out += _m(21, item)
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        out += _m(22, _ss(1, types))  # TypeItem { repeated string value = 1; }
    if "items" in s:
        items = s["items"] if isinstance(s["items"], list) else [s["items"]]
        out += _m(23, b"".join(_m(1, _enc_schema(x)) for x in items))  # ItemsItem { repeated Schema schema = 1; }
    out += b"".join(_m(24, _enc_schema(x)) for x in s.get("allOf", []))
    if "properties" in s:
        # Properties { repeated NamedSchema additional_properties = 1; }, NamedSchema { name = 1; value = 2; }
        props = b"".join(_m(1, _s(1, name) + _m(2, _enc_schema(sub))) for name, sub in s["properties"].items())
        out += _m(25, props)
    out += _b(27, s.get("readOnly"))
    if "example" in s:
        out += _m(30, _enc_any(s["example"]))
    return out + _enc_extensions(31, s)


def _enc_parameter(p: dict[str, Any]) -> bytes:
    """ParametersItem { Parameter parameter = 1; } wrapping Parameter's oneof."""
    if p["in"] == "body":
        # BodyParameter { description 1; name 2; in 3; required 4; Schema schema 5; }
        body = _s(1, p.get("description")) + _s(2, p["name"]) + _s(3, "body") + _b(4, p.get("required"))
        body += _m(5, _enc_schema(p["schema"]))
        param = _m(1, body)  # Parameter.body_parameter = 1
    else:
        # Header (1), FormData (2), Query (3) and Path (4) sub-schemas share required 1, in 2,
        # description 3, name 4; then type/format are 5/6 (header, path) or 6/7 (form data, query).
        sub_field = {"header": 1, "formData": 2, "query": 3, "path": 4}[p["in"]]
        type_field = 6 if sub_field in (2, 3) else 5
        sub = _b(1, p.get("required")) + _s(2, p["in"]) + _s(3, p.get("description")) + _s(4, p["name"])
        sub += _s(type_field, p.get("type")) + _s(type_field + 1, p.get("format"))
        unique_field = {1: 19, 2: 20, 3: 20, 4: 19}[sub_field]
        sub += _b(unique_field, p.get("uniqueItems"))
        param = _m(2, _m(sub_field, sub))  # Parameter.non_body_parameter = 2
    return _m(1, param)


def _enc_operation(o: dict[str, Any]) -> bytes:
    # Operation { tags 1; summary 2; description 3; operation_id 5; produces 6; consumes 7;
    #             parameters 8; Responses responses 9; schemes 10; deprecated 11; vendor_extension 13 }
    out = _ss(1, o.get("tags")) + _s(2, o.get("summary")) + _s(3, o.get("description"))
    out += _s(5, o.get("operationId")) + _ss(6, o.get("produces")) + _ss(7, o.get("consumes"))
    out += b"".join(_m(8, _enc_parameter(p)) for p in o.get("parameters", []))
    codes = b""
    for code, resp in o.get("responses", {}).items():
        # Response { description 1; SchemaItem schema 2; }, SchemaItem { Schema schema = 1; }
        r = _s(1, resp.get("description"))
        if "schema" in resp:
            r += _m(2, _m(1, _enc_schema(resp["schema"])))
        # NamedResponseValue { name 1; ResponseValue value 2 }, ResponseValue { Response response = 1; }
        codes += _m(1, _s(1, code) + _m(2, _m(1, r)))
    out += _m(9, codes)  # Responses { repeated NamedResponseValue response_code = 1; }
    out += _ss(10, o.get("schemes")) + _b(11, o.get("deprecated"))
    return out + _enc_extensions(13, o)


_METHOD_FIELDS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _enc_path_item(item: dict[str, Any]) -> bytes:
    # PathItem { _ref 1; get 2; put 3; post 4; delete 5; options 6; head 7; patch 8; parameters 9; ext 10 }
    out = b""
    for method, field in _METHOD_FIELDS.items():
        if method in item:
            out += _m(field, _enc_operation(item[method]))
    out += b"".join(_m(9, _enc_parameter(p)) for p in item.get("parameters", []))
    return out + _enc_extensions(10, item)


def _enc_document(doc: dict[str, Any]) -> bytes:
    # Document { swagger 1; Info info 2; host 3; base_path 4; schemes 5; consumes 6; produces 7;
    #            Paths paths 8; Definitions definitions 9; ...; vendor_extension 16 }
    out = _s(1, doc["swagger"])
    info = doc.get("info", {})
    out += _m(2, _s(1, info.get("title")) + _s(2, info.get("version")) + _s(3, info.get("description")))
    out += _ss(5, doc.get("schemes")) + _ss(6, doc.get("consumes")) + _ss(7, doc.get("produces"))
    # Paths { vendor_extension 1; repeated NamedPathItem path = 2; }, NamedPathItem { name 1; value 2 }
    out += _m(8, b"".join(_m(2, _s(1, path) + _m(2, _enc_path_item(item)))
                          for path, item in doc.get("paths", {}).items()))
    # Definitions { repeated NamedSchema additional_properties = 1; }
    out += _m(9, b"".join(_m(1, _s(1, name) + _m(2, _enc_schema(s)))
                          for name, s in doc.get("definitions", {}).items()))
    return out + _enc_extensions(16, doc)
