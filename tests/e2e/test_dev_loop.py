"""The developer's loop, first steps: local images just run, and ``start`` returns a usable cluster.

Real Docker engine, real CLI and real kubectl. The course's ``image: stephengrider/multi-client``
(no tag: pull policy Always) is made present locally by tagging the locally built multi-client
image under that name; the tag is removed afterwards (only if this test created it). No registry
is reachable here, so the pull fails and the local image must run, with a Warning event naming
the pull error and the local image ID. A second cluster started with ``--image-pull=kubernetes``
must show Kubernetes' ``ErrImagePull`` for the same pod, and keep that mode across restarts.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from minikube_lite import images
from minikube_lite.config import Settings

from .conftest import Cluster, free_port, pod_running, wait_for

COURSE_IMAGE = "stephengrider/multi-client"
COURSE_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels:
    component: web
spec:
  containers:
    - name: client
      image: stephengrider/multi-client
      ports:
        - containerPort: 3000
"""


@pytest.fixture(scope="module")
def course_image() -> Iterator[str]:
    """``stephengrider/multi-client:latest`` present locally; the ID of the image it names."""
    client = docker.from_env()
    images.ensure_images(client)
    try:
        client.images.get(f"{COURSE_IMAGE}:latest")
        created = False
    except docker.errors.ImageNotFound:
        client.images.get(images.MULTI_CLIENT_IMAGE).tag(COURSE_IMAGE, tag="latest")
        created = True
    try:
        yield str(client.images.get(f"{COURSE_IMAGE}:latest").id)
    finally:
        if created:
            try:
                client.images.remove(f"{COURSE_IMAGE}:latest")  # the tag only: the image keeps its own
            except docker.errors.DockerException:
                pass


def events_of(cluster: Cluster, pod: str) -> list[dict[str, Any]]:
    data = cluster.get(f"/api/v1/namespaces/default/events?fieldSelector=involvedObject.name={pod}") or {}
    return data.get("items") or []


def test_course_yaml_runs_the_local_image_with_a_warning(cluster: Cluster, course_image: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=COURSE_POD.format(name="course-client"))
    try:
        wait_for(lambda: pod_running(cluster, "course-client"), timeout=30, what="the course's pod to run")
        pod = cluster.pod("course-client") or {}
        assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Always"
        status = pod["status"]["containerStatuses"][0]
        assert status["imageID"].endswith(course_image.split(":")[-1]) or course_image in status["imageID"]
        warnings = [e for e in events_of(cluster, "course-client") if e.get("type") == "Warning"]
        assert warnings, "a Warning event must say the pull failed and the local image was used"
        message = warnings[0]["message"]
        assert f'Failed to pull image "{COURSE_IMAGE}"' in message
        assert course_image in message and "local image" in message
        assert not any("ErrImagePull" in e.get("message", "") for e in events_of(cluster, "course-client"))
        described = cluster.kubectl("describe", "pod", "course-client").stdout
        assert "Warning" in described and course_image[:19] in described
    finally:
        cluster.kubectl("delete", "pod", "course-client", "--wait=false", check=False)


def test_missing_image_still_fails_with_err_image_pull(cluster: Cluster) -> None:
    manifest = COURSE_POD.format(name="no-such-image").replace(COURSE_IMAGE, "minikube-lite/not-here-at-all")
    cluster.kubectl("apply", "-f", "-", input=manifest)
    try:
        def waiting_reason() -> str | None:
            statuses = ((cluster.pod("no-such-image") or {}).get("status") or {}).get("containerStatuses") or []
            reason = ((statuses[0].get("state") or {}).get("waiting") or {}).get("reason") if statuses else None
            return reason if reason in ("ErrImagePull", "ImagePullBackOff") else None

        wait_for(waiting_reason, timeout=20, what="ErrImagePull")
    finally:
        cluster.kubectl("delete", "pod", "no-such-image", "--wait=false", check=False)


# ------------------------------------------------------------------ a cluster of its own: start itself

