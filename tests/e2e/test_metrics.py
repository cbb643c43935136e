"""metrics.k8s.io and APIService with the real kubectl: ``kubectl top`` on the Docker engine's stats.

A pod with a busy container (one shell loop: about a core, or what the shared machine leaves),
a container holding ~50 MB in a shell variable (working set) and an idle one; the numbers
kubectl prints come from the kubelet's samples of ``docker stats``.
"""

from __future__ import annotations

import json

import pytest

from .conftest import Cluster, pod_running, wait_for

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: top-pod
  labels: {app: top}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: busy
    image: minikube-lite/busybox:1.0
    command: ["sh", "-c", "while :; do :; done"]
  - name: mem
    image: minikube-lite/busybox:1.0
    command: ["sh", "-c", "x=$(head -c 50000000 /dev/zero | tr '\\\\0' a); sleep 3600; echo ${#x}"]
  - name: idle
    image: minikube-lite/busybox:1.0
    command: ["sleep", "3600"]
"""


def _cpu_millis(text: str) -> float:
    if text.endswith("n"):
        return int(text[:-1]) / 1e6
    if text.endswith("m"):
        return float(text[:-1])
    return float(text) * 1000


def _mem_mib(text: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return int(text) / 2**20


@pytest.fixture(scope="module")
def top_pod(cluster: Cluster):
    cluster.kubectl("apply", "-f", "-", input=POD)
    wait_for(lambda: pod_running(cluster, "top-pod"), timeout=60, what="top-pod running")

    def metrics_in() -> bool:
        m = cluster.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/top-pod")
        return bool(m) and _mem_mib(next(c for c in m["containers"] if c["name"] == "mem")["usage"]["memory"]) > 40

    wait_for(metrics_in, timeout=60, interval=0.5, what="metrics of top-pod")
    yield "top-pod"
    cluster.kubectl("delete", "pod", "top-pod", "--wait=false", check=False)


def test_apiservices_listed(cluster: Cluster) -> None:
    out = cluster.kubectl("get", "apiservices").stdout.splitlines()
    assert out[0].split() == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert rows["v1beta1.metrics.k8s.io"][1:3] == ["kube-system/metrics-server", "True"]
    assert rows["v1."][1:3] == ["Local", "True"]
    assert rows["v1.apps"][1:3] == ["Local", "True"]
    obj = json.loads(cluster.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", "-o", "json").stdout)
    assert obj["spec"]["group"] == "metrics.k8s.io" and obj["spec"]["version"] == "v1beta1"
    assert obj["spec"]["service"] == {"namespace": "kube-system", "name": "metrics-server", "port": 443}
    bad = cluster.kubectl("apply", "-f", "-", check=False, input=(
        "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1.wrong.example.com}\n"
        "spec: {group: example.com, version: v1, groupPriorityMinimum: 100, versionPriority: 10}\n"))
    assert bad.returncode != 0 and 'must be `spec.version+"."+spec.group`' in bad.stderr


def test_discovery_lists_metrics_group(cluster: Cluster) -> None:
    out = cluster.kubectl("api-resources", "--api-group=metrics.k8s.io").stdout
    kinds = {line.split()[-1] for line in out.splitlines()[1:]}
    assert kinds == {"NodeMetrics", "PodMetrics"}


def test_top_nodes(cluster: Cluster, top_pod: str) -> None:
    out = cluster.kubectl("top", "nodes").stdout.splitlines()
    # kubectl 1.33 writes CPU(%) / MEMORY(%), older ones CPU% / MEMORY%
    assert [h.replace("(%)", "%") for h in out[0].split()] == ["NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%"]
    name, cpu, cpu_pct, mem, mem_pct = out[1].split()
    assert name == cluster.settings.node_name
    assert _cpu_millis(cpu) >= 100  # the busy loop alone keeps a part of a core busy
    assert cpu_pct.endswith("%") and mem_pct.endswith("%") and _mem_mib(mem) > 50


def test_top_pods_and_containers(cluster: Cluster, top_pod: str) -> None:
    out = cluster.kubectl("top", "pods").stdout.splitlines()
    assert out[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    row = next(line.split() for line in out[1:] if line.startswith("top-pod "))
    assert _cpu_millis(row[1]) >= 100 and _mem_mib(row[2]) >= 40

    out = cluster.kubectl("top", "pods", "--containers", "-l", "app=top").stdout.splitlines()
    assert out[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    per = {line.split()[1]: line.split() for line in out[1:]}
    assert set(per) == {"busy", "mem", "idle"}
    assert _cpu_millis(per["busy"][2]) >= 100
    assert _cpu_millis(per["idle"][2]) < 20
    assert _mem_mib(per["mem"][3]) >= 40 and _mem_mib(per["idle"][3]) < 10

    everywhere = cluster.kubectl("top", "pods", "-A").stdout.splitlines()
    assert everywhere[0].split() == ["NAMESPACE", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert any(line.split()[:2] == ["default", "top-pod"] for line in everywhere[1:])
    assert "top-pod" in cluster.kubectl("top", "pod", "top-pod").stdout


def test_pod_metrics_object_and_read_only(cluster: Cluster, top_pod: str) -> None:
    m = json.loads(cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/top-pod").stdout)
    assert m["kind"] == "PodMetrics" and m["metadata"]["labels"] == {"app": "top"}
    assert m["window"].endswith("s") and m["timestamp"].endswith("Z")
    assert all(c["usage"]["cpu"].endswith("n") for c in m["containers"])
    with cluster.http() as c:
        r = c.delete("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/top-pod")
        assert r.status_code == 405 and r.json()["reason"] == "MethodNotAllowed"
        r = c.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/no-such-pod")
        assert r.status_code == 404 and r.json()["reason"] == "NotFound"
    out = cluster.kubectl("get", "podmetrics").stdout.splitlines()
    assert out[0].split() == ["NAME", "CPU", "MEMORY", "WINDOW"]
    assert any(line.startswith("top-pod ") for line in out[1:])
