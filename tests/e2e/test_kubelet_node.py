"""The Node as kubectl shows it: ``kubectl describe node`` lists the pods running on it and the
node's Lease (the kubelet's heartbeat)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

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


def test_node_lease_is_the_heartbeat(cluster: Cluster) -> None:
    """The kubelet holds a Lease named after the node in kube-node-lease, renewed every 10 s, owned by
    the Node; ``kubectl get lease`` and ``kubectl describe node`` show it as on Kubernetes."""
    node = cluster.settings.node_name
    rows = cluster.kubectl("get", "lease", "-n", "kube-node-lease").stdout.splitlines()
    assert rows[0].split() == ["NAME", "HOLDER", "AGE"]
    assert any(r.split()[:2] == [node, node] for r in rows[1:]), rows
    lease = json.loads(cluster.kubectl("get", "lease", node, "-n", "kube-node-lease", "-o", "json").stdout)
    assert lease["spec"]["leaseDurationSeconds"] == 40
    [owner] = lease["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"]) == ("Node", node)
    first = _parse(lease["spec"]["renewTime"])
    assert datetime.now(UTC) - first < timedelta(seconds=15), "the lease is not being renewed"

    def renewed() -> bool:
        again = json.loads(cluster.kubectl("get", "lease", node, "-n", "kube-node-lease", "-o", "json").stdout)
        return _parse(again["spec"]["renewTime"]) > first

    wait_for(renewed, timeout=15, what="a lease renewal")
    described = cluster.kubectl("describe", "node", node).stdout
    section = described.split("Lease:", 1)[1].split("Conditions:", 1)[0]
    assert f"HolderIdentity:  {node}" in section, section
    assert "RenewTime:" in section and "<unset>" not in section.split("RenewTime:", 1)[1].splitlines()[0]


def test_lease_validation_is_kubernetes(cluster: Cluster) -> None:
    bad = cluster.kubectl("apply", "-f", "-", check=False, input="""
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: my-leader}
spec: {holderIdentity: me, leaseDurationSeconds: 0}
""")
    assert bad.returncode != 0
    assert bad.stderr.strip() == ('The Lease "my-leader" is invalid: spec.leaseDurationSeconds: Invalid value: 0: '
                                  "must be greater than 0")
    assert cluster.kubectl("get", "lease", "my-leader", check=False).returncode != 0
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: my-leader}
spec: {holderIdentity: me, leaseDurationSeconds: 15}
""")
    try:
        rows = cluster.kubectl("get", "leases").stdout.splitlines()
        assert any(r.split()[:2] == ["my-leader", "me"] for r in rows), rows
    finally:
        cluster.kubectl("delete", "lease", "my-leader", check=False)


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)
