"""Server-side Tables for ``kubectl get``: columns, pod STATUS/RESTARTS, service PORT(S), ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from minikube_lite.api.register import by_kind, to_table
from minikube_lite.api.resources import Resource
from minikube_lite.api.tables import human_duration

POD = by_kind("v1", "Pod")
SERVICE = by_kind("v1", "Service")
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def running_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "client-pod", "namespace": "default", "creationTimestamp": ago(87), "uid": "u1"},
        "spec": {"containers": [{"name": "client", "image": "stephengrider/multi-client"}],
                 "nodeName": "minikube-lite"},
        "status": {
            "phase": "Running", "podIP": "172.18.0.5", "podIPs": [{"ip": "172.18.0.5"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "client", "ready": True, "restartCount": 0, "started": True,
                                   "state": {"running": {"startedAt": ago(80)}}}],
        },
    }


def cells(resource: Resource, obj: dict[str, Any]) -> list[Any]:
    return to_table(resource, [obj], now=NOW)["rows"][0]["cells"]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (87, "87s"), (119, "119s"), (141, "2m21s"), (180, "3m"), (600, "10m"), (179 * 60, "179m"),
    (3 * 3600, "3h"), (5 * 3600 + 3 * 60, "5h3m"), (30 * 3600, "30h"), (5 * 86400 + 3 * 3600, "5d3h"),
    (45 * 86400, "45d"), (3 * 365 * 86400 + 10 * 86400, "3y10d"), (10 * 365 * 86400, "10y"), (-1, "0s"),
    (-5, "<invalid>"),
])
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_pod_columns_and_running_row() -> None:
    table = to_table(POD, [running_pod()], resource_version="42", now=NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42"}
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node",
                     "Readiness Gates"]
    assert [c["priority"] for c in table["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert table["columnDefinitions"][0]["format"] == "name"
    row = table["rows"][0]
    assert row["cells"] == ["client-pod", "1/1", "Running", "0", "87s", "172.18.0.5", "minikube-lite",
                            "<none>", "<none>"]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["apiVersion"] == "meta.k8s.io/v1"
    assert row["object"]["metadata"]["uid"] == "u1"


def test_include_object_modes() -> None:
    obj = running_pod()
    assert to_table(POD, [obj], include_object="Object", now=NOW)["rows"][0]["object"] == obj
    assert "object" not in to_table(POD, [obj], include_object="None", now=NOW)["rows"][0]


def test_crash_loop_back_off_pod_with_restart_age() -> None:
    pod = running_pod()
    pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    pod["status"]["containerStatuses"] = [{
        "name": "client", "ready": False, "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(5)}},
    }]
    assert cells(POD, pod)[:4] == ["client-pod", "0/1", "CrashLoopBackOff", "3 (5s ago)"]


@pytest.mark.parametrize(("status", "expected"), [
    ({"phase": "Pending", "containerStatuses": [
        {"name": "client", "ready": False, "restartCount": 0,
         "state": {"waiting": {"reason": "ContainerCreating"}}}]}, "ContainerCreating"),
    ({"phase": "Pending", "containerStatuses": [
        {"name": "client", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}}]},
     "ErrImagePull"),
    ({"phase": "Succeeded", "containerStatuses": [
        {"name": "client", "ready": False, "restartCount": 0,
         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}, "Completed"),
    ({"phase": "Failed", "containerStatuses": [
        {"name": "client", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}]},
     "ExitCode:2"),
    ({"phase": "Pending"}, "Pending"),
])
def test_pod_status_reasons(status: dict[str, Any], expected: str) -> None:
    pod = running_pod()
    pod["status"] = status
    assert cells(POD, pod)[2] == expected


def test_init_container_states() -> None:
    pod = running_pod()
    pod["spec"]["initContainers"] = [{"name": "init", "image": "busybox"}]
    pod["status"] = {"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "ready": False, "restartCount": 0, "state": {"running": {}}}]}
    assert cells(POD, pod)[2] == "Init:0/1"
    pod["status"]["initContainerStatuses"][0]["state"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
    assert cells(POD, pod)[2] == "Init:Error"


def test_terminating_pod() -> None:
    pod = running_pod()
    pod["metadata"]["deletionTimestamp"] = ago(1)
    assert cells(POD, pod)[2] == "Terminating"


def test_node_port_service_row() -> None:
    svc = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "client-node-port", "creationTimestamp": ago(141)},
        "spec": {"type": "NodePort", "clusterIP": "10.102.165.51", "clusterIPs": ["10.102.165.51"],
                 "ports": [{"port": 3050, "targetPort": 3000, "nodePort": 31515, "protocol": "TCP"}],
                 "selector": {"component": "web"}},
    }
    table = to_table(SERVICE, [svc], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert table["rows"][0]["cells"] == ["client-node-port", "NodePort", "10.102.165.51", "<none>",
                                         "3050:31515/TCP", "2m21s", "component=web"]


def test_cluster_ip_and_load_balancer_services() -> None:
    svc = {"metadata": {"name": "kubernetes", "creationTimestamp": ago(30 * 3600)},
           "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"port": 443, "protocol": "TCP"}]}}
    assert cells(SERVICE, svc)[:6] == ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "30h"]
    lb = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "nodePort": 30080}]}}
    assert cells(SERVICE, lb)[3] == "<pending>"
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "192.168.49.2"}]}}
    assert cells(SERVICE, lb)[3:5] == ["192.168.49.2", "80:30080/TCP"]


def test_namespaces_nodes_events_and_default_tables() -> None:
    ns = {"metadata": {"name": "default", "creationTimestamp": ago(3600)}, "status": {"phase": "Active"}}
    assert cells(by_kind("v1", "Namespace"), ns) == ["default", "Active", "60m"]
    node = {"metadata": {"name": "minikube-lite", "creationTimestamp": ago(86400),
                         "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "172.18.0.1"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian", "kernelVersion": "6.1",
                                    "containerRuntimeVersion": "docker://24.0.7"}}}
    assert cells(by_kind("v1", "Node"), node) == [
        "minikube-lite", "Ready", "control-plane", "24h", "v1.32.0", "172.18.0.1", "<none>", "Debian", "6.1",
        "docker://24.0.7"]
    event = {"metadata": {"name": "client-pod.1"}, "type": "Warning", "reason": "BackOff",
             "involvedObject": {"kind": "Pod", "name": "client-pod", "fieldPath": "spec.containers{client}"},
             "source": {"component": "kubelet", "host": "minikube-lite"}, "message": "Back-off restarting ",
             "firstTimestamp": ago(300), "lastTimestamp": ago(10), "count": 4}
    table = to_table(by_kind("v1", "Event"), [event], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]][:4] == ["Last Seen", "Type", "Reason", "Object"]
    assert table["rows"][0]["cells"] == ["10s", "Warning", "BackOff", "pod/client-pod", "spec.containers{client}",
                                         "kubelet, minikube-lite", "Back-off restarting", "5m", 4, "client-pod.1"]
    other = Resource("example.com", "v1", "widgets", "widget", "Widget", True)
    table = to_table(other, [{"metadata": {"name": "w", "creationTimestamp": ago(87)}}], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"][0]["cells"] == ["w", "87s"]
