"""A CustomResourceDefinition as served kinds: one ``Kind`` per served version (the CRD handler).

kube-apiserver's apiextensions-apiserver builds, for every served version of an established
CRD, a REST storage whose strategy validates against that version's schema, prunes and
defaults, keeps ``status`` apart when the status subresource is on, prints the version's
columns and maps ``/scale``. Here that is a ``Kind`` (``api/kind.py``) handed to the register:
the generic registry serves it exactly as a built-in kind, asking these hooks.

All versions share one storage (the store's keys do not name a version; ``conversion: None``
only rewrites ``apiVersion``), so an object written through ``v1beta1`` is read through ``v1``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..api import errors, mergekeys
from ..api.kind import Kind, StoreView, Strategy
from ..api.models import AnyObject
from ..api.resources import ALL_VERBS, Resource
from ..api.validation import ErrorList, decode
from . import cel, defaulting, naming, openapi, printer, schema_validation, subresources

Obj = dict[str, Any]


def served_versions(crd: Obj) -> list[Obj]:
    """The CRD's served versions, highest Kubernetes version priority first (v1 > v1beta1 > v1alpha1)."""
    versions = [v for v in (crd.get("spec") or {}).get("versions") or [] if isinstance(v, dict) and v.get("served")]
    return sorted(versions, key=lambda v: version_priority(str(v.get("name", ""))))


