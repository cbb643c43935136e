"""Several nodes as the master sees them: scheduling, cordon, node lifecycle, taint eviction.

A cluster of its own (the shared one must not get extra nodes: other tests' pods would land on
them). Extra Node objects are registered through the API with the real kubectl (``kubectl
create -f node.yaml`` with allocatable, labels, taints), standing in for machines; a thread
renews their Leases as their kubelets would, and stopping it for one node is the machine being
switched off. No kubelet runs their pods: a pod bound to one stays Pending on it, which is
exactly what the scheduler's and the controllers' decisions can be read from. The real node
(``minikube-lite``) runs its pods as usual.

The node monitor grace period is shortened to 15 s (kube-controller-manager's
``--node-monitor-grace-period``; the default is 50 s) so a stopped node goes NotReady quickly.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Cluster, pod_running, running_cluster, wait_for

GRACE = 15  # more than the real kubelet's 10 s lease renewal, so the real node never flaps

NODES = """
apiVersion: v1
kind: Node
metadata:
  name: minikube-lite-m02
  labels: {kubernetes.io/hostname: minikube-lite-m02, kubernetes.io/os: linux, disk: ssd}
status:
  capacity: {cpu: "1", memory: 2Gi, pods: "110"}
  allocatable: {cpu: "1", memory: 2Gi, pods: "110"}
  conditions:
  - {type: Ready, status: "True", reason: KubeletReady, message: kubelet is posting ready status}
---
apiVersion: v1
kind: Node
metadata:
  name: minikube-lite-m03
  labels: {kubernetes.io/hostname: minikube-lite-m03, kubernetes.io/os: linux}
status:
  capacity: {cpu: "2", memory: 4Gi, pods: "110"}
  allocatable: {cpu: "2", memory: 4Gi, pods: "110"}
  conditions:
  - {type: Ready, status: "True", reason: KubeletReady, message: kubelet is posting ready status}
"""
FAKE = ("minikube-lite-m02", "minikube-lite-m03")


class LeaseRenewer:
    """Stands in for the fake nodes' kubelets: renews their Leases every second."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.nodes: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        base = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
        with self.cluster.http(timeout=5) as c:
            while not self._stop.is_set():
                now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                for name in list(self.nodes):
                    spec = {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now}
                    r = c.get(f"{base}/{name}")
                    if r.status_code == 404:
                        c.post(base, json={"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                           "metadata": {"name": name}, "spec": spec})
                    elif r.status_code == 200:
                        lease = r.json()
                        lease["spec"].update(spec)
                        c.put(f"{base}/{name}", json=lease)
                self._stop.wait(1)


@pytest.fixture(scope="module")
def nodes_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, LeaseRenewer]]:
    knobs = {"MINIKUBE_LITE_NODE_MONITOR_GRACE_PERIOD": str(GRACE), "MINIKUBE_LITE_NODE_MONITOR_PERIOD": "1"}
    with running_cluster(Path(tmp_path_factory.mktemp("nodes")), extra_env=knobs) as c:
        renewer = LeaseRenewer(c)
        renewer.nodes.update(FAKE)
        renewer.start()
        out = c.kubectl("create", "-f", "-", input=NODES).stdout
        assert "node/minikube-lite-m02 created" in out and "node/minikube-lite-m03 created" in out
        try:
            yield c, renewer
        finally:
            renewer.stop()


def _json(c: Cluster, *args: str) -> Any:
    return json.loads(c.kubectl(*args, "-o", "json").stdout)


def _events(c: Cluster, name: str) -> list[dict[str, Any]]:
    items = _json(c, "get", "events", "--field-selector", f"involvedObject.name={name}")["items"]
    return items


def _event_messages(c: Cluster, name: str, reason: str) -> list[str]:
    return [e["message"] for e in _events(c, name) if e.get("reason") == reason]


def _node_of(c: Cluster, pod: str) -> str | None:
    return ((c.pod(pod) or {}).get("spec") or {}).get("nodeName")


