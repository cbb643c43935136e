"""The kubelet's decisions on plain inputs: restart policy, back-off, container status, phase, QoS."""

from __future__ import annotations

from typing import Any

import pytest

from minikube_lite.kubelet.backoff import Backoff
from minikube_lite.kubelet.runtime import SANDBOX, ContainerRecord, epoch, k8s_time
from minikube_lite.kubelet.status import (
    Waiting,
    container_status,
    pod_phase,
    pod_status,
    qos_class,
    should_restart,
)


def rec(name: str = "app", attempt: int = 0, status: str = "running", exit_code: int = 0, **kw: Any) -> ContainerRecord:
    return ContainerRecord(id=f"{name}{attempt}", docker_name="", name=name, namespace="default", pod="p",
                           pod_uid="u1", restart_count=attempt, status=status, exit_code=exit_code,
                           started_at="2024-01-01T00:00:00Z",
                           finished_at=None if status == "running" else "2024-01-01T00:00:05Z", **kw)


@pytest.mark.parametrize(("policy", "code", "expected"), [
    ("Always", 0, True), ("Always", 1, True), ("OnFailure", 0, False), ("OnFailure", 137, True),
    ("Never", 0, False), ("Never", 1, False),
])
def test_should_restart(policy: str, code: int, expected: bool) -> None:
    assert should_restart(policy, code) is expected


def test_backoff_first_restart_immediate_then_doubling_to_five_minutes() -> None:
    b = Backoff()
    now = 1000.0
    assert b.wait_time("c", since=now, now=now) == 0  # first crash: restart at once
    delays = []
    for _ in range(8):
        delays.append(b.record("c", now))
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]
    b2 = Backoff()
    b2.record("c", now)
    assert b2.wait_time("c", since=now + 1, now=now + 2) == pytest.approx(9)
    assert b2.wait_time("c", since=now + 1, now=now + 12) == 0


def test_backoff_resets_after_ten_minutes_of_running() -> None:
    b = Backoff()
    b.record("c", 0)
    b.record("c", 1)
    assert b.delay("c", 2) == 20
    assert b.wait_time("c", since=700, now=700) == 0  # ran > 10 min since the last restart
    assert b.record("c", 700) == 10


def test_container_status_running_after_a_restart_keeps_last_state() -> None:
    s = container_status({"name": "app", "image": "img"}, [rec(attempt=0, status="exited", exit_code=137),
                                                          rec(attempt=1)], None)
    assert s["restartCount"] == 1 and s["ready"] and s["started"]
    assert s["state"] == {"running": {"startedAt": "2024-01-01T00:00:00Z"}}
    assert s["lastState"]["terminated"]["exitCode"] == 137
    assert s["lastState"]["terminated"]["reason"] == "Error"
    assert s["containerID"] == "docker://app1"


