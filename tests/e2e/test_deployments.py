"""Deployments and ReplicaSets end to end: the real kubectl, the real Docker engine.

Each test uses its own namespace on the shared session cluster, so they stay independent;
the kill -9 test starts a private cluster. Pods run ``sleep 3600`` in minikube-lite/busybox,
with a short termination grace (``sleep`` as PID 1 ignores SIGTERM) so replaced pods go fast.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest

from .conftest import Cluster, wait_for

ROOT = Path(__file__).resolve().parents[2]


def deployment(name: str, replicas: int = 3, *, labels: str = "", extra_spec: str = "",
               surge: Any = 1, unavailable: Any = 1, grace: int = 1) -> str:
    app = labels or name
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {app}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: {json.dumps(surge)}
      maxUnavailable: {json.dumps(unavailable)}
{extra_spec}
  template:
    metadata:
      labels:
        app: {app}
    spec:
      terminationGracePeriodSeconds: {grace}
      containers:
        - name: main
          image: minikube-lite/busybox:1.0
          command: ["sleep", "3600"]
"""


@pytest.fixture
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "dep-" + re.sub(r"[^a-z0-9]+", "-", request.node.name[5:].lower())[:50].strip("-")
    cluster.kubectl("apply", "-f", "-", input=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def apply(cluster: Cluster, ns: str, manifest: str) -> str:
    return cluster.kubectl("apply", "-n", ns, "-f", "-", input=manifest).stdout


def pods(cluster: Cluster, ns: str, selector: str) -> list[dict[str, Any]]:
    data = cluster.get(f"/api/v1/namespaces/{ns}/pods?labelSelector={selector}") or {"items": []}
    return data["items"]


def active(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in items if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


def ready(p: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (p.get("status") or {}).get("conditions") or [])


def deploy(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}") or {}


def rolled_out(cluster: Cluster, ns: str, name: str, timeout: float = 60) -> None:
    out = cluster.kubectl("rollout", "status", f"deploy/{name}", "-n", ns, f"--timeout={int(timeout)}s",
                          timeout=timeout + 10).stdout
    assert "successfully rolled out" in out


class Sampler:
    """Samples the pods of a selector in the background, for claims about every moment."""

    def __init__(self, cluster: Cluster, ns: str, selector: str) -> None:
        self.cluster, self.ns, self.selector = cluster, ns, selector
        self.samples: list[list[dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(active(pods(self.cluster, self.ns, self.selector)))
            time.sleep(0.05)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_apply_ready_and_scale_only_the_workers(cluster: Cluster, ns: str) -> None:
    worker = (ROOT / "examples" / "worker-deployment.yaml").read_text()
    apply(cluster, ns, worker)
    apply(cluster, ns, deployment("other", 2))
    rolled_out(cluster, ns, "worker-deployment")
    rolled_out(cluster, ns, "other")
    row = cluster.kubectl("get", "deploy", "worker-deployment", "-n", ns).stdout.splitlines()
    assert row[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row[1].split()[1:4] == ["3/3", "3", "3"]
    others = sorted(p["metadata"]["name"] for p in pods(cluster, ns, "app=other"))

    out = cluster.kubectl("scale", "deployment", "worker-deployment", "--replicas=5", "-n", ns).stdout
    assert "scaled" in out
    rolled_out(cluster, ns, "worker-deployment")
    assert len(active(pods(cluster, ns, "component=worker"))) == 5
    assert sorted(p["metadata"]["name"] for p in pods(cluster, ns, "app=other")) == others

    # Every pod went through the scheduler (bound by the binding subresource, Scheduled event).
    for p in active(pods(cluster, ns, "component=worker")):
        assert p["spec"]["nodeName"] and p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        assert p["metadata"]["labels"]["pod-template-hash"]

    cluster.kubectl("scale", "deployment", "worker-deployment", "--replicas=0", "-n", ns)
    wait_for(lambda: not active(pods(cluster, ns, "component=worker")), timeout=20, what="0 workers")
    assert deploy(cluster, ns, "worker-deployment")["spec"]["replicas"] == 0
    cluster.kubectl("scale", "deployment", "worker-deployment", "--replicas=2", "-n", ns)
    rolled_out(cluster, ns, "worker-deployment")
    assert len(active(pods(cluster, ns, "component=worker"))) == 2
    assert sorted(p["metadata"]["name"] for p in pods(cluster, ns, "app=other")) == others


def test_replacements_never_overshoot(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, deployment("keep", 3))
    rolled_out(cluster, ns, "keep")
    names = [p["metadata"]["name"] for p in active(pods(cluster, ns, "app=keep"))]
    with Sampler(cluster, ns, "app=keep") as sampler:
        cluster.kubectl("delete", "pod", "-n", ns, names[0], names[1], "--wait=false")
        wait_for(lambda: len([p for p in active(pods(cluster, ns, "app=keep")) if ready(p)]) == 3,
                 timeout=30, what="3 ready pods again")
        # Kill a container: the kubelet restarts it in place, the ReplicaSet does not add a pod.
        victim = cluster.containers(names[2])
        victim = [c for c in victim if c.labels.get("io.kubernetes.container.name") == "main"]
        assert victim
        victim[0].kill()
        time.sleep(2)
        wait_for(lambda: len([p for p in active(pods(cluster, ns, "app=keep")) if ready(p)]) == 3,
                 timeout=30, what="3 ready pods after the kill")
    assert max(len(s) for s in sampler.samples) <= 3
    assert len(active(pods(cluster, ns, "app=keep"))) == 3
    rs = cluster.kubectl("get", "rs", "-n", ns, "--no-headers").stdout.split()
    assert rs[1:4] == ["3", "3", "3"]


def test_rolling_update_respects_max_unavailable_and_surge(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, deployment("roll", 4, surge=1, unavailable=1))
    rolled_out(cluster, ns, "roll")
    with Sampler(cluster, ns, "app=roll") as sampler:
        cluster.kubectl("set", "env", "deploy/roll", "-n", ns, "VERSION=2")
        rolled_out(cluster, ns, "roll")
    seen = sampler.samples[5:]  # the first few samples precede the change
    assert max(len(s) for s in seen) <= 5  # replicas + maxSurge
    assert min(len([p for p in s if ready(p)]) for s in seen) >= 3  # replicas - maxUnavailable
    final = active(pods(cluster, ns, "app=roll"))
    assert len(final) == 4
    assert all(any(e.get("name") == "VERSION" for e in p["spec"]["containers"][0].get("env") or [])
               for p in final)
    d = deploy(cluster, ns, "roll")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    status = d["status"]
    assert status["observedGeneration"] == d["metadata"]["generation"]
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"],
            status["availableReplicas"]) == (4, 4, 4, 4)
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"

    describe = cluster.kubectl("describe", "deploy", "roll", "-n", ns).stdout
    assert "ScalingReplicaSet" in describe and "Scaled up replica set roll-" in describe
    assert "NewReplicaSet:" in describe
    rs = cluster.kubectl("get", "rs", "-n", ns).stdout.splitlines()
    assert rs[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert len(rs) == 3


def test_rollout_history_undo_restart_pause_resume(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, deployment("hist", 2))
    rolled_out(cluster, ns, "hist")
    cluster.kubectl("annotate", "deploy/hist", "-n", ns, "kubernetes.io/change-cause=second", "--overwrite")
    cluster.kubectl("set", "env", "deploy/hist", "-n", ns, "V=2")
    rolled_out(cluster, ns, "hist")
    history = cluster.kubectl("rollout", "history", "deploy/hist", "-n", ns).stdout
    assert "REVISION" in history and "second" in history
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]

    cluster.kubectl("rollout", "undo", "deploy/hist", "-n", ns, "--to-revision=1")
    rolled_out(cluster, ns, "hist")
    d = deploy(cluster, ns, "hist")
    assert not d["spec"]["template"]["spec"]["containers"][0].get("env")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    rss = cluster.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"]
    assert len(rss) == 2  # the old template's ReplicaSet was reused, not duplicated
    reused = [r for r in rss if r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"]
    assert reused[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"

    cluster.kubectl("rollout", "pause", "deploy/hist", "-n", ns)
    cluster.kubectl("set", "env", "deploy/hist", "-n", ns, "V=paused")
    time.sleep(1.5)
    assert len(cluster.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"]) == 2  # no rollout while paused
    conds = {c["type"]: c for c in deploy(cluster, ns, "hist")["status"]["conditions"]}
    assert conds["Progressing"]["reason"] == "DeploymentPaused"
    cluster.kubectl("rollout", "resume", "deploy/hist", "-n", ns)
    rolled_out(cluster, ns, "hist")
    assert len(cluster.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"]) == 3

    before = {p["metadata"]["name"] for p in active(pods(cluster, ns, "app=hist"))}
    cluster.kubectl("rollout", "restart", "deploy/hist", "-n", ns)
    rolled_out(cluster, ns, "hist")
    after = active(pods(cluster, ns, "app=hist"))
    assert len(after) == 2 and not before & {p["metadata"]["name"] for p in after}
    assert "kubectl.kubernetes.io/restartedAt" in deploy(cluster, ns, "hist")["spec"]["template"]["metadata"][
        "annotations"]


def test_revision_history_limit_and_recreate(cluster: Cluster, ns: str) -> None:
    manifest = deployment("rec", 2, extra_spec="  revisionHistoryLimit: 1\n").replace(
        "    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 1\n",
        "    type: Recreate\n")
    apply(cluster, ns, manifest)
    rolled_out(cluster, ns, "rec")
    old = {p["metadata"]["name"] for p in active(pods(cluster, ns, "app=rec"))}
    with Sampler(cluster, ns, "app=rec") as sampler:
        for v in ("2", "3"):
            cluster.kubectl("set", "env", "deploy/rec", "-n", ns, f"V={v}")
            rolled_out(cluster, ns, "rec")
    # Recreate: never old and new pods side by side.
    for s in sampler.samples:
        hashes = {p["metadata"]["labels"]["pod-template-hash"] for p in s}
        assert len(hashes) <= 1
    assert not old & {p["metadata"]["name"] for p in active(pods(cluster, ns, "app=rec"))}
    wait_for(lambda: len(cluster.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"]) == 2,
             timeout=10, what="old ReplicaSets beyond revisionHistoryLimit deleted")


def test_progress_deadline_exceeded(cluster: Cluster, ns: str) -> None:
    manifest = deployment("stuck", 1, extra_spec="  progressDeadlineSeconds: 3\n").replace(
        "minikube-lite/busybox:1.0", "minikube-lite/does-not-exist:1.0").replace(
        "      containers:", "      containers:")
    apply(cluster, ns, manifest.replace("image: minikube-lite/does-not-exist:1.0",
                                        "image: minikube-lite/does-not-exist:1.0\n          imagePullPolicy: Never"))
    proc = cluster.kubectl("rollout", "status", "deploy/stuck", "-n", ns, "--timeout=30s", check=False, timeout=40)
    assert proc.returncode != 0
    assert "exceeded its progress deadline" in proc.stderr + proc.stdout
    conds = {c["type"]: c for c in deploy(cluster, ns, "stuck")["status"]["conditions"]}
    assert conds["Progressing"]["status"] == "False"
    assert conds["Progressing"]["reason"] == "ProgressDeadlineExceeded"


def test_get_all_describe_and_scale_subresource(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, deployment("web", 1))
    rolled_out(cluster, ns, "web")
    out = cluster.kubectl("get", "all", "-n", ns).stdout
    assert "deployment.apps/web" in out and "replicaset.apps/web-" in out and "pod/web-" in out
    with cluster.http() as http:
        path = f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale"
        scale = http.get(path).json()
        assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
        assert scale["spec"]["replicas"] == 1 and scale["status"]["selector"] == "app=web"
        stale = dict(scale, spec={"replicas": 2}, metadata=dict(scale["metadata"], resourceVersion="1"))
        r = http.put(path, json=stale)
        assert r.status_code == 409 and r.json()["reason"] == "Conflict"
        r = http.put(path, json=dict(scale, spec={"replicas": 2}))
        assert r.status_code == 200 and r.json()["spec"]["replicas"] == 2
        r = http.patch(path, content=b'{"spec":{"replicas":-1}}',
                       headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 422 and "spec.replicas" in r.text
    rolled_out(cluster, ns, "web")
    out = cluster.kubectl("scale", "deploy/web", "-n", ns, "--replicas=1", "--current-replicas=2").stdout
    assert "scaled" in out


BAD = [
    ("replicas: 3", "replicas: -1", "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
    ("        app: bad\n    spec:", "        app: other\n    spec:", "`selector` does not match template `labels`"),
    ("maxSurge: 1", "maxSurge: 0", "may not be 0 when `maxSurge` is 0"),
    ("type: RollingUpdate", "type: Sideways", 'spec.strategy.type: Unsupported value: "Sideways"'),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD)
def test_bad_input_is_422_naming_the_field(cluster: Cluster, ns: str, old: str, new: str, message: str) -> None:
    manifest = deployment("bad", 3, unavailable=0).replace(old, new)
    proc = cluster.kubectl("apply", "-n", ns, "-f", "-", input=manifest, check=False)
    assert proc.returncode != 0
    assert 'The Deployment "bad" is invalid' in proc.stderr and message in proc.stderr
    assert cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/bad") is None


def test_selector_is_immutable(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, deployment("fixed", 1))
    proc = cluster.kubectl("patch", "deploy/fixed", "-n", ns, "-p",
                           '{"spec":{"selector":{"matchLabels":{"app":"x"}},'
                           '"template":{"metadata":{"labels":{"app":"x"}}}}}', check=False)
    assert proc.returncode != 0 and "spec.selector" in proc.stderr and "field is immutable" in proc.stderr


def test_cascading_delete_and_orphan_adoption(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, deployment("gone", 2))
    rolled_out(cluster, ns, "gone")
    cluster.kubectl("delete", "deploy/gone", "-n", ns)
    wait_for(lambda: not cluster.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"], timeout=20,
             what="ReplicaSets deleted with their Deployment")
    wait_for(lambda: not pods(cluster, ns, "app=gone"), timeout=30, what="pods deleted with their ReplicaSet")

    apply(cluster, ns, deployment("kept", 2))
    rolled_out(cluster, ns, "kept")
    names = {p["metadata"]["name"] for p in active(pods(cluster, ns, "app=kept"))}
    cluster.kubectl("delete", "deploy/kept", "-n", ns, "--cascade=orphan")
    time.sleep(1)
    assert {p["metadata"]["name"] for p in active(pods(cluster, ns, "app=kept"))} == names
    apply(cluster, ns, deployment("kept", 2))
    rolled_out(cluster, ns, "kept")
    # The orphaned ReplicaSet (same template) is adopted, so are its pods: nothing recreated.
    assert {p["metadata"]["name"] for p in active(pods(cluster, ns, "app=kept"))} == names


def test_kill_daemon_mid_rollout_finishes_without_duplicates(restartable: Cluster) -> None:
    cluster = restartable
    cluster.kubectl("apply", "-f", "-", input=deployment("survive", 4))
    rolled_out(cluster, "default", "survive")
    cluster.kubectl("set", "env", "deploy/survive", "V=2")
    wait_for(lambda: len(cluster.get("/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dsurvive")["items"]) == 2,
             timeout=10, what="the rollout to start")
    os.kill(int(cluster.settings.pid_file.read_text()), signal.SIGKILL)
    wait_for(lambda: cluster.get("/readyz") is None, timeout=5, what="the daemon to die")
    cluster.cli("start")
    rolled_out(cluster, "default", "survive")
    final = active(pods(cluster, "default", "app=survive"))
    assert len(final) == 4
    assert len({p["metadata"]["labels"]["pod-template-hash"] for p in final}) == 1
    rss = cluster.get("/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dsurvive")["items"]
    assert len(rss) == 2 and sorted(r["spec"]["replicas"] for r in rss) == [0, 4]
    time.sleep(1)
    assert len(active(pods(cluster, "default", "app=survive"))) == 4

