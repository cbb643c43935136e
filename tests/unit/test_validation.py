"""Validation and defaulting of core/v1 manifests, checked against what kube-apiserver answers."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from minikube_lite.api import errors, register
from minikube_lite.api.defaults import image_tag
from minikube_lite.api.quantity import parse_quantity
from minikube_lite.api.register import apply_defaults, by_kind, validate, validate_update

POD = by_kind("v1", "Pod")
SERVICE = by_kind("v1", "Service")
NAMESPACE = by_kind("v1", "Namespace")


def prepare_create(resource: Any, obj: dict[str, Any]) -> None:
    register.kind_for(resource).strategy.prepare_create(obj, None)  # type: ignore[arg-type]
NODE = by_kind("v1", "Node")
EVENT = by_kind("v1", "Event")

CLIENT_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: client-pod
  labels:
    component: web
spec:
  containers:
    - name: client
      image: stephengrider/multi-client
      ports:
        - containerPort: 3000
"""

CLIENT_NODE_PORT = """
apiVersion: v1
kind: Service
metadata:
  name: client-node-port
spec:
  type: NodePort
  ports:
    - port: 3050
      targetPort: 3000
      nodePort: 31515
  selector:
    component: web
"""


def pod() -> dict[str, Any]:
    return yaml.safe_load(CLIENT_POD)


def service() -> dict[str, Any]:
    return yaml.safe_load(CLIENT_NODE_PORT)


def invalid_causes(resource: Any, obj: dict[str, Any]) -> dict[str, str]:
    """field -> message of the Invalid that validating ``obj`` raises."""
    with pytest.raises(errors.Invalid) as info:
        validate(resource, obj)
    assert info.value.code == 422
    return {c["field"]: c["message"] for c in info.value.causes}


# --- the seed manifests --------------------------------------------------------------------------

def test_seed_pod_validates_clean_and_unchanged() -> None:
    cleaned, warnings = validate(POD, pod())
    assert warnings == []
    assert cleaned == pod()


def test_seed_service_validates_clean_and_unchanged() -> None:
    cleaned, warnings = validate(SERVICE, service())
    assert warnings == []
    assert cleaned == service()


def test_timestamps_must_be_rfc3339() -> None:
    obj = pod()
    obj["metadata"]["creationTimestamp"] = None  # as `kubectl create --dry-run -o yaml` writes it
    validate(POD, obj)
    obj["metadata"]["creationTimestamp"] = "yesterday"
    assert "metadata.creationTimestamp" in invalid_causes(POD, obj)


def test_validate_does_not_touch_the_input() -> None:
    obj = pod()
    obj["spec"]["contianers"] = []
    before = copy.deepcopy(obj)
    validate(POD, obj, field_validation="Ignore")
    assert obj == before


def test_a_defaulted_object_still_validates() -> None:
    for resource, obj in ((POD, pod()), (SERVICE, service())):
        apply_defaults(resource, obj)
        validate(resource, obj)


