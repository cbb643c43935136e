"""PersistentVolumeClaims, PersistentVolumes and StorageClasses through the real kubectl: the default
``standard`` class provisions a hostPath folder per claim, claims go Bound, the reclaim policy
applies on deletion, and a claim that cannot be bound stays Pending with an event saying why."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .conftest import Cluster, wait_for


def claim(name: str, storage_class: str | None = None, size: str = "1Gi") -> str:
    cls = f"\n  storageClassName: {storage_class}" if storage_class is not None else ""
    return f"""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: {name}}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: {size}}}}}{cls}
"""


def get(cluster: Cluster, *args: str) -> Any:
    proc = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def phase(cluster: Cluster, name: str) -> str | None:
    return ((get(cluster, "pvc", name) or {}).get("status") or {}).get("phase")


def test_default_class_provisions_and_binds(cluster: Cluster) -> None:
    sc = cluster.kubectl("get", "sc").stdout.splitlines()
    assert sc[0].split() == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION",
                             "AGE"]
    assert sc[1].split()[:6] == ["standard", "(default)", "k8s.io/minikube-hostpath", "Delete", "Immediate",
                                 "false"]
    cluster.kubectl("apply", "-f", "-", input=claim("data"))
    wait_for(lambda: phase(cluster, "data") == "Bound", timeout=10, what="the claim to be Bound")
    pvc = get(cluster, "pvc", "data")
    volume = pvc["spec"]["volumeName"]
    assert pvc["spec"]["storageClassName"] == "standard"
    assert pvc["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    assert pvc["status"]["capacity"] == {"storage": "1Gi"}
    pv = get(cluster, "pv", volume)
    assert pv["status"]["phase"] == "Bound"
    assert pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    folder = Path(pv["spec"]["hostPath"]["path"])
    assert folder == cluster.settings.state_dir / "volumes" / volume and folder.is_dir()

    out = cluster.kubectl("get", "pvc,pv").stdout
    assert "STATUS   VOLUME" in out and "VOLUMEATTRIBUTESCLASS" in out
    row = next(line.split() for line in out.splitlines() if line.startswith("persistentvolumeclaim/data"))
    assert row[:6] == ["persistentvolumeclaim/data", "Bound", volume, "1Gi", "RWO", "standard"]
    row = next(line.split() for line in out.splitlines() if line.startswith(f"persistentvolume/{volume}"))
    assert row[1:7] == ["1Gi", "RWO", "Delete", "Bound", "default/data", "standard"]

    cluster.kubectl("delete", "pvc", "data")
    wait_for(lambda: get(cluster, "pv", volume) is None, timeout=10, what="the volume to be deleted")
    assert not folder.exists()


def test_retain_keeps_the_data(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: keep}
provisioner: k8s.io/minikube-hostpath
reclaimPolicy: Retain
""" + "---" + claim("kept", "keep"))
    wait_for(lambda: phase(cluster, "kept") == "Bound", timeout=10, what="the claim to be Bound")
    volume = get(cluster, "pvc", "kept")["spec"]["volumeName"]
    folder = Path(get(cluster, "pv", volume)["spec"]["hostPath"]["path"])
    (folder / "PG_VERSION").write_text("16\n")
    cluster.kubectl("delete", "pvc", "kept")
    wait_for(lambda: ((get(cluster, "pv", volume) or {}).get("status") or {}).get("phase") == "Released",
             timeout=10, what="the volume to be Released")
    assert (folder / "PG_VERSION").read_text() == "16\n"
    assert "Released" in cluster.kubectl("get", "pv", volume).stdout
    cluster.kubectl("delete", "pv", volume)
    cluster.kubectl("delete", "sc", "keep")


def test_static_volume_is_bound(cluster: Cluster, tmp_path: Path) -> None:
    cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: PersistentVolume
metadata: {{name: static-pv}}
spec:
  capacity: {{storage: 2Gi}}
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  hostPath: {{path: {tmp_path}}}
""" + "---" + claim("static-claim", '""'))
    wait_for(lambda: phase(cluster, "static-claim") == "Bound", timeout=10, what="the claim to be Bound")
    assert get(cluster, "pvc", "static-claim")["spec"]["volumeName"] == "static-pv"
    cluster.kubectl("delete", "pvc", "static-claim")
    # A hand-written volume is Retain by default: released, never deleted.
    wait_for(lambda: (get(cluster, "pv", "static-pv") or {}).get("status", {}).get("phase") == "Released",
             timeout=10, what="the static volume to be Released")
    cluster.kubectl("delete", "pv", "static-pv")


def test_unbindable_claim_stays_pending_with_event(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=claim("orphan", "no-such-class"))
    events = wait_for(lambda: cluster.kubectl("get", "events", "--field-selector",
                                              "involvedObject.name=orphan").stdout, timeout=10,
                      what="an event on the claim")
    assert "ProvisioningFailed" in events and 'storageclass.storage.k8s.io "no-such-class" not found' in events
    assert phase(cluster, "orphan") == "Pending"
    described = cluster.kubectl("describe", "pvc", "orphan").stdout
    assert "Warning  ProvisioningFailed" in described
    assert "ProvisioningFailed" in cluster.kubectl("get", "events", "-A").stdout
    cluster.kubectl("delete", "pvc", "orphan")


def test_invalid_claim_is_refused(cluster: Cluster) -> None:
    proc = cluster.kubectl("apply", "-f", "-", check=False, input="""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: bad}
