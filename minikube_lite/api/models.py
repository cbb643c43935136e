"""Pydantic models of the core/v1 kinds this API server serves: Namespace, Node, Pod, Service, Event.

They exist to *check the shape* of a manifest the way Kubernetes' strict JSON decoder does:
every field Kubernetes knows is declared (so nothing real Kubernetes accepts is refused), any
other key is an unknown field (``extra="forbid"``), and scalars are strict (a string is never
turned into an int, ``replicas: "three"`` and ``image: 5`` are type errors). The semantic rules
(names, ports, enums, immutability) live in each kind's module (``pods.py``, ``services.py``,
``core.py``), which also names its model on its ``Kind``; the objects themselves stay plain
dicts everywhere in the project, these classes are never stored.

Attribute names are written exactly as the JSON keys (camelCase), so a pydantic error location
is already the Kubernetes field path. Rarely used deep structures (affinity, exotic volume
sources, topology spread constraints) are typed ``dict[str, Any]``: their content is accepted
as is.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator
from pydantic_core import PydanticCustomError

from minikube_lite.api.intrange import Int64
from minikube_lite.api.quantity import QUANTITY_RE

# --- scalar types ---------------------------------------------------------------------------

QUANTITY_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _int_or_string(value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PydanticCustomError("int_or_string_type", "must be an integer or a string")
    return value


def _quantity(value: Any) -> int | float | str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PydanticCustomError("quantity_type", QUANTITY_MESSAGE)
    if isinstance(value, str) and not QUANTITY_RE.match(value):
        raise PydanticCustomError("quantity_format", QUANTITY_MESSAGE)
    return value


def _time(value: Any) -> Any:
    if isinstance(value, datetime):
        return value  # YAML loaders turn unquoted timestamps into datetimes; they are well formed
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    if not _TIME_RE.match(value):
        raise PydanticCustomError("time_format", 'must be a RFC 3339 time such as "2006-01-02T15:04:05Z"')
    return value


IntOrString = Annotated[Any, PlainValidator(_int_or_string)]
Quantity = Annotated[Any, PlainValidator(_quantity)]
Time = Annotated[Any, PlainValidator(_time)]
Loose = dict[str, Any]
StrMap = dict[str, str]
ResourceList = dict[str, Quantity]


class K8sModel(BaseModel):
    """Base of every model: unknown keys are errors, scalars are never coerced.

    ``defer_build``: pydantic compiles a model's validator on first use instead of at import, so
    the daemon answers ``/readyz`` without paying for every kind's schema up front (start must
    take well under a second); ``warm_up()`` compiles them right after start.
    """

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


# --- meta/v1 ---------------------------------------------------------------------------------

class OwnerReference(K8sModel):
    """Identifies an owning object."""

    __openapi_name__ = "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference"
    __openapi_required__ = ("apiVersion", "kind", "name", "uid")
    apiVersion: str | None = None
    """API version of the owner."""
    kind: str | None = None
    """Kind of the owner."""
    name: str | None = None
    """Name of the owner."""
    uid: str | None = None
    """UID of the owner."""
    controller: bool | None = None
    """Whether the owner is the managing controller."""
    blockOwnerDeletion: bool | None = None
    """Whether the owner waits for this object's deletion."""


class ManagedFieldsEntry(K8sModel):
    __openapi_name__ = "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry"
    manager: str | None = None
    operation: str | None = None
    apiVersion: str | None = None
    time: Time | None = None
    fieldsType: str | None = None
    fieldsV1: Loose | None = None
    subresource: str | None = None


