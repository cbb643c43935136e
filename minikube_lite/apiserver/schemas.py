"""OpenAPI schemas of the served kinds, derived from their pydantic models (the one source).

kube-apiserver publishes, for every kind, a field-level schema generated from its Go types
(``k8s.io/kube-openapi``'s openapi-gen reads the struct fields, their JSON names and doc
comments): ``kubectl explain`` walks it, ``kubectl apply`` validates against it. Here the Go
types' role is played by the pydantic models each kind names on its ``Kind`` (``api/kind.py``);
this module walks them the same way: a model is a definition, a field a property, a nested
model a reference. Nothing about a field is written twice: the attribute docstrings under the
models' fields (and the classes' docstrings) are the descriptions, read lazily from the source
the first time a document is built, so importing the models costs nothing.

Definition names are Kubernetes' (``io.k8s.api.apps.v1.DeploymentSpec``): a model module says
its Go package with ``OPENAPI_PACKAGE``; a model whose Go type lives elsewhere, or is named
differently, says so with ``__openapi_name__`` (``ObjectMeta`` is
``io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta``). ``__openapi_required__`` lists the
fields Kubernetes marks required. The scalar wrappers are published as Kubernetes does:
IntOrString (``format: int-or-string``, v3 ``oneOf`` integer/string), Quantity, Time.

Schemas are authored in the v3 form (``allOf: [{$ref}]`` beside a description);
``openapi.py`` rewrites them for v2. A kind that brings its own schemas (a custom resource's
``openAPIV3Schema``, ``apiextensions/openapi.py``) sets ``Kind.openapi`` instead.
"""

from __future__ import annotations

import ast
import functools
import inspect
import itertools
import sys
import types
import typing
from typing import Any

from pydantic import BaseModel, PlainValidator

from minikube_lite.api import models
from minikube_lite.api.kind import Kind

Schema = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
TIME = META + "Time"
V3_REF = "#/components/schemas/"

#: the scalar wrappers of ``api/models.py`` -> their definitions (Kubernetes' shapes, v3 form)
_SCALARS: dict[Any, str] = {
    models.IntOrString.__metadata__[0].func: INT_OR_STRING,
    models.Quantity.__metadata__[0].func: QUANTITY,
    models.Time.__metadata__[0].func: TIME,
}

SCALAR_DEFINITIONS: dict[str, Schema] = {
    INT_OR_STRING: {
        "description": "IntOrString is a type that can hold an int32 or a string. When used in JSON or "
                       "YAML marshalling and unmarshalling, it produces or consumes the inner type.",
        "format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
    QUANTITY: {
        "description": "Quantity is a fixed-point representation of a number, e.g. 500m (0.5), 128Mi, "
                       "1Gi, 2 (a plain number).",
        "oneOf": [{"type": "string"}, {"type": "number"}]},
    TIME: {"description": "Time is a wrapper around time.Time, serialized as an RFC 3339 timestamp, "
                          "e.g. 2024-01-02T15:04:05Z.",
           "type": "string", "format": "date-time"},
}


#: kinds only served as a subresource (group, version, kind) -> model
SUBRESOURCE_MODELS: dict[tuple[str, str, str], type[BaseModel]] = {("autoscaling", "v1", "Scale"): models.Scale}


def definition_name(model: type[BaseModel]) -> str:
    """Kubernetes' definition name of a model's Go type."""
    explicit = model.__dict__.get("__openapi_name__")
    if explicit:
        return explicit
    package = getattr(sys.modules.get(model.__module__), "OPENAPI_PACKAGE", "io.k8s.api.core.v1")
    return f"{package}.{model.__name__}"


def _ref(name: str, description: str = "") -> Schema:
    out: Schema = {"allOf": [{"$ref": V3_REF + name}]}
    if description:
        out["description"] = description
    return out


@functools.lru_cache(maxsize=64)
def _module_docstrings(module_name: str) -> dict[str, dict[str, str]]:
    """class name -> {field: docstring} for the attribute docstrings of a module's classes."""
    module = sys.modules.get(module_name)
    try:
        source = inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):
        return {}
    out: dict[str, dict[str, str]] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        docs: dict[str, str] = {}
        for stmt, after in itertools.pairwise(node.body):
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                docs[stmt.target.id] = inspect.cleandoc(after.value.value)
        out[node.name] = docs
    return out


