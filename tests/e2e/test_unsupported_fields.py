"""Valid Kubernetes fields minikube-lite does not act on are accepted and stored, with a warning.

The same YAML must work here and on a real cluster (issue 8: reject nothing Kubernetes accepts),
but a field that would change behaviour on a real node must not be ignored in silence: kubectl
prints the server's ``Warning:`` lines, as it prints Kubernetes' own deprecation warnings.
"""

from __future__ import annotations

import json

from .conftest import Cluster, pod_running, wait_for

POD = """
apiVersion: v1
kind: Pod
metadata: {name: warned-pod}
spec:
  hostPID: true
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: minikube-lite/busybox:1.0
    command: ["sleep", "3600"]
  dnsConfig: {options: [{name: ndots, value: "2"}]}
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: warned-deploy}
spec:
  replicas: 1
  selector: {matchLabels: {app: warned-deploy}}
  template:
    metadata: {labels: {app: warned-deploy}}
    spec:
      terminationGracePeriodSeconds: 0
      volumes: [{name: shared, nfs: {server: nfs.example.com, path: /exports}}]
      containers:
      - name: main
        image: minikube-lite/busybox:1.0
        command: ["sleep", "3600"]
        volumeMounts: [{name: shared, mountPath: /data}]
"""

PLAIN = """
apiVersion: v1
kind: Pod
metadata: {name: plain-pod}
spec:
  hostPID: false
  affinity: {}
  containers:
  - {name: main, image: minikube-lite/busybox:1.0, command: ["sleep", "3600"]}
"""


def test_unsupported_fields_are_stored_with_a_warning(cluster: Cluster) -> None:
    try:
        out = cluster.kubectl("apply", "-f", "-", input=POD)
        assert "pod/warned-pod created" in out.stdout
        assert ("Warning: spec.hostPID: minikube-lite stores it but does not act on it "
                "(the pod's containers see only their own processes)") in out.stderr, out.stderr
        assert "Warning: spec.dnsConfig: minikube-lite stores it but does not act on it" in out.stderr
        stored = json.loads(cluster.kubectl("get", "pod", "warned-pod", "-o", "json").stdout)
        assert stored["spec"]["hostPID"] is True  # kept as written, not dropped
        assert stored["spec"]["dnsConfig"]["options"] == [{"name": "ndots", "value": "2"}]
        wait_for(lambda: pod_running(cluster, "warned-pod"), timeout=30, what="warned-pod running")

        out = cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT)
        assert "deployment.apps/warned-deploy created" in out.stdout
        assert ("Warning: spec.template.spec.volumes[0].nfs: minikube-lite stores it but does not act on it "
                "(the volume is mounted as an empty directory)") in out.stderr, out.stderr

        out = cluster.kubectl("apply", "-f", "-", input=PLAIN)
        assert "Warning" not in out.stderr, out.stderr  # neutral values say nothing
    finally:
        cluster.kubectl("delete", "pod", "warned-pod", "plain-pod", "--wait=false", check=False)
        cluster.kubectl("delete", "deployment", "warned-deploy", "--wait=false", check=False)
