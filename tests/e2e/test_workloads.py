"""Jobs, CronJobs, StatefulSets, DaemonSets and ReplicationControllers end to end: the real kubectl,
the real Docker engine, the shared session cluster (one namespace per test)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Cluster, running_cluster, wait_for

IMAGE = "minikube-lite/busybox:1.0"


@pytest.fixture
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "wl-" + re.sub(r"[^a-z0-9]+", "-", request.node.name[5:].lower())[:50].strip("-")
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


CRON_TEST = "test_cronjob_runs_on_the_minute_and_survives_a_restart"


@pytest.fixture(scope="module", autouse=True)
def ticking(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster | None]:
    """The CronJob restart test's own cluster (it stops and starts its daemon), started with an
    every-minute CronJob when the module starts. That test is the module's last: the wait for a
    minute boundary (up to a minute) passes while the other tests run on the session cluster,
    not in the test itself. Not started when that test is not selected."""
    if not any(item.name == CRON_TEST and item.module is request.module for item in request.session.items):
        yield None
        return
    with running_cluster(tmp_path_factory.mktemp("cron")) as cluster:
        cluster.kubectl("create", "cronjob", "tick", f"--image={IMAGE}", "--schedule=*/1 * * * *", "--", "true")
        yield cluster


def apply(cluster: Cluster, ns: str, manifest: str, *, check: bool = True) -> Any:
    return cluster.kubectl("apply", "-n", ns, "-f", "-", input=manifest, check=check)


def get(cluster: Cluster, ns: str, plural: str, name: str, group: str = "") -> dict[str, Any]:
    base = f"/apis/{group}" if group else "/api/v1"
    return cluster.get(f"{base}/namespaces/{ns}/{plural}/{name}") or {}


def items(cluster: Cluster, ns: str, plural: str, selector: str = "", group: str = "") -> list[dict[str, Any]]:
    base = f"/apis/{group}" if group else "/api/v1"
    query = f"?labelSelector={selector}" if selector else ""
    return (cluster.get(f"{base}/namespaces/{ns}/{plural}{query}") or {"items": []})["items"]


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype and c.get("status") == "True":
            return c
    return None


def job(name: str, command: str, *, spec: str = "", restart: str = "Never", pod_spec: str = "") -> str:
    return f"""apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
{spec}
  template:
    spec:
      restartPolicy: {restart}
      terminationGracePeriodSeconds: 1
{pod_spec}
      containers:
        - name: main
          image: {IMAGE}
          command: ["sh", "-c", {json.dumps(command)}]
