"""apiextensions leaf modules: CRD validation, structural schemas, naming conditions, custom object
validation / pruning / defaulting, CEL rules, printer columns, JSONPath, subresources."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from minikube_lite.apiextensions import (
    cel,
    crd_validation,
    defaulting,
    jsonpath,
    naming,
    printer,
    schema_validation,
    structural,
    subresources,
)


def crd(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList",
                           "shortNames": ["wg"]},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]},
    }
    base["spec"].update(over)
    return base


def messages(causes: list[dict[str, str]]) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in causes]


# --- the CRD object ----------------------------------------------------------------------------

def test_valid_crd_has_no_errors() -> None:
    obj = crd_validation.apply_defaults(crd())
    crd_validation.prepare_create(obj)
    assert crd_validation.validate(obj) == []
    assert obj["status"]["storedVersions"] == ["v1"]


def test_defaults_fill_singular_and_list_kind() -> None:
    obj = crd()
    del obj["spec"]["names"]["singular"], obj["spec"]["names"]["listKind"]
    crd_validation.apply_defaults(obj)
    assert obj["spec"]["names"]["singular"] == "widget"
    assert obj["spec"]["names"]["listKind"] == "WidgetList"
    assert obj["spec"]["conversion"] == {"strategy": "None"}


def test_name_must_be_plural_dot_group() -> None:
    obj = crd()
    obj["metadata"]["name"] = "gadgets.example.com"
    assert 'metadata.name: Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group' \
        in messages(crd_validation.validate(obj))


def test_group_needs_a_dot_and_scope_is_an_enum() -> None:
    obj = crd(group="example", scope="Global")
    obj["metadata"]["name"] = "widgets.example"
    msgs = messages(crd_validation.validate(obj))
    assert 'spec.group: Invalid value: "example": should be a domain with at least one dot' in msgs
    assert 'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"' in msgs


def test_exactly_one_storage_version() -> None:
    obj = crd()
    v2 = copy.deepcopy(obj["spec"]["versions"][0]) | {"name": "v2"}
    obj["spec"]["versions"].append(v2)
    msgs = messages(crd_validation.validate(obj))
    assert any(m.startswith("spec.versions: Invalid value:") and
               m.endswith("must have exactly one version marked as storage version") for m in msgs)


def test_schema_required_and_bad_names() -> None:
    obj = crd()
    del obj["spec"]["versions"][0]["schema"]
    obj["spec"]["names"]["shortNames"] = ["Bad_Name"]
    obj["spec"]["names"]["listKind"] = "Widget"
    msgs = messages(crd_validation.validate(obj))
    assert "spec.versions[0].schema.openAPIV3Schema: Required value" in msgs
    assert any(m.startswith('spec.names.shortNames[0]: Invalid value: "Bad_Name": a DNS-1035 label') for m in msgs)
    assert 'spec.names.listKind: Invalid value: "Widget": kind and listKind may not be the same' in msgs


def test_printer_column_and_scale_paths() -> None:
    obj = crd()
    v = obj["spec"]["versions"][0]
    v["additionalPrinterColumns"] = [{"name": "Size", "type": "bigint", "jsonPath": "spec.size"}]
    v["subresources"] = {"scale": {"specReplicasPath": ".status.x", "statusReplicasPath": ".status.r"}}
    msgs = messages(crd_validation.validate(obj))
    assert ('spec.versions[0].additionalPrinterColumns[0].type: Invalid value: "bigint": must be one of '
            'boolean,date,integer,number,string') in msgs
    assert ('spec.versions[0].additionalPrinterColumns[0].JSONPath: Invalid value: "spec.size": must be a '
            'simple json path starting with .') in msgs
    assert ('spec.versions[0].subresources.scale.specReplicasPath: Invalid value: ".status.x": should be a '
            'json path under .spec') in msgs


def test_update_keeps_group_and_plural() -> None:
    old = crd_validation.apply_defaults(crd())
    crd_validation.prepare_create(old)
    new = copy.deepcopy(old)
    new["spec"]["names"]["plural"] = "gizmos"
    new["metadata"]["name"] = "gizmos.example.com"
    assert 'spec.names.plural: Invalid value: "gizmos": field is immutable' in \
        messages(crd_validation.validate_update(new, old))


def test_stored_version_may_not_disappear() -> None:
    obj = crd_validation.apply_defaults(crd())
    obj["status"] = {"storedVersions": ["v1beta1", "v1"]}
    msgs = messages(crd_validation.validate(obj))
    assert any(m.startswith('status.storedVersions[0]: Invalid value: "v1beta1": missing from spec.versions')
               for m in msgs)


# --- structural schemas --------------------------------------------------------------------------

P = "spec.versions[0].schema.openAPIV3Schema"


def test_structural_reasons_sorted_like_kubernetes() -> None:
    schema = {"type": "object", "properties": {
        "spec": {"properties": {"a": {}}, "anyOf": [{"type": "string"}]},
        "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}}
    assert messages(structural.schema_errors(schema, P)) == [
        (f"{P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, "
         "but metadata is implicitly specified"),
        f"{P}.properties[spec].anyOf[0].type: Forbidden: must be empty to be structural",
        f"{P}.properties[spec].properties[a].type: Required value: must not be empty for specified object fields",
        f"{P}.properties[spec].type: Required value: must not be empty for specified object fields",
    ]


def test_structural_completeness_and_root() -> None:
    schema = {"type": "array", "items": {"type": "string"}}
    assert f'{P}.type: Invalid value: "array": must be object at the root' in \
        messages(structural.schema_errors(schema, P))
    # as kube-apiserver, completeness is asked of the root's junctors
    schema = {"type": "object", "properties": {"spec": {"type": "object"}},
              "allOf": [{"properties": {"spec": {"properties": {"x": {}}}}}]}
    assert (f"{P}.properties[spec].properties[x]: Required value: because it is defined in "
            f"{P}.allOf[0].properties[spec].properties[x]") in messages(structural.schema_errors(schema, P))


def test_int_or_string_patterns_are_structural() -> None:
    schema = {"type": "object", "properties": {"port": {
        "x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}}}
    assert structural.schema_errors(schema, P) == []


def test_unsupported_openapi_words() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "#/x"}, "b": {"type": "null"}}}
    msgs = messages(structural.schema_errors(schema, P))
    assert f"{P}.properties[a].$ref: Forbidden: $ref is not supported" in msgs
    assert f"{P}.properties[b].type: Forbidden: type cannot be set to null, use nullable as an alternative" in msgs


def test_embedded_resource_must_be_object() -> None:
    schema = {"type": "object", "properties": {"t": {"type": "string", "x-kubernetes-embedded-resource": True}}}
    assert (f'{P}.properties[t].type: Invalid value: "string": must be object if x-kubernetes-embedded-resource '
            "is true") in messages(structural.schema_errors(schema, P))


# --- naming conditions -----------------------------------------------------------------------------

def test_names_accepted_and_established() -> None:
    obj = crd_validation.apply_defaults(crd())
    crd_validation.prepare_create(obj)
    status = naming.compute_status(obj, [])
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["NamesAccepted"]["status"] == "True" and conds["NamesAccepted"]["reason"] == "NoConflicts"
    assert conds["Established"]["status"] == "True"
    assert conds["Established"]["reason"] == "InitialNamesAccepted"
    assert status["acceptedNames"]["shortNames"] == ["wg"]


def test_plural_conflict_in_the_same_group() -> None:
    first = crd_validation.apply_defaults(crd())
    first["status"] = naming.compute_status(first, [])
    other = crd_validation.apply_defaults(crd())
    other["metadata"]["name"] = "widgets2.example.com"
    other["spec"]["names"] = {"plural": "widgets2", "singular": "widget", "kind": "Widget2", "listKind": "W2List"}
    status = naming.compute_status(other, [first])
    cond = {c["type"]: c for c in status["conditions"]}["NamesAccepted"]
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "SingularConflict",
                                                                 '"widget" is already in use')
    assert {c["type"]: c for c in status["conditions"]}["Established"]["status"] == "False"


# --- custom objects: pruning, defaulting, validation --------------------------------------------------

SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "spec": {"type": "object", "required": ["size"], "properties": {
        "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
        "size": {"type": "string", "enum": ["small", "large"]},
        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5, "minLength": 2},
        "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "items": {"type": "array", "maxItems": 2, "minItems": 1,
                  "items": {"type": "object", "properties": {"n": {"type": "integer"}}}},
        "note": {"type": "string", "nullable": True},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "x-kubernetes-preserve-unknown-fields": True},
    }},
    "status": {"type": "object", "properties": {"ready": {"type": "integer"}}}}}


def cr(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}


def test_prune_reports_unknown_fields_and_keeps_preserved() -> None:
    obj = cr({"size": "small", "junk": 1, "free": {"any": {"thing": 1}}, "items": [{"n": 1, "x": 2}],
              "labels": {"a": "b"}})
    obj["extra"] = True
    assert defaulting.decode(obj, SCHEMA) == ["extra", "spec.items[0].x", "spec.junk"]
    assert obj["spec"]["free"] == {"any": {"thing": 1}}
    assert obj["spec"]["items"] == [{"n": 1}] and obj["spec"]["labels"] == {"a": "b"}
    assert obj["metadata"] == {"name": "w"} and obj["apiVersion"] == "example.com/v1"


def test_defaults_and_nulls() -> None:
    obj = cr({"size": "small", "note": None, "replicas": None, "port": None})
    defaulting.decode(obj, SCHEMA)
    assert obj["spec"]["replicas"] == 1       # null and not nullable: defaulted
    assert obj["spec"]["note"] is None        # nullable: kept
    assert "port" not in obj["spec"]          # null, not nullable, no default: dropped


def test_validation_messages_as_kube_apiserver() -> None:
    obj = cr({"replicas": "string", "size": "medium", "name": "ABCDEFG", "port": True,
              "items": [{"n": 1.0}, {"n": "x"}, {"n": 3}], "template": {"kind": "Pod"}})
    assert messages(schema_validation.validate(obj, SCHEMA)) == [
        'spec.items: Too many: 3: must have at most 2 items',
        'spec.items[1].n: Invalid value: "string": spec.items[1].n in body must be of type integer: "string"',
        'spec.name: Too long: may not be more than 5 bytes',
        "spec.name: Invalid value: \"ABCDEFG\": spec.name in body should match '^[a-z]+$'",
        'spec.port: Invalid value: true: spec.port in body must validate at least one schema (anyOf)',
        'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        'spec.size: Unsupported value: "medium": supported values: "small", "large"',
        'spec.template.apiVersion: Required value',
    ]


def test_validation_bounds_and_required() -> None:
    obj = cr({"replicas": 0, "name": "a", "items": []})
    assert messages(schema_validation.validate(obj, SCHEMA)) == [
        "spec.items: Invalid value: 0: spec.items in body should have at least 1 items",
        'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long',
        "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
        "spec.size: Required value",
    ]
    assert schema_validation.validate(cr({"size": "large", "replicas": 10.0, "port": "http"}), SCHEMA) == []


def test_null_for_a_non_nullable_typed_field() -> None:
    obj = cr({"size": "small", "labels": {"a": None}})
    assert messages(schema_validation.validate(obj, SCHEMA)) == [
        'spec.labels.a: Invalid value: "null": spec.labels.a in body must be of type string: "null"']


# --- CEL ---------------------------------------------------------------------------------------

CEL_SCHEMA = {"type": "object", "properties": {"spec": {
    "type": "object",
    "x-kubernetes-validations": [
        {"rule": "self.min <= self.max", "message": "min must not exceed max"},
        {"rule": "self.max == oldSelf.max || self.max > oldSelf.max", "message": "max may only grow"}],
    "properties": {"min": {"type": "integer"}, "max": {"type": "integer"},
                   "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('w')"}]}}}}}


def test_cel_rules_and_transition_rules() -> None:
    assert cel.validate(cr({"min": 1, "max": 2, "name": "wx"}), CEL_SCHEMA) == []
    assert messages(cel.validate(cr({"min": 3, "max": 2, "name": "x"}), CEL_SCHEMA)) == [
        "spec: Invalid value: min must not exceed max",
        'spec.name: Invalid value: "x": failed rule: self.startsWith(\'w\')',
    ]
    old = cr({"min": 1, "max": 5})
    assert messages(cel.validate(cr({"min": 1, "max": 4}), CEL_SCHEMA, old)) == [
        "spec: Invalid value: max may only grow"]


def test_cel_compile_errors_refuse_the_crd() -> None:
    schema = {"type": "object", "x-kubernetes-validations": [{"rule": "self.a <="}]}
    causes = cel.compile_errors(schema, P)
    assert len(causes) == 1 and causes[0]["field"] == f"{P}.x-kubernetes-validations[0].rule"
    assert "compilation failed" in causes[0]["message"]


# --- printer columns and JSONPath -----------------------------------------------------------------

def test_jsonpath_subset() -> None:
    obj = {"status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]},
           "spec": {"items": [{"name": "x"}, {"name": "y"}], "a.b": 1}}
    assert jsonpath.find(obj, ".spec.items[*].name") == ["x", "y"]
    assert jsonpath.find(obj, ".spec.items[-1].name") == ["y"]
    assert jsonpath.find(obj, '.status.conditions[?(@.type=="Ready")].status') == ["True"]
    assert jsonpath.find(obj, "..name") == ["x", "y"]
    assert jsonpath.find(obj, ".spec['a.b']") == [1]
    assert jsonpath.find(obj, ".spec.missing.deeper") == []
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.parse(".spec.[")


def test_printer_cells() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    created = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cols = [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Names", "type": "string", "jsonPath": ".spec.items[*].name"},
            {"name": "Ready", "type": "boolean", "jsonPath": ".status.ready", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    obj = {"metadata": {"name": "w", "creationTimestamp": created}, "spec": {"size": 3.0, "items": [{"name": "a"},
                                                                                               {"name": "b"}]}}
    assert printer.cells(obj, cols, now=now) == ["w", 3, "a", None, "5m"]
    defs = printer.column_definitions(cols)
    assert [d["name"] for d in defs] == ["Name", "Size", "Names", "Ready", "Age"]
    assert defs[3]["priority"] == 1
    assert printer.columns_for({})[0]["name"] == "Age"


# --- subresources ------------------------------------------------------------------------------

def test_status_subresource_semantics() -> None:
    version = {"subresources": {"status": {}}}
    obj = cr({"size": "small"}) | {"status": {"ready": 1}}
    subresources.prepare_create(obj, version)
    assert "status" not in obj
    old = cr({"size": "small"}) | {"status": {"ready": 1}}
    new = cr({"size": "large"}) | {"status": {"ready": 9}}
    subresources.prepare_update(new, old, version)
    assert new["status"] == {"ready": 1} and new["spec"]["size"] == "large"
    status_write = old | {"status": {"ready": 2}}
    assert not subresources.generation_changed(status_write, old, version)
    assert subresources.generation_changed(new, old, version)


def test_scale_mapping() -> None:
    scale = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
             "labelSelectorPath": ".status.selector"}
    obj = {"metadata": {"name": "w", "namespace": "d", "resourceVersion": "7"}, "spec": {"replicas": 3},
           "status": {"replicas": 2, "selector": "app=w"}}
    s = subresources.to_scale(obj, scale)
    assert s["spec"] == {"replicas": 3} and s["status"] == {"replicas": 2, "selector": "app=w"}
    assert s["metadata"]["resourceVersion"] == "7"
    assert subresources.apply_scale({"metadata": {}}, scale, 5)["spec"] == {"replicas": 5}
    assert subresources.to_scale({"metadata": {}}, scale)["spec"] == {"replicas": 0}
    with pytest.raises(subresources.ScaleError):
        subresources.to_scale({"metadata": {}, "spec": {"replicas": "x"}}, scale)


# --- published OpenAPI --------------------------------------------------------------------------

def test_openapi_v3_and_v2_schemas() -> None:
    from minikube_lite.apiextensions import openapi

    names = {"kind": "Widget", "listKind": "WidgetList", "plural": "widgets"}
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "note": {"type": "string", "nullable": True}, "free": {"type": "object",
                                                            "x-kubernetes-preserve-unknown-fields": True,
                                                            "properties": {"a": {"type": "string"}}},
        "t": {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True},
    }, "required": ["note"]}}}
    v3 = openapi.kind_schemas("example.com", "v1", names, schema)
    root = v3["com.example.v1.Widget"]
    assert root["x-kubernetes-group-version-kind"] == [{"group": "example.com", "version": "v1", "kind": "Widget"}]
    assert set(root["properties"]) == {"apiVersion", "kind", "metadata", "spec"}
    assert root["properties"]["spec"]["properties"]["t"]["required"] == ["kind", "apiVersion"]
    assert v3["com.example.v1.WidgetList"]["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/com.example.v1.Widget"}
    v2 = openapi.kind_schemas("example.com", "v1", names, schema, v2=True)["com.example.v1.Widget"]
    spec = v2["properties"]["spec"]
    assert spec["properties"]["note"] == {} and "required" not in spec
    assert "properties" not in spec["properties"]["free"] and "type" not in spec["properties"]["free"]
    assert v2["properties"]["metadata"]["$ref"] == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert schema["properties"]["spec"]["required"] == ["note"]  # the CRD's own schema is not changed