def _pod_yaml(name: str, extra: str = "", cpu: str = "") -> str:
    resources = f"\n    resources: {{requests: {{cpu: {cpu}}}}}" if cpu else ""
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{test: nodes}}}}
spec:
{extra}
  containers:
  - name: main
    image: minikube-lite/busybox:1.0
    command: ["sleep", "3600"]{resources}
"""


def test_nodes_listed_and_insufficient_cpu_summary(nodes_cluster: tuple[Cluster, LeaseRenewer]) -> None:
    c, _ = nodes_cluster
    out = c.kubectl("get", "nodes").stdout
    for name in ("minikube-lite ", "minikube-lite-m02", "minikube-lite-m03"):
        assert name in out, out
    c.kubectl("apply", "-f", "-", input=_pod_yaml("too-big", "  nodeSelector: {disk: ssd}", cpu="1500m"))
    try:
        expected = ("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node "
                    "affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims found for "
                    "incoming pod, 2 Preemption is not helpful for scheduling.")
        wait_for(lambda: expected in _event_messages(c, "too-big", "FailedScheduling"), timeout=15,
                 what="the FailedScheduling event")
        described = c.kubectl("describe", "pod", "too-big").stdout
        assert "FailedScheduling" in described and "Insufficient cpu" in described, described
        pod = c.pod("too-big") or {}
        cond = next(x for x in pod["status"]["conditions"] if x["type"] == "PodScheduled")
        assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", expected)
        # what fits is bound where the selector says, and stays Pending there: no kubelet runs it
        c.kubectl("apply", "-f", "-", input=_pod_yaml("on-ssd", "  nodeSelector: {disk: ssd}", cpu="500m"))
        wait_for(lambda: _node_of(c, "on-ssd") == "minikube-lite-m02", timeout=15, what="on-ssd bound to m02")
        wide = c.kubectl("get", "pod", "on-ssd", "-o", "wide").stdout
        assert "minikube-lite-m02" in wide and "Pending" in wide, wide
        assert any("Successfully assigned default/on-ssd to minikube-lite-m02" in m
                   for m in _event_messages(c, "on-ssd", "Scheduled"))
        # the second 600m pod no longer fits m02 (1 cpu, 500m taken)
        c.kubectl("apply", "-f", "-", input=_pod_yaml("on-ssd-2", "  nodeSelector: {disk: ssd}", cpu="600m"))
        wait_for(lambda: any("1 Insufficient cpu" in m for m in _event_messages(c, "on-ssd-2", "FailedScheduling")),
                 timeout=15, what="on-ssd-2 unschedulable")
        # deleting the first frees the room: the waiting pod is scheduled without anything else changing
        c.kubectl("delete", "pod", "on-ssd", "--grace-period=0", "--force", "--wait=false")
        wait_for(lambda: _node_of(c, "on-ssd-2") == "minikube-lite-m02", timeout=20, what="on-ssd-2 bound")
    finally:
        c.kubectl("delete", "pod", "too-big", "on-ssd", "on-ssd-2", "--grace-period=0", "--force",
                  "--ignore-not-found", check=False)


def test_taints_tolerations_and_default_spreading(nodes_cluster: tuple[Cluster, LeaseRenewer]) -> None:
    c, _ = nodes_cluster
    c.kubectl("taint", "nodes", "minikube-lite-m03", "dedicated=db:NoSchedule")
    try:
        c.kubectl("apply", "-f", "-", input=_pod_yaml(
            "wants-m03", "  nodeSelector: {kubernetes.io/hostname: minikube-lite-m03}"))
        wait_for(lambda: any("1 node(s) had untolerated taint {dedicated: db}" in m
                             for m in _event_messages(c, "wants-m03", "FailedScheduling")),
                 timeout=15, what="the untolerated taint in FailedScheduling")
        c.kubectl("apply", "-f", "-", input=_pod_yaml("tolerates-m03", """  nodeSelector: {kubernetes.io/hostname: minikube-lite-m03}
  tolerations: [{key: dedicated, operator: Equal, value: db, effect: NoSchedule}]"""))
        wait_for(lambda: _node_of(c, "tolerates-m03") == "minikube-lite-m03", timeout=15, what="tolerating pod bound")
        # every pod got the DefaultTolerationSeconds tolerations
        tolerations = (c.pod("tolerates-m03") or {})["spec"]["tolerations"]
        assert {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": 300} in tolerations
    finally:
        c.kubectl("delete", "pod", "wants-m03", "tolerates-m03", "--grace-period=0", "--force", "--ignore-not-found",
                  check=False)
        c.kubectl("taint", "nodes", "minikube-lite-m03", "dedicated=db:NoSchedule-", check=False)
    # a Deployment's replicas spread over the three nodes (default PodTopologySpread)
    c.kubectl("create", "deployment", "spread", "--image=minikube-lite/busybox:1.0", "--replicas=3", "--",
              "sleep", "3600")
    try:
        def placement() -> dict[str, int] | None:
            pods = _json(c, "get", "pods", "-l", "app=spread")["items"]
            nodes = [p["spec"].get("nodeName") for p in pods]
            if len(nodes) != 3 or not all(nodes):
                return None
            return {n: nodes.count(n) for n in set(nodes)}
        assert wait_for(placement, timeout=30, what="3 replicas placed") == {
            "minikube-lite": 1, "minikube-lite-m02": 1, "minikube-lite-m03": 1}
        wide = c.kubectl("get", "pods", "-l", "app=spread", "-o", "wide").stdout
        assert wide.count("minikube-lite-m0") == 2, wide
    finally:
        c.kubectl("delete", "deployment", "spread", check=False)
        c.kubectl("delete", "pods", "-l", "app=spread", "--grace-period=0", "--force", check=False)


def test_pod_anti_affinity_on_hostname(nodes_cluster: tuple[Cluster, LeaseRenewer]) -> None:
    c, _ = nodes_cluster
    manifest = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: one-per-node}
spec:
  replicas: 4
  selector: {matchLabels: {app: one-per-node}}
  template:
    metadata: {labels: {app: one-per-node}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: one-per-node}}
            topologyKey: kubernetes.io/hostname
      containers:
      - {name: main, image: minikube-lite/busybox:1.0, command: ["sleep", "3600"]}
"""
    c.kubectl("apply", "-f", "-", input=manifest)
    try:
        def state() -> tuple[list[str], list[str]] | None:
            pods = _json(c, "get", "pods", "-l", "app=one-per-node")["items"]
            bound = sorted(p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName"))
            pending = [p["metadata"]["name"] for p in pods if not p["spec"].get("nodeName")]
            return (bound, pending) if len(bound) == 3 and len(pending) == 1 else None
        bound, [pending] = wait_for(state, timeout=30, what="3 bound, one per node, and one pending")
        assert bound == ["minikube-lite", "minikube-lite-m02", "minikube-lite-m03"]
        wait_for(lambda: any(m.startswith("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.")
                             for m in _event_messages(c, pending, "FailedScheduling")), timeout=15,
                 what="the anti-affinity FailedScheduling event")
    finally:
        c.kubectl("delete", "deployment", "one-per-node", check=False)
        c.kubectl("delete", "pods", "-l", "app=one-per-node", "--grace-period=0", "--force", check=False)


def test_cordon_and_uncordon_the_real_node(nodes_cluster: tuple[Cluster, LeaseRenewer]) -> None:
    c, _ = nodes_cluster
    out = c.kubectl("cordon", "minikube-lite").stdout
    assert "node/minikube-lite cordoned" in out
    try:
        wait_for(lambda: any(t.get("key") == "node.kubernetes.io/unschedulable"
                             for t in (c.get("/api/v1/nodes/minikube-lite") or {}).get("spec", {}).get("taints") or []),
                 timeout=10, what="the unschedulable taint")
        assert "Ready,SchedulingDisabled" in c.kubectl("get", "node", "minikube-lite").stdout
        c.kubectl("apply", "-f", "-", input=_pod_yaml(
            "pinned-real", "  nodeSelector: {kubernetes.io/hostname: minikube-lite}"))
        wait_for(lambda: any(m.startswith("0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't "
                                          "match Pod's node affinity/selector.")
                             for m in _event_messages(c, "pinned-real", "FailedScheduling")),
                 timeout=15, what="unschedulable in FailedScheduling")
    finally:
        out = c.kubectl("uncordon", "minikube-lite").stdout
    assert "node/minikube-lite uncordoned" in out
    try:
        wait_for(lambda: pod_running(c, "pinned-real"), timeout=40, what="pinned-real running after uncordon")
        taints = (c.get("/api/v1/nodes/minikube-lite") or {}).get("spec", {}).get("taints") or []
        assert not any(t.get("key") == "node.kubernetes.io/unschedulable" for t in taints)
    finally:
        c.kubectl("delete", "pod", "pinned-real", "--grace-period=0", "--force", check=False)


def _deployment(name: str, replicas: int, spec: str = "") -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 0
{spec}      containers:
      - {{name: main, image: minikube-lite/busybox:1.0, command: ["sleep", "3600"]}}
"""


def _pdb(name: str, field: str) -> str:
    return f"""
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: {name}}}
spec:
  {field}
  selector: {{matchLabels: {{app: {name}}}}}
