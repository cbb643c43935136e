"""Volumes on the real cluster: emptyDir, hostPath, configMap/secret (updated in place), downwardAPI,
projected, persistentVolumeClaim; subPath, readOnly; config to env with a late config map."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import Cluster, pod_running, wait_for

BUSYBOX = "minikube-lite/busybox:1.0"


def _apply(cluster: Cluster, manifest: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=manifest)


def _exec(cluster: Cluster, pod: str, *cmd: str, container: str | None = None) -> str:
    args = ["exec", pod, *(["-c", container] if container else []), "--", *cmd]
    return cluster.kubectl(*args).stdout


def _events(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    data = cluster.get(f"/api/v1/namespaces/default/events?fieldSelector=involvedObject.name={name}") or {}
    return data.get("items") or []


def _waiting_reason(cluster: Cluster, name: str) -> str | None:
    statuses = ((cluster.pod(name) or {}).get("status") or {}).get("containerStatuses") or [{}]
    return ((statuses[0].get("state") or {}).get("waiting") or {}).get("reason")


def _delete(cluster: Cluster, *names: str) -> None:
    for n in names:
        cluster.kubectl("delete", *n.split("/"), "--wait=false", "--ignore-not-found", check=False)


def test_empty_dir_shared_memory_subpath_readonly(cluster: Cluster) -> None:
    _apply(cluster, f"""
apiVersion: v1
kind: Pod
metadata: {{name: vol-empty}}
spec:
  terminationGracePeriodSeconds: 0
  volumes:
  - {{name: shared, emptyDir: {{}}}}
  - {{name: mem, emptyDir: {{medium: Memory, sizeLimit: 16Mi}}}}
  containers:
  - name: writer
    image: {BUSYBOX}
    command: ["sh", "-c", "echo hello > /data/greeting; mkdir -p /data/sub; echo deep > /data/sub/f; sleep 3600"]
    volumeMounts:
    - {{name: shared, mountPath: /data}}
    - {{name: mem, mountPath: /mem}}
  - name: reader
    image: {BUSYBOX}
    command: ["sleep", "3600"]
    volumeMounts:
    - {{name: shared, mountPath: /shared, readOnly: true}}
    - {{name: shared, mountPath: /only-sub, subPath: sub}}
""")
    try:
        wait_for(lambda: pod_running(cluster, "vol-empty"), timeout=30, what="vol-empty running")
        wait_for(lambda: cluster.kubectl("exec", "vol-empty", "-c", "reader", "--", "cat", "/shared/greeting",
                                         check=False).stdout == "hello\n", timeout=10, what="shared file")
        assert _exec(cluster, "vol-empty", "cat", "/only-sub/f", container="reader") == "deep\n"
        ro = cluster.kubectl("exec", "vol-empty", "-c", "reader", "--", "touch", "/shared/x", check=False)
        assert ro.returncode != 0 and "Read-only file system" in ro.stderr + ro.stdout
        mounts = _exec(cluster, "vol-empty", "cat", "/proc/mounts", container="writer")
        assert any(line.split()[1] == "/mem" and line.split()[2] == "tmpfs" for line in mounts.splitlines())
        uid = cluster.pod("vol-empty")["metadata"]["uid"]
        folder = cluster.settings.state_dir / "kubelet" / "pods" / uid
        assert (folder / "volumes" / "shared" / "greeting").read_text() == "hello\n"
    finally:
        cluster.kubectl("delete", "pod", "vol-empty", "--timeout=30s", check=False)
    wait_for(lambda: not folder.exists(), timeout=10, what="the pod's volume folder removed")


def test_host_path_types(cluster: Cluster, tmp_path: Path) -> None:
    created = tmp_path / "made" / "here"
    _apply(cluster, f"""
apiVersion: v1
kind: Pod
metadata: {{name: vol-host}}
spec:
  terminationGracePeriodSeconds: 0
  volumes:
  - {{name: d, hostPath: {{path: {created}, type: DirectoryOrCreate}}}}
  containers:
  - name: main
    image: {BUSYBOX}
    command: ["sh", "-c", "echo from-pod > /host/out; sleep 3600"]
    volumeMounts: [{{name: d, mountPath: /host}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: vol-host-bad}}
spec:
  terminationGracePeriodSeconds: 0
  volumes:
  - {{name: f, hostPath: {{path: {tmp_path}/missing-file, type: File}}}}
  containers:
  - name: main
    image: {BUSYBOX}
    command: ["sleep", "3600"]
    volumeMounts: [{{name: f, mountPath: /f}}]
