"""The published OpenAPI of a custom kind (apiextensions-apiserver's controller/openapi/builder).

``kubectl explain widgets.spec`` reads the kind from the server's OpenAPI v3 document of its
group-version; ``kubectl`` 1.27/1.28 and older tools read v2. Kubernetes publishes the
version's ``openAPIV3Schema`` with ``apiVersion``, ``kind`` and ``metadata`` (a reference to
ObjectMeta) added at the root and in every embedded resource, the kind's
group-version-kind extension, and a ``<Kind>List`` schema. For v2 it first strips what Swagger 2
cannot say (``ToStructuralOpenAPIV2``): junctors, ``nullable`` (the field becomes untyped),
the inside of ``x-kubernetes-preserve-unknown-fields`` nodes; a root that preserves unknown
fields is published as a bare object.

Definition names are Kubernetes': the group reversed, then version and kind
(``com.example.v1.Widget``).
"""

from __future__ import annotations

import copy
from typing import Any

Schema = dict[str, Any]

GVK_EXT = "x-kubernetes-group-version-kind"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
V3_REF = "#/components/schemas/"
V2_REF = "#/definitions/"

API_VERSION_DESC = ("APIVersion defines the versioned schema of this representation of an object. Servers should "
                    "convert recognized schemas to the latest internal value, and may reject unrecognized values. "
                    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
                    "api-conventions.md#resources")
KIND_DESC = ("Kind is a string value representing the REST resource this object represents. Servers may infer "
             "this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
             "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")
METADATA_DESC = ("Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/"
                 "sig-architecture/api-conventions.md#metadata")
LIST_METADATA_DESC = ("Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/"
                      "sig-architecture/api-conventions.md#types-kinds")


def model_name(group: str, version: str, kind: str) -> str:
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def _ref(name: str, v2: bool, description: str) -> Schema:
    if v2:
        return {"$ref": V2_REF + name, "description": description}
    return {"allOf": [{"$ref": V3_REF + name}], "description": description}


def _type_meta() -> dict[str, Schema]:
    return {"apiVersion": {"type": "string", "description": API_VERSION_DESC},
            "kind": {"type": "string", "description": KIND_DESC}}


def to_v2(schema: Schema) -> Schema:
    """ToStructuralOpenAPIV2: what Swagger 2 cannot express is dropped."""
    s = {k: v for k, v in schema.items() if k not in ("allOf", "anyOf", "oneOf", "not")}
    if s.get("nullable"):
        s.pop("nullable")
        s.pop("type", None)
        s.pop("items", None)
        s.pop("properties", None)
    if s.get("x-kubernetes-preserve-unknown-fields"):
        s.pop("items", None)
        s.pop("properties", None)
        if s.get("type") == "object":
            s.pop("type")
    if s.get("type") == "array" and "items" not in s:
        s.pop("type")
    if isinstance(s.get("properties"), dict):
        props = s["properties"]
        s["properties"] = {k: to_v2(v) for k, v in props.items()}
        nullable = {k for k, v in props.items() if isinstance(v, dict) and v.get("nullable")}
        if nullable and s.get("required"):
            s["required"] = [r for r in s["required"] if r not in nullable]
            if not s["required"]:
                s.pop("required")
    if isinstance(s.get("items"), dict):
        s["items"] = to_v2(s["items"])
    if isinstance(s.get("additionalProperties"), dict):
        add = s["additionalProperties"]
        if add.get("nullable"):
            s.pop("required", None)
        s["additionalProperties"] = to_v2(add)
    return s


def _embedded(s: Schema, v2: bool) -> None:
    for sub in (s.get("properties") or {}).values():
        if isinstance(sub, dict):
            _embedded(sub, v2)
    for k in ("items", "additionalProperties"):
        if isinstance(s.get(k), dict):
            _embedded(s[k], v2)
    if v2 and s.get("x-kubernetes-preserve-unknown-fields"):
        return
    if s.get("x-kubernetes-embedded-resource"):
        props = s.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "description": "apiVersion defines the versioned schema of this "
                               "representation of an object. More info: https://git.k8s.io/community/contributors/"
                               "devel/sig-architecture/api-conventions.md#resources"}
        props["kind"] = {"type": "string", "description": "kind is a string value representing the type of this "
                         "object. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/"
                         "sig-architecture/api-conventions.md#types-kinds"}
        props["metadata"] = _ref(OBJECT_META, v2, METADATA_DESC)
        required = s.setdefault("required", [])
        for word in ("kind", "apiVersion"):
            if word not in required:
                required.append(word)


def kind_schemas(group: str, version: str, names: Schema, schema: Schema | None, *, v2: bool = False) -> dict[str, Schema]:
    """``{model name: schema}`` for the kind and its list, as published for ``version``."""
    kind, list_kind, plural = names["kind"], names.get("listKind") or names["kind"] + "List", names["plural"]
    name = model_name(group, version, kind)
    if schema is None or (v2 and schema.get("x-kubernetes-preserve-unknown-fields")):
        root: Schema = {"type": "object"}
    else:
        root = to_v2(schema) if v2 else copy.deepcopy(schema)
        props = root.setdefault("properties", {})
        props["metadata"] = _ref(OBJECT_META, v2, METADATA_DESC)
        props.update(_type_meta())
        _embedded(root, v2)
    root[GVK_EXT] = [{"group": group, "version": version, "kind": kind}]
    list_schema: Schema = {
        "type": "object",
        "description": f"{list_kind} is a list of {kind}",
        "required": ["items"],
        "properties": {
            **_type_meta(),
            "items": {"type": "array", "items": ({"$ref": V2_REF + name} if v2 else {"$ref": V3_REF + name}),
                      "description": f"List of {plural}. More info: https://git.k8s.io/community/contributors/"
                                     "devel/sig-architecture/api-conventions.md"},
            "metadata": _ref(LIST_META, v2, LIST_METADATA_DESC),
        },
        GVK_EXT: [{"group": group, "version": version, "kind": list_kind}],
    }
    return {name: root, model_name(group, version, list_kind): list_schema}