def test_a_full_pod_of_real_fields_is_accepted() -> None:
    full = yaml.safe_load("""
apiVersion: v1
kind: Pod
metadata:
  name: full
  namespace: default
  generateName: full-
  annotations: {example.com/owner: me}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: u1, controller: true,
                     blockOwnerDeletion: true}]
  finalizers: [example.com/keep]
spec:
  volumes:
    - {name: data, emptyDir: {sizeLimit: 1Gi}}
    - {name: cfg, configMap: {name: cfg, items: [{key: a, path: a.txt}], defaultMode: 420}}
    - {name: sec, secret: {secretName: s}}
  initContainers:
    - {name: init, image: busybox, command: [sh, -c, "true"]}
  containers:
    - name: app
      image: nginx:1.25
      args: [a]
      workingDir: /w
      ports: [{name: http, containerPort: 80, protocol: TCP}]
      env:
        - {name: A, value: "1"}
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        - name: PW
          valueFrom: {secretKeyRef: {name: s, key: pw, optional: true}}
      envFrom: [{configMapRef: {name: cfg}, prefix: CFG_}]
      resources:
        limits: {cpu: 500m, memory: 128Mi}
        requests: {cpu: 0.25, memory: 64Mi}
      volumeMounts: [{name: data, mountPath: /data}, {name: cfg, mountPath: /cfg, readOnly: true}]
      livenessProbe: {httpGet: {path: /healthz, port: http}, initialDelaySeconds: 3, periodSeconds: 5}
      readinessProbe: {tcpSocket: {port: 80}}
      startupProbe: {exec: {command: [cat, /ok]}, failureThreshold: 30}
      lifecycle: {preStop: {exec: {command: [sleep, "5"]}}}
      securityContext: {runAsUser: 1000, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
      imagePullPolicy: IfNotPresent
      stdin: true
      tty: true
  restartPolicy: OnFailure
  nodeSelector: {kubernetes.io/os: linux}
  serviceAccountName: default
  hostname: web
  subdomain: svc
  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}}}
  tolerations: [{key: k, operator: Equal, value: v, effect: NoSchedule}, {operator: Exists}]
  securityContext: {fsGroup: 2000}
  imagePullSecrets: [{name: regcred}]
  dnsPolicy: ClusterFirst
  dnsConfig: {options: [{name: ndots, value: "2"}]}
  priority: 0
  terminationGracePeriodSeconds: 10
  activeDeadlineSeconds: 600
  readinessGates: [{conditionType: example.com/ready}]
  topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]
  os: {name: linux}
  schedulingGates: [{name: example.com/gate}]
status:
  phase: Running
  podIP: 10.0.0.5
  podIPs: [{ip: 10.0.0.5}]
  conditions: [{type: Ready, status: "True", lastProbeTime: null, lastTransitionTime: "2024-01-01T00:00:00Z"}]
  containerStatuses:
    - name: app
      ready: true
      restartCount: 2
      image: nginx:1.25
      imageID: docker://sha256:abc
      containerID: docker://abc
      started: true
      state: {running: {startedAt: "2024-01-01T00:00:00Z"}}
      lastState: {terminated: {exitCode: 1, reason: Error, finishedAt: "2024-01-01T00:00:00Z"}}
""")
    cleaned, warnings = validate(POD, full)
    assert cleaned == full and warnings == []


# --- unknown fields --------------------------------------------------------------------------------

def test_strict_refuses_unknown_fields_naming_each_like_kubernetes() -> None:
    obj = pod()
    obj["spec"]["contianers"] = obj["spec"]["containers"]
    obj["spec"]["containers"][0]["imagee"] = "x"
    with pytest.raises(errors.BadRequest) as info:
        validate(POD, obj, field_validation="Strict")
    assert info.value.code == 400
    assert info.value.message == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].imagee", unknown field "spec.contianers"')


def test_warn_drops_unknown_fields_and_warns() -> None:
    obj = pod()
    obj["metadata"]["labelz"] = {"a": "b"}
    cleaned, warnings = validate(POD, obj, field_validation="Warn")
    assert warnings == ['unknown field "metadata.labelz"']
    assert cleaned == pod()


def test_ignore_drops_unknown_fields_silently() -> None:
    obj = service()
    obj["spec"]["ports"][0]["nodeport"] = 31000
    cleaned, warnings = validate(SERVICE, obj, field_validation="Ignore")
    assert warnings == [] and cleaned == service()


def test_unknown_field_validation_mode_is_a_bad_request() -> None:
    with pytest.raises(errors.BadRequest):
        validate(POD, pod(), field_validation="Loose")


# --- wrong types ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("mutate", "field"), [
    (lambda o: o["spec"]["containers"][0].__setitem__("image", 5), "spec.containers[0].image"),
    (lambda o: o["spec"]["containers"][0]["ports"][0].__setitem__("containerPort", "3000"),
     "spec.containers[0].ports[0].containerPort"),
    (lambda o: o["metadata"]["labels"].__setitem__("version", 1), "metadata.labels[version]"),
    (lambda o: o["spec"].__setitem__("hostNetwork", "yes"), "spec.hostNetwork"),
    (lambda o: o["spec"].__setitem__("containers", {"name": "x"}), "spec.containers"),
    (lambda o: o["spec"]["containers"][0].__setitem__("resources", {"limits": {"cpu": "lots"}}),
     "spec.containers[0].resources.limits[cpu]"),
])
def test_wrong_types_are_invalid_naming_the_field(mutate: Any, field: str) -> None:
    obj = pod()
    mutate(obj)
    causes = invalid_causes(POD, obj)
    assert field in causes, causes
    assert causes[field].startswith("Invalid value:")


