"""The scheduler's decisions, plugin by plugin, on plain objects (no API, no Docker)."""

from __future__ import annotations

import random
from typing import Any

from minikube_lite.scheduler.framework import Snapshot, schedule
from minikube_lite.scheduler.plugins import default_plugins

Obj = dict[str, Any]


def node(name: str, *, cpu: str = "2", memory: str = "4Gi", pods: str = "110", labels: Obj | None = None,
         taints: list[Obj] | None = None, unschedulable: bool = False) -> Obj:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {"taints": taints or [], "unschedulable": unschedulable},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}}}


def pod(name: str, *, cpu: str | None = None, memory: str | None = None, node_name: str | None = None,
        labels: Obj | None = None, ns: str = "default", **spec: Any) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: Obj = {"name": "c", "image": "x"}
    if requests:
        container["resources"] = {"requests": requests}
    out: Obj = {"metadata": {"name": name, "namespace": ns, "labels": labels or {}},
                "spec": {"containers": [container], **spec}, "status": {"phase": "Running"}}
    if node_name:
        out["spec"]["nodeName"] = node_name
    return out


def run(p: Obj, nodes: list[Obj], pods: list[Obj] = (), seed: int = 0, **kw: Any):  # type: ignore[assignment]
    snap = Snapshot.build(nodes, pods)
    snap.default_selectors.update(kw.get("defaults", {}))
    return schedule(default_plugins(), p, snap, rng=random.Random(seed))


def test_insufficient_cpu_with_kubernetes_summary_and_preemption_text() -> None:
    nodes = [node("a", cpu="1", labels={"disk": "ssd"}), node("b"), node("c")]
    r = run(pod("p", cpu="1500m", nodeSelector={"disk": "ssd"}), nodes)
    assert r.node is None
    assert r.message == ("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node "
                         "affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims found "
                         "for incoming pod, 2 Preemption is not helpful for scheduling.")


def test_no_node_is_a_preemption_candidate() -> None:
    r = run(pod("p", nodeSelector={"x": "y"}), [node("a"), node("b"), node("c")])
    assert r.message == ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
                         "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_requests_count_what_is_already_bound() -> None:
    nodes = [node("a", cpu="1", memory="1Gi"), node("b", cpu="1", memory="1Gi")]
    bound = [pod("x", cpu="800m", node_name="a"), pod("y", memory="900Mi", node_name="b")]
    assert run(pod("p", cpu="300m"), nodes, bound).node == "b"
    r = run(pod("p", cpu="300m", memory="200Mi"), nodes, bound)
    assert r.node is None and "1 Insufficient cpu, 1 Insufficient memory" in r.message
    # a finished pod frees its requests
    done = dict(bound[0], status={"phase": "Succeeded"})
    assert run(pod("p", cpu="300m", memory="200Mi"), nodes, [done, bound[1]]).node == "a"


def test_too_many_pods_and_both_resources_on_one_node() -> None:
    r = run(pod("p", cpu="4", memory="8Gi"), [node("a", pods="1")], [pod("x", node_name="a")])
    assert r.message.startswith("0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, "
                                "1 Too many pods.")


def test_init_containers_take_the_max_and_sidecars_add() -> None:
    from minikube_lite.api.scheduling import pod_requests

    p = pod("p", cpu="100m")
    p["spec"]["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": "500m"}}}]
    assert abs(pod_requests(p)["cpu"] - 0.5) < 1e-9
    p["spec"]["initContainers"].insert(0, {"name": "s", "restartPolicy": "Always",
                                           "resources": {"requests": {"cpu": "200m"}}})
    assert abs(pod_requests(p)["cpu"] - 0.7) < 1e-9


def test_required_and_preferred_node_affinity() -> None:
    nodes = [node("a", labels={"zone": "z1", "size": "4"}), node("b", labels={"zone": "z2", "size": "8"})]
    req = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "size", "operator": "Gt", "values": ["5"]}]}]}}}
    assert run(pod("p", affinity=req), nodes).node == "b"
    pref = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}}]}}
    assert {run(pod("p", affinity=pref), nodes, seed=s).node for s in range(8)} == {"a"}
    by_name = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]}]}}}
    assert run(pod("p", affinity=by_name), nodes).node == "a"


