"""CustomResourceDefinitions end to end: the real kubectl and the official Python client against a
CRD applied at run time, its custom objects, and a kopf operator run with kopf's own CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from .conftest import Cluster, wait_for

NS = "crds"
GROUP = "example.com"

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP, "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wg"],
                  "categories": ["all"]},
        "versions": [
            {"name": "v1", "served": True, "storage": True,
             "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                      "statusReplicasPath": ".status.replicas",
                                                      "labelSelectorPath": ".status.selector"}},
             "additionalPrinterColumns": [
                 {"name": "Size", "type": "string", "jsonPath": ".spec.size"},
                 {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                 {"name": "Ports", "type": "string", "jsonPath": ".spec.ports[*].name", "priority": 1},
                 {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                 {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
             "schema": {"openAPIV3Schema": {
                 "type": "object", "description": "A Widget is a test kind.",
                 "properties": {
                     "spec": {"type": "object", "description": "What the widget should be.",
                              "required": ["size"],
                              "x-kubernetes-validations": [
                                  {"rule": "self.replicas <= self.maxReplicas",
                                   "message": "replicas must not exceed maxReplicas"}],
                              "properties": {
                                  "size": {"type": "string", "enum": ["small", "large"],
                                           "description": "How big the widget is."},
                                  "replicas": {"type": "integer", "minimum": 0, "default": 1},
                                  "maxReplicas": {"type": "integer", "default": 10},
                                  "color": {"type": "string", "default": "blue", "pattern": "^[a-z]+$"},
                                  "ports": {"type": "array", "items": {"type": "object", "properties": {
                                      "name": {"type": "string"}, "port": {"type": "integer"}}}},
                                  "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
                     "status": {"type": "object", "properties": {
                         "phase": {"type": "string"}, "replicas": {"type": "integer"},
                         "selector": {"type": "string"}}}}}}},
            {"name": "v1beta1", "served": True, "storage": False,
             "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
        ],
    },
}

GIZMO_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"gizmos.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Cluster",
             "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]},
}


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name, "namespace": NS},
            "spec": {"size": "small", **spec}}


def apply(cluster: Cluster, obj: dict[str, Any], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("apply", "-f", "-", *args, input=json.dumps(obj), check=check)


def established(cluster: Cluster, name: str) -> bool:
    crd = cluster.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}") or {}
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


@pytest.fixture(scope="module")
def crds(cluster: Cluster) -> Iterator[Cluster]:
    cluster.kubectl("create", "namespace", NS)
    cluster.kubectl("api-resources")  # kubectl's discovery cache now knows the server without the CRDs
    t0 = time.monotonic()
    apply(cluster, WIDGET_CRD)
    wait_for(lambda: cluster.kubectl("get", "widgets", "-n", NS, check=False).returncode == 0, timeout=10,
             what="kubectl get widgets to work")
    assert time.monotonic() - t0 < 5
    apply(cluster, GIZMO_CRD)
    yield cluster
    cluster.kubectl("delete", "crd", f"widgets.{GROUP}", f"gizmos.{GROUP}", "--ignore-not-found", check=False)
    cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)
    # kubectl's discovery cache (shared by the session's tests) would still expand "all" to widgets:
    # api-resources refreshes it, as a user would after removing a CRD
    cluster.kubectl("api-resources", check=False)


@pytest.fixture(scope="module")
def custom(crds: Cluster) -> Iterator[client.CustomObjectsApi]:
    api_client = config.new_client_from_config(config_file=str(crds.kubeconfig))
    yield client.CustomObjectsApi(api_client)
    api_client.close()


# --- the CRD itself -------------------------------------------------------------------------------

def test_crd_conditions_and_accepted_names(crds: Cluster) -> None:
    crd = json.loads(crds.kubectl("get", "crd", f"widgets.{GROUP}", "-o", "json").stdout)
    conds = {c["type"]: c for c in crd["status"]["conditions"]}
    assert conds["NamesAccepted"]["status"] == "True" and conds["NamesAccepted"]["reason"] == "NoConflicts"
    assert conds["Established"]["status"] == "True"
    assert crd["status"]["acceptedNames"]["shortNames"] == ["wg"]
    assert crd["status"]["storedVersions"] == ["v1"]
    assert crd["spec"]["names"]["listKind"] == "WidgetList"
    out = crds.kubectl("wait", "--for=condition=Established", f"crd/widgets.{GROUP}", "--timeout=5s").stdout
    assert f"customresourcedefinition.apiextensions.k8s.io/widgets.{GROUP} condition met" in out
    assert f"widgets.{GROUP}" in crds.kubectl("get", "crds").stdout


def test_api_resources_lists_short_names_and_categories(crds: Cluster) -> None:
    out = crds.kubectl("api-resources", "--api-group", GROUP).stdout.splitlines()
    assert out[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert rows["widgets"] == ["widgets", "wg", f"{GROUP}/v1", "true", "Widget"]
    assert rows["gizmos"] == ["gizmos", f"{GROUP}/v1", "false", "Gizmo"]
    wide = crds.kubectl("api-resources", "--api-group", GROUP, "-o", "wide").stdout
    assert "all" in next(line for line in wide.splitlines() if line.startswith("widgets"))


def test_non_structural_crd_is_refused_with_reasons(crds: Cluster) -> None:
    bad = json.loads(json.dumps(GIZMO_CRD))
    bad["metadata"]["name"] = f"doodads.{GROUP}"
    bad["spec"]["names"] = {"plural": "doodads", "kind": "Doodad"}
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = {
        "type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}},
                                                  "anyOf": [{"type": "object"}]}}}
    proc = apply(crds, bad, check=False)
    assert proc.returncode != 0
    assert (f'The CustomResourceDefinition "doodads.{GROUP}" is invalid: ') in proc.stderr
    assert ("spec.versions[0].schema.openAPIV3Schema.properties[spec].anyOf[0].type: Forbidden: must be empty "
            "to be structural") in proc.stderr
    assert ("spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty "
            "for specified object fields") in proc.stderr
    assert crds.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/doodads.{GROUP}") is None


# --- custom objects with kubectl ------------------------------------------------------------------

def test_create_get_columns_and_defaults(crds: Cluster) -> None:
    apply(crds, widget("w1", replicas=2, ports=[{"name": "http", "port": 80}, {"name": "dns", "port": 53}]))
    obj = json.loads(crds.kubectl("get", "widget", "w1", "-n", NS, "-o", "json").stdout)
    assert obj["spec"]["color"] == "blue" and obj["spec"]["maxReplicas"] == 10  # defaults applied
    assert obj["metadata"]["generation"] == 1 and obj["metadata"]["uid"]
    lines = crds.kubectl("get", "wg", "-n", NS).stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "REPLICAS", "PHASE", "AGE"]
    row = lines[1].split()
    assert row[:3] == ["w1", "small", "2"] and len(row) == 4  # no phase yet: a null cell, printed empty
    wide = crds.kubectl("get", "widgets", "-n", NS, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "SIZE", "REPLICAS", "PORTS", "PHASE", "AGE"]
    assert wide[1].split()[3] == "http"  # the first value of an array path, as kube-apiserver
    assert "widget.example.com/w1" in crds.kubectl("get", "all", "-n", NS).stdout
    assert crds.kubectl("apply", "-f", "-", input=json.dumps(widget("w1", replicas=2, ports=[
        {"name": "http", "port": 80}, {"name": "dns", "port": 53}]))).stdout.strip() == "widget.example.com/w1 unchanged"


def test_invalid_objects_get_kubernetes_messages(crds: Cluster) -> None:
    proc = apply(crds, widget("bad", replicas="two", size="medium"), check=False)
    assert proc.returncode != 0
    assert 'The Widget "bad" is invalid: ' in proc.stderr
    assert 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"' \
        in proc.stderr
    assert 'spec.size: Unsupported value: "medium": supported values: "small", "large"' in proc.stderr
    proc = apply(crds, widget("bad", replicas=20), check=False)
    assert "spec: Invalid value: replicas must not exceed maxReplicas" in proc.stderr
    proc = apply(crds, {**widget("bad"), "spec": {"color": "Red"}}, check=False)
    assert "spec.size: Required value" in proc.stderr
    assert "spec.color: Invalid value: \"Red\": spec.color in body should match '^[a-z]+$'" in proc.stderr
    assert crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/widgets/bad") is None


def test_unknown_fields_pruned_warned_or_refused(crds: Cluster) -> None:
    obj = widget("w-unknown", junk=1, extra={"kept": {"deep": True}})
    proc = crds.kubectl("create", "-f", "-", input=json.dumps(obj), check=False)
    assert proc.returncode != 0
    assert ('Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field '
            '"spec.junk"') in proc.stderr
    proc = crds.kubectl("create", "--validate=warn", "-f", "-", input=json.dumps(obj))
    assert 'Warning: unknown field "spec.junk"' in proc.stderr
    stored = crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/widgets/w-unknown")
    assert "junk" not in stored["spec"] and stored["spec"]["extra"] == {"kept": {"deep": True}}


def test_patch_merge_json_apply_and_strategic_refused(crds: Cluster) -> None:
    apply(crds, widget("w-patch", replicas=1))
    crds.kubectl("patch", "widget", "w-patch", "-n", NS, "--type=merge", "-p", '{"spec":{"size":"large"}}')
    crds.kubectl("patch", "widget", "w-patch", "-n", NS, "--type=json",
                 "-p", '[{"op":"replace","path":"/spec/replicas","value":3}]')
    proc = crds.kubectl("patch", "widget", "w-patch", "-n", NS, "-p", '{"spec":{"size":"small"}}', check=False)
    assert proc.returncode != 0
    # kubectl's own wrapping of kube-apiserver's 415, as on a real cluster
    assert ("error: application/strategic-merge-patch+json is not supported by example.com/v1, Kind=Widget: "
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml") in proc.stderr
    obj = crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/widgets/w-patch")
    assert (obj["spec"]["size"], obj["spec"]["replicas"], obj["metadata"]["generation"]) == ("large", 3, 3)
    ssa = widget("w-patch", replicas=4)
    del ssa["spec"]["size"]
    ssa["spec"]["size"] = "small"
    proc = crds.kubectl("apply", "--server-side", "--field-manager=e2e", "--force-conflicts", "-f", "-",
                        input=json.dumps(ssa))
    assert "widget.example.com/w-patch serverside-applied" in proc.stdout
    obj = crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/widgets/w-patch")
    assert obj["spec"]["replicas"] == 4 and obj["spec"]["size"] == "small"
    assert "e2e" in [m["manager"] for m in obj["metadata"]["managedFields"]]


def test_status_subresource_and_scale(crds: Cluster) -> None:
    apply(crds, widget("w-scale", replicas=1))
    # status on the main resource is ignored; through /status it is the only thing written
    crds.kubectl("patch", "widget", "w-scale", "-n", NS, "--type=merge", "-p", '{"status":{"phase":"Nope"}}')
    assert "status" not in crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/widgets/w-scale")
    crds.kubectl("patch", "widget", "w-scale", "-n", NS, "--subresource=status", "--type=merge",
                 "-p", '{"status":{"phase":"Ready","replicas":1,"selector":"app=w"},"spec":{"size":"large"}}')
    obj = crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/widgets/w-scale")
    assert obj["status"]["phase"] == "Ready" and obj["spec"]["size"] == "small"
    assert obj["metadata"]["generation"] == 1  # a status write is no new generation
    assert crds.kubectl("get", "widget", "w-scale", "-n", NS).stdout.splitlines()[1].split()[3] == "Ready"
    out = crds.kubectl("scale", "widget", "w-scale", "-n", NS, "--replicas=5").stdout
    assert out.strip() == "widget.example.com/w-scale scaled"
    obj = crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/widgets/w-scale")
    assert obj["spec"]["replicas"] == 5 and obj["metadata"]["generation"] == 2
    scale = json.loads(crds.kubectl("get", "widget", "w-scale", "-n", NS, "--subresource=scale", "-o",
                                    "json").stdout)
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 5
    assert scale["status"] == {"replicas": 1, "selector": "app=w"}


def test_selectors_finalizers_generate_name_and_versions(crds: Cluster) -> None:
    apply(crds, {**widget("w-a"), "metadata": {"name": "w-a", "namespace": NS, "labels": {"tier": "a"}}})
    apply(crds, {**widget("w-b"), "metadata": {"name": "w-b", "namespace": NS, "labels": {"tier": "b"}}})
    assert crds.kubectl("get", "widgets", "-n", NS, "-l", "tier=a", "-o", "name").stdout.split() == \
        ["widget.example.com/w-a"]
    assert crds.kubectl("get", "widgets", "-n", NS, "--field-selector", "metadata.name=w-b", "-o",
                        "name").stdout.split() == ["widget.example.com/w-b"]
    # another served version shows the same object under its apiVersion
    beta = crds.get(f"/apis/{GROUP}/v1beta1/namespaces/{NS}/widgets/w-a")
    assert beta["apiVersion"] == f"{GROUP}/v1beta1" and beta["spec"]["size"] == "small"
    # a finalizer holds the delete until it is removed
    crds.kubectl("patch", "widget", "w-b", "-n", NS, "--type=merge",
                 "-p", '{"metadata":{"finalizers":["example.com/hold"]}}')
    crds.kubectl("delete", "widget", "w-b", "-n", NS, "--wait=false")
    held = crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/widgets/w-b")
    assert held["metadata"]["deletionTimestamp"]
    crds.kubectl("patch", "widget", "w-b", "-n", NS, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_for(lambda: crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/widgets/w-b") is None, timeout=5,
             what="w-b gone once its finalizer is removed")
    created = crds.kubectl("create", "-f", "-", "-o", "name", input=json.dumps(
        {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"generateName": "gen-", "namespace": NS},
         "spec": {"size": "small"}})).stdout.strip()
    assert created.startswith("widget.example.com/gen-") and len(created) == len("widget.example.com/gen-") + 5


def test_owner_references_and_garbage_collection(crds: Cluster) -> None:
    apply(crds, widget("w-owner"))
    owner = crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/widgets/w-owner")
    crds.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "owned-by-widget", "namespace": NS, "ownerReferences": [
            {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "name": "w-owner", "uid": owner["metadata"]["uid"]}]},
        "data": {"a": "b"}}))
    crds.kubectl("delete", "widget", "w-owner", "-n", NS)
    wait_for(lambda: crds.get(f"/api/v1/namespaces/{NS}/configmaps/owned-by-widget") is None, timeout=10,
             what="the ConfigMap owned by the Widget to be collected")


def test_cluster_scoped_kind(crds: Cluster) -> None:
    crds.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": f"{GROUP}/v1", "kind": "Gizmo",
                                                         "metadata": {"name": "g1"}, "spec": {"anything": [1]}}))
    assert crds.kubectl("get", "gizmos", "-o", "name").stdout.split() == ["gizmo.example.com/g1"]
    assert crds.get(f"/apis/{GROUP}/v1/gizmos/g1")["spec"] == {"anything": [1]}
    lines = crds.kubectl("get", "gizmo", "g1").stdout.splitlines()
    assert lines[0].split() == ["NAME", "AGE"]
    crds.kubectl("delete", "gizmo", "g1")


def test_explain_reads_the_published_schema(crds: Cluster) -> None:
    out = crds.kubectl("explain", "widgets.spec").stdout
    assert "KIND:" in out and "Widget" in out
    assert "What the widget should be." in out
    assert "size" in out and "How big the widget is." in out
    out = crds.kubectl("explain", "widgets.spec.size").stdout
    assert "How big the widget is." in out


@pytest.mark.parametrize("version", ["1.27", "1.28", "1.33"])
def test_custom_objects_with_every_kubectl(crds: Cluster, version: str) -> None:
    """kubectl 1.27/1.28 read the protobuf OpenAPI v2, later ones v3: a custom kind works with each."""
    name = f"kv-{version.replace('.', '-')}"
    obj = widget(name, replicas=1)
    run = lambda *a, **kw: crds.kubectl(*a, version=version, **kw)
    assert run("apply", "-f", "-", input=json.dumps(obj)).stdout.strip() == f"widget.example.com/{name} created"
    assert run("apply", "-f", "-", input=json.dumps(obj)).stdout.strip() == f"widget.example.com/{name} unchanged"
    obj["spec"]["replicas"] = 2
    assert run("apply", "-f", "-", input=json.dumps(obj)).stdout.strip() == f"widget.example.com/{name} configured"
    assert run("get", "widgets", name, "-n", NS).stdout.splitlines()[1].split()[:3] == [name, "small", "2"]
    assert "How big the widget is." in run("explain", "widgets.spec.size").stdout
    assert f'widget.example.com "{name}" deleted' in run("delete", "widget", name, "-n", NS).stdout


# --- the official Python client ----------------------------------------------------------------------

def test_custom_objects_api(custom: client.CustomObjectsApi) -> None:
    args = (GROUP, "v1", NS, "widgets")
    start = custom.list_namespaced_custom_object(*args)["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def watcher() -> None:
        w = watch.Watch()
        for ev in w.stream(custom.list_namespaced_custom_object, *args, resource_version=start, timeout_seconds=15):
            if ev["object"]["metadata"]["name"] == "py-w":
                seen.append((ev["type"], ev["object"]["spec"].get("size")))
                if ev["type"] == "DELETED":
                    w.stop()
        done.set()

    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    created = custom.create_namespaced_custom_object(*args, widget("py-w"))
    assert created["spec"]["replicas"] == 1
    patched = custom.patch_namespaced_custom_object(*args, "py-w", {"spec": {"size": "large"}})
    assert patched["spec"]["size"] == "large"
    stale = dict(created)
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(*args, "py-w", stale)
    assert err.value.status == 409
    assert "the object has been modified" in json.loads(err.value.body)["message"]
    got = custom.get_namespaced_custom_object(*args, "py-w")
    got["spec"]["replicas"] = 2
    assert custom.replace_namespaced_custom_object(*args, "py-w", got)["spec"]["replicas"] == 2
    status = custom.patch_namespaced_custom_object_status(*args, "py-w", {"status": {"phase": "Up"}})
    assert status["status"]["phase"] == "Up"
    custom.delete_namespaced_custom_object(*args, "py-w")
    assert done.wait(20)
    assert seen[0] == ("ADDED", "small") and ("MODIFIED", "large") in seen and seen[-1][0] == "DELETED"
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(*args, "py-w")
    assert err.value.status == 404


def test_deleting_the_crd_deletes_its_objects_and_stops_serving(crds: Cluster) -> None:
    crd = json.loads(json.dumps(GIZMO_CRD))
    crd["metadata"]["name"] = f"sprockets.{GROUP}"
    crd["spec"]["names"] = {"plural": "sprockets", "kind": "Sprocket"}
    crd["spec"]["scope"] = "Namespaced"
    apply(crds, crd)
    wait_for(lambda: established(crds, f"sprockets.{GROUP}"), timeout=5, what="sprockets established")
    for i in range(3):
        apply(crds, {"apiVersion": f"{GROUP}/v1", "kind": "Sprocket",
                     "metadata": {"name": f"s{i}", "namespace": NS}, "spec": {}})
    crds.kubectl("delete", "crd", f"sprockets.{GROUP}", timeout=30)
    assert crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/sprockets") is None
    # kubectl's discovery cache still knows the kind: the list itself is a 404, as on a real cluster
    proc = crds.kubectl("get", "sprockets", "-n", NS, check=False)
    assert proc.returncode != 0
    assert ('Error from server (NotFound): Unable to list "example.com/v1, Resource=sprockets": the server '
            "could not find the requested resource") in proc.stderr
    assert "sprockets" not in crds.kubectl("api-resources", "--api-group", GROUP).stdout  # discovery changed
    proc = crds.kubectl("get", "sprockets", "-n", NS, check=False)
    assert 'the server doesn\'t have a resource type "sprockets"' in proc.stderr
    apply(crds, crd)
    wait_for(lambda: crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/sprockets") is not None, timeout=5,
             what="sprockets served again")
    assert crds.get(f"/apis/{GROUP}/v1/namespaces/{NS}/sprockets")["items"] == []
    crds.kubectl("delete", "crd", f"sprockets.{GROUP}")


# --- a CRD survives the daemon -------------------------------------------------------------------------

def test_crd_and_objects_survive_a_restart(restartable: Cluster) -> None:
    cluster = restartable
    apply(cluster, GIZMO_CRD)
    wait_for(lambda: cluster.kubectl("get", "gizmos", check=False).returncode == 0, timeout=10,
             what="gizmos served")
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": f"{GROUP}/v1", "kind": "Gizmo",
                                                           "metadata": {"name": "kept"}, "spec": {"a": 1}}))
    cluster.cli("stop")
    cluster.cli("start")
    wait_for(lambda: cluster.get("/version") is not None, timeout=15, what="the API after restart")
    assert cluster.get(f"/apis/{GROUP}/v1/gizmos/kept")["spec"] == {"a": 1}
    assert cluster.kubectl("get", "gizmos", "-o", "name").stdout.split() == ["gizmo.example.com/kept"]


# --- a kopf operator ------------------------------------------------------------------------------------

WEBAPP_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: webapps.apps.example.com
spec:
  group: apps.example.com
  scope: Namespaced
  names: {plural: webapps, singular: webapp, kind: WebApp, shortNames: [wa]}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      additionalPrinterColumns:
        - {name: Image, type: string, jsonPath: .spec.image}
        - {name: Phase, type: string, jsonPath: .status.phase}
        - {name: Deployment, type: string, jsonPath: .status.deployment}
        - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [image]
              properties:
                image: {type: string}
                replicas: {type: integer, minimum: 0, default: 1}
            status:
              type: object
              x-kubernetes-preserve-unknown-fields: true
"""


