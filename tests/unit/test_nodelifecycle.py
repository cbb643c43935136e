"""Node lifecycle decisions: conditions gone Unknown, taints from conditions, eviction delays,
the DefaultTolerationSeconds admission."""

from __future__ import annotations

import asyncio
from typing import Any

from minikube_lite.api.admission import default_toleration_seconds
from minikube_lite.controllers.nodelifecycle import conditions_unknown, desired_taints
from minikube_lite.controllers.podgc import PodGC
from minikube_lite.controllers.tainteviction import eviction_delay

NOW = "2026-01-01T00:00:00Z"


def _node(ready: str | None, **spec: Any) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": ready, "reason": "KubeletReady"}] if ready else []
    return {"metadata": {"name": "n", "creationTimestamp": "2025-12-31T00:00:00Z"}, "spec": spec,
            "status": {"conditions": conditions}}


def test_conditions_go_unknown_with_kubernetes_messages() -> None:
    out = conditions_unknown(_node("True"), NOW)
    assert out is not None
    ready = next(c for c in out if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    memory = next(c for c in out if c["type"] == "MemoryPressure")
    assert (memory["reason"], memory["message"]) == ("NodeStatusNeverUpdated", "Kubelet never posted node status.")
    assert conditions_unknown({**_node("True"), "status": {"conditions": out}}, NOW) is None


def test_taints_follow_ready_and_cordon() -> None:
    assert desired_taints(_node("True"), NOW) == []
    unknown = desired_taints(_node("Unknown"), NOW)
    assert [(t["key"], t["effect"]) for t in unknown] == [("node.kubernetes.io/unreachable", "NoSchedule"),
                                                          ("node.kubernetes.io/unreachable", "NoExecute")]
    assert all(t["timeAdded"] == NOW for t in unknown)
    assert desired_taints(_node(None), NOW) == []  # never posted a status: untainted until its startup grace
    # back to Ready: the controller's taints go, the user's stay
    user = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}
    back = _node("True", taints=[*unknown, user])
    assert desired_taints(back, NOW) == [user]
    assert desired_taints(_node("False", unschedulable=True), NOW) == [
        {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": NOW},
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": NOW},
        {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "timeAdded": NOW}]


def test_eviction_delay_is_the_shortest_toleration_used() -> None:
    unreachable = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
    assert eviction_delay([], unreachable) == 0.0
    assert eviction_delay([{"operator": "Exists"}], unreachable) is None  # tolerates forever
    tolerations = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                    "tolerationSeconds": 300},
                   {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 5}]
    assert eviction_delay(tolerations, unreachable) == 5.0
    assert eviction_delay(tolerations, [{"key": "other", "effect": "NoExecute"}]) == 0.0
    assert eviction_delay(tolerations, [{"key": "other", "effect": "NoSchedule"}]) is None


def test_default_toleration_seconds_admission() -> None:
    pod: dict[str, Any] = {"spec": {"containers": []}}
    default_toleration_seconds(pod)
    assert pod["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300}]
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
           "tolerationSeconds": 5}
    pod = {"spec": {"tolerations": [own]}}
    default_toleration_seconds(pod)
    assert [t["key"] for t in pod["spec"]["tolerations"]] == ["node.kubernetes.io/unreachable",
                                                              "node.kubernetes.io/not-ready"]
    pod = {"spec": {"tolerations": [{"operator": "Exists"}]}}  # tolerates everything already
    default_toleration_seconds(pod)
    assert pod["spec"]["tolerations"] == [{"operator": "Exists"}]


class _FakeClient:
    def __init__(self) -> None:
        self.deleted: list[tuple[str, int | None]] = []

    async def patch(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {}

    async def delete(self, resource: str, name: str, **kwargs: Any) -> dict[str, Any]:
        self.deleted.append((name, kwargs.get("grace_period_seconds")))
        return {}


def test_pod_gc_deletes_pods_of_a_gone_node_after_the_quarantine() -> None:
    client = _FakeClient()
    gc = PodGC(client, quarantine=0.0)  # type: ignore[arg-type]
    gc.nodes.cache = {"alive": {"metadata": {"name": "alive"}}}
    gc.pods.cache = {
        "default/a": {"metadata": {"name": "a", "namespace": "default"}, "spec": {"nodeName": "alive"}},
        "default/b": {"metadata": {"name": "b", "namespace": "default"}, "spec": {"nodeName": "gone"}},
        "default/c": {"metadata": {"name": "c", "namespace": "default", "deletionTimestamp": NOW}, "spec": {}},
    }
    assert asyncio.run(gc.collect()) == 2
    assert sorted(client.deleted) == [("b", 0), ("c", 0)]
    gc_later = PodGC(client, quarantine=3600.0)  # type: ignore[arg-type]
    gc_later.nodes.cache, gc_later.pods.cache = gc.nodes.cache, {"default/b": gc.pods.cache["default/b"]}
    assert asyncio.run(gc_later.collect()) == 0  # still in quarantine