def test_service_port_as_string_is_refused() -> None:
    obj = service()
    obj["spec"]["ports"][0]["port"] = "3050"
    assert "spec.ports[0].port" in invalid_causes(SERVICE, obj)


def test_target_port_may_be_int_or_name() -> None:
    obj = service()
    obj["spec"]["ports"][0]["targetPort"] = "http"
    validate(SERVICE, obj)
    obj["spec"]["ports"][0]["targetPort"] = True
    assert "spec.ports[0].targetPort" in invalid_causes(SERVICE, obj)


# --- names and metadata ----------------------------------------------------------------------------

def test_bad_pod_name() -> None:
    obj = pod()
    obj["metadata"]["name"] = "Client_Pod"
    causes = invalid_causes(POD, obj)
    assert causes["metadata.name"].startswith('Invalid value: "Client_Pod": a lowercase RFC 1123 subdomain')


def test_name_required() -> None:
    obj = pod()
    del obj["metadata"]["name"]
    assert invalid_causes(POD, obj) == {"metadata.name": "Required value: name or generateName is required"}


def test_service_names_are_dns1035_labels() -> None:
    obj = service()
    obj["metadata"]["name"] = "1svc"
    assert "a DNS-1035 label" in invalid_causes(SERVICE, obj)["metadata.name"]
    obj["metadata"]["name"] = "a.b"
    assert "metadata.name" in invalid_causes(SERVICE, obj)


def test_namespace_names_are_labels() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}
    assert "a lowercase RFC 1123 label" in invalid_causes(NAMESPACE, ns)["metadata.name"]
    ns["metadata"]["name"] = "dev"
    validate(NAMESPACE, ns)


def test_label_keys_and_values() -> None:
    obj = pod()
    obj["metadata"]["labels"] = {"example.com/ok": "fine", "bad key": "v", "k": "x" * 64}
    messages = [c["message"] for c in _causes(POD, obj) if c["field"] == "metadata.labels"]
    assert any('"bad key"' in m and "name part must consist" in m for m in messages)
    assert any("must be no more than 63 characters" in m for m in messages)


def test_annotations_total_size() -> None:
    obj = pod()
    obj["metadata"]["annotations"] = {"big": "x" * (256 * 1024)}
    assert invalid_causes(POD, obj)["metadata.annotations"] == "Too long: may not be more than 262144 bytes"


def _causes(resource: Any, obj: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(errors.Invalid) as info:
        validate(resource, obj)
    return info.value.causes


# --- pods ----------------------------------------------------------------------------------------

def test_image_required_with_kubernetes_cause() -> None:
    obj = pod()
    del obj["spec"]["containers"][0]["image"]
    causes = _causes(POD, obj)
    assert causes == [{"reason": "FieldValueRequired", "message": "Required value",
                       "field": "spec.containers[0].image"}]
    with pytest.raises(errors.Invalid) as info:
        validate(POD, obj)
    assert info.value.message == 'Pod "client-pod" is invalid: spec.containers[0].image: Required value'


def test_containers_required() -> None:
    obj = pod()
    obj["spec"]["containers"] = []
    assert invalid_causes(POD, obj) == {"spec.containers": "Required value"}


def test_container_names_unique_labels() -> None:
    obj = pod()
    obj["spec"]["containers"].append({"name": "client", "image": "busybox"})
    obj["spec"]["containers"].append({"name": "Bad", "image": "busybox"})
    causes = invalid_causes(POD, obj)
    assert causes["spec.containers[1].name"] == 'Duplicate value: "client"'
    assert "a lowercase RFC 1123 label" in causes["spec.containers[2].name"]


def test_container_ports_and_protocol() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["ports"] = [{"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP"}]
    causes = invalid_causes(POD, obj)
    assert causes["spec.containers[0].ports[0].containerPort"] == (
        "Invalid value: 70000: must be between 1 and 65535, inclusive")
    assert causes["spec.containers[0].ports[1].protocol"] == (
        'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"')


def test_restart_policy_enum() -> None:
    obj = pod()
    obj["spec"]["restartPolicy"] = "Sometimes"
    assert invalid_causes(POD, obj)["spec.restartPolicy"].startswith('Unsupported value: "Sometimes"')


def test_volume_mount_must_name_a_volume() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    assert invalid_causes(POD, obj) == {"spec.containers[0].volumeMounts[0].name": 'Not found: "data"'}


def test_requests_may_not_exceed_limits() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "500m"}, "requests": {"cpu": "1"}}
    causes = invalid_causes(POD, obj)
    assert causes["spec.containers[0].resources.requests[cpu]"] == (
        'Invalid value: "1": must be less than or equal to cpu limit of 500m')