def test_kopf_operator_reacts_creates_a_deployment_and_writes_status(cluster: Cluster, tmp_path: Path) -> None:
    ns = "kopf-e2e"
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("apply", "-f", "-", input=WEBAPP_CRD)
    wait_for(lambda: established(cluster, "webapps.apps.example.com"), timeout=5, what="webapps established")
    operator = Path(__file__).parent / "operators" / "webapp_operator.py"
    log = (tmp_path / "kopf.log").open("w")
    kopf = subprocess.Popen([sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", ns,
                             "--verbose", str(operator)],
                            env={**cluster.env, "KUBECONFIG": str(cluster.kubeconfig)}, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        cluster.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump({
            "apiVersion": "apps.example.com/v1", "kind": "WebApp", "metadata": {"name": "shop"},
            "spec": {"image": "minikube-lite/multi-client:1.0", "replicas": 1}}))
        deploy = wait_for(lambda: cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/shop-web"), timeout=60,
                          what="the operator's Deployment")
        owner = deploy["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner.get("controller")) == ("WebApp", "shop", True)
        wait_for(lambda: ((cluster.get(f"/apis/apps.example.com/v1/namespaces/{ns}/webapps/shop") or {})
                          .get("status") or {}).get("phase") == "Deployed", timeout=30, what="the status written")
        lines = cluster.kubectl("get", "webapps", "-n", ns).stdout.splitlines()
        assert lines[0].split() == ["NAME", "IMAGE", "PHASE", "DEPLOYMENT", "AGE"]
        assert lines[1].split()[:4] == ["shop", "minikube-lite/multi-client:1.0", "Deployed", "shop-web"]
        webapp = cluster.get(f"/apis/apps.example.com/v1/namespaces/{ns}/webapps/shop")
        assert "kopf.zalando.org/KopfFinalizerMarker" in webapp["metadata"].get("finalizers", [])
        # a change of spec.replicas is carried to the Deployment by the operator
        cluster.kubectl("patch", "webapp", "shop", "-n", ns, "--type=merge", "-p", '{"spec":{"replicas":2}}')
        wait_for(lambda: (cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/shop-web") or {})
                 .get("spec", {}).get("replicas") == 2, timeout=30, what="the Deployment scaled by the operator")
        # deleting the WebApp: kopf releases its finalizer, the garbage collector takes the Deployment
        cluster.kubectl("delete", "webapp", "shop", "-n", ns, timeout=60)
        wait_for(lambda: cluster.get(f"/apis/apps/v1/namespaces/{ns}/deployments/shop-web") is None, timeout=30,
                 what="the Deployment collected with its WebApp")
    finally:
        kopf.terminate()
        try:
            kopf.wait(15)
        except subprocess.TimeoutExpired:
            kopf.kill()
        log.close()
        print((tmp_path / "kopf.log").read_text()[-5000:])
        cluster.kubectl("delete", "crd", "webapps.apps.example.com", "--ignore-not-found", check=False)
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)
    assert os.path.getsize(tmp_path / "kopf.log") > 0
