"""The kubelet against the real Docker engine (with an in-memory API, see test_kubelet_fakeclient).

Each test gets a cluster id of its own; every container the kubelet makes carries it, and the
clean-up removes exactly those (and the test's network), never anything else on the engine.
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import statistics
import subprocess
import tarfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import docker
import docker.errors
import pytest

from minikube_lite.config import CLUSTER_LABEL
from minikube_lite.kubelet import Kubelet
from minikube_lite.kubelet.cleanup import remove_cluster_objects
from tests.e2e.test_kubelet_fakeclient import FakeClient

NODE = "kubelet-test-node"
SHARED_IMAGE = "minikube-lite/busybox:1.0"
TEST_IMAGE = "minikube-lite-test/kubelet-busybox:1"


def _docker() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
        return client
    except docker.errors.DockerException as e:
        pytest.fail(f"the Docker engine does not answer: {e}")


def _build_busybox(client: docker.DockerClient) -> None:
    """A busybox image from the host's static /bin/busybox (no registry needed)."""
    busybox = "/bin/busybox"
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "www", "etc"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets:
            if applet == "busybox":
                continue
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
    repo, tag = TEST_IMAGE.rsplit(":", 1)
    client.api.import_image_from_data(buf.getvalue(), repository=repo, tag=tag,
                                      changes=['CMD ["sh"]', 'ENV PATH=/bin'])


@pytest.fixture(scope="module")
def image() -> str:
    client = _docker()
    try:
        client.images.get(SHARED_IMAGE)
        return SHARED_IMAGE
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.get(TEST_IMAGE)
    except docker.errors.ImageNotFound:
        if not os.path.exists("/bin/busybox"):
            pytest.fail("no busybox image and no /bin/busybox to build one from")
        _build_busybox(client)
    return TEST_IMAGE


class Env:
    def __init__(self, image: str) -> None:
        self.image = image
        self.docker = _docker()
        self.cluster_id = "kt" + secrets.token_hex(4)
        self.network = f"minikube-lite-test-{self.cluster_id}"
        self.api = FakeClient()

    def kubelet(self, **kwargs: Any) -> Kubelet:
        kwargs.setdefault("resync_seconds", 2.0)
        return Kubelet(self.api, node_name=NODE, cluster_id=self.cluster_id, network_name=self.network, **kwargs)

    def containers(self, pod: str | None = None, *, running_only: bool = False) -> list[Any]:
        labels = [f"{CLUSTER_LABEL}={self.cluster_id}"]
        if pod:
            labels.append(f"io.kubernetes.pod.name={pod}")
        # ignore_removed: a container the kubelet removes between the list and its inspect is gone, not an error
        return self.docker.containers.list(all=not running_only, filters={"label": labels}, ignore_removed=True)

    def app_container(self, pod: str, name: str) -> Any:
        found = [c for c in self.containers(pod, running_only=True)
                 if c.labels.get("io.kubernetes.container.name") == name]
        assert len(found) == 1, found
        return found[0]

    async def create_pod(self, name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
        for c in [*containers, *spec.get("initContainers", [])]:
            c.setdefault("image", self.image)
        return await self.api.create("pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
            "spec": {"nodeName": NODE, "containers": containers, **spec},
        })

    def cleanup(self) -> None:
        removed = remove_cluster_objects(self.docker, self.cluster_id, self.network)
        assert not removed.problems, removed.problems


@pytest.fixture
def env(image: str) -> Iterator[Env]:
    e = Env(image)
    try:
        yield e
    finally:
        e.cleanup()


