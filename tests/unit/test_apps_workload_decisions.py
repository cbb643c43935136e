"""Unit tests of the StatefulSet and DaemonSet decisions (ordering, partitions, node eligibility,
default tolerations, rolling steps) and of their validation and table cells."""

from __future__ import annotations

from datetime import UTC, datetime

from minikube_lite.api import daemonset as api_ds
from minikube_lite.api import replicationcontroller as api_rc
from minikube_lite.api import statefulset as api_sts
from minikube_lite.api.validation import ErrorList
from minikube_lite.controllers import daemonset_policy as dp
from minikube_lite.controllers import history
from minikube_lite.controllers import statefulset_policy as sp

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _pod(name: str, *, ready: bool = True, phase: str = "Running", rev: str = "r1", deleting: bool = False) -> dict:
    meta = {"name": name, "labels": {"controller-revision-hash": rev}}
    if deleting:
        meta["deletionTimestamp"] = "2026-03-01T12:00:00Z"
    return {"metadata": meta, "status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": "2026-03-01T11:00:00Z"}]}}


def _spec(**kw: object) -> dict:
    spec = {"replicas": 3, "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}}
    spec.update(kw)
    return spec


def test_ordinals_and_names() -> None:
    assert sp.ordinal_of("web-12", "web") == 12
    assert sp.ordinal_of("web-x", "web") is None
    assert sp.ordinal_of("web-sub-1", "web") is None
    assert sp.claim_name("www", "web", 0) == "www-web-0"


def test_ordered_ready_creates_one_at_a_time_in_order() -> None:
    assert sp.plan(_spec(), {}, "r1", now=NOW).create == [0]
    step = sp.plan(_spec(), {0: _pod("web-0", ready=False)}, "r1", now=NOW)
    assert step.create == [] and step.wait
    assert sp.plan(_spec(), {0: _pod("web-0")}, "r1", now=NOW).create == [1]
    # a gap is filled first
    assert sp.plan(_spec(), {0: _pod("web-0"), 2: _pod("web-2")}, "r1", now=NOW).create == [1]


def test_parallel_creates_all_at_once() -> None:
    assert sp.plan(_spec(podManagementPolicy="Parallel"), {}, "r1", now=NOW).create == [0, 1, 2]


def test_scale_down_deletes_highest_first_one_at_a_time() -> None:
    pods = {i: _pod(f"web-{i}") for i in range(5)}
    step = sp.plan(_spec(), pods, "r1", now=NOW)
    assert step.delete == [4] and step.condemned == [4]
    pods[3] = _pod("web-3", ready=False)
    step = sp.plan(_spec(), pods, "r1", now=NOW)
    assert step.delete == [] and step.wait  # OrderedReady: no deletion while a pod is unhealthy
    pods = {i: _pod(f"web-{i}") for i in range(5)}
    pods[4] = _pod("web-4", deleting=True)
    step = sp.plan(_spec(), pods, "r1", now=NOW)
    assert step.delete == [] and step.wait  # wait until web-4 is gone
    step = sp.plan(_spec(podManagementPolicy="Parallel"), {i: _pod(f"web-{i}") for i in range(5)}, "r1", now=NOW)
    assert step.delete == [4, 3]


def test_failed_pod_is_replaced() -> None:
    pods = {0: _pod("web-0"), 1: _pod("web-1", phase="Failed")}
    assert sp.plan(_spec(), pods, "r1", now=NOW).delete == [1]


def test_rolling_update_goes_from_the_top_down_to_the_partition() -> None:
    pods = {i: _pod(f"web-{i}", rev="old") for i in range(3)}
    assert sp.plan(_spec(), pods, "new", now=NOW).delete == [2]
    pods[2] = _pod("web-2", rev="new", ready=False)
    step = sp.plan(_spec(), pods, "new", now=NOW)
    assert step.delete == [] and step.wait
    pods[2] = _pod("web-2", rev="new")
    assert sp.plan(_spec(), pods, "new", now=NOW).delete == [1]
    partitioned = _spec(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    pods = {0: _pod("web-0", rev="old"), 1: _pod("web-1", rev="old"), 2: _pod("web-2", rev="new")}
    assert sp.plan(partitioned, pods, "new", now=NOW).delete == []
    assert sp.revision_for(partitioned, 1, "old", "new") == "old"
    assert sp.revision_for(partitioned, 2, "old", "new") == "new"
    on_delete = _spec(updateStrategy={"type": "OnDelete"})
    assert sp.plan(on_delete, {i: _pod(f"web-{i}", rev="old") for i in range(3)}, "new", now=NOW).delete == []
    wide = _spec(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 2}})
    assert sp.plan(wide, {i: _pod(f"web-{i}", rev="old") for i in range(3)}, "new", now=NOW).delete == [2, 1]