"""


def header(output: str) -> list[str]:
    return output.splitlines()[0].split()


# --- Job ---------------------------------------------------------------------------------------------

def test_job_runs_to_completion_with_kubectl_verbs(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "job", "hello", "-n", ns, f"--image={IMAGE}", "--", "sh", "-c", "echo hello job")
    cluster.kubectl("wait", "-n", ns, "--for=condition=complete", "job/hello", "--timeout=60s", timeout=70)
    out = cluster.kubectl("get", "jobs", "-n", ns).stdout
    assert header(out) == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    row = out.splitlines()[1].split()
    assert row[:3] == ["hello", "Complete", "1/1"]
    wide = cluster.kubectl("get", "jobs", "-n", ns, "-o", "wide").stdout
    assert header(wide)[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert "batch.kubernetes.io/controller-uid=" in wide
    assert cluster.kubectl("logs", "-n", ns, "job/hello").stdout.strip() == "hello job"

    j = get(cluster, ns, "jobs", "hello", "batch/v1")
    uid = j["metadata"]["uid"]
    assert j["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert j["status"]["succeeded"] == 1 and j["status"]["startTime"] and j["status"]["completionTime"]
    assert condition(j, "Complete")["reason"] == "CompletionsReached"
    pods = items(cluster, ns, "pods", "batch.kubernetes.io/job-name=hello")
    assert len(pods) == 1
    pod = pods[0]
    assert pod["metadata"]["name"].startswith("hello-")
    assert pod["metadata"]["labels"]["controller-uid"] == uid
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    events = cluster.kubectl("describe", "job", "hello", "-n", ns).stdout
    assert "SuccessfulCreate" in events and f"Created pod: {pod['metadata']['name']}" in events
    assert "Completed" in events

    cluster.kubectl("delete", "job", "hello", "-n", ns)
    wait_for(lambda: not items(cluster, ns, "pods", "batch.kubernetes.io/job-name=hello"), timeout=30,
             what="the Job's pod deleted with it")


def test_job_refuses_restart_policy_always_and_hand_written_selectors(cluster: Cluster, ns: str) -> None:
    bad = apply(cluster, ns, job("always", "true", restart="Always"), check=False)
    assert bad.returncode != 0
    assert 'The Job "always" is invalid: spec.template.spec.restartPolicy: Required value: valid values: ' \
           '"OnFailure", "Never"' in bad.stderr
    manifest = job("sel", "true", spec="  selector:\n    matchLabels:\n      app: x")
    manifest = manifest.replace("  template:\n    spec:", "  template:\n    metadata:\n      labels:\n"
                                "        app: x\n    spec:")
    bad = apply(cluster, ns, manifest, check=False)
    assert "`selector` not auto-generated" in bad.stderr
    apply(cluster, ns, job("ok", "sleep 30"))
    changed = apply(cluster, ns, job("ok", "sleep 31"), check=False)
    assert changed.returncode != 0 and "spec.template: Invalid value" in changed.stderr
    assert "field is immutable" in changed.stderr


def test_job_backoff_limit_and_exponential_backoff(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, job("fails", "exit 3", spec="  backoffLimit: 1"))
    j = wait_for(lambda: condition(get(cluster, ns, "jobs", "fails", "batch/v1"), "Failed")
                 and get(cluster, ns, "jobs", "fails", "batch/v1"), timeout=60, what="the Job to fail")
    assert condition(j, "Failed")["reason"] == "BackoffLimitExceeded"
    assert condition(j, "Failed")["message"] == "Job has reached the specified backoff limit"
    assert j["status"]["failed"] == 2
    pods = sorted(items(cluster, ns, "pods", "job-name=fails"), key=lambda p: p["metadata"]["creationTimestamp"])
    assert len(pods) == 2 and all(p["status"]["phase"] == "Failed" for p in pods)
    finished = pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
    gap = _seconds(pods[1]["metadata"]["creationTimestamp"]) - _seconds(finished)
    assert 9 <= gap <= 14, f"the second pod should start 10 s after the first failure, not {gap} s"
    assert cluster.kubectl("get", "job", "fails", "-n", ns).stdout.splitlines()[1].split()[1] == "Failed"


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


def test_indexed_job_parallel_completions(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, job("idx", 'echo "index=$JOB_COMPLETION_INDEX host=$(hostname)"',
                           spec="  completions: 3\n  parallelism: 3\n  completionMode: Indexed"))
    cluster.kubectl("wait", "-n", ns, "--for=condition=complete", "job/idx", "--timeout=60s", timeout=70)
    j = get(cluster, ns, "jobs", "idx", "batch/v1")
    assert j["status"]["completedIndexes"] == "0-2" and j["status"]["succeeded"] == 3
    logs = set()
    for pod in items(cluster, ns, "pods", "job-name=idx"):
        index = pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert pod["metadata"]["name"].startswith(f"idx-{index}-")
        logs.add(cluster.kubectl("logs", "-n", ns, pod["metadata"]["name"]).stdout.strip())
    assert logs == {f"index={i} host=idx-{i}" for i in range(3)}


def test_pod_failure_policy_deadline_suspend_and_ttl(cluster: Cluster, ns: str) -> None:
    policy = ("  backoffLimit: 6\n  podFailurePolicy:\n    rules:\n      - action: FailJob\n"
              "        onExitCodes:\n          containerName: main\n          operator: In\n          values: [42]")
    apply(cluster, ns, job("pfp", "exit 42", spec=policy))
    apply(cluster, ns, job("deadline", "sleep 60", spec="  activeDeadlineSeconds: 2"))
    apply(cluster, ns, job("later", "echo resumed", spec="  suspend: true"))
    apply(cluster, ns, job("ttl", "true", spec="  ttlSecondsAfterFinished: 1"))

    j = wait_for(lambda: condition(get(cluster, ns, "jobs", "pfp", "batch/v1"), "Failed"), timeout=40,
                 what="FailJob")
    assert j["reason"] == "PodFailurePolicy"
    assert re.fullmatch(rf"Container main for pod {ns}/pfp-\w+ failed with exit code 42 matching FailJob rule at "
                        r"index 0", j["message"]), j["message"]
    assert len(items(cluster, ns, "pods", "job-name=pfp")) == 1  # no retry despite backoffLimit 6

    j = wait_for(lambda: condition(get(cluster, ns, "jobs", "deadline", "batch/v1"), "Failed"), timeout=40,
                 what="DeadlineExceeded")
    assert (j["reason"], j["message"]) == ("DeadlineExceeded", "Job was active longer than specified deadline")

    assert condition(get(cluster, ns, "jobs", "later", "batch/v1"), "Suspended")
    assert items(cluster, ns, "pods", "job-name=later") == []
    assert cluster.kubectl("get", "job", "later", "-n", ns).stdout.splitlines()[1].split()[1] == "Suspended"
    cluster.kubectl("patch", "job", "later", "-n", ns, "-p", '{"spec":{"suspend":false}}')
    cluster.kubectl("wait", "-n", ns, "--for=condition=complete", "job/later", "--timeout=60s", timeout=70)

    wait_for(lambda: get(cluster, ns, "jobs", "ttl", "batch/v1") == {}, timeout=40, what="the TTL to delete")


def test_on_failure_restarts_in_place(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, job("retry", "test -f /tmp/ok-$(hostname) 2>/dev/null; exit 1", restart="OnFailure",
                           spec="  backoffLimit: 2"))
    j = wait_for(lambda: condition(get(cluster, ns, "jobs", "retry", "batch/v1"), "Failed"), timeout=90,
                 what="restarts to exceed the limit")
    assert j["reason"] == "BackoffLimitExceeded"
    names = {p["metadata"]["name"] for p in items(cluster, ns, "pods", "job-name=retry")}
    assert len(names) <= 1  # restarted in place, never a second pod


# --- CronJob -----------------------------------------------------------------------------------------

def test_cronjob_columns_manual_run_and_validation(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "cronjob", "tick", "-n", ns, f"--image={IMAGE}", "--schedule=*/1 * * * *", "--",
                    "sh", "-c", "echo tick")
    out = cluster.kubectl("get", "cronjobs", "-n", ns).stdout
    assert header(out) == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    assert out.splitlines()[1].split()[:9] == ["tick", "*/1", "*", "*", "*", "*", "<none>", "False", "0"]
    cluster.kubectl("create", "job", "by-hand", "-n", ns, "--from=cronjob/tick")
    cluster.kubectl("wait", "-n", ns, "--for=condition=complete", "job/by-hand", "--timeout=60s", timeout=70)
    manual = get(cluster, ns, "jobs", "by-hand", "batch/v1")
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert manual["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    bad = cluster.kubectl("create", "cronjob", "bad", "-n", ns, f"--image={IMAGE}", "--schedule=70 * * * *",
                          check=False)
    assert 'spec.schedule: Invalid value: "70 * * * *": end of range (70) above maximum (59): 70' in bad.stderr


# --- StatefulSet -------------------------------------------------------------------------------------

def statefulset(name: str, replicas: int = 3, *, extra: str = "", policy: str = "OrderedReady") -> str:
    return f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  clusterIP: None
  selector:
    app: {name}
  ports:
    - port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {name}
spec:
  serviceName: {name}
  replicas: {replicas}
  podManagementPolicy: {policy}
{extra}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: {IMAGE}
          command: ["sh", "-c", "test -f /data/first || hostname > /data/first; sleep 3600"]
          volumeMounts:
            - name: data
              mountPath: /data
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: 10Mi
"""


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def test_statefulset_identity_order_dns_and_claims(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, statefulset("web"))
    cluster.kubectl("rollout", "status", "sts/web", "-n", ns, "--timeout=90s", timeout=100)
    pods = {p["metadata"]["name"]: p for p in items(cluster, ns, "pods", "app=web")}
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    # OrderedReady: each pod was created only after the one before was Ready
    for lower, higher in (("web-0", "web-1"), ("web-1", "web-2")):
        ready_at = next(c["lastTransitionTime"] for c in pods[lower]["status"]["conditions"] if c["type"] == "Ready")
        assert pods[higher]["metadata"]["creationTimestamp"] >= ready_at
    web0 = pods["web-0"]
    assert web0["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-0"
    assert web0["spec"]["hostname"] == "web-0" and web0["spec"]["subdomain"] == "web"
    assert cluster.kubectl("exec", "-n", ns, "web-0", "--", "hostname").stdout.strip() == "web-0"
    lookup = cluster.kubectl("exec", "-n", ns, "web-1", "--", "nslookup",
                             f"web-0.web.{ns}.svc.cluster.local").stdout
    assert web0["status"]["podIP"] in lookup
    claims = {c["metadata"]["name"]: c for c in items(cluster, ns, "persistentvolumeclaims")}
    assert sorted(claims) == ["data-web-0", "data-web-1", "data-web-2"]
    assert header(cluster.kubectl("get", "sts", "-n", ns).stdout) == ["NAME", "READY", "AGE"]
    assert cluster.kubectl("get", "sts", "-n", ns).stdout.splitlines()[1].split()[:2] == ["web", "3/3"]

    # a deleted pod comes back with the same name and the same claim (its data kept)
    uid = web0["metadata"]["uid"]
    cluster.kubectl("delete", "pod", "web-0", "-n", ns)
    wait_for(lambda: (p := get(cluster, ns, "pods", "web-0")) and p["metadata"]["uid"] != uid and _ready(p),
             timeout=60, what="web-0 back")
    assert cluster.kubectl("exec", "-n", ns, "web-0", "--", "cat", "/data/first").stdout.strip() == "web-0"

    # scale down: highest ordinals go, claims stay (whenScaled: Retain)
    cluster.kubectl("scale", "sts", "web", "-n", ns, "--replicas=1")
    wait_for(lambda: sorted(p["metadata"]["name"] for p in items(cluster, ns, "pods", "app=web")) == ["web-0"],
             timeout=60, what="scale down to web-0")
    assert len(items(cluster, ns, "persistentvolumeclaims")) == 3
    events = cluster.kubectl("describe", "sts", "web", "-n", ns).stdout
    assert "create Pod web-2 in StatefulSet web successful" in events
    assert "delete Pod web-2 in StatefulSet web successful" in events
    assert "create Claim data-web-0 Pod web-0 in StatefulSet web success" in events


def test_statefulset_rolling_update_history_undo(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, statefulset("db", 2, policy="Parallel"))
    cluster.kubectl("rollout", "status", "sts/db", "-n", ns, "--timeout=90s", timeout=100)
    cluster.kubectl("patch", "sts", "db", "-n", ns, "-p",
                    '{"spec":{"template":{"metadata":{"annotations":{"version":"2"}}}}}')
    cluster.kubectl("rollout", "status", "sts/db", "-n", ns, "--timeout=90s", timeout=100)
    sts = get(cluster, ns, "statefulsets", "db", "apps/v1")
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"]
    assert sts["status"]["updatedReplicas"] == 2
    revs = cluster.kubectl("get", "controllerrevisions", "-n", ns).stdout
    assert header(revs) == ["NAME", "CONTROLLER", "REVISION", "AGE"]
    assert revs.count("statefulset.apps/db") == 2
    history = cluster.kubectl("rollout", "history", "sts/db", "-n", ns).stdout
    assert re.search(r"^1\s", history, re.MULTILINE) and re.search(r"^2\s", history, re.MULTILINE)
    for pod in items(cluster, ns, "pods", "app=db"):
        assert pod["metadata"]["labels"]["controller-revision-hash"] == sts["status"]["updateRevision"]
        assert pod["metadata"]["annotations"]["version"] == "2"
    cluster.kubectl("rollout", "undo", "sts/db", "-n", ns)
    cluster.kubectl("rollout", "status", "sts/db", "-n", ns, "--timeout=90s", timeout=100)
    wait_for(lambda: all("version" not in (p["metadata"].get("annotations") or {})
                         for p in items(cluster, ns, "pods", "app=db")) and len(items(cluster, ns, "pods", "app=db"))
             == 2, timeout=60, what="pods back at revision 1")
    history = cluster.kubectl("rollout", "history", "sts/db", "-n", ns).stdout
    assert re.search(r"^3\s", history, re.MULTILINE) and not re.search(r"^1\s", history, re.MULTILINE)  # 1 came back as 3


def test_statefulset_claim_retention_delete(cluster: Cluster, ns: str) -> None:
    extra = "  persistentVolumeClaimRetentionPolicy:\n    whenDeleted: Delete\n    whenScaled: Delete"
    apply(cluster, ns, statefulset("cache", 2, extra=extra, policy="Parallel"))
    cluster.kubectl("rollout", "status", "sts/cache", "-n", ns, "--timeout=90s", timeout=100)
    cluster.kubectl("scale", "sts", "cache", "-n", ns, "--replicas=1")
    wait_for(lambda: [c["metadata"]["name"] for c in items(cluster, ns, "persistentvolumeclaims")] == ["data-cache-0"],
             timeout=60, what="the scaled-down claim deleted")
    cluster.kubectl("delete", "sts", "cache", "-n", ns)
    wait_for(lambda: not items(cluster, ns, "persistentvolumeclaims"), timeout=60,
             what="the claims deleted with the set")


# --- DaemonSet and ReplicationController ---------------------------------------------------------------

DAEMONSET = f"""apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: {IMAGE}
          command: ["sleep", "3600"]
"""


def test_daemonset_one_pod_per_node_rollout_and_selector(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, DAEMONSET)
    cluster.kubectl("rollout", "status", "ds/agent", "-n", ns, "--timeout=60s", timeout=70)
    out = cluster.kubectl("get", "ds", "-n", ns).stdout
    assert header(out) == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR",
                           "AGE"]
    assert out.splitlines()[1].split()[:7] == ["agent", "1", "1", "1", "1", "1", "<none>"]
    [pod] = items(cluster, ns, "pods", "app=agent")
    node = cluster.settings.node_name
    assert pod["spec"]["nodeName"] == node
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchFields"][0]["values"] == [node]
    keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
            ("node.kubernetes.io/unschedulable", "NoSchedule")} <= keys

    cluster.kubectl("patch", "ds", "agent", "-n", ns, "-p",
                    '{"spec":{"template":{"metadata":{"annotations":{"v":"2"}}}}}')
    cluster.kubectl("rollout", "status", "ds/agent", "-n", ns, "--timeout=60s", timeout=70)
    wait_for(lambda: [p for p in items(cluster, ns, "pods", "app=agent")
                      if (p["metadata"].get("annotations") or {}).get("v") == "2" and _ready(p)],
             timeout=60, what="the updated daemon pod")
    assert "daemonset.apps/agent" in cluster.kubectl("get", "controllerrevisions", "-n", ns).stdout
    cluster.kubectl("rollout", "undo", "ds/agent", "-n", ns)
    wait_for(lambda: (ps := items(cluster, ns, "pods", "app=agent")) and len(ps) == 1 and _ready(ps[0])
             and "v" not in (ps[0]["metadata"].get("annotations") or {}), timeout=60, what="undo")

    # a nodeSelector no node matches: nothing desired, the pod goes
    cluster.kubectl("patch", "ds", "agent", "-n", ns, "-p",
                    '{"spec":{"template":{"spec":{"nodeSelector":{"disk":"none"}}}}}')
    wait_for(lambda: not [p for p in items(cluster, ns, "pods", "app=agent")
                          if not p["metadata"].get("deletionTimestamp")], timeout=60, what="no eligible node")
    ds = wait_for(lambda: (d := get(cluster, ns, "daemonsets", "agent", "apps/v1"))
                  and d["status"].get("desiredNumberScheduled") == 0 and d, timeout=30, what="desired 0")
    assert ds["status"]["currentNumberScheduled"] == 0