class ObjectMeta(K8sModel):
    """Metadata every persisted object has."""

    __openapi_name__ = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    name: str | None = None
    """Unique name within the namespace (or cluster, for cluster-scoped kinds)."""
    generateName: str | None = None
    """Prefix for a server-generated name, used when name is empty."""
    namespace: str | None = None
    """The namespace the object lives in; empty for cluster-scoped kinds."""
    selfLink: str | None = None
    uid: str | None = None
    """Unique id assigned by the server when the object is created."""
    resourceVersion: str | None = None
    """Opaque version of the object, changed by every write; used for optimistic concurrency and watches."""
    generation: Int64 | None = None
    """Sequence number of the desired state (spec); raised by the server."""
    creationTimestamp: Time | None = None
    """When the object was created (set by the server)."""
    deletionTimestamp: Time | None = None
    """When graceful deletion was requested (set by the server)."""
    deletionGracePeriodSeconds: Int64 | None = None
    """Seconds allowed for graceful deletion."""
    labels: StrMap | None = None
    """Key/value pairs used to organise and select objects."""
    annotations: StrMap | None = None
    """Arbitrary key/value metadata, not used for selection."""
    ownerReferences: list[OwnerReference] | None = None
    """Objects this one depends on; it is garbage collected with them."""
    finalizers: list[str] | None = None
    """Keys that must be removed before the object is deleted."""
    managedFields: list[ManagedFieldsEntry] | None = None
    """Which manager owns which fields (server-side apply)."""


class Condition(K8sModel):
    """metav1.Condition (used by Service status)."""

    __openapi_name__ = "io.k8s.apimachinery.pkg.apis.meta.v1.Condition"
    type: str | None = None
    status: str | None = None
    observedGeneration: Int64 | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class TypedObject(K8sModel):
    apiVersion: str | None = None
    """APIVersion defines the versioned schema of this representation of an object, e.g. v1 or apps/v1."""
    kind: str | None = None
    """Kind is a string value representing the REST resource this object represents, in CamelCase."""
    metadata: ObjectMeta | None = None
    """Standard object's metadata."""


class ObjectReference(K8sModel):
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    apiVersion: str | None = None
    resourceVersion: str | None = None
    fieldPath: str | None = None


class LocalObjectReference(K8sModel):
    name: str | None = None


# --- containers --------------------------------------------------------------------------------

class ContainerPort(K8sModel):
    """A network port of a container."""

    __openapi_required__ = ("containerPort",)
    name: str | None = None
    """Optional IANA service name, referable by services."""
    hostPort: int | None = None
    """Port on the node to map to, rarely needed."""
    containerPort: int | None = None
    """Port number on the pod's IP."""
    protocol: str | None = None
    """TCP (default), UDP or SCTP."""
    hostIP: str | None = None
    """Node IP to bind the host port to."""


class KeySelector(K8sModel):
    """ConfigMapKeySelector / SecretKeySelector."""

    __openapi_name__ = "io.k8s.api.core.v1.ConfigMapKeySelector"
    name: str | None = None
    key: str | None = None
    optional: bool | None = None


class ObjectFieldSelector(K8sModel):
    apiVersion: str | None = None
    fieldPath: str | None = None


class ResourceFieldSelector(K8sModel):
    containerName: str | None = None
    resource: str | None = None
    divisor: Quantity | None = None


class FileKeySelector(K8sModel):
    volumeName: str | None = None
    path: str | None = None
    key: str | None = None
    optional: bool | None = None


class EnvVarSource(K8sModel):
    fieldRef: ObjectFieldSelector | None = None
    resourceFieldRef: ResourceFieldSelector | None = None
    configMapKeyRef: KeySelector | None = None
    secretKeyRef: KeySelector | None = None
    fileKeyRef: FileKeySelector | None = None


class EnvVar(K8sModel):
    """An environment variable."""

    __openapi_required__ = ("name",)
    name: str | None = None
    """Name of the variable."""
    value: str | None = None
    """Value; $(VAR) references are expanded."""
    valueFrom: EnvVarSource | None = None
    """Take the value from a ConfigMap/Secret key or a pod field."""


class EnvRefSource(K8sModel):
    __openapi_name__ = "io.k8s.api.core.v1.ConfigMapEnvSource"
    name: str | None = None
    optional: bool | None = None


class EnvFromSource(K8sModel):
    prefix: str | None = None
    configMapRef: EnvRefSource | None = None
    secretRef: EnvRefSource | None = None


class ResourceClaim(K8sModel):
    name: str | None = None
    request: str | None = None