def test_quantities() -> None:
    assert parse_quantity("100m") == parse_quantity(0.1)
    assert parse_quantity("128Mi") == 128 * 1024 * 1024
    assert parse_quantity("1e3") == 1000
    with pytest.raises(ValueError):
        parse_quantity("12 apples")


# --- services -------------------------------------------------------------------------------------

def test_service_ports_required_unless_headless_or_external_name() -> None:
    obj = service()
    del obj["spec"]["ports"]
    obj["spec"]["type"] = "ClusterIP"
    assert invalid_causes(SERVICE, obj) == {"spec.ports": "Required value"}
    obj["spec"]["clusterIP"] = "None"
    validate(SERVICE, obj)
    validate(SERVICE, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
                       "spec": {"type": "ExternalName", "externalName": "example.com"}})


def test_service_port_rules() -> None:
    obj = service()
    obj["spec"]["ports"] = [
        {"name": "a", "port": 0},
        {"name": "a", "port": 80, "nodePort": 80, "protocol": "ICMP"},
        {"name": "c", "port": 80, "targetPort": "Not_A_Name"},
    ]
    causes = invalid_causes(SERVICE, obj)
    assert causes["spec.ports[0].port"] == "Invalid value: 0: must be between 1 and 65535, inclusive"
    assert causes["spec.ports[1].name"] == 'Duplicate value: "a"'
    assert causes["spec.ports[1].nodePort"] == (
        "Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767")
    assert causes["spec.ports[1].protocol"].startswith('Unsupported value: "ICMP"')
    assert "spec.ports[2].targetPort" in causes


def test_service_type_and_node_port_on_cluster_ip() -> None:
    obj = service()
    obj["spec"]["type"] = "Public"
    assert invalid_causes(SERVICE, obj)["spec.type"] == (
        'Unsupported value: "Public": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"')
    obj["spec"]["type"] = "ClusterIP"
    assert invalid_causes(SERVICE, obj)["spec.ports[0].nodePort"] == (
        "Forbidden: may not be used when `type` is 'ClusterIP'")


def test_multiple_service_ports_need_names() -> None:
    obj = service()
    obj["spec"]["ports"].append({"port": 443})
    causes = invalid_causes(SERVICE, obj)
    assert causes["spec.ports[0].name"] == "Required value"
    assert causes["spec.ports[1].name"] == "Required value"


# --- other kinds --------------------------------------------------------------------------------------