def test_replicationcontroller_scale_columns_and_cascade(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, f"""apiVersion: v1
kind: ReplicationController
metadata:
  name: nginx
spec:
  replicas: 2
  template:
    metadata:
      labels:
        app: nginx
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: {IMAGE}
          command: ["sleep", "3600"]
""")
    rc = get(cluster, ns, "replicationcontrollers", "nginx")
    assert rc["spec"]["selector"] == {"app": "nginx"}
    wait_for(lambda: (get(cluster, ns, "replicationcontrollers", "nginx").get("status") or {})
             .get("readyReplicas") == 2, timeout=60, what="2 ready")
    out = cluster.kubectl("get", "rc", "-n", ns).stdout
    assert header(out) == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    cluster.kubectl("scale", "rc", "nginx", "-n", ns, "--replicas=3")
    wait_for(lambda: len(items(cluster, ns, "pods", "app=nginx")) == 3, timeout=60, what="3 pods")
    assert "replicationcontroller/nginx" in cluster.kubectl("get", "all", "-n", ns).stdout
    # orphan: the pods stay without their owner
    cluster.kubectl("delete", "rc", "nginx", "-n", ns, "--cascade=orphan")
    time.sleep(2)
    pods = items(cluster, ns, "pods", "app=nginx")
    assert len(pods) == 3 and all(not p["metadata"].get("ownerReferences") for p in pods)