class ResourceRequirements(K8sModel):
    """Compute resources of a container."""

    limits: ResourceList | None = None
    """Maximum resources allowed, e.g. cpu: 500m, memory: 128Mi."""
    requests: ResourceList | None = None
    """Resources reserved for scheduling."""
    claims: list[ResourceClaim] | None = None


class ContainerResizePolicy(K8sModel):
    resourceName: str | None = None
    restartPolicy: str | None = None


class VolumeMount(K8sModel):
    """Where a volume is mounted in a container."""

    __openapi_required__ = ("name", "mountPath")
    name: str | None = None
    """Name of the pod volume."""
    readOnly: bool | None = None
    """Mount read-only."""
    recursiveReadOnly: str | None = None
    mountPath: str | None = None
    """Path inside the container."""
    subPath: str | None = None
    """Path inside the volume to mount instead of its root."""
    mountPropagation: str | None = None
    """None, HostToContainer or Bidirectional."""
    subPathExpr: str | None = None
    """Like subPath, with $(VAR) expansion."""


class VolumeDevice(K8sModel):
    name: str | None = None
    devicePath: str | None = None


class ExecAction(K8sModel):
    command: list[str] | None = None


class HTTPHeader(K8sModel):
    name: str | None = None
    value: str | None = None


class HTTPGetAction(K8sModel):
    path: str | None = None
    port: IntOrString | None = None
    host: str | None = None
    scheme: str | None = None
    httpHeaders: list[HTTPHeader] | None = None


class TCPSocketAction(K8sModel):
    port: IntOrString | None = None
    host: str | None = None


class GRPCAction(K8sModel):
    port: int | None = None
    service: str | None = None


class SleepAction(K8sModel):
    seconds: Int64 | None = None


class Probe(K8sModel):
    """A health check run against a container."""

    exec: ExecAction | None = None
    """Run a command; exit status 0 is success."""
    httpGet: HTTPGetAction | None = None
    """HTTP GET on path/port; a 2xx or 3xx status is success."""
    tcpSocket: TCPSocketAction | None = None
    """Open a TCP connection to port."""
    grpc: GRPCAction | None = None
    """gRPC health check on port."""
    initialDelaySeconds: int | None = None
    """Seconds after start before the first check."""
    timeoutSeconds: int | None = None
    """Seconds before a check times out (default 1)."""
    periodSeconds: int | None = None
    """Seconds between checks (default 10)."""
    successThreshold: int | None = None
    """Consecutive successes to count as healthy."""
    failureThreshold: int | None = None
    """Consecutive failures to count as failed."""
    terminationGracePeriodSeconds: Int64 | None = None
    """Grace period when a failing probe kills."""


class LifecycleHandler(K8sModel):
    exec: ExecAction | None = None
    httpGet: HTTPGetAction | None = None
    tcpSocket: TCPSocketAction | None = None
    sleep: SleepAction | None = None


class Lifecycle(K8sModel):
    postStart: LifecycleHandler | None = None
    preStop: LifecycleHandler | None = None
    stopSignal: str | None = None


class Capabilities(K8sModel):
    add: list[str] | None = None
    drop: list[str] | None = None


class SecurityContext(K8sModel):
    capabilities: Capabilities | None = None
    privileged: bool | None = None
    seLinuxOptions: Loose | None = None
    windowsOptions: Loose | None = None
    runAsUser: Int64 | None = None
    runAsGroup: Int64 | None = None
    runAsNonRoot: bool | None = None
    readOnlyRootFilesystem: bool | None = None
    allowPrivilegeEscalation: bool | None = None
    procMount: str | None = None
    seccompProfile: Loose | None = None
    appArmorProfile: Loose | None = None