def test_node_and_event_shapes() -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "minikube-lite"},
            "spec": {"podCIDR": "10.244.0.0/24"},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                       "addresses": [{"type": "InternalIP", "address": "172.18.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                       "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian"}}}
    validate(NODE, node)
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1", "namespace": "default"},
             "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
             "reason": "Pulled", "message": "ok", "type": "Normal", "count": 1,
             "source": {"component": "kubelet", "host": "n1"},
             "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:00Z"}
    validate(EVENT, event)
    event["involvedObject"]["namespace"] = "other"
    assert "involvedObject.namespace" in invalid_causes(EVENT, event)


# --- updates --------------------------------------------------------------------------------------

def _stored_pod() -> dict[str, Any]:
    obj = pod()
    apply_defaults(POD, obj)
    obj["spec"]["nodeName"] = "minikube-lite"
    return obj


def test_pod_update_may_change_image() -> None:
    old = _stored_pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "stephengrider/multi-client:v2"
    validate_update(POD, old, new)


def test_pod_update_may_not_change_other_fields() -> None:
    old = _stored_pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080
    with pytest.raises(errors.Invalid) as info:
        validate_update(POD, old, new)
    (only,) = info.value.causes
    assert only["field"] == "spec"
    assert only["message"].startswith("Forbidden: pod updates may not change fields other than "
                                      "`spec.containers[*].image`")


def test_pod_update_may_add_tolerations_only() -> None:
    old = _stored_pod()
    new = copy.deepcopy(old)
    # (the stored pod carries the DefaultTolerationSeconds tolerations: they are kept)
    new["spec"]["tolerations"] = [*(old["spec"].get("tolerations") or []), {"key": "k", "operator": "Exists"}]
    validate_update(POD, old, new)
    with pytest.raises(errors.Invalid):
        validate_update(POD, new, old)


def test_service_cluster_ip_is_immutable() -> None:
    old = service()
    old["spec"]["clusterIP"] = "10.96.0.10"
    old["spec"]["clusterIPs"] = ["10.96.0.10"]
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.11"
    new["spec"]["clusterIPs"] = ["10.96.0.11"]
    with pytest.raises(errors.Invalid) as info:
        validate_update(SERVICE, old, new)
    assert info.value.causes[0]["field"] == "spec.clusterIPs[0]"
    assert info.value.causes[0]["message"].endswith("may not change once set")
    new["spec"]["type"] = "ExternalName"
    validate_update(SERVICE, old, new)


# --- defaults -------------------------------------------------------------------------------------

def test_pod_defaults() -> None:
    obj = pod()
    apply_defaults(POD, obj)
    spec = obj["spec"]
    assert spec["restartPolicy"] == "Always" and spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler" and spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {} and spec["enableServiceLinks"] is True
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePath"] == "/dev/termination-log" and c["terminationMessagePolicy"] == "File"
    assert c["ports"][0]["protocol"] == "TCP" and c["resources"] == {}
    assert "status" not in obj  # the status is the strategy's, on create
    prepare_create(POD, obj)
    assert obj["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_pod_defaults_keep_user_values_and_qos() -> None:
    obj = pod()
    c = obj["spec"]["containers"][0]
    c["image"] = "nginx:1.25"
    c["resources"] = {"limits": {"cpu": "1", "memory": "64Mi"}}
    obj["spec"]["restartPolicy"] = "Never"
    apply_defaults(POD, obj)
    assert obj["spec"]["restartPolicy"] == "Never"
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["resources"]["requests"] == {"cpu": "1", "memory": "64Mi"}
    obj["status"] = {"phase": "Running"}
    prepare_create(POD, obj)  # a create resets whatever status the manifest carried
    assert obj["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}


def test_image_tags() -> None:
    assert image_tag("nginx") == "latest"
    assert image_tag("nginx:latest") == "latest"
    assert image_tag("localhost:5000/app") == "latest"
    assert image_tag("localhost:5000/app:1.0") == "1.0"
    assert image_tag("app@sha256:abc") == ""


def test_service_defaults() -> None:
    obj = service()
    apply_defaults(SERVICE, obj)
    spec = obj["spec"]
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"][0]["protocol"] == "TCP" and spec["ports"][0]["targetPort"] == 3000
    assert spec["externalTrafficPolicy"] == "Cluster" and spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    plain = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "redis"},
             "spec": {"ports": [{"port": 6379}]}}
    apply_defaults(SERVICE, plain)
    assert plain["spec"]["type"] == "ClusterIP" and plain["spec"]["ports"][0]["targetPort"] == 6379
    assert "externalTrafficPolicy" not in plain["spec"]


def test_namespace_defaults() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}}
    apply_defaults(NAMESPACE, ns)
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "dev"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]} and ns["status"] == {"phase": "Active"}


def test_error_list_present_is_required_then_validated() -> None:
    from minikube_lite.api.validation import ErrorList, is_dns1123_label

    errs = ErrorList()
    assert not errs.present("spec.a", "", is_dns1123_label)
    assert errs.present("spec.b", "Bad_Name", is_dns1123_label)  # given, though not valid
    assert errs.present("spec.c", "good", is_dns1123_label)
    reasons = [(c["field"], c["reason"]) for c in errs.causes]
    assert reasons == [("spec.a", "FieldValueRequired"), ("spec.b", "FieldValueInvalid")]