def test_taints_and_tolerations() -> None:
    gpu = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
    nodes = [node("a", taints=[gpu]), node("b", taints=[{"key": "x", "effect": "NoExecute"}])]
    r = run(pod("p"), nodes)
    assert r.message.startswith("0/2 nodes are available: 1 node(s) had untolerated taint {gpu: true}, "
                                "1 node(s) had untolerated taint {x: }.")
    tolerating = [{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    assert run(pod("p", tolerations=tolerating), nodes).node == "a"
    assert run(pod("p", tolerations=[{"operator": "Exists"}]), nodes).node in ("a", "b")
    # PreferNoSchedule only lowers the score
    soft = [node("a", taints=[{"key": "k", "effect": "PreferNoSchedule"}]), node("b")]
    assert {run(pod("p"), soft, seed=s).node for s in range(8)} == {"b"}


def test_cordoned_node() -> None:
    nodes = [node("a", unschedulable=True)]
    assert run(pod("p"), nodes).message.startswith("0/1 nodes are available: 1 node(s) were unschedulable.")
    tol = [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]
    assert run(pod("p", tolerations=tol), nodes).node == "a"


def test_pod_anti_affinity_on_hostname_one_per_node() -> None:
    nodes = [node("a"), node("b")]
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    bound = [pod("w1", labels={"app": "web"}, node_name="a", affinity=anti)]
    assert run(pod("w2", labels={"app": "web"}, affinity=anti), nodes, bound).node == "b"
    bound.append(pod("w2", labels={"app": "web"}, node_name="b", affinity=anti))
    r = run(pod("w3", labels={"app": "web"}, affinity=anti), nodes, bound)
    assert r.message.startswith("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.")
    # an existing pod's anti-affinity keeps out a pod that it selects, even one without terms
    r = run(pod("other", labels={"app": "web"}), [node("a")], bound[:1])
    assert "1 node(s) didn't satisfy existing pods anti-affinity rules" in r.message


def test_pod_affinity_follows_the_selected_pod_and_lets_a_group_start() -> None:
    nodes = [node("a"), node("b"), node("c")]
    aff = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    bound = [pod("cache", labels={"app": "cache"}, node_name="c")]
    assert run(pod("web", affinity=aff), nodes, bound).node == "c"
    r = run(pod("web", affinity=aff), nodes)
    assert r.message.startswith("0/3 nodes are available: 3 node(s) didn't match pod affinity rules.")
    # the first pod of a group that selects itself may go anywhere
    assert run(pod("cache-1", labels={"app": "cache"}, affinity=aff), nodes).node in ("a", "b", "c")


def test_preferred_pod_anti_affinity_spreads() -> None:
    nodes = [node("a"), node("b")]
    pref = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
        "labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}}]}}
    bound = [pod("db1", labels={"app": "db"}, node_name="a")]
    assert {run(pod("db2", labels={"app": "db"}, affinity=pref), nodes, bound, seed=s).node
            for s in range(8)} == {"b"}


def test_topology_spread_do_not_schedule() -> None:
    nodes = [node("a", labels={"zone": "z1"}), node("b", labels={"zone": "z2"}), node("c")]
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "w"}}}]
    bound = [pod("w1", labels={"app": "w"}, node_name="a")]
    r = run(pod("w2", labels={"app": "w"}, topologySpreadConstraints=spread), nodes, bound)
    assert r.node == "b"
    bound += [pod("w2", labels={"app": "w"}, node_name="b"), pod("w3", labels={"app": "w"}, node_name="b")]
    # with node a gone, z2 is the only domain: alone it is never skewed, unless minDomains counts
    # the missing one as empty
    assert run(pod("w4", labels={"app": "w"}, topologySpreadConstraints=spread), nodes[1:], bound).node == "b"
    spread[0]["minDomains"] = 2
    r = run(pod("w4", labels={"app": "w"}, topologySpreadConstraints=spread), nodes[1:], bound)
    assert r.message.startswith("0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, "
                                "1 node(s) didn't match pod topology spread constraints (missing required label).")


def test_default_spreading_puts_replicas_on_every_node() -> None:
    nodes = [node("a"), node("b"), node("c")]
    selector = [{"matchLabels": {"app": "web"}}]
    bound: list[Obj] = []
    for i in range(6):
        p = pod(f"web-{i}", labels={"app": "web"})
        chosen = run(p, nodes, bound, seed=i, defaults={f"default/web-{i}": selector}).node
        bound.append(pod(f"web-{i}", labels={"app": "web"}, node_name=chosen))
    per_node = {n: sum(1 for p in bound if p["spec"]["nodeName"] == n) for n in "abc"}
    assert per_node == {"a": 2, "b": 2, "c": 2}


def test_least_allocated_prefers_the_emptier_node() -> None:
    nodes = [node("a", cpu="4", memory="8Gi"), node("b", cpu="4", memory="8Gi")]
    bound = [pod("big", cpu="3", memory="6Gi", node_name="a")]
    assert {run(pod("p", cpu="100m"), nodes, bound, seed=s).node for s in range(8)} == {"b"}


def test_host_port_conflict() -> None:
    def with_port(name: str, node_name: str | None = None) -> Obj:
        p = pod(name, node_name=node_name)
        p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
        return p
    r = run(with_port("p"), [node("a")], [with_port("x", "a")])
    assert "1 node(s) didn't have free ports for the requested pod ports" in r.message
    assert "1 No preemption victims found for incoming pod" in r.message