class Container(K8sModel):
    """A single application container run in a pod."""

    __openapi_required__ = ("name",)
    name: str | None = None
    """Name of the container, unique within the pod (DNS label)."""
    image: str | None = None
    """Container image reference, e.g. nginx:1.27."""
    command: list[str] | None = None
    """Entrypoint; replaces the image's ENTRYPOINT. Not run in a shell."""
    args: list[str] | None = None
    """Arguments to the entrypoint; replace the image's CMD."""
    workingDir: str | None = None
    """Working directory inside the container."""
    ports: list[ContainerPort] | None = None
    """Ports the container exposes (informational)."""
    envFrom: list[EnvFromSource] | None = None
    """Sources of environment variables."""
    env: list[EnvVar] | None = None
    """Environment variables set in the container."""
    resources: ResourceRequirements | None = None
    """CPU and memory requests and limits."""
    resizePolicy: list[ContainerResizePolicy] | None = None
    """How resources are resized."""
    restartPolicy: str | None = None
    """Always makes an init container a sidecar."""
    restartPolicyRules: list[Loose] | None = None
    volumeMounts: list[VolumeMount] | None = None
    """Pod volumes mounted into the container."""
    volumeDevices: list[VolumeDevice] | None = None
    """Block devices used by the container."""
    livenessProbe: Probe | None = None
    """Restart the container when this check fails."""
    readinessProbe: Probe | None = None
    """Remove the pod from service endpoints when this fails."""
    startupProbe: Probe | None = None
    """Other probes wait until this one succeeds."""
    lifecycle: Lifecycle | None = None
    """postStart and preStop hooks."""
    terminationMessagePath: str | None = None
    """File whose content becomes the termination message."""
    terminationMessagePolicy: str | None = None
    """File or FallbackToLogsOnError."""
    imagePullPolicy: str | None = None
    """Always, Never or IfNotPresent."""
    securityContext: SecurityContext | None = None
    """Security options of the container (user, capabilities, ...)."""
    stdin: bool | None = None
    """Keep a stdin buffer open for the container."""
    stdinOnce: bool | None = None
    """Close stdin after the first attach ends."""
    tty: bool | None = None
    """Allocate a TTY (needs stdin)."""


class EphemeralContainer(Container):
    targetContainerName: str | None = None


# --- volumes ---------------------------------------------------------------------------------

class KeyToPath(K8sModel):
    key: str | None = None
    path: str | None = None
    mode: int | None = None


class EmptyDirVolumeSource(K8sModel):
    medium: str | None = None
    sizeLimit: Quantity | None = None


class HostPathVolumeSource(K8sModel):
    path: str | None = None
    type: str | None = None


class ConfigMapVolumeSource(K8sModel):
    name: str | None = None
    items: list[KeyToPath] | None = None
    defaultMode: int | None = None
    optional: bool | None = None


class SecretVolumeSource(K8sModel):
    secretName: str | None = None
    items: list[KeyToPath] | None = None
    defaultMode: int | None = None
    optional: bool | None = None


class PersistentVolumeClaimVolumeSource(K8sModel):
    claimName: str | None = None
    readOnly: bool | None = None


class ProjectedVolumeSource(K8sModel):
    sources: list[Loose] | None = None
    defaultMode: int | None = None


class Volume(K8sModel):
    """A named volume of a pod; exactly one source is set."""

    __openapi_required__ = ("name",)
    name: str | None = None
    """Name of the volume, referenced by volumeMounts."""
    emptyDir: EmptyDirVolumeSource | None = None
    """A directory that lives as long as the pod."""
    hostPath: HostPathVolumeSource | None = None
    """A file or directory of the node."""
    configMap: ConfigMapVolumeSource | None = None
    """Keys of a ConfigMap as files."""
    secret: SecretVolumeSource | None = None
    """Keys of a Secret as files."""
    persistentVolumeClaim: PersistentVolumeClaimVolumeSource | None = None
    """A PersistentVolumeClaim in the same namespace."""
    projected: ProjectedVolumeSource | None = None
    """Several sources projected into one directory."""
    downwardAPI: Loose | None = None
    """Pod fields as files."""
    nfs: Loose | None = None
    """An NFS export."""
    csi: Loose | None = None
    ephemeral: Loose | None = None
    image: Loose | None = None
    awsElasticBlockStore: Loose | None = None
    gcePersistentDisk: Loose | None = None
    gitRepo: Loose | None = None
    iscsi: Loose | None = None
    glusterfs: Loose | None = None
    rbd: Loose | None = None
    flexVolume: Loose | None = None
    cinder: Loose | None = None
    cephfs: Loose | None = None
    flocker: Loose | None = None
    fc: Loose | None = None
    azureFile: Loose | None = None
    azureDisk: Loose | None = None
    vsphereVolume: Loose | None = None
    quobyte: Loose | None = None
    photonPersistentDisk: Loose | None = None
    portworxVolume: Loose | None = None
    scaleIO: Loose | None = None
    storageos: Loose | None = None