""")
    try:
        wait_for(lambda: (created / "out").exists() and (created / "out").read_text() == "from-pod\n",
                 timeout=30, what="the pod's file on the host")
        wait_for(lambda: any(e["reason"] == "FailedMount" for e in _events(cluster, "vol-host-bad")), timeout=15,
                 what="FailedMount")
        event = next(e for e in _events(cluster, "vol-host-bad") if e["reason"] == "FailedMount")
        assert event["message"] == (f'MountVolume.SetUp failed for volume "f" : hostPath type check failed: '
                                    f"{tmp_path}/missing-file is not a file")
        assert "ContainerCreating" in cluster.kubectl("get", "pod", "vol-host-bad").stdout
        assert not cluster.containers("vol-host-bad")
    finally:
        _delete(cluster, "pod/vol-host", "pod/vol-host-bad")


def test_config_map_and_secret_volumes_update_in_place(cluster: Cluster) -> None:
    pw = base64.b64encode(b"s3cret").decode()
    _apply(cluster, f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: vol-cm}}
data: {{app.conf: "v=1", other: "x"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: vol-secret}}
data: {{PGPASSWORD: {pw}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: vol-config, labels: {{tier: db}}}}
spec:
  terminationGracePeriodSeconds: 0
  volumes:
  - name: cfg
    configMap:
      name: vol-cm
      items: [{{key: app.conf, path: conf/app.conf}}]
  - {{name: sec, secret: {{secretName: vol-secret, defaultMode: 0400}}}}
  - {{name: opt, configMap: {{name: not-there, optional: true}}}}
  - name: info
    downwardAPI:
      items:
      - {{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}
      - {{path: name, fieldRef: {{fieldPath: metadata.name}}}}
  - name: all
    projected:
      sources:
      - configMap: {{name: vol-cm, items: [{{key: other, path: other}}]}}
      - secret: {{name: vol-secret}}
      - downwardAPI: {{items: [{{path: ns, fieldRef: {{fieldPath: metadata.namespace}}}}]}}
  containers:
  - name: main
    image: {BUSYBOX}
    command: ["sleep", "3600"]
    volumeMounts:
    - {{name: cfg, mountPath: /etc/app}}
    - {{name: sec, mountPath: /etc/sec}}
    - {{name: opt, mountPath: /etc/opt}}
    - {{name: info, mountPath: /etc/info}}
    - {{name: all, mountPath: /etc/all}}
""")
    try:
        wait_for(lambda: pod_running(cluster, "vol-config"), timeout=30, what="vol-config running")
        assert _exec(cluster, "vol-config", "cat", "/etc/app/conf/app.conf") == "v=1"
        assert _exec(cluster, "vol-config", "cat", "/etc/sec/PGPASSWORD") == "s3cret"
        assert _exec(cluster, "vol-config", "stat", "-L", "-c", "%a", "/etc/sec/PGPASSWORD").strip() == "400"
        assert _exec(cluster, "vol-config", "ls", "/etc/opt") == ""
        assert _exec(cluster, "vol-config", "cat", "/etc/info/labels") == 'tier="db"'
        assert _exec(cluster, "vol-config", "cat", "/etc/info/name") == "vol-config"
        assert _exec(cluster, "vol-config", "cat", "/etc/all/other", "/etc/all/PGPASSWORD", "/etc/all/ns") == \
            "xs3cretdefault"
        assert "..data" in _exec(cluster, "vol-config", "ls", "-a", "/etc/app")

        cluster.kubectl("patch", "configmap", "vol-cm", "--type=merge", "-p", json.dumps({"data": {"app.conf": "v=2"}}))
        t0 = time.monotonic()
        wait_for(lambda: cluster.kubectl("exec", "vol-config", "--", "cat", "/etc/app/conf/app.conf",
                                         check=False).stdout == "v=2", timeout=15, what="updated file")
        assert time.monotonic() - t0 < 10  # within the kubelet's sync period
        cluster.kubectl("label", "pod", "vol-config", "tier=cache", "--overwrite")
        wait_for(lambda: cluster.kubectl("exec", "vol-config", "--", "cat", "/etc/info/labels",
                                         check=False).stdout == 'tier="cache"', timeout=15, what="labels file")
    finally:
        _delete(cluster, "pod/vol-config", "configmap/vol-cm", "secret/vol-secret")