def test_revision_data_is_the_undo_patch() -> None:
    owner = {"spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}}
    data = history.revision_data(owner)
    assert data == {"spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []},
                                          "$patch": "replace"}}}
    assert history.revision_hash(data) == history.revision_hash(history.revision_data(owner))


def _sts(**spec: object) -> dict:
    base = {"selector": {"matchLabels": {"app": "web"}}, "serviceName": "web",
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}
    base.update(spec)
    return {"metadata": {"name": "web"}, "spec": base}


def _messages(errs: ErrorList) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in errs.causes]


def test_statefulset_validation_and_update_rule() -> None:
    errs = ErrorList()
    api_sts.validate_statefulset(errs, _sts(podManagementPolicy="Random"))
    assert _messages(errs) == [('spec.podManagementPolicy: Unsupported value: "Random": supported values: '
                               '"OrderedReady", "Parallel"')]
    bad = _sts()
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    errs = ErrorList()
    api_sts.validate_statefulset(errs, bad)
    assert _messages(errs) == [('spec.template.metadata.labels: Invalid value: {"app":"other"}: `selector` does '
                               'not match template `labels`')]
    errs = ErrorList()
    api_sts.validate_statefulset_update(errs, _sts(), _sts(serviceName="other"))
    assert [c["field"] for c in errs.causes] == ["spec"]
    assert "updates to statefulset spec for fields other than 'replicas'" in errs.causes[0]["message"]
    errs = ErrorList()
    api_sts.validate_statefulset_update(errs, _sts(replicas=1), _sts(replicas=5))
    assert errs.causes == []


def test_statefulset_defaults_and_cells() -> None:
    sts = _sts(volumeClaimTemplates=[{"metadata": {"name": "www"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}])
    api_sts.default_statefulset(sts)
    spec = sts["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    claim = spec["volumeClaimTemplates"][0]
    assert (claim["apiVersion"], claim["kind"], claim["spec"]["volumeMode"], claim["status"]) == (
        "v1", "PersistentVolumeClaim", "Filesystem", {"phase": "Pending"})
    sts["metadata"]["creationTimestamp"] = "2026-03-01T11:59:00Z"
    sts["status"] = {"readyReplicas": 1}
    assert api_sts.statefulset_cells(sts, NOW) == ["web", "1/1", "60s", "nginx", "nginx"]
    rev = {"metadata": {"name": "web-abc", "creationTimestamp": "2026-03-01T11:59:00Z", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}]}, "revision": 2}
    assert api_sts.controllerrevision_cells(rev, NOW) == ["web-abc", "statefulset.apps/web", 2, "60s"]


# --- DaemonSet ---------------------------------------------------------------------------------------

NODE = {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1", "disk": "ssd"}}, "spec": {}}


def test_default_tolerations() -> None:
    tols = dp.default_tolerations({})
    assert [(t["key"], t["effect"]) for t in tols] == [
        ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule")]
    assert all(t["operator"] == "Exists" for t in tols)
    assert tols[-1] != dp.default_tolerations({"hostNetwork": True})[-1]


def test_should_run_respects_selector_affinity_and_taints() -> None:
    assert dp.should_run({}, NODE)
    assert dp.should_run({"nodeSelector": {"disk": "ssd"}}, NODE)
    assert not dp.should_run({"nodeSelector": {"disk": "hdd"}}, NODE)
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}]}}}
    assert not dp.should_run({"affinity": affinity}, NODE)
    tainted = {**NODE, "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}
    assert not dp.should_run({}, tainted)
    assert dp.should_run({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db",
                                           "effect": "NoSchedule"}]}, tainted)
    unschedulable = {**NODE, "spec": {"taints": [{"key": "node.kubernetes.io/unschedulable",
                                                  "effect": "NoSchedule"}]}}
    assert dp.should_run({}, unschedulable)  # a default toleration
    prefer = {**NODE, "spec": {"taints": [{"key": "x", "effect": "PreferNoSchedule"}]}}
    assert dp.should_run({}, prefer)