# --- pod -------------------------------------------------------------------------------------

class Toleration(K8sModel):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    tolerationSeconds: Int64 | None = None


class PodDNSConfigOption(K8sModel):
    name: str | None = None
    value: str | None = None


class PodDNSConfig(K8sModel):
    nameservers: list[str] | None = None
    searches: list[str] | None = None
    options: list[PodDNSConfigOption] | None = None


class HostAlias(K8sModel):
    ip: str | None = None
    hostnames: list[str] | None = None


class Sysctl(K8sModel):
    name: str | None = None
    value: str | None = None


class PodSecurityContext(K8sModel):
    seLinuxOptions: Loose | None = None
    windowsOptions: Loose | None = None
    runAsUser: Int64 | None = None
    runAsGroup: Int64 | None = None
    runAsNonRoot: bool | None = None
    supplementalGroups: list[Int64] | None = None
    supplementalGroupsPolicy: str | None = None
    fsGroup: Int64 | None = None
    sysctls: list[Sysctl] | None = None
    fsGroupChangePolicy: str | None = None
    seccompProfile: Loose | None = None
    appArmorProfile: Loose | None = None
    seLinuxChangePolicy: str | None = None


class PodReadinessGate(K8sModel):
    conditionType: str | None = None


class PodOS(K8sModel):
    name: str | None = None


class PodSchedulingGate(K8sModel):
    name: str | None = None


class PodSpec(K8sModel):
    """Desired state of a pod."""

    __openapi_required__ = ("containers",)
    volumes: list[Volume] | None = None
    """Volumes the containers can mount."""
    initContainers: list[Container] | None = None
    """Containers run to completion, in order, before the application containers start."""
    containers: list[Container] | None = None
    """Containers of the pod; at least one."""
    ephemeralContainers: list[EphemeralContainer] | None = None
    """Containers added for debugging."""
    restartPolicy: str | None = None
    """Always, OnFailure or Never (default Always)."""
    terminationGracePeriodSeconds: Int64 | None = None
    """Seconds between SIGTERM and SIGKILL on deletion."""
    activeDeadlineSeconds: Int64 | None = None
    """Seconds the pod may run before it is failed."""
    dnsPolicy: str | None = None
    """ClusterFirst, Default, None or ClusterFirstWithHostNet."""
    nodeSelector: StrMap | None = None
    """Labels a node must have to run the pod."""
    serviceAccountName: str | None = None
    """Service account the pod runs as."""
    serviceAccount: str | None = None
    """Deprecated alias of serviceAccountName."""
    automountServiceAccountToken: bool | None = None
    """Mount the service account token."""
    nodeName: str | None = None
    """Node the pod is bound to; set by the scheduler."""
    hostNetwork: bool | None = None
    """Use the node's network namespace."""
    hostPID: bool | None = None
    """Use the node's PID namespace."""
    hostIPC: bool | None = None
    """Use the node's IPC namespace."""
    shareProcessNamespace: bool | None = None
    """Share one PID namespace between the containers."""
    securityContext: PodSecurityContext | None = None
    """Pod-wide security options."""
    imagePullSecrets: list[LocalObjectReference] | None = None
    """Secrets used to pull the images."""
    hostname: str | None = None
    """Hostname of the pod (default: its name)."""
    subdomain: str | None = None
    """Subdomain; the FQDN is hostname.subdomain.namespace.svc."""
    affinity: Loose | None = None
    """Node and pod (anti-)affinity rules."""
    schedulerName: str | None = None
    """Scheduler that places the pod."""
    tolerations: list[Toleration] | None = None
    """Taints the pod tolerates."""
    hostAliases: list[HostAlias] | None = None
    """Extra /etc/hosts entries."""
    priorityClassName: str | None = None
    """Name of the pod's PriorityClass."""
    priority: int | None = None
    """Priority value, resolved from priorityClassName."""
    dnsConfig: PodDNSConfig | None = None
    """Extra DNS nameservers, searches and options."""
    readinessGates: list[PodReadinessGate] | None = None
    """Extra conditions for readiness."""
    runtimeClassName: str | None = None
    """RuntimeClass used to run the pod."""
    enableServiceLinks: bool | None = None
    """Inject service environment variables (default true)."""
    preemptionPolicy: str | None = None
    """PreemptLowerPriority or Never."""
    overhead: ResourceList | None = None
    """Resources used by the pod sandbox."""
    topologySpreadConstraints: list[Loose] | None = None
    """How pods spread across topology domains."""
    setHostnameAsFQDN: bool | None = None
    """Set the hostname to the FQDN."""
    os: PodOS | None = None
    """Operating system of the containers."""
    hostUsers: bool | None = None
    """Use the host's user namespace (default true)."""
    schedulingGates: list[PodSchedulingGate] | None = None
    """Gates that block scheduling while present."""
    resourceClaims: list[Loose] | None = None
    """Dynamic resource claims."""
    resources: ResourceRequirements | None = None
    hostnameOverride: str | None = None