def version_priority(name: str) -> tuple[int, int, int, str]:
    """kube-aware version order (``version.CompareKubeAwareVersionStrings``) as a sort key."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", name)
    if not m:
        return (3, 0, 0, name)
    major = int(m.group(1))
    stage = {"": 0, None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, name)


def storage_version(crd: Obj) -> str:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if isinstance(v, dict) and v.get("storage"):
            return str(v.get("name"))
    return ""


def schema_of(version: Obj) -> Obj | None:
    return (version.get("schema") or {}).get("openAPIV3Schema")


class CustomResourceStrategy(Strategy):
    """The custom resource strategy of one served version (apiextensions' customresource strategy)."""

    def __init__(self, version: Obj, storage_api_version: str) -> None:
        self.version = version
        self.storage_api_version = storage_api_version
        self.scale = subresources.scale_spec(version)
        #: set by the CRD handler while the CRD is being deleted: no new objects then
        self.terminating = False

    def prepare_create(self, obj: Obj, store: StoreView) -> None:
        if self.terminating:
            raise errors.MethodNotAllowed("create not allowed while custom resource definition is terminating")
        subresources.prepare_create(obj, self.version)
        obj["apiVersion"] = self.storage_api_version  # stored in the storage version

    def prepare_update(self, new: Obj, old: Obj, store: StoreView) -> None:
        subresources.prepare_update(new, old, self.version)
        new["apiVersion"] = self.storage_api_version

    def generation_changed(self, new: Obj, old: Obj) -> bool:
        return subresources.generation_changed(new, old, self.version)

    def to_scale(self, obj: Obj) -> Obj | None:
        return subresources.to_scale(obj, self.scale or {})

    def with_replicas(self, obj: Obj, replicas: int) -> Obj | None:
        return subresources.apply_scale(obj, self.scale or {}, replicas)


def _decoder(res: Resource, schema: Obj | None) -> Callable[[Obj, str], tuple[Obj, list[str]]]:
    def decode_custom(obj: Obj, field_validation: str) -> tuple[Obj, list[str]]:
        cleaned, warnings = decode(res, AnyObject, obj, field_validation)
        if schema is None:
            return cleaned, warnings
        unknown = defaulting.prune(cleaned, schema)
        if unknown:
            paths = [f'unknown field "{p}"' for p in unknown]
            if field_validation == "Strict":
                raise errors.BadRequest(
                    f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                    f"strict decoding error: {', '.join(paths)}")
            if field_validation == "Warn":
                warnings = warnings + paths
        defaulting.drop_nulls(cleaned, schema)
        defaulting.apply_defaults(cleaned, schema)
        return cleaned, warnings

    return decode_custom


def _validator(schema: Obj | None) -> Callable[[ErrorList, Obj], None]:
    def validate(errs: ErrorList, obj: Obj) -> None:
        if schema is None:
            return
        errs.causes += schema_validation.validate(obj, schema)
        if not errs.causes:
            errs.causes += cel.validate(obj, schema)

    return validate


def _update_validator(schema: Obj | None) -> Callable[[ErrorList, Obj, Obj], None]:
    def validate_update(errs: ErrorList, old: Obj, new: Obj) -> None:
        if schema is None or not cel.has_rules(schema):
            return
        # transition rules only: the plain rules already ran in validate
        errs.causes += [c for c in cel.validate(new, schema, old) if c not in cel.validate(new, schema)]

    return validate_update


def _cells(columns: list[Obj]) -> Callable[[Obj, datetime], list[Any]]:
    def cells(obj: Obj, now: datetime) -> list[Any]:
        return printer.cells(obj, columns, now=now)

    return cells


def resource_for(crd: Obj, version: Obj) -> Resource:
    spec = crd.get("spec") or {}
    names = naming.served_names(crd) or spec.get("names") or {}
    subs: list[str] = []
    if subresources.has_status(version):
        subs.append("status")
    if subresources.scale_spec(version) is not None:
        subs.append("scale")
    return Resource(
        spec.get("group", ""), str(version.get("name")), names.get("plural", ""),
        names.get("singular") or names.get("kind", "").lower(), names.get("kind", ""),
        spec.get("scope") == "Namespaced", tuple(names.get("shortNames") or ()),
        tuple(names.get("categories") or ()), tuple(ALL_VERBS), tuple(subs),
        {"scale": ("Scale", "autoscaling", "v1")} if "scale" in subs else {})


def _converter(api_version: str) -> Callable[[Obj], Obj]:
    def convert(obj: Obj) -> Obj:
        if obj.get("apiVersion") == api_version:
            return obj
        return {**obj, "apiVersion": api_version}

    return convert


def list_merge_keys(schema: Obj | None, path: str = "") -> dict[str, str]:
    """``x-kubernetes-list-type: map`` lists with one key, as merge keys for server-side apply."""
    out: dict[str, str] = {}
    if not isinstance(schema, dict):
        return out
    keys = schema.get("x-kubernetes-list-map-keys") or []
    if schema.get("type") == "array" and schema.get("x-kubernetes-list-type") == "map" and len(keys) == 1:
        out[path] = keys[0]
    for k, sub in (schema.get("properties") or {}).items():
        out.update(list_merge_keys(sub, f"{path}.{k}" if path else k))
    if isinstance(schema.get("items"), dict):
        out.update(list_merge_keys(schema["items"], path))
    return out


def kinds_for(crd: Obj) -> list[Kind]:
    """The kinds an established CRD serves, one per served version."""
    if not naming.is_established(crd):
        return []
    spec = crd.get("spec") or {}
    group = spec.get("group", "")
    storage = f"{group}/{storage_version(crd)}"
    names = naming.served_names(crd) or spec.get("names") or {}
    out: list[Kind] = []
    for version in served_versions(crd):
        version = copy.deepcopy(version)
        res = resource_for(crd, version)
        schema = schema_of(version)
        columns = printer.columns_for(version)
        definition = openapi.model_name(group, res.version, res.kind)
        out.append(Kind(
            res,
            validate=_validator(schema),
            validate_update=_update_validator(schema),
            columns=printer.column_definitions(columns),
            cells=_cells(columns),
            merge_keys={**mergekeys.OBJECT_META, **list_merge_keys(schema)},
            strategy=CustomResourceStrategy(version, storage),
            decode=_decoder(res, schema),
            strategic_merge=False,
            openapi=_publisher(group, res.version, names, schema),
            definition_name=definition,
            convert=None if res.api_version == storage else _converter(res.api_version),
        ))
    return out


def _publisher(group: str, version: str, names: Obj, schema: Obj | None) -> Callable[[], dict[str, Obj]]:
    def schemas() -> dict[str, Obj]:
        return openapi.kind_schemas(group, version, names, schema)

    return schemas
