"""The Node as kubectl shows it: ``kubectl describe node`` lists the pods running on it."""

from __future__ import annotations

from .conftest import Cluster, pod_running, wait_for


def test_describe_node_lists_non_terminated_pods(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: Pod
metadata: {name: node-listed}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: minikube-lite/busybox:1.0
    command: ["sleep", "3600"]
    resources: {requests: {cpu: 100m, memory: 32Mi}, limits: {cpu: 200m, memory: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: node-done}
spec:
  restartPolicy: Never
  containers: [{name: main, image: minikube-lite/busybox:1.0, command: ["true"]}]
""")
    try:
        wait_for(lambda: pod_running(cluster, "node-listed"), timeout=30, what="running")
        wait_for(lambda: ((cluster.pod("node-done") or {}).get("status") or {}).get("phase") == "Succeeded",
                 timeout=30, what="node-done Succeeded")
        out = cluster.kubectl("describe", "node", cluster.settings.node_name).stdout
        section = out.split("Non-terminated Pods:", 1)[1].split("Allocated resources:", 1)[0]
        row = next(line for line in section.splitlines() if "node-listed" in line)
        assert row.split()[:3] == ["default", "node-listed", "100m"]
        assert "200m" in row and "32Mi" in row and "64Mi" in row
        assert "node-done" not in section
        assert "Ready" in out and "KubeletReady" in out
    finally:
        cluster.kubectl("delete", "pod", "node-listed", "node-done", "--wait=false", check=False)