class PodCondition(K8sModel):
    type: str | None = None
    observedGeneration: Int64 | None = None
    status: str | None = None
    lastProbeTime: Time | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class PodIP(K8sModel):
    ip: str | None = None


class ContainerStateWaiting(K8sModel):
    reason: str | None = None
    message: str | None = None


class ContainerStateRunning(K8sModel):
    startedAt: Time | None = None


class ContainerStateTerminated(K8sModel):
    exitCode: int | None = None
    signal: int | None = None
    reason: str | None = None
    message: str | None = None
    startedAt: Time | None = None
    finishedAt: Time | None = None
    containerID: str | None = None


class ContainerState(K8sModel):
    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(K8sModel):
    name: str | None = None
    state: ContainerState | None = None
    lastState: ContainerState | None = None
    ready: bool | None = None
    restartCount: int | None = None
    image: str | None = None
    imageID: str | None = None
    containerID: str | None = None
    started: bool | None = None
    allocatedResources: ResourceList | None = None
    resources: ResourceRequirements | None = None
    volumeMounts: list[Loose] | None = None
    user: Loose | None = None
    allocatedResourcesStatus: list[Loose] | None = None
    stopSignal: str | None = None


class PodStatus(K8sModel):
    """Observed state of a pod (written by the system)."""

    observedGeneration: Int64 | None = None
    phase: str | None = None
    """Pending, Running, Succeeded, Failed or Unknown."""
    conditions: list[PodCondition] | None = None
    """Current service state of the pod."""
    message: str | None = None
    """Why the pod is in this state."""
    reason: str | None = None
    """Short CamelCase reason, e.g. Evicted."""
    nominatedNodeName: str | None = None
    hostIP: str | None = None
    """IP of the node the pod runs on."""
    hostIPs: list[PodIP] | None = None
    podIP: str | None = None
    """IP of the pod."""
    podIPs: list[PodIP] | None = None
    """IPs of the pod."""
    startTime: Time | None = None
    """When the kubelet accepted the pod."""
    initContainerStatuses: list[ContainerStatus] | None = None
    """Status of each init container."""
    containerStatuses: list[ContainerStatus] | None = None
    """Status of each application container."""
    qosClass: str | None = None
    """Guaranteed, Burstable or BestEffort."""
    ephemeralContainerStatuses: list[ContainerStatus] | None = None
    resize: str | None = None
    resourceClaimStatuses: list[Loose] | None = None


class Pod(TypedObject):
    """A group of containers scheduled together on one node."""

    spec: PodSpec | None = None
    """Desired behaviour of the pod."""
    status: PodStatus | None = None
    """Most recently observed status of the pod."""


# --- service ---------------------------------------------------------------------------------

