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

# --- scalar types ---------------------------------------------------------------------------

QUANTITY_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
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
    apiVersion: str | None = None
    kind: str | None = None
    name: str | None = None
    uid: str | None = None
    controller: bool | None = None
    blockOwnerDeletion: bool | None = None


class ManagedFieldsEntry(K8sModel):
    manager: str | None = None
    operation: str | None = None
    apiVersion: str | None = None
    time: Time | None = None
    fieldsType: str | None = None
    fieldsV1: Loose | None = None
    subresource: str | None = None


class ObjectMeta(K8sModel):
    name: str | None = None
    generateName: str | None = None
    namespace: str | None = None
    selfLink: str | None = None
    uid: str | None = None
    resourceVersion: str | None = None
    generation: Int64 | None = None
    creationTimestamp: Time | None = None
    deletionTimestamp: Time | None = None
    deletionGracePeriodSeconds: Int64 | None = None
    labels: StrMap | None = None
    annotations: StrMap | None = None
    ownerReferences: list[OwnerReference] | None = None
    finalizers: list[str] | None = None
    managedFields: list[ManagedFieldsEntry] | None = None


class Condition(K8sModel):
    """metav1.Condition (used by Service status)."""

    type: str | None = None
    status: str | None = None
    observedGeneration: Int64 | None = None
    lastTransitionTime: Time | None = None
    reason: str | None = None
    message: str | None = None


class TypedObject(K8sModel):
    apiVersion: str | None = None
    kind: str | None = None
    metadata: ObjectMeta | None = None


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
    name: str | None = None
    hostPort: int | None = None
    containerPort: int | None = None
    protocol: str | None = None
    hostIP: str | None = None


class KeySelector(K8sModel):
    """ConfigMapKeySelector / SecretKeySelector."""

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
    name: str | None = None
    value: str | None = None
    valueFrom: EnvVarSource | None = None


class EnvRefSource(K8sModel):
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
    limits: ResourceList | None = None
    requests: ResourceList | None = None
    claims: list[ResourceClaim] | None = None


class ContainerResizePolicy(K8sModel):
    resourceName: str | None = None
    restartPolicy: str | None = None