async def eventually(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if isinstance(last, Awaitable):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last={last!r}")


def running(api: FakeClient, name: str, restarts: int = 0) -> dict[str, Any] | None:
    pod = api.pod(name)
    if not pod:
        return None
    status = pod.get("status") or {}
    cs = status.get("containerStatuses") or []
    if status.get("phase") == "Running" and cs and all(
            "running" in c["state"] and c["restartCount"] == restarts for c in cs):
        return pod
    return None


def run_with_kubelet(env: Env, scenario: Callable[[Kubelet], Awaitable[None]], **kwargs: Any) -> None:
    async def main() -> None:
        kubelet = env.kubelet(**kwargs)
        task = asyncio.create_task(kubelet.run())
        try:
            await eventually(lambda: ("nodes", "", NODE) in env.api.objects or task.done(), what="node")
            if task.done():
                task.result()
            await scenario(kubelet)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await kubelet.shutdown(remove_containers=False)

    asyncio.run(main())


SLEEP = {"name": "app", "command": ["sleep", "3600"]}


def test_node_is_registered_ready(env: Env) -> None:
    async def scenario(kubelet: Kubelet) -> None:
        node = await env.api.get("nodes", NODE)
        ready = {c["type"]: c for c in node["status"]["conditions"]}["Ready"]
        assert ready["status"] == "True" and ready["reason"] == "KubeletReady"
        assert node["metadata"]["labels"]["kubernetes.io/hostname"] == NODE
        assert int(node["status"]["capacity"]["cpu"]) >= 1
        assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("docker://")
        internal = next(a for a in node["status"]["addresses"] if a["type"] == "InternalIP")["address"]
        net = env.docker.networks.get(env.network)
        assert net.attrs["Labels"][CLUSTER_LABEL] == env.cluster_id
        assert internal == net.attrs["IPAM"]["Config"][0]["Gateway"]

    run_with_kubelet(env, scenario)


def test_pod_runs_restarts_on_kill_and_is_deleted(env: Env) -> None:
    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("web", [dict(SLEEP)], terminationGracePeriodSeconds=1)
        pod = await eventually(lambda: running(env.api, "web"), what="Running")
        status = pod["status"]
        assert status["podIP"] and status["hostIP"] and status["startTime"]
        assert status["qosClass"] == "BestEffort"
        conds = {c["type"]: c["status"] for c in status["conditions"]}
        assert conds["Ready"] == "True" and conds["ContainersReady"] == "True"
        [cs] = status["containerStatuses"]
        assert cs["ready"] and cs["containerID"].startswith("docker://")
        app = env.app_container("web", "app")
        assert app.labels["io.kubernetes.pod.uid"] == pod["metadata"]["uid"]
        assert app.labels["io.kubernetes.container.restartCount"] == "0"
        assert app.attrs["HostConfig"]["RestartPolicy"]["Name"] in ("", "no")
        assert app.name.startswith(f"mkl_{env.cluster_id[:8]}_app_web_default_")

        t0 = time.monotonic()
        app.kill()
        pod = await eventually(lambda: running(env.api, "web", restarts=1), timeout=5, what="restart")
        elapsed = time.monotonic() - t0
        assert elapsed < 2.0, f"kill -> Running took {elapsed:.2f}s"
        [cs] = pod["status"]["containerStatuses"]
        assert cs["lastState"]["terminated"]["exitCode"] == 137
        assert cs["lastState"]["terminated"]["reason"] == "Error"
        assert pod["status"]["podIP"] == status["podIP"]  # the pause container kept the address
        apps = [c for c in env.containers("web") if c.labels["io.kubernetes.container.name"] == "app"]
        assert len(apps) == 2  # the dead one is kept for logs --previous

        await env.api.delete("pods", "web")
        await eventually(lambda: env.api.pod("web") is None, timeout=10, what="pod deleted")
        await eventually(lambda: not env.containers("web"), timeout=5, what="containers removed")

    run_with_kubelet(env, scenario)


def test_two_containers_share_localhost_and_env(env: Env) -> None:
    web = {"name": "web", "command": ["sh", "-c", ("mkdir -p /tmp/www && echo hello-$(POD) > /tmp/www/index.html"
                                      " && exec httpd -f -p 8080 -h /tmp/www")],
           "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}
    client = {"name": "client", "command": ["sleep"], "args": ["3600"], "workingDir": "/tmp",
              "env": [{"name": "GREETING", "value": "hi"},
                      {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                      {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}

    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("duo", [web, client])
        pod = await eventually(lambda: running(env.api, "duo"), what="Running")
        c = env.app_container("duo", "client")

        def fetch() -> bytes | None:
            code, out = c.exec_run(["wget", "-qO-", "http://localhost:8080/"])
            return out if code == 0 else None

        out = await eventually(lambda: fetch(), timeout=5, what="httpd on localhost")
        assert out.strip() == b"hello-duo"
        _code, out = c.exec_run(["sh", "-c", "echo $GREETING $MY_IP $NODE $(pwd)"])
        assert out.decode().split() == ["hi", pod["status"]["podIP"], NODE, "/tmp"]
        # A restart of one container does not break the other's localhost.
        env.app_container("duo", "web").kill()
        await eventually(lambda: running(env.api, "duo", restarts=0) is None and
                         (env.api.pod("duo") or {}).get("status", {}).get("phase") == "Running", what="restart")
        out = await eventually(lambda: fetch(), timeout=5, what="httpd back on localhost")
        assert out.strip() == b"hello-duo"

    run_with_kubelet(env, scenario)


def test_adoption_after_restart_makes_no_duplicates(env: Env) -> None:
    async def first(kubelet: Kubelet) -> None:
        await env.create_pod("keep", [dict(SLEEP)])
        await eventually(lambda: running(env.api, "keep"), what="Running")
        env.app_container("keep", "app").kill()
        await eventually(lambda: running(env.api, "keep", restarts=1), what="restart")

    run_with_kubelet(env, first)
    before = sorted(c.id for c in env.containers("keep", running_only=True))
    assert len(before) == 2  # pause + app

    async def second(kubelet: Kubelet) -> None:
        await asyncio.sleep(2.5)  # a full resync and orphan sweep
        pod = running(env.api, "keep", restarts=1)
        assert pod is not None

    run_with_kubelet(env, second)
    after = sorted(c.id for c in env.containers("keep", running_only=True))
    assert after == before


def test_foreign_containers_are_never_touched(env: Env) -> None:
    other = env.docker.containers.run(env.image, ["sleep", "3600"], detach=True,
                                      labels={"io.kubernetes.pod.name": "web", "io.kubernetes.pod.namespace": "default"})
    other_cluster = env.docker.containers.run(env.image, ["sleep", "3600"], detach=True,
                                              labels={CLUSTER_LABEL: "someone-else",
                                                      "io.kubernetes.pod.name": "web",
                                                      "io.kubernetes.pod.namespace": "default"})
    try:
        async def scenario(kubelet: Kubelet) -> None:
            await asyncio.sleep(2.5)  # initial list, sweep and a resync
            await env.create_pod("web", [dict(SLEEP)])
            await eventually(lambda: running(env.api, "web"), what="Running")
            await env.api.delete("pods", "web", grace_period_seconds=0)
            await eventually(lambda: not env.containers("web"), what="removed")

        run_with_kubelet(env, scenario)
        other.reload()
        other_cluster.reload()
        assert other.status == "running" and other_cluster.status == "running"
    finally:
        other.remove(force=True)
        other_cluster.remove(force=True)


def test_orphans_of_this_cluster_are_removed(env: Env) -> None:
    async def first(kubelet: Kubelet) -> None:
        await env.create_pod("gone", [dict(SLEEP)])
        await eventually(lambda: running(env.api, "gone"), what="Running")

    run_with_kubelet(env, first)
    # The pod vanishes from the API while no kubelet runs.
    env.api.objects.pop(("pods", "default", "gone"))

    async def second(kubelet: Kubelet) -> None:
        await eventually(lambda: not env.containers("gone"), what="orphans removed")

    run_with_kubelet(env, second)


def test_restart_policies_and_phases(env: Env) -> None:
    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("ok", [{"name": "c", "command": ["true"]}], restartPolicy="Never")
        await env.create_pod("bad", [{"name": "c", "command": ["sh", "-c", "exit 3"]}], restartPolicy="Never")
        await env.create_pod("retry", [{"name": "c", "command": ["sh", "-c", "exit 2"]}], restartPolicy="OnFailure")
        await env.create_pod("done", [{"name": "c", "command": ["true"]}], restartPolicy="OnFailure")

        def phase(name: str) -> str | None:
            return ((env.api.pod(name) or {}).get("status") or {}).get("phase")

        await eventually(lambda: phase("ok") == "Succeeded", what="Succeeded")
        await eventually(lambda: phase("bad") == "Failed", what="Failed")
        await eventually(lambda: phase("done") == "Succeeded", what="OnFailure + exit 0")
        [cs] = env.api.pod("bad")["status"]["containerStatuses"]
        assert cs["state"]["terminated"]["exitCode"] == 3 and cs["state"]["terminated"]["reason"] == "Error"
        [cs] = env.api.pod("ok")["status"]["containerStatuses"]
        assert cs["state"]["terminated"]["reason"] == "Completed"
        ready = {c["type"]: c for c in env.api.pod("ok")["status"]["conditions"]}["Ready"]
        assert ready["status"] == "False" and ready["reason"] == "PodCompleted"

        def crash_looping() -> bool:
            pod = env.api.pod("retry") or {}
            cs = (pod.get("status") or {}).get("containerStatuses") or [{}]
            waiting = (cs[0].get("state") or {}).get("waiting") or {}
            return waiting.get("reason") == "CrashLoopBackOff" and cs[0]["restartCount"] == 1

        await eventually(crash_looping, what="CrashLoopBackOff after one immediate restart")
        pod = env.api.pod("retry")
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 2
        # Finished pods give back their network namespace.
        await eventually(lambda: not [c for c in env.containers("ok", running_only=True)], what="pause gone")

    run_with_kubelet(env, scenario)


def test_image_problems_show_as_waiting_reasons(env: Env) -> None:
    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("never", [{"name": "c", "image": "minikube-lite-test/absent:1",
                                        "imagePullPolicy": "Never"}])
        await env.create_pod("pull", [{"name": "c", "image": "minikube-lite-test/absent:1"}])

        def reason(name: str) -> str | None:
            cs = ((env.api.pod(name) or {}).get("status") or {}).get("containerStatuses") or [{}]
            return ((cs[0].get("state") or {}).get("waiting") or {}).get("reason")

        await eventually(lambda: reason("never") == "ErrImageNeverPull", what="ErrImageNeverPull")
        await eventually(lambda: reason("pull") == "ErrImagePull", what="ErrImagePull")
        await eventually(lambda: reason("pull") == "ImagePullBackOff", what="ImagePullBackOff")
        await kubelet._events.flush()
        events, _ = await env.api.list("events")
        reasons = {(e["involvedObject"]["name"], e["reason"]) for e in events}
        assert ("pull", "Failed") in reasons and ("pull", "Pulling") in reasons
        assert ("never", "ErrImageNeverPull") in reasons

    run_with_kubelet(env, scenario)


def test_logs_current_and_previous(env: Env) -> None:
    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("talk", [{"name": "c", "command": ["sh", "-c", "echo run-$(cat /proc/sys/kernel/random/uuid); sleep 3600"]}])
        await eventually(lambda: running(env.api, "talk"), what="Running")
        first = await eventually(lambda: env.app_container("talk", "c").logs(), what="output")
        env.app_container("talk", "c").kill()
        await eventually(lambda: running(env.api, "talk", restarts=1), what="restart")

        async def read(**kw: Any) -> bytes:
            return b"".join([chunk async for chunk in kubelet.logs("default", "talk", "c", **kw)])

        previous = await read(previous=True)
        assert previous == first
        current = await eventually(lambda: read(), what="new output")
        assert current.startswith(b"run-") and current != first
        stream = kubelet.logs("default", "talk", "c", follow=True)
        chunk = await asyncio.wait_for(stream.__anext__(), 5)
        assert chunk.startswith(b"run-")
        await stream.aclose()

    run_with_kubelet(env, scenario)


def test_kill_to_running_median(env: Env) -> None:
    """The figure of the issue: median kill -> Running over pods (each killed once) well under 1 s."""
    count = int(os.environ.get("KUBELET_BENCH_KILLS", "8"))

    async def scenario(kubelet: Kubelet) -> None:
        for i in range(count):
            await env.create_pod(f"k{i}", [dict(SLEEP)])
        for i in range(count):
            await eventually(lambda i=i: running(env.api, f"k{i}"), what=f"k{i} Running")
        times = []
        for i in range(count):
            c = env.app_container(f"k{i}", "app")
            t0 = time.monotonic()
            c.kill()
            await eventually(lambda i=i: running(env.api, f"k{i}", restarts=1), timeout=5, what="restart")
            times.append(time.monotonic() - t0)
        median = statistics.median(times)
        print(f"kill -> Running: median {median:.3f}s, max {max(times):.3f}s")
        assert median < 0.8, times

    run_with_kubelet(env, scenario)


def test_init_containers_run_in_order_before_the_app(env: Env) -> None:
    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("init", [{"name": "app", "command": ["sleep", "3600"]}], initContainers=[
            {"name": "one", "command": ["sh", "-c", "sleep 0.5; echo one > /dev/shm/order"]},
            {"name": "two", "command": ["sh", "-c", "echo two >> /dev/shm/order"]},
        ])

        def init_state() -> list[str]:
            st = (env.api.pod("init") or {}).get("status") or {}
            return [next(iter(s["state"])) for s in st.get("initContainerStatuses") or []]

        await eventually(lambda: init_state() == ["running", "waiting"], what="first init running")
        pod = env.api.pod("init")
        assert pod["status"]["phase"] == "Pending"
        assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
        pod = await eventually(lambda: running(env.api, "init"), what="app running")
        assert [s["state"]["terminated"]["reason"] for s in pod["status"]["initContainerStatuses"]] == \
            ["Completed", "Completed"]
        _, out = env.app_container("init", "app").exec_run(["cat", "/dev/shm/order"])  # IPC shared with the pod
        assert out.split() == [b"one", b"two"]

    run_with_kubelet(env, scenario)


def test_missing_config_map_is_create_container_config_error_until_created(env: Env) -> None:
    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("cfg", [{"name": "app", "command": ["sleep", "3600"], "env": [
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}]}])

        def waiting_reason() -> str | None:
            cs = ((env.api.pod("cfg") or {}).get("status") or {}).get("containerStatuses") or [{}]
            return ((cs[0].get("state") or {}).get("waiting") or {}).get("reason")

        await eventually(lambda: waiting_reason() == "CreateContainerConfigError", what="config error")
        cs = env.api.pod("cfg")["status"]["containerStatuses"][0]
        assert cs["state"]["waiting"]["message"] == 'configmap "settings" not found'
        await env.api.create("configmaps", {"metadata": {"name": "settings", "namespace": "default"},
                                            "data": {"mode": "fast"}})
        await eventually(lambda: running(env.api, "cfg"), timeout=15, what="running once the map exists")
        _, out = env.app_container("cfg", "app").exec_run(["sh", "-c", "echo $MODE"])
        assert out.strip() == b"fast"

    run_with_kubelet(env, scenario)


def test_graceful_delete_runs_pre_stop_then_sigterm(env: Env) -> None:
    # "app" ignores SIGTERM and only ends once its preStop hook ran; "watcher" ends on SIGTERM.
    # With a 20 s grace period, a delete finishing in a few seconds proves both were honoured.
    app = {"name": "app", "command": ["sh", "-c", "trap '' TERM; while [ ! -f /dev/shm/stop ]; do sleep 0.1; done"],
           "lifecycle": {"preStop": {"exec": {"command": ["touch", "/dev/shm/stop"]}}},
           "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}}}
    watcher = {"name": "watcher", "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]}

    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("grace", [app, watcher], terminationGracePeriodSeconds=20)
        pod = await eventually(lambda: running(env.api, "grace"), what="Running")
        assert pod["status"]["qosClass"] == "Burstable"
        c = env.app_container("grace", "app")
        assert c.attrs["HostConfig"]["Memory"] == 64 * 1024**2
        assert c.attrs["HostConfig"]["NanoCpus"] == 500_000_000
        t0 = time.monotonic()
        await env.api.delete("pods", "grace")
        await eventually(lambda: env.api.pod("grace") is None, timeout=25, what="deleted")
        elapsed = time.monotonic() - t0
        assert elapsed < 5, f"delete took {elapsed:.1f}s: preStop or SIGTERM not honoured"
        assert not env.containers("grace")
        await kubelet._events.flush()
        events, _ = await env.api.list("events")
        assert {e["involvedObject"].get("fieldPath") for e in events if e["reason"] == "Killing"} == \
            {"spec.containers{app}", "spec.containers{watcher}"}

    run_with_kubelet(env, scenario)


def test_post_start_hook_runs_and_a_failing_one_restarts_the_container(env: Env) -> None:
    # "hooked" waits for the file its postStart hook writes; "broken"'s hook fails, so the kubelet
    # kills the container (FailedPostStartHook, Killing) and the restart policy brings it back.
    hooked = {"name": "app", "command": ["sh", "-c", "while [ ! -f /tmp/hooked ]; do sleep 0.05; done; sleep 3600"],
              "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo from-hook > /tmp/hooked"]}}}}
    broken = {"name": "app", "command": ["sleep", "3600"],
              "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo no-good; exit 3"]}}}}

    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("hooked", [hooked])
        await env.create_pod("broken", [broken], terminationGracePeriodSeconds=0)
        await eventually(lambda: running(env.api, "hooked"), what="hooked Running")
        code, out = env.app_container("hooked", "app").exec_run(["cat", "/tmp/hooked"])
        assert (code, out) == (0, b"from-hook\n")

        def restarted() -> bool:
            cs = ((env.api.pod("broken") or {}).get("status") or {}).get("containerStatuses") or [{}]
            return cs[0].get("restartCount", 0) >= 1

        await eventually(restarted, timeout=20, what="broken restarted after its hook failed")
        await kubelet._events.flush()
        events, _ = await env.api.list("events")
        failed = [e for e in events if e["reason"] == "FailedPostStartHook"
                  and e["involvedObject"]["name"] == "broken"]
        assert failed and failed[0]["type"] == "Warning"
        assert "Exec lifecycle hook (['sh', '-c', 'echo no-good; exit 3'])" in failed[0]["message"]
        assert 'for Container "app" in Pod "broken_default(' in failed[0]["message"]
        assert "no-good" in failed[0]["message"]
        assert any(e["reason"] == "Killing" and e["message"] == "FailedPostStartHook" for e in events
                   if e["involvedObject"]["name"] == "broken")
        assert not any(e["reason"] == "FailedPostStartHook" for e in events if e["involvedObject"]["name"] == "hooked")

    run_with_kubelet(env, scenario)