@pytest.fixture(scope="module")
def strict_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str]]:
    """A cluster started here with ``--image-pull=kubernetes``; yields it and ``start``'s output."""
    images.ensure_images()
    root = tmp_path_factory.mktemp("strict")
    settings = Settings(state_dir=(root / "state").resolve(), port=free_port())
    env = {k: v for k, v in os.environ.items() if k != "MINIKUBE_LITE_HOME"}
    env.update(KUBECONFIG=str(root / "kubeconfig"), KUBECACHEDIR=str(root / "kubecache"), HOME=str(root / "home"))
    (root / "home").mkdir(exist_ok=True)
    c = Cluster(settings, root / "kubeconfig", root / "kubecache", env)
    try:
        out = c.cli("start", "--port", str(settings.port), "--image-pull=kubernetes").stdout
        yield c, out
    finally:
        c.cli("delete", check=False)


def test_start_returns_when_the_node_is_ready(strict_cluster: tuple[Cluster, str]) -> None:
    c, out = strict_cluster
    # Right after start, with no waiting: the node is known and Ready.
    ip = c.cli("ip").stdout.strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", ip), ip
    status = c.cli("status", "-o", "json")
    assert json.loads(status.stdout)["Kubelet"] == "Running"
    match = re.search(r'Node "minikube-lite" Ready in (\d+\.\d+)s', out)
    assert match, out
    assert float(match.group(1)) < 20


def test_pod_applied_at_once_is_scheduled_without_failed_scheduling(strict_cluster: tuple[Cluster, str]) -> None:
    c, _ = strict_cluster
    manifest = COURSE_POD.format(name="at-once").replace(COURSE_IMAGE, images.BUSYBOX_IMAGE)
    manifest = manifest.replace("        - containerPort: 3000", "        - containerPort: 3000\n"
                                "      command: [sleep, '3600']")
    c.kubectl("apply", "-f", "-", input=manifest)
    wait_for(lambda: pod_running(c, "at-once"), timeout=30, what="the pod to run")
    reasons = [e.get("reason") for e in events_of(c, "at-once")]
    assert "Scheduled" in reasons and "FailedScheduling" not in reasons, reasons
    c.kubectl("delete", "pod", "at-once", "--wait=false", check=False)


def test_kubernetes_mode_fails_with_err_image_pull_and_is_kept(strict_cluster: tuple[Cluster, str],
                                                                 course_image: str) -> None:
    c, _ = strict_cluster
    assert Settings.load(c.settings.state_dir).image_pull == "kubernetes"
    c.kubectl("apply", "-f", "-", input=COURSE_POD.format(name="strict-client"))

    def pull_failed() -> bool:
        statuses = ((c.pod("strict-client") or {}).get("status") or {}).get("containerStatuses") or []
        reason = ((statuses[0].get("state") or {}).get("waiting") or {}).get("reason") if statuses else None
        return reason in ("ErrImagePull", "ImagePullBackOff")

    wait_for(pull_failed, timeout=20, what="ErrImagePull although the image is present locally")
    assert not any("local image" in e.get("message", "") for e in events_of(c, "strict-client"))
    c.kubectl("delete", "pod", "strict-client", "--wait=false", check=False)
    # The mode is a setting of the cluster: a plain restart keeps it.
    c.cli("stop")
    t0 = time.monotonic()
    out = c.cli("start").stdout
    assert "Ready in" in out and time.monotonic() - t0 < 30
    assert Settings.load(c.settings.state_dir).image_pull == "kubernetes"
    assert Path(c.settings.settings_file).exists()


def test_restart_returns_when_this_runs_kubelet_is_up(strict_cluster: tuple[Cluster, str]) -> None:
    """After a stop the Node still says Ready (its last kubelet's condition): start must wait for the
    new kubelet, whose first Lease renewal comes after the spawn, not return on the stale Ready."""
    from datetime import UTC, datetime

    c, _ = strict_cluster
    c.cli("stop")
    before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    c.cli("start")
    renewed = c.kubectl("get", "lease", "-n", "kube-node-lease", "minikube-lite",
                        "-o", "jsonpath={.spec.renewTime}").stdout.strip()
    assert renewed >= before, (renewed, before)
    assert json.loads(c.cli("status", "-o", "json").stdout)["Kubelet"] == "Running"