class VolumeMount(K8sModel):
    name: str | None = None
    readOnly: bool | None = None
    recursiveReadOnly: str | None = None
    mountPath: str | None = None
    subPath: str | None = None
    mountPropagation: str | None = None
    subPathExpr: str | None = None


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
    exec: ExecAction | None = None
    httpGet: HTTPGetAction | None = None
    tcpSocket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initialDelaySeconds: int | None = None
    timeoutSeconds: int | None = None
    periodSeconds: int | None = None
    successThreshold: int | None = None
    failureThreshold: int | None = None
    terminationGracePeriodSeconds: Int64 | None = None


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
    name: str | None = None
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    workingDir: str | None = None
    ports: list[ContainerPort] | None = None
    envFrom: list[EnvFromSource] | None = None
    env: list[EnvVar] | None = None
    resources: ResourceRequirements | None = None
    resizePolicy: list[ContainerResizePolicy] | None = None
    restartPolicy: str | None = None
    restartPolicyRules: list[Loose] | None = None
    volumeMounts: list[VolumeMount] | None = None
    volumeDevices: list[VolumeDevice] | None = None
    livenessProbe: Probe | None = None
    readinessProbe: Probe | None = None
    startupProbe: Probe | None = None
    lifecycle: Lifecycle | None = None
    terminationMessagePath: str | None = None
    terminationMessagePolicy: str | None = None
    imagePullPolicy: str | None = None
    securityContext: SecurityContext | None = None
    stdin: bool | None = None
    stdinOnce: bool | None = None
    tty: bool | None = None


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
    name: str | None = None
    emptyDir: EmptyDirVolumeSource | None = None
    hostPath: HostPathVolumeSource | None = None
    configMap: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    persistentVolumeClaim: PersistentVolumeClaimVolumeSource | None = None
    projected: ProjectedVolumeSource | None = None
    downwardAPI: Loose | None = None
    nfs: Loose | None = None
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
    volumes: list[Volume] | None = None
    initContainers: list[Container] | None = None
    containers: list[Container] | None = None
    ephemeralContainers: list[EphemeralContainer] | None = None
    restartPolicy: str | None = None
    terminationGracePeriodSeconds: Int64 | None = None
    activeDeadlineSeconds: Int64 | None = None
    dnsPolicy: str | None = None
    nodeSelector: StrMap | None = None
    serviceAccountName: str | None = None
    serviceAccount: str | None = None
    automountServiceAccountToken: bool | None = None
    nodeName: str | None = None
    hostNetwork: bool | None = None
    hostPID: bool | None = None
    hostIPC: bool | None = None
    shareProcessNamespace: bool | None = None
    securityContext: PodSecurityContext | None = None
    imagePullSecrets: list[LocalObjectReference] | None = None
    hostname: str | None = None
    subdomain: str | None = None
    affinity: Loose | None = None
    schedulerName: str | None = None
    tolerations: list[Toleration] | None = None
    hostAliases: list[HostAlias] | None = None
    priorityClassName: str | None = None
    priority: int | None = None
    dnsConfig: PodDNSConfig | None = None
    readinessGates: list[PodReadinessGate] | None = None
    runtimeClassName: str | None = None
    enableServiceLinks: bool | None = None
    preemptionPolicy: str | None = None
    overhead: ResourceList | None = None
    topologySpreadConstraints: list[Loose] | None = None
    setHostnameAsFQDN: bool | None = None
    os: PodOS | None = None
    hostUsers: bool | None = None
    schedulingGates: list[PodSchedulingGate] | None = None
    resourceClaims: list[Loose] | None = None
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
    observedGeneration: Int64 | None = None
    phase: str | None = None
    conditions: list[PodCondition] | None = None
    message: str | None = None
    reason: str | None = None
    nominatedNodeName: str | None = None
    hostIP: str | None = None
    hostIPs: list[PodIP] | None = None
    podIP: str | None = None
    podIPs: list[PodIP] | None = None
    startTime: Time | None = None
    initContainerStatuses: list[ContainerStatus] | None = None
    containerStatuses: list[ContainerStatus] | None = None
    qosClass: str | None = None
    ephemeralContainerStatuses: list[ContainerStatus] | None = None
    resize: str | None = None
    resourceClaimStatuses: list[Loose] | None = None


class Pod(TypedObject):
    spec: PodSpec | None = None
    status: PodStatus | None = None


# --- service ---------------------------------------------------------------------------------

class ServicePort(K8sModel):
    name: str | None = None
    protocol: str | None = None
    appProtocol: str | None = None
    port: int | None = None
    targetPort: IntOrString | None = None
    nodePort: int | None = None


class ClientIPConfig(K8sModel):
    timeoutSeconds: int | None = None


class SessionAffinityConfig(K8sModel):
    clientIP: ClientIPConfig | None = None


class ServiceSpec(K8sModel):
    ports: list[ServicePort] | None = None
    selector: StrMap | None = None
    clusterIP: str | None = None
    clusterIPs: list[str] | None = None
    type: str | None = None
    externalIPs: list[str] | None = None
    sessionAffinity: str | None = None
    loadBalancerIP: str | None = None
    loadBalancerSourceRanges: list[str] | None = None
    externalName: str | None = None
    externalTrafficPolicy: str | None = None
    healthCheckNodePort: int | None = None
    publishNotReadyAddresses: bool | None = None
    sessionAffinityConfig: SessionAffinityConfig | None = None
    ipFamilies: list[str] | None = None
    ipFamilyPolicy: str | None = None
    allocateLoadBalancerNodePorts: bool | None = None
    loadBalancerClass: str | None = None
    internalTrafficPolicy: str | None = None
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
    loadBalancer: LoadBalancerStatus | None = None
    conditions: list[Condition] | None = None


class Service(TypedObject):
    spec: ServiceSpec | None = None
    status: ServiceStatus | None = None


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