def test_missing_executable_is_container_cannot_run(env: Env) -> None:
    async def scenario(kubelet: Kubelet) -> None:
        await env.create_pod("nocmd", [{"name": "c", "command": ["/no/such/binary"]}], restartPolicy="Never")

        def terminated() -> dict[str, Any] | None:
            cs = ((env.api.pod("nocmd") or {}).get("status") or {}).get("containerStatuses") or [{}]
            return (cs[0].get("state") or {}).get("terminated")

        term = await eventually(terminated, what="terminated")
        assert term["reason"] == "ContainerCannotRun" and "no/such/binary" in term["message"]
        await eventually(lambda: (env.api.pod("nocmd") or {})["status"]["phase"] == "Failed", what="Failed")

    run_with_kubelet(env, scenario)


def test_cluster_cleanup_outlasts_a_racing_kubelet(image: str) -> None:
    """Removing a cluster's objects while something still creates containers on its network: the
    network has "active endpoints" until every late container is gone, so the removal retries; a
    container and a network of another cluster are never touched."""
    client = _docker()
    ours, theirs = f"cleanup-{secrets.token_hex(4)}", f"cleanup-other-{secrets.token_hex(4)}"
    net = client.networks.create(f"minikube-lite-test-{ours}", labels={CLUSTER_LABEL: ours})
    other_net = client.networks.create(f"minikube-lite-test-{theirs}", labels={CLUSTER_LABEL: theirs})
    other = client.containers.run(image, ["sleep", "300"], detach=True, network=other_net.name,
                                  labels={CLUSTER_LABEL: theirs})
    try:
        client.containers.run(image, ["sleep", "300"], detach=True, network=net.name, labels={CLUSTER_LABEL: ours})

        def late_container() -> None:
            time.sleep(0.3)  # after the first listing: the first network removal meets its endpoint
            client.containers.run(image, ["sleep", "300"], detach=True, network=net.name,
                                  labels={CLUSTER_LABEL: ours})

        t = threading.Thread(target=late_container)
        t.start()
        # a listing that "misses" the late container on the first round: hold it until it exists
        real_remove_network = client.api.remove_network
        attempts: list[str] = []

        def remove_network(net_id: str) -> None:
            attempts.append(net_id)
            if len(attempts) == 1:
                t.join()
            real_remove_network(net_id)

        client.api.remove_network = remove_network  # type: ignore[method-assign]
        removed = remove_cluster_objects(client, ours, net.name)
        assert not removed.problems, removed.problems
        assert len(attempts) >= 2, "the first network removal should have met the late container"
        assert removed.networks == [net.name]
        assert not client.api.containers(all=True, filters={"label": f"{CLUSTER_LABEL}={ours}"})
        other.reload()
        assert other.status == "running"
        assert client.networks.get(other_net.id)
    finally:
        other.remove(force=True)
        other_net.remove()
        remove_cluster_objects(docker.from_env(), ours, net.name)