spec:
  resources: {requests: {storage: 1Gi}}
""")
    assert proc.returncode == 1
    assert 'The PersistentVolumeClaim "bad" is invalid: spec.accessModes: Required value' in proc.stderr


def test_a_claim_in_use_is_protected_until_its_pod_is_gone(cluster: Cluster) -> None:
    """kubernetes.io/pvc-protection: deleting a claim a running pod mounts leaves it Terminating (data
    and volume intact) until the pod is deleted; then the claim, its volume and the folder go.
    A bound volume deleted by hand stays Terminating while its claim exists (pv-protection)."""
    cluster.kubectl("apply", "-f", "-", input=claim("guarded") + """
---
apiVersion: v1
kind: Pod
metadata: {name: guarded-user}
spec:
  terminationGracePeriodSeconds: 0
  volumes: [{name: data, persistentVolumeClaim: {claimName: guarded}}]
  containers:
  - name: main
    image: minikube-lite/busybox:1.0
    command: ["sleep", "3600"]
    volumeMounts: [{name: data, mountPath: /data}]
""")
    try:
        wait_for(lambda: phase(cluster, "guarded") == "Bound", timeout=10, what="the claim to be Bound")
        pvc = get(cluster, "pvc", "guarded")
        assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
        volume = pvc["spec"]["volumeName"]
        assert get(cluster, "pv", volume)["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
        wait_for(lambda: (get(cluster, "pod", "guarded-user") or {}).get("status", {}).get("phase") == "Running",
                 timeout=30, what="the pod to run")

        cluster.kubectl("delete", "pv", volume, "--wait=false")
        cluster.kubectl("delete", "pvc", "guarded", "--wait=false")
        rows = cluster.kubectl("get", "pvc", "guarded").stdout.splitlines()
        assert rows[1].split()[1] == "Terminating", rows
        described = cluster.kubectl("describe", "pvc", "guarded").stdout
        assert "Used By:" in described and "guarded-user" in described.split("Used By:", 1)[1].splitlines()[0]
        time.sleep(2)  # give the controllers every chance to (wrongly) let go
        assert get(cluster, "pvc", "guarded") is not None
        pv = get(cluster, "pv", volume)
        assert pv is not None and pv["metadata"].get("deletionTimestamp")
        folder = Path(pv["spec"]["hostPath"]["path"])
        assert folder.is_dir()

        cluster.kubectl("delete", "pod", "guarded-user")
        wait_for(lambda: get(cluster, "pvc", "guarded") is None, timeout=10, what="the claim to go with its pod")
        wait_for(lambda: get(cluster, "pv", volume) is None, timeout=10, what="the volume to be deleted")
        assert not folder.exists()
    finally:
        cluster.kubectl("delete", "pod", "guarded-user", "--wait=false", check=False)
        cluster.kubectl("delete", "pvc", "guarded", "--wait=false", check=False)


def test_wait_for_first_consumer_binds_when_a_pod_is_scheduled(cluster: Cluster) -> None:
    """volumeBindingMode WaitForFirstConsumer: the claim stays Pending (event WaitForFirstConsumer)
    until a pod using it is scheduled; the scheduler marks the claim with its node, then the volume is
    provisioned and the pod runs with it."""
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: late}
provisioner: k8s.io/minikube-hostpath
volumeBindingMode: WaitForFirstConsumer
""" + "---" + claim("late-claim", "late"))
    try:
        events = wait_for(lambda: cluster.kubectl("get", "events", "--field-selector",
                                                  "involvedObject.name=late-claim").stdout, timeout=10,
                          what="an event on the claim")
        assert "WaitForFirstConsumer" in events and "waiting for first consumer to be created before binding" in events
        time.sleep(1)
        assert phase(cluster, "late-claim") == "Pending"
        assert "WaitForFirstConsumer" in cluster.kubectl("get", "sc", "late").stdout

        cluster.kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: Pod
metadata: {name: late-user}
spec:
  terminationGracePeriodSeconds: 0
  volumes: [{name: data, persistentVolumeClaim: {claimName: late-claim}}]
  containers:
  - name: main
    image: minikube-lite/busybox:1.0
    command: ["sh", "-c", "echo hello > /data/f && sleep 3600"]
    volumeMounts: [{name: data, mountPath: /data}]
""")
        wait_for(lambda: phase(cluster, "late-claim") == "Bound", timeout=15, what="the claim to be Bound")
        pvc = get(cluster, "pvc", "late-claim")
        assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == cluster.settings.node_name
        wait_for(lambda: (get(cluster, "pod", "late-user") or {}).get("status", {}).get("phase") == "Running",
                 timeout=30, what="the pod to run")
        folder = Path(get(cluster, "pv", pvc["spec"]["volumeName"])["spec"]["hostPath"]["path"])
        wait_for(lambda: (folder / "f").exists(), timeout=10, what="the pod's file in the volume")
    finally:
        cluster.kubectl("delete", "pod", "late-user", check=False)
        cluster.kubectl("delete", "pvc", "late-claim", check=False)
        cluster.kubectl("delete", "sc", "late", check=False)
