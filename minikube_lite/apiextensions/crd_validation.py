"""A CustomResourceDefinition's own rules (apiextensions-apiserver's pkg/apis/apiextensions/validation).

What kube-apiserver checks when a CRD is created or updated, with its wording: the name is
``<plural>.<group>``, the group a domain with a dot, the scope ``Namespaced`` or ``Cluster``,
names DNS-1035 labels, exactly one storage version and unique version names, every version
with a schema that is structural (``structural.schema_errors``), printer columns and
subresource paths well formed; on update the group and plural (and, once established, the
scope and kind) stay, and ``status.storedVersions`` keeps every version ever stored. Also the
defaults the API server fills in (singular, listKind, conversion ``None``) and the status a new
CRD starts with (``storedVersions``), as the CRD strategy does.
"""

from __future__ import annotations

import copy
from typing import Any

from ..api.validation import ErrorList, is_dns1035_label, is_dns1123_subdomain
from . import cel, structural

Obj = dict[str, Any]

SCOPES = ["Cluster", "Namespaced"]
COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
COLUMN_FORMATS = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"]


def apply_defaults(crd: Obj) -> Obj:
    """SetDefaults for a CRD: singular and listKind from kind, conversion None, served/storage flags."""
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})
    if isinstance(spec["conversion"], dict):
        spec["conversion"].setdefault("strategy", "None")
    return crd


def storage_version(crd: Obj) -> str | None:
    for v in crd.get("spec", {}).get("versions") or []:
        if isinstance(v, dict) and v.get("storage"):
            return v.get("name")
    return None


def prepare_create(crd: Obj) -> None:
    """The CRD strategy's PrepareForCreate: status starts empty but for the stored version."""
    sv = storage_version(crd)
    crd["status"] = {"acceptedNames": {"plural": "", "kind": ""}, "conditions": [],
                     "storedVersions": [sv] if sv else []}


def prepare_update(new: Obj, old: Obj) -> None:
    """PrepareForUpdate: status is kept from the stored object; a new storage version is recorded."""
    new["status"] = copy.deepcopy(old.get("status") or {})
    sv = storage_version(new)
    stored = new["status"].setdefault("storedVersions", [])
    if sv and sv not in stored:
        stored.append(sv)


def _status_enabled(version: Obj) -> bool:
    return isinstance(version.get("subresources"), dict) and "status" in version["subresources"]


def validate(crd: Obj) -> list[dict[str, str]]:
    """Every reason kube-apiserver would refuse to create ``crd`` (422 causes)."""
    errs = ErrorList()
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    name = (crd.get("metadata") or {}).get("name") or ""
    for msg in is_dns1123_subdomain(name) if name else []:
        errs.invalid("metadata.name", name, msg)
    if name and name != f"{names.get('plural', '')}.{group}":
        errs.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
    if not group:
        errs.required("spec.group")
    elif msgs := is_dns1123_subdomain(group):
        errs.invalid("spec.group", group, ",".join(msgs))
    elif len(group.split(".")) < 2:
        errs.invalid("spec.group", group, "should be a domain with at least one dot")
    scope = spec.get("scope") or ""
    if not scope:
        errs.required("spec.scope")
    elif scope not in SCOPES:
        errs.not_supported("spec.scope", scope, SCOPES)

    versions = spec.get("versions") or []
    if not versions:
        errs.required("spec.versions", "must have exactly one version marked as storage version")
    seen: set[str] = set()
    unique = True
    storage = 0
    for i, v in enumerate(versions):
        path = f"spec.versions[{i}]"
        if not isinstance(v, dict):
            errs.invalid(path, v, "must be an object")
            continue
        storage += bool(v.get("storage"))
        vname = v.get("name") or ""
        unique = unique and vname not in seen
        seen.add(vname)
        if msgs := is_dns1035_label(vname):
            errs.invalid(path + ".name", vname, ",".join(msgs))
        if v.get("deprecationWarning") is not None and not v.get("deprecated"):
            errs.invalid(path + ".deprecationWarning", v["deprecationWarning"], "can only be set for deprecated versions")
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            errs.required(path + ".schema.openAPIV3Schema")
        else:
            found = structural.schema_errors(schema, path + ".schema.openAPIV3Schema",
                                             status_subresource=_status_enabled(v))
            if not found:
                found = cel.compile_errors(schema, path + ".schema.openAPIV3Schema")
            errs.causes += found
        _subresources(errs, v.get("subresources"), path + ".subresources")
        for j, col in enumerate(v.get("additionalPrinterColumns") or []):
            _column(errs, col, f"{path}.additionalPrinterColumns[{j}]")
    if not unique:
        errs.invalid("spec.versions", versions, "must contain unique version names")
    if versions and storage != 1:
        errs.invalid("spec.versions", versions, "must have exactly one version marked as storage version")

    for word in ("plural", "singular", "kind", "listKind"):
        if not names.get(word):
            errs.required(f"spec.names.{word}")
    errs.causes += names_errors(names, "spec.names")
    conv = spec.get("conversion") or {}
    if isinstance(conv, dict) and conv.get("strategy") not in (None, "None", "Webhook"):
        errs.not_supported("spec.conversion.strategy", conv.get("strategy"), ["None", "Webhook"])
    if isinstance(conv, dict) and conv.get("strategy") == "Webhook" and not conv.get("webhook"):
        errs.required("spec.conversion.webhookClientConfig", "required when strategy is set to Webhook")
    if spec.get("preserveUnknownFields") is True:
        errs.invalid("spec.preserveUnknownFields", True,
                     "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema "
                     "instead")
    errs.causes += stored_versions_errors(crd)
    return errs.causes