class ServicePort(K8sModel):
    """A port of a service."""

    __openapi_required__ = ("port",)
    name: str | None = None
    """Name of the port; required when there are several."""
    protocol: str | None = None
    """TCP (default), UDP or SCTP."""
    appProtocol: str | None = None
    """Application protocol hint."""
    port: int | None = None
    """Port the service listens on."""
    targetPort: IntOrString | None = None
    """Port number or name on the pods (default: port)."""
    nodePort: int | None = None
    """Port on every node, for NodePort and LoadBalancer services."""


class ClientIPConfig(K8sModel):
    timeoutSeconds: int | None = None


class SessionAffinityConfig(K8sModel):
    clientIP: ClientIPConfig | None = None


class ServiceSpec(K8sModel):
    """Desired state of a service."""

    ports: list[ServicePort] | None = None
    """Ports the service exposes."""
    selector: StrMap | None = None
    """Pods with these labels receive the traffic."""
    clusterIP: str | None = None
    """Virtual IP of the service; None makes it headless."""
    clusterIPs: list[str] | None = None
    """Virtual IPs of the service (one per IP family)."""
    type: str | None = None
    """ClusterIP (default), NodePort, LoadBalancer or ExternalName."""
    externalIPs: list[str] | None = None
    """Extra IPs the service accepts traffic on."""
    sessionAffinity: str | None = None
    """ClientIP or None."""
    loadBalancerIP: str | None = None
    """Requested load balancer IP (deprecated)."""
    loadBalancerSourceRanges: list[str] | None = None
    externalName: str | None = None
    """DNS name returned for ExternalName services."""
    externalTrafficPolicy: str | None = None
    """Cluster or Local."""
    healthCheckNodePort: int | None = None
    publishNotReadyAddresses: bool | None = None
    """Include unready pods in DNS."""
    sessionAffinityConfig: SessionAffinityConfig | None = None
    ipFamilies: list[str] | None = None
    """IPv4 and/or IPv6."""
    ipFamilyPolicy: str | None = None
    """SingleStack, PreferDualStack or RequireDualStack."""
    allocateLoadBalancerNodePorts: bool | None = None
    """Allocate node ports for LoadBalancer services."""
    loadBalancerClass: str | None = None
    internalTrafficPolicy: str | None = None
    """Cluster or Local."""
    trafficDistribution: str | None = None


class PortStatus(K8sModel):
    port: int | None = None
    protocol: str | None = None
    error: str | None = None


class LoadBalancerIngress(K8sModel):
    ip: str | None = None
    hostname: str | None = None
    ipMode: str | None = None
    ports: list[PortStatus] | None = None


class LoadBalancerStatus(K8sModel):
    ingress: list[LoadBalancerIngress] | None = None


class ServiceStatus(K8sModel):
    """Observed state of a service."""

    loadBalancer: LoadBalancerStatus | None = None
    """Ingress points of the load balancer."""
    conditions: list[Condition] | None = None
    """Current state of the service."""


class Service(TypedObject):
    """A stable virtual IP and DNS name in front of a set of pods."""

    spec: ServiceSpec | None = None
    """Desired behaviour of the service."""
    status: ServiceStatus | None = None
    """Most recently observed status of the service."""


# --- namespace -------------------------------------------------------------------------------

class NamespaceSpec(K8sModel):
    finalizers: list[str] | None = None


class NamespaceCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class NamespaceStatus(K8sModel):
    phase: str | None = None
    conditions: list[NamespaceCondition] | None = None


class Namespace(TypedObject):
    """Namespace provides a scope for Names."""

    spec: NamespaceSpec | None = None
    status: NamespaceStatus | None = None


# --- node ------------------------------------------------------------------------------------

class Taint(K8sModel):
    key: str | None = None
    value: str | None = None
    effect: str | None = None
    timeAdded: Time | None = None


class NodeSpec(K8sModel):
    podCIDR: str | None = None
    podCIDRs: list[str] | None = None
    providerID: str | None = None
    unschedulable: bool | None = None
    taints: list[Taint] | None = None
    configSource: Loose | None = None
    externalID: str | None = None


