"""Tests of the OpenAPI documents kubectl downloads before apply/create (minikube_lite.apiserver.openapi)."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from minikube_lite.api.register import resources
from minikube_lite.api.resources import Resource

RESOURCES = resources()
from minikube_lite.apiserver import openapi

# ------------------------------------------------------------------------------------------------
# A minimal protobuf wire-format decoder, independent of the encoder under test.
# ------------------------------------------------------------------------------------------------


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def decode(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) for each field; length-delimited values stay bytes."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1:
            value = struct.unpack("<d", buf[pos:pos + 8])[0]
            pos += 8
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            value = buf[pos:pos + length]
            pos += length
            assert pos <= len(buf), "length runs past the end"
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.append((field, wire, value))
    return out


def fields(buf: bytes, number: int) -> list[Any]:
    return [v for f, _, v in decode(buf) if f == number]


def one(buf: bytes, number: int) -> Any:
    found = fields(buf, number)
    assert len(found) == 1, f"field {number}: {len(found)} occurrences"
    return found[0]


def text(buf: bytes, number: int) -> str:
    return one(buf, number).decode()


# gnostic openapi.v2 field numbers (github.com/google/gnostic-models, openapiv2/OpenAPIv2.proto)
DOC_SWAGGER, DOC_INFO, DOC_PATHS, DOC_DEFINITIONS = 1, 2, 8, 9
PATHS_PATH = 2
NAMED_NAME, NAMED_VALUE = 1, 2
PATHITEM_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "patch": 8}
PATHITEM_PARAMETERS = 9
OP_OPERATION_ID, OP_CONSUMES, OP_PARAMETERS, OP_RESPONSES, OP_EXTENSIONS = 5, 7, 8, 9, 13
PARAMITEM_PARAMETER = 1
PARAM_BODY, PARAM_NONBODY = 1, 2
NONBODY_QUERY, NONBODY_PATH = 3, 4
SUB_NAME, QUERY_TYPE, PATH_TYPE = 4, 6, 5
ANY_YAML = 2
SCHEMA_REF, SCHEMA_DESCRIPTION, SCHEMA_REQUIRED, SCHEMA_TYPE, SCHEMA_ITEMS, SCHEMA_PROPERTIES = 1, 4, 19, 22, 23, 25
SCHEMA_EXTENSIONS = 31


def decode_named(buf: bytes, number: int) -> dict[str, bytes]:
    return {text(entry, NAMED_NAME): one(entry, NAMED_VALUE) for entry in fields(buf, number)}


def decode_extensions(buf: bytes, number: int) -> dict[str, Any]:
    return {name: json.loads(text(value, ANY_YAML)) for name, value in decode_named(buf, number).items()}


def decode_parameter(item: bytes) -> tuple[str, str]:
    """(location, name) of a ParametersItem."""
    param = one(item, PARAMITEM_PARAMETER)
    body = fields(param, PARAM_BODY)
    if body:
        return "body", text(body[0], 2)
    nonbody = one(param, PARAM_NONBODY)
    for location, number in (("query", NONBODY_QUERY), ("path", NONBODY_PATH)):
        sub = fields(nonbody, number)
        if sub:
            assert text(sub[0], 2) == location  # the "in" field
            return location, text(sub[0], SUB_NAME)
    raise AssertionError("unexpected parameter kind")


@pytest.fixture(scope="module")
def v2_pb() -> bytes:
    return openapi.v2_protobuf()


# ------------------------------------------------------------------------------------------------
# OpenAPI v3
# ------------------------------------------------------------------------------------------------


def _gv(r: Resource) -> str:
    return f"apis/{r.group}/{r.version}" if r.group else f"api/{r.version}"


def _item_path(r: Resource) -> str:
    base = "/" + _gv(r)
    return f"{base}/namespaces/{{namespace}}/{r.plural}/{{name}}" if r.namespaced else f"{base}/{r.plural}/{{name}}"


def _coll_path(r: Resource) -> str:
    return _item_path(r).rsplit("/", 1)[0]


def test_v3_root_lists_every_group_version_with_a_hash() -> None:
    root = openapi.v3_root()
    expected = {_gv(r) for r in RESOURCES}
    assert set(root["paths"]) == expected
    for gv, entry in root["paths"].items():
        url = entry["serverRelativeURL"]
        assert url.startswith(f"/openapi/v3/{gv}?hash=")
        assert url.split("hash=")[1] == openapi.v3_hash(gv)
    assert root == openapi.v3_root()  # stable within a process


def test_v3_group_lookup_forms() -> None:
    doc = openapi.v3_group("api/v1")
    assert doc is not None
    assert openapi.v3_group("/openapi/v3/api/v1") is doc
    assert openapi.v3_group("/openapi/v3/api/v1?hash=whatever") is doc
    assert openapi.v3_group("apis/nope.example.com/v1") is None
    assert openapi.v3_group("api/v2") is None


WRITABLE = [r for r in RESOURCES if {"update", "patch", "delete", "create"} <= set(r.verbs)]


def test_read_only_resources_offer_only_their_verbs() -> None:
    for r in RESOURCES:
        if r in WRITABLE or "get" not in r.verbs:  # the review kinds are create-only: no item path
            continue
        item = openapi.v3_group(_gv(r))["paths"][_item_path(r)]
        assert "get" in item and "patch" not in item and "put" not in item and "delete" not in item


@pytest.mark.parametrize("r", WRITABLE, ids=lambda r: f"{r.group or 'core'}/{r.version}/{r.kind}")
def test_v3_item_path_has_patch_with_gvk_and_field_validation(r: Resource) -> None:
    doc = openapi.v3_group(_gv(r))
    assert doc is not None and doc["openapi"].startswith("3.")
    item = doc["paths"][_item_path(r)]
    gvk = {"group": r.group, "version": r.version, "kind": r.kind}
    for method in ("get", "put", "patch", "delete"):
        op = item[method]
        assert op["x-kubernetes-group-version-kind"] == gvk
        assert op["operationId"]
        assert op["responses"]
    patch = item["patch"]
    names = {p["name"] for p in patch["parameters"]}
    assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= names
    assert all(p["in"] == "query" for p in patch["parameters"])
    # kubectl computes client-side-apply patches from its own types (see the module docstring)
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    assert "application/merge-patch+json" in patch["requestBody"]["content"]
    path_params = {p["name"] for p in item["parameters"] if p["in"] == "path"}
    assert path_params == ({"name", "namespace"} if r.namespaced else {"name"})

    coll = doc["paths"][_coll_path(r)]
    assert coll["get"]["x-kubernetes-action"] == "list"
    assert coll["post"]["x-kubernetes-group-version-kind"] == gvk
    assert "fieldValidation" in {p["name"] for p in coll["post"]["parameters"]}
    if r.namespaced:
        assert f"/{_gv(r)}/{r.plural}" in doc["paths"]  # list across namespaces


@pytest.mark.parametrize("r", RESOURCES, ids=lambda r: r.kind)
def test_v3_schemas_carry_gvk_and_refs_resolve(r: Resource) -> None:
    doc = openapi.v3_group(_gv(r))
    assert doc is not None
    schemas = doc["components"]["schemas"]
    by_gvk = {(g["group"], g["version"], g["kind"]): name
              for name, s in schemas.items() for g in s.get("x-kubernetes-group-version-kind", [])}
    assert (r.group, r.version, r.kind) in by_gvk
    assert (r.group, r.version, r.list_kind) in by_gvk
    kind_schema = schemas[by_gvk[(r.group, r.version, r.kind)]]
    assert kind_schema["type"] == "object"
    assert {"apiVersion", "kind", "metadata"} <= set(kind_schema["properties"])

    refs = openapi._refs(doc)
    assert refs, "documents refer to schemas"
    for ref in refs:
        assert ref in schemas, ref
    assert all("#/definitions/" not in json.dumps(s) for s in schemas.values())


def test_v3_pod_schema_is_described_with_merge_keys() -> None:
    schemas = openapi.v3_group("api/v1")["components"]["schemas"]
    spec = schemas["io.k8s.api.core.v1.PodSpec"]
    containers = spec["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["items"]["allOf"][0]["$ref"] == "#/components/schemas/io.k8s.api.core.v1.Container"
    container = schemas["io.k8s.api.core.v1.Container"]
    assert {"name", "image", "ports", "env", "command", "args", "volumeMounts"} <= set(container["properties"])
    assert container["properties"]["ports"]["x-kubernetes-patch-merge-key"] == "containerPort"
    assert container["properties"]["env"]["x-kubernetes-patch-merge-key"] == "name"
    assert container["properties"]["volumeMounts"]["x-kubernetes-patch-merge-key"] == "mountPath"
    assert spec["properties"]["volumes"]["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    ports = schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "port"


def test_generated_from_the_table_for_new_kinds() -> None:
    """A kind added to the table (with a scale subresource) gets paths and schemas, nothing else needed."""
    deploy = Resource("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",), ("all",),
                      subresources=("status", "scale"),
                      subresource_kinds={"scale": ("Scale", "autoscaling", "v1")})
    paths = openapi._operations(deploy)
    item = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
    assert paths[item]["patch"]["gvk"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert openapi.P_VALIDATION in paths[item]["patch"]["params"]
    assert paths[item + "/scale"]["patch"]["gvk"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert paths[item + "/status"]["put"]["gvk"]["kind"] == "Deployment"
    schemas = openapi._schemas_for([deploy])
    assert schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "version": "v1", "kind": "Deployment"}]
    assert "io.k8s.api.apps.v1.DeploymentList" in schemas
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas


# ------------------------------------------------------------------------------------------------
# OpenAPI v2: JSON and protobuf
# ------------------------------------------------------------------------------------------------


def test_v2_json_structure() -> None:
    doc = openapi.v2_json()
    assert doc["swagger"] == "2.0"
    for r in WRITABLE:
        patch = doc["paths"][_item_path(r)]["patch"]
        assert patch["x-kubernetes-group-version-kind"] == {"group": r.group, "version": r.version, "kind": r.kind}
        assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in patch["parameters"])
        assert any(p["in"] == "body" for p in patch["parameters"])
    text_ = json.dumps(doc)
    assert "#/components/" not in text_
    for ref in openapi._refs(doc):
        assert ref in doc["definitions"], ref


def test_protobuf_content_type_and_accept() -> None:
    assert openapi.V2_PROTOBUF_CONTENT_TYPE == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert openapi.v2_wants_protobuf("application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
    assert openapi.v2_wants_protobuf(openapi.V2_PROTOBUF_CONTENT_TYPE + ", application/json")
    assert not openapi.v2_wants_protobuf("application/json")
    assert not openapi.v2_wants_protobuf(None)


def test_serialized_forms_match_documents() -> None:
    assert json.loads(openapi.v2_json_bytes()) == openapi.v2_json()
    assert json.loads(openapi.v3_group_bytes("api/v1")) == openapi.v3_group("api/v1")
    assert openapi.v3_group_bytes("apis/nope/v1") is None


def test_protobuf_round_trip_matches_json(v2_pb: bytes) -> None:
    doc_json = openapi.v2_json()
    buf = v2_pb
    assert text(buf, DOC_SWAGGER) == "2.0"
    assert text(one(buf, DOC_INFO), 1) == doc_json["info"]["title"]

    paths = decode_named(one(buf, DOC_PATHS), PATHS_PATH)
    assert list(paths) == list(doc_json["paths"])
    for path, item_json in doc_json["paths"].items():
        item = paths[path]
        for method, number in PATHITEM_METHODS.items():
            assert bool(fields(item, number)) == (method in item_json), (path, method)
        path_params = [decode_parameter(p) for p in fields(item, PATHITEM_PARAMETERS)]
        assert path_params == [(p["in"], p["name"]) for p in item_json["parameters"]]
        for method, number in PATHITEM_METHODS.items():
            if method not in item_json:
                continue
            op_json = item_json[method]
            op = one(item, number)
            assert text(op, OP_OPERATION_ID) == op_json["operationId"]
            assert [c.decode() for c in fields(op, OP_CONSUMES)] == op_json["consumes"]
            params = [decode_parameter(p) for p in fields(op, OP_PARAMETERS)]
            assert params == [(p["in"], p["name"]) for p in op_json["parameters"]]
            ext = decode_extensions(op, OP_EXTENSIONS)
            assert ext == {k: v for k, v in op_json.items() if k.startswith("x-")}
            codes = decode_named(one(op, OP_RESPONSES), 1)
            assert list(codes) == list(op_json["responses"])

    definitions = decode_named(one(buf, DOC_DEFINITIONS), 1)
    assert list(definitions) == list(doc_json["definitions"])
    pod = definitions["io.k8s.api.core.v1.Pod"]
    assert [t.decode() for t in fields(one(pod, SCHEMA_TYPE), 1)] == ["object"]
    props = decode_named(one(pod, SCHEMA_PROPERTIES), 1)
    assert text(props["spec"], SCHEMA_REF) == "#/definitions/io.k8s.api.core.v1.PodSpec"
    spec = decode_named(one(definitions["io.k8s.api.core.v1.PodSpec"], SCHEMA_PROPERTIES), 1)
    containers = spec["containers"]
    assert decode_extensions(containers, SCHEMA_EXTENSIONS)["x-kubernetes-patch-merge-key"] == "name"
    item_schema = one(one(containers, SCHEMA_ITEMS), 1)
    assert text(item_schema, SCHEMA_REF) == "#/definitions/io.k8s.api.core.v1.Container"
    assert [r.decode() for r in fields(definitions["io.k8s.api.core.v1.Container"], SCHEMA_REQUIRED)] == ["name"]


def test_protobuf_pod_patch_operation_as_kubectl_reads_it(v2_pb: bytes) -> None:
    """What kubectl 1.27/1.28 look for: a PATCH with the gvk extension and a fieldValidation query param."""
    paths = decode_named(one(v2_pb, DOC_PATHS), PATHS_PATH)
    patch = one(paths["/api/v1/namespaces/{namespace}/pods/{name}"], PATHITEM_METHODS["patch"])
    ext = decode_named(patch, OP_EXTENSIONS)
    gvk = json.loads(text(ext["x-kubernetes-group-version-kind"], ANY_YAML))
    assert gvk == {"group": "", "version": "v1", "kind": "Pod"}
    query = {name for where, name in (decode_parameter(p) for p in fields(patch, OP_PARAMETERS)) if where == "query"}
    assert "fieldValidation" in query


def test_varint_encoding() -> None:
    from minikube_lite.apiserver import protowire

    assert protowire.encode_varint(0) == b"\x00"
    assert protowire.encode_varint(1) == b"\x01"
    assert protowire.encode_varint(127) == b"\x7f"
    assert protowire.encode_varint(128) == b"\x80\x01"
    assert protowire.encode_varint(300) == b"\xac\x02"
    assert _read_varint(protowire.encode_varint(123456789), 0) == (123456789, 4)
    assert protowire.read_varint(protowire.encode_varint(-5), 0)[0] == (1 << 64) - 5
    assert protowire.tag(8, 2) == b"\x42"


# ------------------------------------------------------------------------------------------------
# Field-level schemas from the kinds' models (apiserver/schemas.py)
# ------------------------------------------------------------------------------------------------


def test_every_kind_with_a_model_has_a_field_level_schema_in_v2_and_v3() -> None:
    from minikube_lite.api import register

    v2 = openapi.v2_json()["definitions"]
    for kind in register.kinds():
        if kind.model is None:
            continue
        r = kind.resource
        name = openapi._def_name(r.group, r.version, r.kind)
        v3 = openapi.v3_group(openapi._gv_path(r))["components"]["schemas"]
        for doc in (v2, v3):
            props = doc[name]["properties"]
            assert set(props) >= set(kind.model.model_fields), name
            assert "x-kubernetes-preserve-unknown-fields" not in doc[name], name


def test_int_or_string_is_published_as_kubernetes_does() -> None:
    v2 = openapi.v2_json()["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert (v2["type"], v2["format"]) == ("string", "int-or-string") and "oneOf" not in v2
    v3 = openapi.v3_group("api/v1")["components"]["schemas"]
    assert v3["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    port = v3["io.k8s.api.core.v1.ServicePort"]["properties"]["targetPort"]
    assert port["allOf"] == [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]
    deploy = openapi.v3_group("apis/apps/v1")["components"]["schemas"]
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector" in deploy
    assert deploy["io.k8s.api.apps.v1.DeploymentSpec"]["required"] == ["selector", "template"]


def test_descriptions_come_from_the_models_docstrings() -> None:
    v3 = openapi.v3_group("api/v1")["components"]["schemas"]
    image = v3["io.k8s.api.core.v1.Container"]["properties"]["image"]
    assert image["description"].startswith("Container image reference")