"""


def _running(c: Cluster, app: str) -> list[str]:
    return [p["metadata"]["name"] for p in _json(c, "get", "pods", "-l", f"app={app}")["items"]
            if pod_running(c, p["metadata"]["name"]) and not p["metadata"].get("deletionTimestamp")]


def _evict(c: Cluster, pod: str) -> httpx.Response:
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": "default"}}
    with c.http() as h:
        return h.post(f"/api/v1/namespaces/default/pods/{pod}/eviction", json=body)


def test_pdb_status_and_the_eviction_api(nodes_cluster: tuple[Cluster, LeaseRenewer]) -> None:
    c, _ = nodes_cluster
    pinned = "      nodeSelector: {kubernetes.io/hostname: minikube-lite}\n"
    c.kubectl("apply", "-f", "-", input=_deployment("guarded", 2, pinned))
    c.kubectl("apply", "-f", "-", input=_pdb("guarded", "minAvailable: 1"))
    try:
        wait_for(lambda: len(_running(c, "guarded")) == 2, timeout=60, what="2 guarded pods running")

        def status() -> dict[str, Any]:
            return _json(c, "get", "pdb", "guarded").get("status") or {}
        wait_for(lambda: status().get("currentHealthy") == 2, timeout=15, what="the PDB status")
        st = status()
        assert (st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]) == (2, 1, 1), st
        table = c.kubectl("get", "pdb").stdout
        assert table.split("\n")[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED",
                                                "DISRUPTIONS", "AGE"], table
        assert table.split("\n")[1].split()[:4] == ["guarded", "1", "N/A", "1"], table
        first, second = _running(c, "guarded")
        r = _evict(c, first)
        assert r.status_code == 201, r.text
        r = _evict(c, second)  # the budget allowed one disruption, and it is used up
        assert r.status_code == 429, r.text
        body = r.json()
        assert body["reason"] == "TooManyRequests"
        assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
        assert body["details"]["causes"][0]["reason"] == "DisruptionBudget"
        with c.http() as h:
            assert h.get(f"/api/v1/namespaces/default/pods/{second}/eviction").status_code == 405
            assert h.post("/api/v1/namespaces/default/pods/nope/eviction",
                          json={"apiVersion": "policy/v1", "kind": "Eviction",
                                "metadata": {"name": "nope"}}).status_code == 404
        # the evicted pod is replaced; once its replacement is Ready the budget allows one again
        wait_for(lambda: len(_running(c, "guarded")) == 2 and first not in _running(c, "guarded"),
                 timeout=60, what="the evicted pod replaced")
        wait_for(lambda: status().get("disruptionsAllowed") == 1, timeout=20, what="one disruption allowed again")
        # a budget that selects nothing says so, as the disruption controller does
        c.kubectl("apply", "-f", "-", input=_pdb("nobody", "maxUnavailable: 1"))
        wait_for(lambda: [e["message"] for e in _events(c, "nobody") if e["reason"] == "NoPods"] ==
                 ["No matching pods found"], timeout=10, what="the NoPods event")
        out = c.kubectl("apply", "-f", "-", input=_pdb("bad", "minAvailable: 150%"), check=False)
        assert out.returncode != 0
        assert 'spec.minAvailable: Invalid value: "150%": must not be greater than 100%' in out.stderr, out.stderr
    finally:
        c.kubectl("delete", "pdb", "guarded", "nobody", "--ignore-not-found", check=False)
        c.kubectl("delete", "deployment", "guarded", check=False)


def test_drain_evicts_and_honours_the_pdb(nodes_cluster: tuple[Cluster, LeaseRenewer]) -> None:
    c, _ = nodes_cluster
    affinity = """      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: kubernetes.io/hostname, operator: In, values: [minikube-lite, minikube-lite-m02]}
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            preference:
              matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [minikube-lite]}]