class NodeCondition(K8sModel):
    type: str | None = None
    status: str | None = None
    lastHeartbeatTime: Time | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class NodeAddress(K8sModel):
    type: str | None = None
    address: str | None = None


class DaemonEndpoint(K8sModel):
    Port: int | None = None


class NodeDaemonEndpoints(K8sModel):
    kubeletEndpoint: DaemonEndpoint | None = None


class NodeSystemInfo(K8sModel):
    machineID: str | None = None
    systemUUID: str | None = None
    bootID: str | None = None
    kernelVersion: str | None = None
    osImage: str | None = None
    containerRuntimeVersion: str | None = None
    kubeletVersion: str | None = None
    kubeProxyVersion: str | None = None
    operatingSystem: str | None = None
    architecture: str | None = None
    swap: Loose | None = None


class ContainerImage(K8sModel):
    names: list[str] | None = None
    sizeBytes: Int64 | None = None


class NodeStatus(K8sModel):
    capacity: ResourceList | None = None
    allocatable: ResourceList | None = None
    phase: str | None = None
    conditions: list[NodeCondition] | None = None
    addresses: list[NodeAddress] | None = None
    daemonEndpoints: NodeDaemonEndpoints | None = None
    nodeInfo: NodeSystemInfo | None = None
    images: list[ContainerImage] | None = None
    volumesInUse: list[str] | None = None
    volumesAttached: list[Loose] | None = None
    config: Loose | None = None
    runtimeHandlers: list[Loose] | None = None
    features: Loose | None = None
    declaredFeatures: list[str] | None = None


class Node(TypedObject):
    """Node is a worker node in Kubernetes."""

    spec: NodeSpec | None = None
    status: NodeStatus | None = None


# --- event -----------------------------------------------------------------------------------

class EventSource(K8sModel):
    component: str | None = None
    host: str | None = None


class EventSeries(K8sModel):
    count: int | None = None
    lastObservedTime: Time | None = None


class Event(TypedObject):
    """Event is a report of an event somewhere in the cluster."""

    involvedObject: ObjectReference | None = None
    reason: str | None = None
    message: str | None = None
    source: EventSource | None = None
    firstTimestamp: Time | None = None
    lastTimestamp: Time | None = None
    count: int | None = None
    type: str | None = None
    eventTime: Time | None = None
    series: EventSeries | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reportingComponent: str | None = None
    reportingInstance: str | None = None


class ScaleSpec(K8sModel):
    """ScaleSpec describes the attributes of a scale subresource."""

    __openapi_name__ = "io.k8s.api.autoscaling.v1.ScaleSpec"
    replicas: int | None = None
    """Desired number of instances for the scaled object."""


class ScaleStatus(K8sModel):
    """ScaleStatus represents the current status of a scale subresource."""

    __openapi_name__ = "io.k8s.api.autoscaling.v1.ScaleStatus"
    __openapi_required__ = ("replicas",)
    replicas: int | None = None
    """Actual number of observed instances of the scaled object."""
    selector: str | None = None
    """Label query over pods that should match the replicas count, in string form."""


class Scale(TypedObject):
    """Scale represents a scaling request for a resource (the scale subresource, autoscaling/v1)."""

    __openapi_name__ = "io.k8s.api.autoscaling.v1.Scale"
    spec: ScaleSpec | None = None
    """Desired state of the object."""
    status: ScaleStatus | None = None
    """Current status of the scale; read-only."""


class AnyObject(TypedObject):
    """A kind without a model: only apiVersion/kind/metadata are checked, the rest is kept."""

    model_config = ConfigDict(extra="allow", strict=True)


# Keys under which a pydantic location segment is a map key, not a field name: printed
# ``metadata.labels[app]`` the Kubernetes way.
MAP_FIELDS = frozenset({
    "labels", "annotations", "nodeSelector", "selector", "limits", "requests", "overhead",
    "capacity", "allocatable", "allocatedResources",
    "data", "binaryData", "stringData", "parameters",  # ConfigMap, Secret, StorageClass
})