def _field_docs(model: type[BaseModel]) -> dict[str, str]:
    """A model's field descriptions, its base classes' first (TypedObject's metadata ...)."""
    docs: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if isinstance(cls, type) and issubclass(cls, BaseModel) and cls is not BaseModel:
            docs.update(_module_docstrings(cls.__module__).get(cls.__name__, {}))
    return docs


def _class_doc(model: type[BaseModel]) -> str:
    doc = model.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


class _Builder:
    """Collects the definitions reachable from some models."""

    def __init__(self) -> None:
        self.definitions: dict[str, Schema] = {}

    def model(self, model: type[BaseModel]) -> str:
        name = definition_name(model)
        if name in self.definitions:
            return name
        self.definitions[name] = {}  # placeholder: recursive models refer to themselves
        model.model_rebuild()
        docs = _field_docs(model)
        props: dict[str, Schema] = {}
        for field_name, info in model.model_fields.items():
            prop = self._type(info.annotation, list(info.metadata))
            desc = docs.get(field_name, "")
            if desc:
                prop = {**prop, "description": desc}
            props[info.alias or field_name] = prop
        schema: Schema = {"type": "object"}
        description = _class_doc(model)
        if description:
            schema["description"] = description
        schema["properties"] = props
        required = model.__dict__.get("__openapi_required__")
        if required:
            schema["required"] = list(required)
        self.definitions[name] = schema
        return name

    def _type(self, annotation: Any, metadata: list[Any]) -> Schema:
        for m in metadata:
            if isinstance(m, PlainValidator) and m.func in _SCALARS:
                return _ref(self._scalar(_SCALARS[m.func]))
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Annotated:
            return self._type(args[0], list(annotation.__metadata__))
        if origin in (typing.Union, types.UnionType):
            rest = [a for a in args if a is not type(None)]
            if len(rest) == 1:
                return self._type(rest[0], [])
            return {}
        if origin is list:
            return {"type": "array", "items": self._type(args[0] if args else Any, []),
                    "x-kubernetes-list-type": "atomic"}
        if origin is dict:
            value = args[1] if len(args) == 2 else Any
            if value is Any:
                return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            return {"type": "object", "additionalProperties": self._type(value, [])}
        if annotation is Any:
            return {"x-kubernetes-preserve-unknown-fields": True}
        if annotation is str:
            return {"type": "string"}
        if annotation is bool:
            return {"type": "boolean"}
        if annotation is int:
            return {"type": "integer", "format": "int64"}
        if annotation is float:
            return {"type": "number", "format": "double"}
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return _ref(self.model(annotation))
        raise TypeError(f"no OpenAPI form for the model field type {annotation!r}")

    def _scalar(self, name: str) -> str:
        self.definitions.setdefault(name, dict(SCALAR_DEFINITIONS[name]))
        return name


def kind_definitions(kind: Kind, name: str, header: dict[str, Schema]) -> dict[str, Schema]:
    """The definitions of one kind: its own (called ``name``) and every one it refers to.

    A kind without a model gets an object schema of the standard header that keeps unknown
    fields. (A custom kind publishes its own through ``Kind.openapi``, see ``openapi.py``.)"""
    r = kind.resource
    if kind.model is None:
        return {name: {
            "type": "object",
            "description": f"{r.kind} ({r.api_version}). Fields are not described here; the server "
                           "validates them.",
            "properties": dict(header),
            "x-kubernetes-preserve-unknown-fields": True,
        }}
    return model_definitions(kind.model, name)


def model_definitions(model: type[BaseModel], name: str | None = None) -> dict[str, Schema]:
    """Every definition reachable from ``model``; its own renamed ``name`` when given (a kind's
    definition is named after its group, version and kind)."""
    builder = _Builder()
    own = builder.model(model)
    defs = builder.definitions
    if name is not None and name != own:
        defs[name] = defs.pop(own)
    return defs