def test_container_status_crash_loop_and_terminated_reasons() -> None:
    looping = container_status({"name": "app", "image": "img"}, [rec(attempt=1, status="exited", exit_code=1)],
                               Waiting("CrashLoopBackOff", "back-off 10s"))
    assert looping["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert looping["lastState"]["terminated"]["exitCode"] == 1 and looping["restartCount"] == 1
    done = container_status({"name": "app"}, [rec(status="exited")], None)
    assert done["state"]["terminated"]["reason"] == "Completed"
    oom = container_status({"name": "app"}, [rec(status="exited", exit_code=137, oom_killed=True)], None)
    assert oom["state"]["terminated"]["reason"] == "OOMKilled"
    cannot = container_status({"name": "app"}, [rec(status="created", exit_code=127, error="no such file")], None)
    assert cannot["state"]["terminated"]["reason"] == "ContainerCannotRun"
    assert cannot["state"]["terminated"]["message"] == "no such file"
    creating = container_status({"name": "app"}, [], None)
    assert creating["state"] == {"waiting": {"reason": "ContainerCreating"}}
    pull = container_status({"name": "app"}, [], Waiting("ErrImagePull", "no such host"))
    assert pull["state"]["waiting"] == {"reason": "ErrImagePull", "message": "no such host"}


def _s(state: dict[str, Any], last: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"state": state, "lastState": last or {}}


RUNNING = _s({"running": {}})
OK = _s({"terminated": {"exitCode": 0}})
FAIL = _s({"terminated": {"exitCode": 1}})
CREATING = _s({"waiting": {"reason": "ContainerCreating"}})
LOOPING = _s({"waiting": {"reason": "CrashLoopBackOff"}}, {"terminated": {"exitCode": 1}})


@pytest.mark.parametrize(("policy", "statuses", "phase"), [
    ("Always", [CREATING], "Pending"),
    ("Always", [RUNNING], "Running"),
    ("Always", [RUNNING, CREATING], "Pending"),
    ("Always", [LOOPING], "Running"),
    ("Always", [OK], "Running"),
    ("Never", [OK], "Succeeded"),
    ("Never", [OK, FAIL], "Failed"),
    ("OnFailure", [OK], "Succeeded"),
    ("OnFailure", [LOOPING], "Running"),
    ("Never", [RUNNING, OK], "Running"),
])
def test_pod_phase(policy: str, statuses: list[dict[str, Any]], phase: str) -> None:
    assert pod_phase(policy, statuses, [], True, None) == phase


def test_pod_phase_terminal_sticks_and_init_containers() -> None:
    assert pod_phase("Always", [RUNNING], [], True, "Succeeded") == "Succeeded"
    assert pod_phase("Always", [CREATING], [RUNNING], False, "Pending") == "Pending"
    assert pod_phase("Never", [CREATING], [FAIL], False, "Pending") == "Failed"
    assert pod_phase("OnFailure", [CREATING], [FAIL], False, "Pending") == "Pending"


def _pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": {"containers": list(containers), **spec}, "status": {}}


def test_qos_class() -> None:
    assert qos_class(_pod({"name": "a"})) == "BestEffort"
    assert qos_class(_pod({"name": "a", "resources": {"requests": {"cpu": "100m"}}})) == "Burstable"
    limits = {"cpu": "1", "memory": "128Mi"}
    assert qos_class(_pod({"name": "a", "resources": {"limits": limits}})) == "Guaranteed"
    assert qos_class(_pod({"name": "a", "resources": {"limits": limits, "requests": {"cpu": "1000m"}}})) \
        == "Guaranteed"
    assert qos_class(_pod({"name": "a", "resources": {"limits": limits, "requests": {"cpu": "500m"}}})) \
        == "Burstable"
    assert qos_class(_pod({"name": "a", "resources": {"limits": limits}}, {"name": "b"})) == "Burstable"


def test_pod_status_running_pod() -> None:
    pod = _pod({"name": "app", "image": "img"})
    sandbox = rec(SANDBOX, ip="172.20.0.5")
    status = pod_status(pod, [sandbox, rec()], {}, host_ip="172.20.0.1", now="2024-01-01T00:00:09Z")
    assert status["phase"] == "Running"
    assert status["podIP"] == "172.20.0.5" and status["podIPs"] == [{"ip": "172.20.0.5"}]
    assert status["hostIP"] == "172.20.0.1" and status["startTime"] == "2024-01-01T00:00:09Z"
    conds = {c["type"]: c["status"] for c in status["conditions"]}
    assert conds == {"PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
                     "ContainersReady": "True", "PodScheduled": "True"}
    # transition times are kept while a condition keeps its value
    pod["status"] = status
    again = pod_status(pod, [sandbox, rec()], {}, host_ip="172.20.0.1", now="2024-01-01T00:01:00Z")
    assert again == status


def test_pod_status_not_ready_names_containers_and_init_is_pending() -> None:
    pod = _pod({"name": "app", "image": "img"}, initContainers=[{"name": "setup", "image": "img"}])
    status = pod_status(pod, [rec(SANDBOX, ip="10.0.0.2"), rec("setup")], {}, host_ip="h", now="t")
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert ready["message"] == "containers with unready status: [app]"
    init = {c["type"]: c for c in status["conditions"]}["Initialized"]
    assert init["status"] == "False" and "setup" in init["message"]


def test_docker_times() -> None:
    assert k8s_time("2024-05-01T10:11:12.123456789Z") == "2024-05-01T10:11:12Z"
    assert k8s_time("0001-01-01T00:00:00Z") is None
    assert epoch("1970-01-01T00:00:01.5Z") == pytest.approx(1.5)


def test_config_maps_secrets_and_claims_are_watched_only_while_a_pod_of_the_node_reads_one() -> None:
    """As the kubelet's watch-based managers: an idle node lists and watches none of them (issue 14:
    a connection each); a pod reading a config map and a secret starts those two watches, whose
    list syncs it again (a change before the list had no event); the pod gone, they stop."""
    import asyncio

    from minikube_lite.kubelet.kubelet import Kubelet

    class Client:
        def __init__(self) -> None:
            self.calls: list[str] = []

        async def list(self, resource: str, **kw: Any) -> tuple[list[Any], str]:
            self.calls.append(f"list {resource}")
            return [], "7"

        async def watch(self, resource: str, **kw: Any) -> Any:
            self.calls.append(f"watch {resource} from {kw.get('resource_version')}")
            await asyncio.Event().wait()
            yield  # pragma: no cover

    def pod(name: str, uid: str, **spec: Any) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": "default", "uid": uid},
                "spec": {"containers": [{"name": "c", "image": "i"}], **spec}}

    async def go() -> None:
        client = Client()
        k = Kubelet(client, node_name="n", cluster_id="c", network_name="net", docker_client=object())
        synced: list[str] = []

        class Queue:
            def add(self, key: str) -> None:
                synced.append(key)

        k._queue = Queue()  # type: ignore[assignment]
        k._on_pod_event("ADDED", pod("plain", "u1"))
        await asyncio.sleep(0.01)
        assert client.calls == [] and not k._reference_watches
        reader = pod("reader", "u2", volumes=[{"name": "v", "configMap": {"name": "cm"}}],
                     containers=[{"name": "c", "image": "i", "env": [
                         {"name": "E", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}])
        k._on_pod_event("ADDED", reader)
        await asyncio.sleep(0.01)
        assert sorted(client.calls) == ["list configmaps", "list secrets", "watch configmaps from 7",
                                        "watch secrets from 7"]
        assert synced.count("default/reader") == 3 and "default/plain" in synced  # its add, then each list
        k._on_pod_event("MODIFIED", reader)  # the same pod again: nothing more started
        await asyncio.sleep(0.01)
        assert len(client.calls) == 4
        watches = list(k._reference_watches.values())
        k._on_pod_event("DELETED", reader)
        await asyncio.sleep(0.01)
        assert not k._reference_watches and all(t.cancelled() for t in watches)

    asyncio.run(go())