def test_an_unreachable_node_keeps_its_daemon_pod() -> None:
    # the node lifecycle controller's taints on a node that stopped renewing its Lease
    unreachable = {**NODE, "spec": {"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
                                               {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]}}
    assert not dp.should_run({}, unreachable)  # no new pod there ...
    assert dp.should_continue_running({}, unreachable)  # ... but the one there stays
    evicting = {**NODE, "spec": {"taints": [{"key": "dedicated", "effect": "NoExecute"}]}}
    assert not dp.should_continue_running({}, evicting)
    assert not dp.should_continue_running({"nodeSelector": {"disk": "hdd"}}, NODE)


def test_pods_are_pinned_by_node_affinity() -> None:
    affinity = dp.node_affinity_for(None, "n1")
    pod = {"spec": {"affinity": affinity}}
    assert dp.pod_node(pod) == "n1"
    assert dp.should_run({"affinity": affinity}, NODE)
    assert not dp.should_run({"affinity": affinity}, {"metadata": {"name": "n2"}})
    assert dp.pod_node({"spec": {"nodeName": "n3", "affinity": affinity}}) == "n3"


def test_daemonset_rolling_steps() -> None:
    def ok(pod: dict | None) -> bool:
        return bool(pod) and pod.get("ok", False)

    old = {"n1": {"ok": True}, "n2": {"ok": True}, "n3": {"ok": False}}
    spec = {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}}
    # n3 is unavailable already: replacing it is free; nothing else while one is down
    assert dp.rolling_plan(spec, 3, old, {}, ok) == (["n3"], [])
    old = {"n1": {"ok": True}, "n2": {"ok": True}}
    assert dp.rolling_plan(spec, 2, old, {}, ok) == (["n1"], [])
    surge = {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}}
    assert dp.rolling_plan(surge, 2, old, {}, ok) == ([], ["n1"])
    assert dp.rolling_plan(surge, 2, old, {"n1": {"ok": True}}, ok) == (["n1"], ["n2"])


def test_daemonset_validation_defaults_cells() -> None:
    ds = {"metadata": {"name": "agent", "creationTimestamp": "2026-03-01T11:59:00Z"},
          "spec": {"selector": {"matchLabels": {"app": "a"}},
                   "template": {"metadata": {"labels": {"app": "a"}},
                                "spec": {"nodeSelector": {"disk": "ssd"},
                                         "containers": [{"name": "c", "image": "busybox"}]}},
                   "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}}}
    errs = ErrorList()
    api_ds.validate_daemonset(errs, ds)
    assert _messages(errs) == [("spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 "
                               "when `maxSurge` is 0")]
    del ds["spec"]["updateStrategy"]
    api_ds.default_daemonset(ds)
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    ds["status"] = {"desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 1,
                    "updatedNumberScheduled": 1, "numberAvailable": 1}
    assert api_ds.daemonset_cells(ds, NOW) == ["agent", 1, 1, 1, 1, 1, "disk=ssd", "60s", "c", "busybox",
                                               "app=a"]


def test_replicationcontroller_selector_defaults_from_template() -> None:
    rc = {"metadata": {"name": "nginx"}, "spec": {"template": {"metadata": {"labels": {"app": "nginx"}},
                                                               "spec": {"containers": [{"name": "c",
                                                                                        "image": "i"}]}}}}
    errs = ErrorList()
    api_rc.validate_replicationcontroller(errs, rc)
    assert errs.causes == []
    api_rc.default_replicationcontroller(rc)
    assert rc["spec"]["selector"] == {"app": "nginx"} and rc["metadata"]["labels"] == {"app": "nginx"}
    rc["spec"]["selector"] = {"app": "other"}
    errs = ErrorList()
    api_rc.validate_replicationcontroller(errs, rc)
    assert _messages(errs) == [('spec.template.metadata.labels: Invalid value: {"app":"nginx"}: `selector` does not '
                               'match template `labels`')]