def test_env_from_config_waits_for_the_key_then_starts(cluster: Cluster) -> None:
    _apply(cluster, f"""
apiVersion: v1
kind: Pod
metadata: {{name: env-late}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: {BUSYBOX}
    command: ["sh", "-c", "echo $MODE $APP_color $PGPASSWORD; sleep 3600"]
    env:
    - name: MODE
      valueFrom: {{configMapKeyRef: {{name: env-late-cm, key: mode}}}}
    - name: MAYBE
      valueFrom: {{secretKeyRef: {{name: nope, key: x, optional: true}}}}
    envFrom:
    - {{configMapRef: {{name: env-late-cm}}, prefix: APP_}}
    - secretRef: {{name: env-late-secret}}
""")
    try:
        wait_for(lambda: _waiting_reason(cluster, "env-late") == "CreateContainerConfigError", timeout=30,
                 what="CreateContainerConfigError")
        assert "CreateContainerConfigError" in cluster.kubectl("get", "pod", "env-late").stdout
        cluster.kubectl("create", "secret", "generic", "env-late-secret", "--from-literal=PGPASSWORD=pw")
        cluster.kubectl("create", "configmap", "env-late-cm", "--from-literal=mode=prod",
                        "--from-literal=color=blue")
        t0 = time.monotonic()
        wait_for(lambda: pod_running(cluster, "env-late"), timeout=15, what="the pod starting by itself")
        assert time.monotonic() - t0 < 5  # the config map's watch event, not the 5 s retry, wakes it
        wait_for(lambda: cluster.kubectl("logs", "env-late", check=False).stdout == "prod blue pw\n", timeout=5,
                 what="the environment")
    finally:
        _delete(cluster, "pod/env-late", "configmap/env-late-cm", "secret/env-late-secret")


def _bind_by_hand(cluster: Cluster, claim: str, pv: str) -> None:
    """Bind claim and volume when no binder runs in this cluster (the claim names its volume)."""
    pvc = cluster.get(f"/api/v1/namespaces/default/persistentvolumeclaims/{claim}") or {}
    if (pvc.get("status") or {}).get("phase") == "Bound":
        return
    cluster.kubectl("patch", "pv", pv, "--subresource=status", "--type=merge", "-p",
                    json.dumps({"status": {"phase": "Bound"}}), check=False)
    cluster.kubectl("patch", "pvc", claim, "--subresource=status", "--type=merge", "-p",
                    json.dumps({"status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                                           "capacity": {"storage": "1Gi"}}}))


def test_persistent_volume_claim(cluster: Cluster, tmp_path: Path) -> None:
    data = tmp_path / "pv-data"
    _apply(cluster, f"""
apiVersion: v1
kind: PersistentVolume
metadata: {{name: vol-pv}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: manual
  hostPath: {{path: {data}}}
  claimRef: {{namespace: default, name: vol-claim}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: vol-claim}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  volumeName: vol-pv
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: vol-unbound}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: no-such-class
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: vol-pvc}}
spec:
  terminationGracePeriodSeconds: 0
  volumes: [{{name: data, persistentVolumeClaim: {{claimName: vol-claim}}}}]
  containers:
  - name: db
    image: {BUSYBOX}
    command: ["sh", "-c", "echo row >> /var/lib/db/table; sleep 3600"]
    volumeMounts: [{{name: data, mountPath: /var/lib/db, subPath: postgres}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: vol-pvc-pending}}
spec:
  terminationGracePeriodSeconds: 0
  volumes: [{{name: data, persistentVolumeClaim: {{claimName: vol-unbound}}}}]
  containers:
  - {{name: db, image: {BUSYBOX}, command: ["sleep", "3600"], volumeMounts: [{{name: data, mountPath: /d}}]}}
""")
    try:
        time.sleep(2)
        _bind_by_hand(cluster, "vol-claim", "vol-pv")
        wait_for(lambda: (data / "postgres" / "table").exists(), timeout=30, what="data in the PV's folder")
        assert (data / "postgres" / "table").read_text() == "row\n"
        wait_for(lambda: any(e["reason"] == "FailedMount" and "vol-unbound" in e["message"]
                             for e in _events(cluster, "vol-pvc-pending")), timeout=15, what="FailedMount")
        assert not cluster.containers("vol-pvc-pending")
        # the data outlives the pod
        cluster.kubectl("delete", "pod", "vol-pvc", "--timeout=30s")
        assert (data / "postgres" / "table").read_text() == "row\n"
    finally:
        _delete(cluster, "pod/vol-pvc", "pod/vol-pvc-pending", "pvc/vol-claim", "pvc/vol-unbound", "pv/vol-pv")


@pytest.mark.parametrize("policy", ["File", "FallbackToLogsOnError"])
def test_termination_message(cluster: Cluster, policy: str) -> None:
    name = f"term-{policy.lower()}"
    _apply(cluster, f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: {BUSYBOX}
    terminationMessagePolicy: {policy}
    command: ["sh", "-c", "{'echo bye > /dev/termination-log' if policy == 'File' else 'echo last words'}; exit 3"]
""")
    try:
        def terminated() -> dict[str, Any]:
            statuses = ((cluster.pod(name) or {}).get("status") or {}).get("containerStatuses") or [{}]
            return (statuses[0].get("state") or {}).get("terminated") or {}
        wait_for(lambda: terminated().get("message"), timeout=30, what="a termination message")
        assert terminated()["message"] == ("bye\n" if policy == "File" else "last words\n")
        assert terminated()["exitCode"] == 3
    finally:
        _delete(cluster, f"pod/{name}")