def validate_update(new: Obj, old: Obj) -> list[dict[str, str]]:
    errs = ErrorList()
    errs.causes += validate(new)
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    established = any(c.get("type") == "Established" and c.get("status") == "True"
                      for c in (old.get("status") or {}).get("conditions") or [])
    checks = [("spec.group", ns.get("group"), os_.get("group")),
              ("spec.names.plural", (ns.get("names") or {}).get("plural"), (os_.get("names") or {}).get("plural"))]
    if established:
        checks += [("spec.scope", ns.get("scope"), os_.get("scope")),
                   ("spec.names.kind", (ns.get("names") or {}).get("kind"), (os_.get("names") or {}).get("kind"))]
    for path, a, b in checks:
        if a != b:
            errs.invalid(path, a, "field is immutable")
    return errs.causes


def names_errors(names: Obj, path: str) -> list[dict[str, str]]:
    errs = ErrorList()
    for word in ("plural", "singular"):
        value = names.get(word) or ""
        if value and (msgs := is_dns1035_label(value)):
            errs.invalid(f"{path}.{word}", value, ",".join(msgs))
    for word in ("kind", "listKind"):
        value = names.get(word) or ""
        if value and (msgs := is_dns1035_label(value.lower())):
            errs.invalid(f"{path}.{word}", value, "may have mixed case, but should otherwise match: " + ",".join(msgs))
    for i, short in enumerate(names.get("shortNames") or []):
        if msgs := is_dns1035_label(str(short)):
            errs.invalid(f"{path}.shortNames[{i}]", short, ",".join(msgs))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.invalid(f"{path}.listKind", names["listKind"], "kind and listKind may not be the same")
    for i, cat in enumerate(names.get("categories") or []):
        if msgs := is_dns1035_label(str(cat)):
            errs.invalid(f"{path}.categories[{i}]", cat, ",".join(msgs))
    return errs.causes


def stored_versions_errors(crd: Obj) -> list[dict[str, str]]:
    errs = ErrorList()
    stored = (crd.get("status") or {}).get("storedVersions") or []
    versions = (crd.get("spec") or {}).get("versions") or []
    if not stored:
        return errs.causes  # filled in by prepare_create before this is asked
    names = [v.get("name") for v in versions if isinstance(v, dict)]
    for v in versions:
        if isinstance(v, dict) and v.get("storage") and v.get("name") not in stored:
            errs.invalid("status.storedVersions", stored, "must have the storage version " + str(v.get("name")))
    for i, s in enumerate(stored):
        if s not in names:
            errs.invalid(f"status.storedVersions[{i}]", s,
                         f"missing from spec.versions; {s} was previously a storage version, and must remain in "
                         f"spec.versions until a storage migration ensures no data remains persisted in {s} and "
                         f"removes {s} from status.storedVersions")
    return errs.causes


def _simple_json_path(errs: ErrorList, value: str, path: str) -> bool:
    if not value:
        errs.invalid(path, value, "must not be empty")
        return False
    if value[0] != ".":
        errs.invalid(path, value, "must be a simple json path starting with .")
        return False
    return True


def _subresources(errs: ErrorList, sub: Any, path: str) -> None:
    if not isinstance(sub, dict) or not isinstance(sub.get("scale"), dict):
        return
    scale = sub["scale"]
    for word, prefix, where in (("specReplicasPath", ".spec.", ".spec"), ("statusReplicasPath", ".status.", ".status")):
        value = scale.get(word) or ""
        p = f"{path}.scale.{word}"
        if not value:
            errs.required(p)
        elif _simple_json_path(errs, value, p) and not value.startswith(prefix):
            errs.invalid(p, value, f"should be a json path under {where}")
    sel = scale.get("labelSelectorPath")
    if sel:
        p = path + ".scale.labelSelectorPath"
        if _simple_json_path(errs, sel, p) and not sel.startswith((".spec.", ".status.")):
            errs.invalid(p, sel, "should be a json path under either .spec or .status")


def _column(errs: ErrorList, col: Any, path: str) -> None:
    if not isinstance(col, dict):
        errs.invalid(path, col, "must be an object")
        return
    if not col.get("name"):
        errs.required(path + ".name")
    t = col.get("type") or ""
    if not t:
        errs.required(path + ".type", "must be one of " + ",".join(COLUMN_TYPES))
    elif t not in COLUMN_TYPES:
        errs.invalid(path + ".type", t, "must be one of " + ",".join(COLUMN_TYPES))
    fmt = col.get("format") or ""
    if fmt and fmt not in COLUMN_FORMATS:
        errs.invalid(path + ".format", fmt, "must be one of " + ",".join(COLUMN_FORMATS))
    jp = col.get("jsonPath") or ""
    if not jp:
        errs.required(path + ".JSONPath")
    else:
        _simple_json_path(errs, jp, path + ".JSONPath")
