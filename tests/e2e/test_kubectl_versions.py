"""kubectl 1.27 (OpenAPI v2 protobuf) and 1.33 (OpenAPI v3) drive the same cluster, unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Cluster

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  containers:
    - name: main
      image: minikube-lite/busybox:1.0
      # exits on SIGTERM, so `kubectl delete` (which waits for the pod to go) takes a second,
      # not the 30 s grace period a PID 1 that ignores SIGTERM would cost per version
      command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
"""


@pytest.mark.parametrize("version", ["1.27", "1.28", "1.33"])
def test_apply_get_delete_with_kubectl(cluster: Cluster, tmp_path: Path, version: str) -> None:
    name = f"kv-{version.replace('.', '-')}"
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD.format(name=name))
    assert cluster.kubectl("apply", "-f", str(manifest), version=version).stdout.strip() == f"pod/{name} created"
    assert cluster.kubectl("apply", "-f", str(manifest), version=version).stdout.strip() == f"pod/{name} unchanged"
    manifest.write_text(POD.format(name=name).replace(f"app: {name}", f"app: {name}\n    v: '2'"))
    assert cluster.kubectl("apply", "-f", str(manifest), version=version).stdout.strip() == f"pod/{name} configured"
    out = cluster.kubectl("get", "pod", name, version=version).stdout
    assert out.split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    typo = tmp_path / "typo.yaml"
    typo.write_text(POD.format(name=name + "-typo").replace("image:", "imagee:"))
    proc = cluster.kubectl("apply", "-f", str(typo), version=version, check=False)
    assert proc.returncode != 0 and 'unknown field "spec.containers[0].imagee"' in proc.stderr
    assert f'pod "{name}" deleted' in cluster.kubectl("delete", "-f", str(manifest), version=version).stdout