def test_cascading_foreground_delete_and_get_all(cluster: Cluster, ns: str) -> None:
    apply(cluster, ns, statefulset("fg", 1))
    apply(cluster, ns, job("done", "true"))
    cluster.kubectl("rollout", "status", "sts/fg", "-n", ns, "--timeout=90s", timeout=100)
    cluster.kubectl("wait", "-n", ns, "--for=condition=complete", "job/done", "--timeout=60s", timeout=70)
    everything = cluster.kubectl("get", "all", "-n", ns).stdout
    for name in ("pod/fg-0", "statefulset.apps/fg", "job.batch/done", "service/fg"):
        assert name in everything
    cluster.kubectl("delete", "sts", "fg", "-n", ns, "--cascade=foreground", timeout=90)
    assert get(cluster, ns, "pods", "fg-0") == {}  # foreground: the pod was gone before the set
    assert get(cluster, ns, "statefulsets", "fg", "apps/v1") == {}
    assert len(items(cluster, ns, "persistentvolumeclaims")) == 1  # whenDeleted: Retain


# --- CronJob on the minute (the module's last test: see ``ticking``) ---------------------------------

def _minute(job: dict[str, Any]) -> int:
    return int(job["metadata"]["name"].rsplit("-", 1)[1])


def test_cronjob_runs_on_the_minute_and_survives_a_restart(ticking: Cluster | None) -> None:
    assert ticking is not None, "the ticking fixture did not start its cluster"
    cluster = ticking

    def scheduled() -> list[dict[str, Any]]:
        return sorted((j for j in items(cluster, "default", "jobs", group="batch/v1")
                       if j["metadata"]["name"].startswith("tick-")), key=_minute)

    first = wait_for(scheduled, timeout=75, interval=0.2, what="the first scheduled Job")[-1]
    # the restart below must fall within the minute of the Job it checks: with less than 15 s of
    # that minute left, take the next minute's Job
    while time.time() - _minute(first) * 60 > 45:
        after = _minute(first)
        first = wait_for(lambda after=after: [j for j in scheduled() if _minute(j) > after], timeout=30, interval=0.2,
                         what="the next scheduled Job")[-1]
    minute = _minute(first)
    lateness = _seconds(first["metadata"]["creationTimestamp"]) - minute * 60
    assert 0 <= lateness <= 1.5, lateness
    assert first["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute * 60))
    wait_for(lambda: (get(cluster, "default", "cronjobs", "tick", "batch/v1").get("status") or {})
             .get("lastScheduleTime", "") >= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute * 60)),
             timeout=10, what="lastScheduleTime")
    before = {j["metadata"]["name"]: j["metadata"]["uid"] for j in scheduled()}
    # restart the daemon within the same minute: the schedule that ran must not run again
    cluster.cli("stop")
    cluster.cli("start")
    wait_for(lambda: cluster.get("/api/v1/namespaces/default") is not None, timeout=20, what="the daemon back")
    time.sleep(3)
    jobs = scheduled()
    names = [j["metadata"]["name"] for j in jobs]
    assert names.count(first["metadata"]["name"]) == 1
    # the Job of that minute is the one made before the restart, not made again
    assert next(j for j in jobs if j["metadata"]["name"] == first["metadata"]["name"])["metadata"]["uid"] == \
        before[first["metadata"]["name"]]
    # no earlier schedule was run after the restart: every new Job is of a later minute
    assert all(_minute(j) > minute for j in jobs if j["metadata"]["name"] not in before), names
    assert len([n for n in names if int(n.rsplit("-", 1)[1]) == minute]) == 1
    cj = get(cluster, "default", "cronjobs", "tick", "batch/v1")
    assert cj["status"]["lastScheduleTime"] >= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute * 60))
    events = cluster.kubectl("describe", "cronjob", "tick").stdout
    assert f"Created job {first['metadata']['name']}" in events
