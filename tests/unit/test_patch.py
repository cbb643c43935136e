"""Unit tests for minikube_lite.apiserver.patch (strategic merge, merge and JSON patches).

Needs ``hypothesis`` for the fuzz tests at the end (``pip install hypothesis``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikube_lite.api import mergekeys, register
from minikube_lite.api.errors import ApiError, BadRequest, Invalid, UnsupportedMediaType
from minikube_lite.api.kind import Kind
from minikube_lite.api.resources import Resource
from minikube_lite.apiserver.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    PRIMITIVE,
    STRATEGIC_MERGE_PATCH,
    apply_patch,
    json_merge_patch,
    json_patch,
    media_type,
    merge_key_for,
    strategic_merge_patch,
)

SMP = STRATEGIC_MERGE_PATCH


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": spec,
    }


def names(items: list[dict[str, Any]], key: str = "name") -> list[Any]:
    return [i[key] for i in items]


def smp(original: dict[str, Any], patch: dict[str, Any], kind: str = "Pod") -> dict[str, Any]:
    """Apply and also check the inputs are untouched."""
    before_o, before_p = copy.deepcopy(original), copy.deepcopy(patch)
    out = strategic_merge_patch(original, patch, kind)
    assert original == before_o
    assert patch == before_p
    return out


def assert_no_directives(value: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            assert k not in ("$patch", "$retainKeys"), k
            assert not k.startswith(("$setElementOrder", "$deleteFromPrimitiveList")), k
            assert_no_directives(v)
    elif isinstance(value, list):
        for v in value:
            assert_no_directives(v)


# ---------------------------------------------------------------------------------------------
# The merge-key table
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "path", "key"), [
    ("Pod", "spec.containers", "name"),
    ("Pod", "spec.initContainers", "name"),
    ("Pod", "spec.ephemeralContainers", "name"),
    ("Pod", "spec.containers.ports", "containerPort"),
    ("Pod", "spec.containers.env", "name"),
    ("Pod", "spec.initContainers.volumeMounts", "mountPath"),
    ("Pod", "spec.containers.volumeDevices", "devicePath"),
    ("Pod", "spec.volumes", "name"),
    ("Pod", "spec.imagePullSecrets", "name"),
    ("Pod", "spec.hostAliases", "ip"),
    ("Pod", "spec.tolerations", None),
    ("Pod", "status.conditions", "type"),
    ("Pod", "metadata.ownerReferences", "uid"),
    ("Pod", "metadata.finalizers", PRIMITIVE),
    ("Deployment", "spec.template.spec.containers", "name"),
    ("Deployment", "spec.template.spec.containers.env", "name"),
    ("Deployment", "spec.containers", None),
    ("ReplicaSet", "spec.template.spec.volumes", "name"),
    ("Service", "spec.ports", "port"),
    ("Node", "status.addresses", "type"),
    ("Node", "status.conditions", "type"),
    ("Deployment", "status.conditions", "type"),
    ("Endpoints", "subsets", None),
    ("ConfigMap", "metadata.finalizers", PRIMITIVE),
    ("SomeCustomThing", "metadata.ownerReferences", "uid"),
    ("SomeCustomThing", "spec.containers", None),
])
def test_merge_key_table(kind: str, path: str, key: str | None) -> None:
    assert merge_key_for(kind, path) == key


@pytest.mark.parametrize(("at", "path", "key"), [
    ("spec.template.spec", "spec.template.spec.initContainers.ports", "containerPort"),
    ("spec.template.spec", "spec.template.spec.containers", "name"),
    ("spec.jobTemplate.spec.template.spec", "spec.jobTemplate.spec.template.spec.containers", "name"),
    ("spec.jobTemplate.spec.template.spec", "spec.jobTemplate.spec.template.spec.volumes", "name"),
])
def test_merge_keys_of_a_pod_template_kind(at: str, path: str, key: str) -> None:
    """What a workload kind (StatefulSet, Job, CronJob ...) declares for its PodSpec at ``at``."""
    assert mergekeys.merge_keys(mergekeys.pod_spec_at(at), mergekeys.CONDITIONS)[path] == key


def test_merge_key_lookup_tolerates_kind_case() -> None:
    assert merge_key_for("pod", "spec.containers") == "name"


# ---------------------------------------------------------------------------------------------
# Strategic merge patch: maps
# ---------------------------------------------------------------------------------------------

def test_kubectl_client_side_apply_after_edit() -> None:
    original = pod(containers=[{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}])
    original["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{old}"}
    body = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{new}"},
                     "labels": {"tier": "fe"}},
        "spec": {"$setElementOrder/containers": [{"name": "nginx"}],
                 "containers": [{"image": "nginx:1.26", "name": "nginx"}]},
    }
    out = smp(original, body)
    assert out["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx:1.26", "ports": [{"containerPort": 80}]}]
    assert out["metadata"]["labels"] == {"app": "web", "tier": "fe"}
    assert out["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": "{new}"}
    assert out["metadata"]["name"] == "web"
    assert_no_directives(out)


def test_same_example_through_apply_patch_bytes() -> None:
    original = pod(containers=[{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}])
    body = (b'{"metadata":{"annotations":{"a":"b"},"labels":{"tier":"fe"}},"spec":{"$setElementOrder/containers":'
            b'[{"name":"nginx"}],"containers":[{"image":"nginx:1.26","name":"nginx"}]}}')
    out = apply_patch(original, body, SMP, "Pod")
    assert out["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert out["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]
    assert out["metadata"]["labels"]["tier"] == "fe"


def test_null_deletes_a_key_and_missing_null_is_not_added() -> None:
    original = pod(nodeName="n1", hostname="h")
    out = smp(original, {"spec": {"nodeName": None, "subdomain": None}, "metadata": {"labels": {"app": None}}})
    assert out["spec"] == {"hostname": "h"}
    assert out["metadata"]["labels"] == {}


def test_scalars_replace_and_new_maps_are_added() -> None:
    out = smp(pod(restartPolicy="Always"), {"spec": {"restartPolicy": "Never", "securityContext": {"runAsUser": 1}}})
    assert out["spec"] == {"restartPolicy": "Never", "securityContext": {"runAsUser": 1}}


def test_type_mismatch_replaces_the_value() -> None:
    out = smp({"a": [1, 2], "b": "x", "c": {"d": 1}}, {"a": {"k": 1}, "b": {"k": None, "j": 2}, "c": 5})
    assert out == {"a": {"k": 1}, "b": {"j": 2}, "c": 5}


def test_map_patch_replace_directive() -> None:
    original = pod(nodeSelector={"disk": "ssd", "zone": "a"})
    out = smp(original, {"spec": {"nodeSelector": {"$patch": "replace", "gpu": "yes"}}})
    assert out["spec"]["nodeSelector"] == {"gpu": "yes"}


def test_map_patch_delete_directive_removes_the_map() -> None:
    original = pod(nodeSelector={"disk": "ssd"}, hostname="h")
    out = smp(original, {"spec": {"nodeSelector": {"$patch": "delete"}}})
    assert out["spec"] == {"hostname": "h"}


def test_top_level_patch_delete_and_replace() -> None:
    original = pod(hostname="h")
    assert smp(original, {"$patch": "delete"}) == {}
    assert smp(original, {"$patch": "replace", "kind": "Pod"}) == {"kind": "Pod"}


def test_map_patch_merge_directive_is_a_plain_merge() -> None:
    original = pod(nodeSelector={"disk": "ssd"})
    out = smp(original, {"spec": {"nodeSelector": {"$patch": "merge", "zone": "a"}}})
    assert out["spec"]["nodeSelector"] == {"disk": "ssd", "zone": "a"}


def test_unknown_patch_directive_is_rejected() -> None:
    with pytest.raises(BadRequest, match="unknown \\$patch directive"):
        strategic_merge_patch(pod(), {"spec": {"$patch": "explode"}}, "Pod")


def test_retain_keys_drops_other_keys_then_merges() -> None:
    original = {"kind": "Deployment",
                "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    out = smp(original, patch, "Deployment")
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_in_a_volume_element() -> None:
    original = pod(volumes=[{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}])
    patch = {"spec": {"volumes": [{"$retainKeys": ["hostPath", "name"], "name": "data",
                                   "hostPath": {"path": "/srv"}}]}}
    out = smp(original, patch)
    assert out["spec"]["volumes"] == [{"name": "data", "hostPath": {"path": "/srv"}},
                                      {"name": "cfg", "configMap": {"name": "c"}}]


def test_retain_keys_must_cover_the_patch() -> None:
    with pytest.raises(BadRequest, match="retainKeys"):
        strategic_merge_patch({"s": {"a": 1}}, {"s": {"$retainKeys": ["a"], "b": 2}}, "Pod")
    with pytest.raises(BadRequest, match="retainKeys"):
        strategic_merge_patch({"s": {"a": 1}}, {"s": {"$retainKeys": "a"}}, "Pod")


# ---------------------------------------------------------------------------------------------
# Strategic merge patch: lists
# ---------------------------------------------------------------------------------------------

def test_new_elements_without_set_element_order_go_before_untouched_ones() -> None:
    # Kubernetes' ordering rule (mergeSortedSlice): without $setElementOrder the patch list gives
    # the order of the elements it names; a stored element it does not name is placed before a named
    # one only if it came before it in the stored list. A brand-new element has no stored position,
    # so it is placed first. kubectl apply always sends $setElementOrder, which fixes the order fully.
    original = pod(containers=[{"name": "a"}])
    assert names(smp(original, {"spec": {"containers": [{"name": "n"}]}})["spec"]["containers"]) == ["n", "a"]
    original = {"metadata": {"finalizers": ["a"]}}
    assert smp(original, {"metadata": {"finalizers": ["n"]}})["metadata"]["finalizers"] == ["n", "a"]
    patch = {"metadata": {"$setElementOrder/finalizers": ["a", "n"], "finalizers": ["n"]}}
    assert smp(original, patch)["metadata"]["finalizers"] == ["a", "n"]


def test_containers_merge_by_name_keeping_others() -> None:
    original = pod(containers=[{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}])
    out = smp(original, {"spec": {"containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]}})
    assert out["spec"]["containers"] == [
        {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]


def test_nested_container_lists_merge_by_their_keys() -> None:
    original = pod(containers=[{
        "name": "app", "image": "app:1",
        "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        "volumeMounts": [{"mountPath": "/data", "name": "data"}],
    }])
    patch = {"spec": {"containers": [{
        "name": "app",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "env": [{"name": "B", "value": "3"}, {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
        "volumeMounts": [{"mountPath": "/data", "readOnly": True}, {"mountPath": "/cfg", "name": "cfg"}],
    }]}}
    c = smp(original, patch)["spec"]["containers"][0]
    assert c["image"] == "app:1"
    assert c["ports"] == [{"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 443}]
    assert c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"},
                        {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]
    assert c["volumeMounts"] == [{"mountPath": "/data", "name": "data", "readOnly": True},
                                 {"mountPath": "/cfg", "name": "cfg"}]


def test_init_containers_volumes_pull_secrets_host_aliases() -> None:
    original = pod(initContainers=[{"name": "init", "image": "busybox"}],
                   volumes=[{"name": "v1", "emptyDir": {}}],
                   imagePullSecrets=[{"name": "s1"}],
                   hostAliases=[{"ip": "10.0.0.1", "hostnames": ["a"]}])
    patch = {"spec": {"initContainers": [{"name": "init", "command": ["true"]}],
                      "volumes": [{"name": "v2", "emptyDir": {}}],
                      "imagePullSecrets": [{"name": "s2"}],
                      "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["b"]}]}}
    out = smp(original, patch)["spec"]
    assert out["initContainers"] == [{"name": "init", "image": "busybox", "command": ["true"]}]
    # As in Kubernetes, without $setElementOrder new elements go before the untouched stored ones.
    assert names(out["volumes"]) == ["v2", "v1"]
    assert names(out["imagePullSecrets"]) == ["s2", "s1"]
    # hostnames has no merge key: replaced inside the merged element
    assert out["hostAliases"] == [{"ip": "10.0.0.1", "hostnames": ["b"]}]


def test_lists_without_merge_key_are_replaced() -> None:
    original = pod(tolerations=[{"key": "a", "operator": "Exists"}],
                   containers=[{"name": "c", "args": ["x", "y"]}])
    out = smp(original, {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}],
                                  "containers": [{"name": "c", "args": ["z"]}]}})
    assert out["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    assert out["spec"]["containers"] == [{"name": "c", "args": ["z"]}]


def test_empty_merge_list_in_patch_changes_nothing() -> None:
    original = pod(containers=[{"name": "a"}])
    assert smp(original, {"spec": {"containers": []}})["spec"]["containers"] == [{"name": "a"}]


def test_list_element_delete_directive() -> None:
    original = pod(containers=[{"name": "a"}, {"name": "b"}, {"name": "c"}])
    patch = {"spec": {"containers": [{"name": "b", "$patch": "delete"}, {"name": "x", "$patch": "delete"}]}}
    assert names(smp(original, patch)["spec"]["containers"]) == ["a", "c"]


def test_list_replace_directive() -> None:
    original = pod(containers=[{"name": "a", "image": "a"}, {"name": "b", "image": "b"}])
    patch = {"spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": "c"}]}}
    assert smp(original, patch)["spec"]["containers"] == [{"name": "c", "image": "c"}]


def test_list_element_merge_directive_is_stripped() -> None:
    original = pod(containers=[{"name": "a", "image": "a"}])
    patch = {"spec": {"containers": [{"name": "a", "$patch": "merge", "tty": True}, {"$patch": "merge"}]}}
    assert smp(original, patch)["spec"]["containers"] == [{"name": "a", "image": "a", "tty": True}]


def test_delete_directive_needs_the_merge_key() -> None:
    with pytest.raises(BadRequest, match="merge key"):
        strategic_merge_patch(pod(containers=[{"name": "a"}]),
                              {"spec": {"containers": [{"$patch": "delete", "image": "x"}]}}, "Pod")


def test_merge_list_element_without_merge_key_is_rejected() -> None:
    with pytest.raises(BadRequest, match="merge key 'name'"):
        strategic_merge_patch(pod(containers=[{"name": "a"}]), {"spec": {"containers": [{"image": "x"}]}}, "Pod")


def test_merge_list_element_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(BadRequest, match="must be objects"):
        strategic_merge_patch(pod(containers=[{"name": "a"}]), {"spec": {"containers": ["a"]}}, "Pod")


def test_stored_elements_without_merge_key_survive() -> None:
    original = pod(containers=[{"image": "orphan"}, {"name": "a"}])
    out = smp(original, {"spec": {"containers": [{"name": "a", "tty": True}]}})
    assert sorted(map(json.dumps, out["spec"]["containers"])) == sorted(
        map(json.dumps, [{"image": "orphan"}, {"name": "a", "tty": True}]))


def test_merge_key_numbers_match_across_int_and_float() -> None:
    original = pod(containers=[{"name": "a", "ports": [{"containerPort": 80}]}])
    out = smp(original, {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80.0, "name": "h"}]}]}})
    assert len(out["spec"]["containers"][0]["ports"]) == 1


def test_workload_pod_templates() -> None:
    # every registered kind with a pod template (Deployment, ReplicaSet, and the workload kinds to come)
    workloads = [k.resource.kind for k in register.kinds() if "spec.template.spec.containers" in k.merge_keys]
    assert {"Deployment", "ReplicaSet"} <= set(workloads)
    for kind in workloads:
        original = {"kind": kind, "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]}]}}}}
        patch = {"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}]}]}}}}
        c = smp(original, patch, kind)["spec"]["template"]["spec"]["containers"]
        assert c == [{"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}]}]


def test_cronjob_pod_template() -> None:
    # the built-in CronJob (api/cronjob.py) declares its PodSpec two levels down
    _check_cronjob_pod_template()
    # a kind registered at run time brings its merge keys with it (and takes them away)
    builtin = register.kind_named("CronJob")
    assert builtin is not None
    cronjob = Kind(Resource("batch", "v1", "cronjobs", "cronjob", "CronJob", True),
                   merge_keys=mergekeys.merge_keys(mergekeys.pod_spec_at("spec.jobTemplate.spec.template.spec")))
    register.register(cronjob, replace=True)
    try:
        _check_cronjob_pod_template()
    finally:
        register.unregister("batch", "v1", "cronjobs")
    try:
        assert merge_key_for("CronJob", "spec.jobTemplate.spec.template.spec.containers") is None
    finally:
        register.register(builtin)  # the rest of the session serves the built-in kind again
    assert merge_key_for("CronJob", "spec.jobTemplate.spec.template.spec.containers") == "name"


def _check_cronjob_pod_template() -> None:
    original = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "a", "image": "a:1"}, {"name": "b"}]}}}}}}
    patch = {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:2"}]}}}}}}
    out = smp(original, patch, "CronJob")
    assert out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"] == [
        {"name": "a", "image": "a:2"}, {"name": "b"}]


def test_service_ports_by_port() -> None:
    original = {"kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    out = smp(original, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}, "Service")
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443}]


def test_owner_references_by_uid_and_conditions_by_type() -> None:
    original = {"kind": "Pod", "metadata": {"ownerReferences": [{"uid": "1", "name": "rs"}]},
                "status": {"conditions": [{"type": "Ready", "status": "False"},
                                          {"type": "PodScheduled", "status": "True"}]}}
    patch = {"metadata": {"ownerReferences": [{"uid": "2", "name": "other"}]},
             "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    out = smp(original, patch)
    assert names(out["metadata"]["ownerReferences"], "uid") == ["2", "1"]
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                           {"type": "PodScheduled", "status": "True"}]


def test_node_status_addresses_and_conditions() -> None:
    original = {"kind": "Node", "status": {
        "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}, {"type": "Hostname", "address": "n"}],
        "conditions": [{"type": "Ready", "status": "Unknown"}]}}
    patch = {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.3"}],
                        "conditions": [{"type": "MemoryPressure", "status": "False"}]}}
    out = smp(original, patch, "Node")
    assert out["status"]["addresses"] == [{"type": "InternalIP", "address": "10.0.0.3"},
                                          {"type": "Hostname", "address": "n"}]
    assert names(out["status"]["conditions"], "type") == ["MemoryPressure", "Ready"]


def test_endpoints_subsets_are_replaced() -> None:
    original = {"kind": "Endpoints", "subsets": [{"addresses": [{"ip": "1.1.1.1"}], "ports": [{"port": 80}]}]}
    patch = {"subsets": [{"addresses": [{"ip": "2.2.2.2"}]}]}
    assert smp(original, patch, "Endpoints")["subsets"] == [{"addresses": [{"ip": "2.2.2.2"}]}]


def test_unknown_kind_replaces_lists_but_merges_metadata() -> None:
    original = {"kind": "Widget", "metadata": {"finalizers": ["a"]}, "spec": {"containers": [{"name": "x"}]}}
    patch = {"metadata": {"finalizers": ["b"]}, "spec": {"containers": [{"name": "y"}]}}
    out = smp(original, patch, "Widget")
    assert out["metadata"]["finalizers"] == ["b", "a"]
    assert out["spec"]["containers"] == [{"name": "y"}]


# ---------------------------------------------------------------------------------------------
# Primitive lists (finalizers)
# ---------------------------------------------------------------------------------------------

def test_finalizers_union_keeps_order_and_deduplicates() -> None:
    original = {"metadata": {"finalizers": ["a", "b"]}}
    assert smp(original, {"metadata": {"finalizers": ["b", "c", "c"]}})["metadata"]["finalizers"] == ["a", "b", "c"]


def test_delete_from_primitive_list() -> None:
    original = {"metadata": {"finalizers": ["a", "b", "c", "b"]}}
    out = smp(original, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}})
    assert out["metadata"] == {"finalizers": ["a", "c"]}


def test_delete_from_primitive_list_with_additions_and_order() -> None:
    original = {"metadata": {"finalizers": ["a", "b"]}}
    patch = {"metadata": {"$setElementOrder/finalizers": ["c", "a"], "$deleteFromPrimitiveList/finalizers": ["b"],
                          "finalizers": ["c"]}}
    assert smp(original, patch)["metadata"] == {"finalizers": ["c", "a"]}


def test_delete_from_missing_primitive_list_is_a_no_op() -> None:
    assert smp({"metadata": {}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}) == {"metadata": {}}


def test_primitive_list_replace_directive() -> None:
    original = {"metadata": {"finalizers": ["a", "b"]}}
    assert smp(original, {"metadata": {"finalizers": [{"$patch": "replace"}, "z"]}})["metadata"] == {
        "finalizers": ["z"]}


def test_primitive_list_rejects_other_directives() -> None:
    with pytest.raises(BadRequest, match="deleteFromPrimitiveList"):
        strategic_merge_patch({"metadata": {"finalizers": ["a"]}},
                              {"metadata": {"finalizers": [{"$patch": "delete"}]}}, "Pod")


# ---------------------------------------------------------------------------------------------
# $setElementOrder
# ---------------------------------------------------------------------------------------------

def test_set_element_order_reorders_merged_list() -> None:
    original = pod(containers=[{"name": "a"}, {"name": "b"}, {"name": "c"}])
    patch = {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}],
                      "containers": [{"name": "b", "image": "b:2"}]}}
    out = smp(original, patch)["spec"]["containers"]
    assert out == [{"name": "c"}, {"name": "b", "image": "b:2"}, {"name": "a"}]


def test_set_element_order_alone_only_reorders() -> None:
    original = pod(containers=[{"name": "a"}, {"name": "b"}])
    out = smp(original, {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}})
    assert out["spec"] == {"containers": [{"name": "b"}, {"name": "a"}]}


def test_set_element_order_new_element_and_server_only_elements() -> None:
    # "b" is not named: it keeps its place after "a" (its predecessor in the stored list);
    # the new "d" follows the named elements.
    original = pod(containers=[{"name": "a"}, {"name": "b"}, {"name": "c"}])
    patch = {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "c"}, {"name": "d"}],
                      "containers": [{"name": "d"}]}}
    assert names(smp(original, patch)["spec"]["containers"]) == ["a", "b", "c", "d"]


def test_set_element_order_with_deletion_kubectl_style() -> None:
    original = pod(containers=[{"name": "a"}, {"name": "b"}, {"name": "c"}])
    patch = {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
                      "containers": [{"name": "b", "$patch": "delete"}]}}
    assert names(smp(original, patch)["spec"]["containers"]) == ["c", "a"]


def test_patch_list_order_is_used_without_set_element_order() -> None:
    original = pod(containers=[{"name": "a"}, {"name": "b"}, {"name": "c"}])
    patch = {"spec": {"containers": [{"name": "c"}, {"name": "a"}]}}
    assert names(smp(original, patch)["spec"]["containers"]) == ["b", "c", "a"]


def test_set_element_order_for_a_new_list() -> None:
    patch = {"spec": {"$setElementOrder/containers": [{"name": "y"}, {"name": "x"}],
                      "containers": [{"name": "x"}, {"name": "y"}]}}
    out = smp(pod(), patch)
    assert names(out["spec"]["containers"]) == ["y", "x"]
    assert_no_directives(out)


def test_set_element_order_on_nested_list() -> None:
    original = pod(containers=[{"name": "a", "env": [{"name": "X"}, {"name": "Y"}]}])
    patch = {"spec": {"containers": [{"name": "a", "$setElementOrder/env": [{"name": "Y"}, {"name": "X"}]}]}}
    assert names(smp(original, patch)["spec"]["containers"][0]["env"]) == ["Y", "X"]


def test_set_element_order_must_be_a_list_with_merge_keys() -> None:
    with pytest.raises(BadRequest, match="must be a list"):
        strategic_merge_patch(pod(containers=[{"name": "a"}]),
                              {"spec": {"$setElementOrder/containers": {"name": "a"}}}, "Pod")
    with pytest.raises(BadRequest, match="merge key"):
        strategic_merge_patch(pod(containers=[{"name": "a"}]),
                              {"spec": {"$setElementOrder/containers": ["a"]}}, "Pod")
    with pytest.raises(BadRequest, match="malformed directive"):
        strategic_merge_patch(pod(), {"spec": {"$setElementOrder": []}}, "Pod")


# ---------------------------------------------------------------------------------------------
# Directives never leak
# ---------------------------------------------------------------------------------------------

def test_directives_in_new_subtrees_are_resolved() -> None:
    patch = {"spec": {
        "containers": [{"name": "a", "$patch": "merge", "$setElementOrder/env": [{"name": "E"}],
                        "env": [{"name": "E"}, {"name": "F", "$patch": "delete"}]},
                       {"name": "gone", "$patch": "delete"}],
        "nodeSelector": {"$patch": "replace", "x": "y"},
        "affinity": {"$patch": "delete"},
        "securityContext": {"$retainKeys": ["runAsUser"], "runAsUser": 1},
        "tolerations": [{"$patch": "merge", "key": "k"}],
    }, "metadata": {"$deleteFromPrimitiveList/finalizers": ["x"], "finalizers": ["y"]}}
    out = smp({"kind": "Pod", "metadata": {}}, patch)
    assert_no_directives(out)
    assert out["spec"] == {"containers": [{"name": "a", "env": [{"name": "E"}]}], "nodeSelector": {"x": "y"},
                           "securityContext": {"runAsUser": 1}, "tolerations": [{"key": "k"}]}
    assert out["metadata"] == {"finalizers": ["y"]}


def test_non_object_patches_are_rejected() -> None:
    for bad in ([], "x", 3, None):
        with pytest.raises(BadRequest):
            strategic_merge_patch(pod(), bad, "Pod")  # type: ignore[arg-type]
    with pytest.raises(BadRequest):
        strategic_merge_patch([], {}, "Pod")  # type: ignore[arg-type]


def test_result_shares_nothing_with_inputs() -> None:
    original = pod(containers=[{"name": "a", "env": [{"name": "X"}]}])
    patch = {"spec": {"containers": [{"name": "b", "env": [{"name": "Y"}]}], "tolerations": [{"key": "t"}]}}
    out = smp(original, patch)
    out["spec"]["containers"][0]["env"].append({"name": "Z"})
    out["spec"]["containers"][1]["env"].append({"name": "Z"})
    out["spec"]["tolerations"][0]["key"] = "changed"
    assert original["spec"]["containers"][0]["env"] == [{"name": "X"}]
    assert patch["spec"]["containers"][0]["env"] == [{"name": "Y"}]
    assert patch["spec"]["tolerations"] == [{"key": "t"}]


def test_deep_nesting_is_a_bad_request() -> None:
    deep: dict[str, Any] = {}
    cur = deep
    for _ in range(5000):
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(BadRequest):
        strategic_merge_patch({}, deep, "Pod")
    with pytest.raises(BadRequest):
        apply_patch({}, b'{"a":' * 100000 + b"1" + b"}" * 100000, SMP, "Pod")


# ---------------------------------------------------------------------------------------------
# JSON merge patch (RFC 7386, examples from its appendix A)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("original", "patch", "result"), [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_json_merge_patch_rfc_examples(original: dict[str, Any], patch: Any, result: dict[str, Any]) -> None:
    before = copy.deepcopy(original)
    assert json_merge_patch(original, patch) == result
    assert original == before


def test_json_merge_patch_replaces_lists_and_ignores_directives_semantics() -> None:
    original = pod(containers=[{"name": "a", "image": "a"}, {"name": "b"}])
    out = json_merge_patch(original, {"spec": {"containers": [{"name": "a", "image": "a:2"}]}})
    assert out["spec"]["containers"] == [{"name": "a", "image": "a:2"}]


def test_json_merge_patch_must_be_an_object() -> None:
    for bad in (["a"], "x", 1, None, True):
        with pytest.raises(BadRequest, match="merge patch must be a JSON object"):
            json_merge_patch({"a": 1}, bad)


def test_json_merge_patch_result_does_not_alias_patch() -> None:
    patch = {"a": {"b": [1, 2]}}
    out = json_merge_patch({}, patch)
    out["a"]["b"].append(3)
    assert patch == {"a": {"b": [1, 2]}}


# ---------------------------------------------------------------------------------------------
# JSON patch (RFC 6902)
# ---------------------------------------------------------------------------------------------

def test_json_patch_operations() -> None:
    original = pod(containers=[{"name": "a", "image": "a:1"}])
    ops = [
        {"op": "test", "path": "/metadata/name", "value": "web"},
        {"op": "replace", "path": "/spec/containers/0/image", "value": "a:2"},
        {"op": "add", "path": "/metadata/labels/tier", "value": "fe"},
        {"op": "remove", "path": "/metadata/labels/app"},
        {"op": "copy", "from": "/metadata/name", "path": "/metadata/annotations"},
        {"op": "move", "from": "/metadata/annotations", "path": "/spec/hostname"},
        {"op": "add", "path": "/spec/containers/-", "value": {"name": "b"}},
    ]
    before = copy.deepcopy(original)
    out = json_patch(original, ops)
    assert original == before
    assert out["spec"] == {"containers": [{"name": "a", "image": "a:2"}, {"name": "b"}], "hostname": "web"}
    assert out["metadata"]["labels"] == {"tier": "fe"}


def test_json_patch_does_not_alias_op_values() -> None:
    ops = [{"op": "add", "path": "/x", "value": {"y": [1]}}]
    out = json_patch({}, ops)
    out["x"]["y"].append(2)
    assert ops[0]["value"] == {"y": [1]}


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/metadata/name", "value": "other"}],
    [{"op": "remove", "path": "/metadata/missing"}],
    [{"op": "replace", "path": "/nope/deeper", "value": 1}],
    [{"op": "add", "path": "/spec/containers/9", "value": {}}],
])
def test_json_patch_that_does_not_apply_is_invalid(ops: list[dict[str, Any]]) -> None:
    with pytest.raises(Invalid) as info:
        json_patch(pod(containers=[]), ops)
    assert info.value.code == 422
    assert 'Pod "web" is invalid' in info.value.message


@pytest.mark.parametrize("ops", [
    {"op": "add", "path": "/a", "value": 1},
    "nope",
    [1],
    [{"op": "frobnicate", "path": "/a"}],
    [{"path": "/a", "value": 1}],
    [{"op": "add", "path": 5, "value": 1}],
    [{"op": "add", "path": "no-slash", "value": 1}],
    [{"op": "move", "path": "/a"}],
    [{"op": "add", "path": "/a"}],
    [{"op": "replace", "path": "", "value": [1]}],
])
def test_malformed_json_patch_is_a_bad_request(ops: Any) -> None:
    with pytest.raises(BadRequest):
        json_patch({"a": 1}, ops)


# ---------------------------------------------------------------------------------------------
# Dispatch
# ---------------------------------------------------------------------------------------------

def test_media_type_parsing() -> None:
    assert media_type("Application/Merge-Patch+JSON; charset=utf-8") == MERGE_PATCH
    assert media_type(None) == ""


def test_apply_patch_dispatches_on_content_type() -> None:
    original = pod(containers=[{"name": "a", "image": "a"}, {"name": "b"}])
    body = json.dumps({"spec": {"containers": [{"name": "a", "image": "a:2"}]}}).encode()
    assert len(apply_patch(original, body, SMP, "Pod")["spec"]["containers"]) == 2
    assert len(apply_patch(original, body, MERGE_PATCH + "; charset=utf-8", "Pod")["spec"]["containers"]) == 1
    ops = json.dumps([{"op": "remove", "path": "/spec/containers/1"}]).encode()
    assert len(apply_patch(original, ops, JSON_PATCH, "Pod")["spec"]["containers"]) == 1


@pytest.mark.parametrize("content_type", [
    "application/json", "application/apply-patch+yaml", "text/plain", "", "application/yaml"])
def test_apply_patch_unknown_content_type(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        apply_patch({}, b"{}", content_type, "Pod")
    assert info.value.code == 415


@pytest.mark.parametrize("body", [b"", b"   ", b"{", b"{'a': 1}", b"\xff\xfe{}", b'{"a": NaN}',
                                  b'{"a": Infinity}', b"[1, 2"])
@pytest.mark.parametrize("content_type", [SMP, MERGE_PATCH, JSON_PATCH])
def test_apply_patch_malformed_body(body: bytes, content_type: str) -> None:
    with pytest.raises(BadRequest) as info:
        apply_patch({"a": 1}, body, content_type, "Pod")
    assert info.value.code == 400


def test_apply_patch_wrong_shape_for_the_type() -> None:
    with pytest.raises(BadRequest):
        apply_patch({}, b"[]", SMP, "Pod")
    with pytest.raises(BadRequest):
        apply_patch({}, b'"x"', MERGE_PATCH, "Pod")
    with pytest.raises(BadRequest):
        apply_patch({}, b"{}", JSON_PATCH, "Pod")


def test_apply_patch_accepts_utf8_bom_and_unicode() -> None:
    out = apply_patch({}, '\ufeff{"a": "é"}'.encode(), MERGE_PATCH, "Pod")
    assert out == {"a": "é"}


# ---------------------------------------------------------------------------------------------
# Fuzz: nothing but ApiError ever escapes, inputs are never mutated, directives never leak
# ---------------------------------------------------------------------------------------------

_KEYS = st.sampled_from([
    "spec", "metadata", "status", "containers", "initContainers", "ports", "env", "name", "image",
    "containerPort", "finalizers", "conditions", "type", "volumes", "template", "tolerations", "a", "b",
])
_DIRECTIVE_KEYS = st.sampled_from([
    "$patch", "$retainKeys", "$setElementOrder/containers", "$setElementOrder/finalizers",
    "$setElementOrder/env", "$deleteFromPrimitiveList/finalizers", "$setElementOrder", "$deleteFromPrimitiveList/",
])
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["a", "b", "nginx", "delete", "replace", "merge", "name", ""]),
)


def _json(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        _SCALARS,
        lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
        max_leaves=25,
    )


_ORIGINALS = st.dictionaries(_KEYS, _json(_KEYS), max_size=4)
_PATCH_VALUES = _json(st.one_of(_KEYS, _DIRECTIVE_KEYS))
_KINDS = st.sampled_from(["Pod", "Deployment", "Service", "Node", "Widget", "CronJob"])


def _structured_pod_patch() -> st.SearchStrategy[dict[str, Any]]:
    element = st.dictionaries(st.one_of(_KEYS, _DIRECTIVE_KEYS), _PATCH_VALUES, max_size=4)
    return st.fixed_dictionaries({"spec": st.fixed_dictionaries(
        {"containers": st.lists(element, max_size=3)},
        optional={"$setElementOrder/containers": st.lists(element, max_size=3)})})


_FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(original=_ORIGINALS, patch=st.one_of(_PATCH_VALUES, _structured_pod_patch()), kind=_KINDS)
def test_fuzz_strategic_merge_patch(original: dict[str, Any], patch: Any, kind: str) -> None:
    before_o, before_p = copy.deepcopy(original), copy.deepcopy(patch)
    try:
        out = strategic_merge_patch(original, patch, kind)
    except ApiError as err:
        assert 400 <= err.code < 500
    else:
        assert isinstance(out, dict)
        assert_no_directives(out)
        json.dumps(out)
    assert original == before_o
    assert patch == before_p


@_FUZZ
@given(original=_ORIGINALS, patch=_PATCH_VALUES)
def test_fuzz_json_merge_patch(original: dict[str, Any], patch: Any) -> None:
    before_o, before_p = copy.deepcopy(original), copy.deepcopy(patch)
    try:
        out = json_merge_patch(original, patch)
    except ApiError as err:
        assert 400 <= err.code < 500
    else:
        assert isinstance(out, dict)
    assert original == before_o
    assert patch == before_p


_OPS = st.lists(st.one_of(
    _PATCH_VALUES,
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
         "path": st.sampled_from(["", "/", "/a", "/a/0", "/a/-", "/spec/containers/0", "/b/c", "x", "/a~2"])},
        optional={"value": _PATCH_VALUES, "from": st.sampled_from(["/a", "/b", "", "/spec", 3])}),
), max_size=4)


@_FUZZ
@given(original=_ORIGINALS, ops=st.one_of(_OPS, _PATCH_VALUES))
def test_fuzz_json_patch(original: dict[str, Any], ops: Any) -> None:
    before_o, before_p = copy.deepcopy(original), copy.deepcopy(ops)
    try:
        out = json_patch(original, ops)
    except ApiError as err:
        assert 400 <= err.code < 500
    else:
        assert isinstance(out, dict)
    assert original == before_o
    assert ops == before_p


@_FUZZ
@given(original=_ORIGINALS, body=st.one_of(st.binary(max_size=64), _PATCH_VALUES.map(lambda v: json.dumps(v).encode())),
       content_type=st.sampled_from([SMP, MERGE_PATCH, JSON_PATCH, "application/json", "x"]), kind=_KINDS)
def test_fuzz_apply_patch(original: dict[str, Any], body: bytes, content_type: str, kind: str) -> None:
    try:
        out = apply_patch(original, body, content_type, kind)
    except ApiError as err:
        assert 400 <= err.code < 500
    else:
        assert isinstance(out, dict)