"""
    c.kubectl("apply", "-f", "-", input=_deployment("drainme", 2, affinity))
    c.kubectl("apply", "-f", "-", input=_pdb("drainme", "minAvailable: 2"))
    try:
        wait_for(lambda: len(_running(c, "drainme")) == 2, timeout=60, what="2 drainme pods running")
        before = set(_running(c, "drainme"))
        wait_for(lambda: (_json(c, "get", "pdb", "drainme").get("status") or {}).get("currentHealthy") == 2,
                 timeout=15, what="the PDB status")
        out = c.kubectl("drain", "minikube-lite", "--ignore-daemonsets", "--timeout=6s", check=False, timeout=60)
        assert out.returncode != 0, out.stdout
        assert "node/minikube-lite cordoned" in out.stdout, out.stdout
        assert "Cannot evict pod as it would violate the pod's disruption budget." in out.stderr, out.stderr
        assert set(_running(c, "drainme")) == before  # nothing was evicted
        assert "SchedulingDisabled" in c.kubectl("get", "node", "minikube-lite").stdout
        # without the budget the drain goes through: the pods are evicted and come back on m02
        c.kubectl("delete", "pdb", "drainme")
        out = c.kubectl("drain", "minikube-lite", "--ignore-daemonsets", "--timeout=60s", timeout=90)
        assert "node/minikube-lite drained" in out.stdout, out.stdout
        for name in before:
            assert f"pod/{name} evicted" in out.stdout, out.stdout
        pods = _json(c, "get", "pods", "-l", "app=drainme")["items"]
        assert {p["spec"].get("nodeName") for p in pods} == {"minikube-lite-m02"}
    finally:
        c.kubectl("uncordon", "minikube-lite", check=False)
        c.kubectl("delete", "pdb", "drainme", "--ignore-not-found", check=False)
        c.kubectl("delete", "deployment", "drainme", check=False)
        c.kubectl("delete", "pods", "-l", "app=drainme", "--grace-period=0", "--force", check=False)


def test_daemon_pod_stays_on_a_node_that_only_stops_new_ones(nodes_cluster: tuple[Cluster, LeaseRenewer]) -> None:
    """Kubernetes' NodeShouldRunDaemonPod: a NoSchedule taint the daemon pod does not tolerate
    (an unreachable node's, a cordon-like ``kubectl taint``) stops a new pod there but keeps the
    one running (counted misscheduled); only an untolerated NoExecute taint removes it."""
    c, _ = nodes_cluster
    # the Deployment template of the other tests, as a DaemonSet (no replicas)
    manifest = _deployment("everywhere", 1).replace("kind: Deployment", "kind: DaemonSet").replace("  replicas: 1\n", "")
    node = "minikube-lite-m03"

    def on(n: str) -> list[dict[str, Any]]:
        return [p for p in _json(c, "get", "pods", "-l", "app=everywhere")["items"] if p["spec"].get("nodeName") == n]

    def status() -> dict[str, Any]:
        return _json(c, "get", "ds", "everywhere").get("status") or {}
    c.kubectl("apply", "-f", "-", input=manifest)
    try:
        wait_for(lambda: status().get("desiredNumberScheduled") == 3 and status().get("currentNumberScheduled") == 3,
                 timeout=20, what="one daemon pod per node")
        (pod,) = wait_for(lambda: on(node), timeout=10, what="the daemon pod on m03")
        c.kubectl("taint", "nodes", node, "dedicated=db:NoSchedule")
        wait_for(lambda: (status().get("desiredNumberScheduled"), status().get("numberMisscheduled")) == (2, 1),
                 timeout=15, what="m03 no longer wanted, its pod misscheduled")
        (kept,) = on(node)
        assert kept["metadata"]["uid"] == pod["metadata"]["uid"] and not kept["metadata"].get("deletionTimestamp")
        assert c.kubectl("get", "ds", "everywhere").stdout.split("\n")[1].split()[1:3] == ["2", "2"]
        # NoExecute: the pod goes (the DaemonSet controller deletes it) and none comes back
        c.kubectl("taint", "nodes", node, "dedicated=db:NoExecute")
        wait_for(lambda: all(p["metadata"].get("deletionTimestamp") for p in on(node)), timeout=15,
                 what="the daemon pod on m03 removed")
        assert status().get("desiredNumberScheduled") == 2
    finally:
        c.kubectl("taint", "nodes", node, "dedicated-", check=False)
        c.kubectl("delete", "ds", "everywhere", "--ignore-not-found", check=False)
        c.kubectl("delete", "pods", "-l", "app=everywhere", "--grace-period=0", "--force", check=False)


def test_a_node_that_never_posted_status_is_not_tainted_before_its_startup_grace(
        nodes_cluster: tuple[Cluster, LeaseRenewer]) -> None:
    """A Node registered without conditions is not unreachable yet: Kubernetes taints a node from the
    conditions it has, and gives one that never posted a status the startup grace period (60 s)."""
    c, _ = nodes_cluster
    c.kubectl("create", "-f", "-", input="""
apiVersion: v1
kind: Node
metadata:
  name: minikube-lite-m09
  labels: {kubernetes.io/hostname: minikube-lite-m09}
status:
  allocatable: {cpu: "1", memory: 1Gi, pods: "10"}
""")
    try:
        assert c.kubectl("get", "node", "minikube-lite-m09").stdout.split("\n")[1].split()[1] == "Unknown"
        c.kubectl("apply", "-f", "-", input=_pod_yaml("on-m09", "  nodeSelector: {kubernetes.io/hostname: minikube-lite-m09}"))
        wait_for(lambda: _node_of(c, "on-m09") == "minikube-lite-m09", timeout=10, what="the pod bound to m09")
        assert not (c.get("/api/v1/nodes/minikube-lite-m09") or {}).get("spec", {}).get("taints")
    finally:
        c.kubectl("delete", "pod", "on-m09", "--grace-period=0", "--force", "--ignore-not-found", check=False)
        c.kubectl("delete", "node", "minikube-lite-m09", "--ignore-not-found", check=False)


def test_an_idle_connection_outlives_kubectl_drains_retry_pause(nodes_cluster: tuple[Cluster, LeaseRenewer]) -> None:
    """kubectl drain retries a refused eviction every 5 s on the connection it used: kube-apiserver
    keeps an idle connection 90 s (its IdleTimeout). Closed after 5 s, the retry met EOF and the
    drain failed with ``Post ".../eviction": EOF`` instead of waiting for the budget."""
    c, _ = nodes_cluster
    conn = http.client.HTTPSConnection(c.settings.host, c.settings.port, context=c.ssl_context(), timeout=10)
    try:
        for attempt in range(2):
            conn.request("GET", "/api/v1/namespaces/default/pods?limit=1")
            r = conn.getresponse()
            assert r.status == 200 and json.loads(r.read())["kind"] == "PodList"
            if attempt == 0:
                sock = conn.sock
                time.sleep(5.5)  # kubectl's pause between two evictions, and a little more
        assert conn.sock is sock  # the same connection answered (http.client would reopen a closed one)
    finally:
        conn.close()


def test_stopped_node_goes_not_ready_and_its_pods_come_back_elsewhere(
        nodes_cluster: tuple[Cluster, LeaseRenewer]) -> None:
    c, renewer = nodes_cluster
    manifest = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: movable}
spec:
  replicas: 1
  selector: {matchLabels: {app: movable}}
  template:
    metadata: {labels: {app: movable}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: kubernetes.io/hostname, operator: In, values: [minikube-lite, minikube-lite-m03]}
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            preference:
              matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [minikube-lite-m03]}]
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 3}
      containers:
      - {name: main, image: minikube-lite/busybox:1.0, command: ["sleep", "3600"]}
"""
    c.kubectl("apply", "-f", "-", input=manifest)
    try:
        def pods() -> list[dict[str, Any]]:
            return _json(c, "get", "pods", "-l", "app=movable")["items"]
        first = wait_for(lambda: [p for p in pods() if p["spec"].get("nodeName") == "minikube-lite-m03"],
                         timeout=20, what="the pod on m03")[0]["metadata"]["name"]
        renewer.nodes.discard("minikube-lite-m03")  # the machine is switched off
        stopped = time.monotonic()

        def m03() -> dict[str, Any]:
            return c.get("/api/v1/nodes/minikube-lite-m03") or {}

        def ready() -> dict[str, Any]:
            return next(x for x in m03()["status"]["conditions"] if x["type"] == "Ready")
        wait_for(lambda: ready()["status"] == "Unknown", timeout=GRACE + 10, what="m03 Ready=Unknown")
        assert time.monotonic() - stopped >= GRACE - 1.5  # not before the grace period
        assert ready()["message"] == "Kubelet stopped posting node status."
        assert "NotReady" in c.kubectl("get", "node", "minikube-lite-m03").stdout
        wait_for(lambda: {("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable",
                                                                            "NoSchedule")}
                 <= {(t["key"], t["effect"]) for t in m03()["spec"].get("taints") or []},
                 timeout=10, what="the unreachable taints")
        # the pod tolerates unreachable for 3 s, then it is evicted and replaced on the real node
        wait_for(lambda: any(m == f"Marking for deletion Pod default/{first}"
                             for m in _event_messages(c, first, "TaintManagerEviction")),
                 timeout=15, what="the taint manager's eviction")
        old = c.pod(first) or {}
        assert old["metadata"].get("deletionTimestamp"), "the evicted pod is terminating"
        assert any(x["type"] == "DisruptionTarget" and x["reason"] == "DeletionByTaintManager"
                   for x in old["status"]["conditions"])

        def replacement() -> str | None:
            for p in pods():
                if p["metadata"]["name"] != first and p["spec"].get("nodeName") == "minikube-lite":
                    return str(p["metadata"]["name"])
            return None
        name = wait_for(replacement, timeout=20, what="a replacement on the real node")
        wait_for(lambda: pod_running(c, name), timeout=40, what="the replacement running")
    finally:
        c.kubectl("delete", "deployment", "movable", check=False)
        c.kubectl("delete", "pods", "-l", "app=movable", "--grace-period=0", "--force", check=False)
