"""OpenAPI documents describing the served kinds, in the shapes kubectl downloads.

Why this exists: ``kubectl apply`` and ``kubectl create -f`` validate by default. Before sending
anything they download the server's OpenAPI (v3 at ``/openapi/v3`` for kubectl 1.29+, v2 at
``/openapi/v2`` for 1.27/1.28) and look for the PATCH operation of the object's kind (found by its
``x-kubernetes-group-version-kind`` extension). When that operation lists a ``fieldValidation``
query parameter, kubectl concludes the server validates, sends ``?fieldValidation=Strict`` and
does no client-side schema validation. Without any OpenAPI, apply fails outright.
``kubectl explain`` reads the kinds' schemas from the same documents.

Everything is generated from the register of kinds (``api/register.py``): for each kind its
collection paths (list, create, deletecollection), its item path (get, replace, patch, delete),
its subresource paths and a field-level schema derived from the kind's pydantic model
(``apiserver/schemas.py``: the models are the one source of a kind's fields, descriptions and
definition names), so registering a kind is enough. A kind without a model gets a permissive
object schema that still carries its group-version-kind; one with ``Kind.openapi`` (a custom
resource, ``apiextensions/openapi.py``) publishes its own definitions.

How kubectl computes client-side apply patches matters here: it uses an OpenAPI schema only if
the v3 PATCH operation accepts ``application/strategic-merge-patch+json`` or, failing that, if a
v2 definition carries the kind's group-version-kind; otherwise it uses the Go types compiled into
it, which are exact for every built-in kind. Our schemas lack some of Kubernetes' list
annotations (and permissive ones would lose the lists' merge keys), so the v3 PATCH
operations do not advertise strategic merge patch and the v2 definitions carry no
group-version-kind: kubectl then computes patches from its own types. The v3 schemas carry the
group-version-kind, which is what ``kubectl explain`` (OpenAPI v3 based since kubectl 1.27) uses.

The v2 document is served as protobuf (gnostic's ``openapi.v2.Document`` message, encoded by
``openapi_proto.py`` with the one wire codec ``protowire.py``) because that is what kubectl asks
for and parses.

All documents are computed once per register revision and cached (a kind registered at run
time changes them, as a CRD changes kube-apiserver's); the v3 root advertises each group
document at ``/openapi/v3/<path>?hash=<digest of the document>`` as Kubernetes does.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from minikube_lite.api import register
from minikube_lite.api.mergekeys import OBJECT_META, PRIMITIVE, RETAIN_KEYS_LISTS, list_keys
from minikube_lite.api.models import ObjectMeta
from minikube_lite.api.resources import Resource
from minikube_lite.apiserver import openapi_proto, schemas

V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
V3_CONTENT_TYPE = "application/json"
V2_JSON_CONTENT_TYPE = "application/json"

API_VERSION = "v1.32.0"  # reported in info.version; informational only

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
V3_REF = "#/components/schemas/"
V2_REF = "#/definitions/"

GVK_EXT = "x-kubernetes-group-version-kind"
ACTION_EXT = "x-kubernetes-action"

PATCH_TYPES = [  # strategic merge patch deliberately left out, see the module docstring
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
]

Schema = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Schema building blocks (authored with v3 references; converted for v2)
# ---------------------------------------------------------------------------------------------


def _ref(name: str, description: str = "") -> Schema:
    out: Schema = {"allOf": [{"$ref": V3_REF + name}]}
    if description:
        out["description"] = description
    return out


def _str(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, **extra}


def _int(description: str, fmt: str = "int32") -> Schema:
    return {"type": "integer", "format": fmt, "description": description}


def _free(description: str) -> Schema:
    """An object whose inside is not described here."""
    return {"type": "object", "description": description, "x-kubernetes-preserve-unknown-fields": True}


def _str_list(description: str) -> Schema:
    return {"type": "array", "items": {"type": "string", "default": ""}, "description": description,
            "x-kubernetes-list-type": "atomic"}


def _annotate_lists(pool: dict[str, Schema], root: str, path: str, merge_keys: Mapping[str, str]) -> None:
    """Write the kind's merge keys (``Kind.merge_keys``, the register's) onto the arrays of the
    definitions reachable from ``root`` at dotted ``path``: patch merge key and strategy, and
    ``x-kubernetes-list-type`` map (keys ``mergekeys.list_keys``) or set. Definitions outside
    ``pool`` are left alone."""
    seen: set[tuple[str, str]] = set()

    def visit(node: Any, at: str) -> None:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if ref is None and len(node.get("allOf") or []) == 1:
            ref = node["allOf"][0].get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name in pool and (name, at) not in seen:
                seen.add((name, at))
                visit(pool[name], at)
        if node.get("type") == "array":
            mkey = merge_keys.get(at)
            if mkey == PRIMITIVE:
                node.update({"x-kubernetes-patch-strategy": "merge", "x-kubernetes-list-type": "set"})
            elif mkey is not None:
                last = at.rsplit(".", 1)[-1]
                strategy = "merge,retainKeys" if last in RETAIN_KEYS_LISTS else "merge"
                node.update({"x-kubernetes-patch-merge-key": mkey, "x-kubernetes-patch-strategy": strategy,
                             "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(list_keys(mkey))})
            visit(node.get("items"), at)
        for key, child in (node.get("properties") or {}).items():
            visit(child, f"{at}.{key}" if at else key)

    visit(pool[root], path)


def _object(description: str, properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    out: Schema = {"type": "object", "description": description, "properties": properties}
    if required:
        out["required"] = required
    return out


def _published(group: str, version: str, kind: str) -> Any:
    """The registered kind (``Kind``) that publishes its own schemas under this group-version-kind
    (a custom kind; its list kind too), or None."""
    api_version = f"{group}/{version}" if group else version
    for k in (kind, kind.removesuffix("List")):
        res = register.by_kind(api_version, k)
        if res is not None:
            declared = register.kind_for(res)
            if declared.openapi is not None and declared.definition_name:
                return declared
    return None


def _def_name(group: str, version: str, kind: str) -> str:
    """Kubernetes' definition name: io.k8s.api.core.v1.Pod, io.k8s.api.apps.v1.Deployment; a custom
    kind's is its own (``Kind.definition_name``), else the reversed domain
    (stable.example.com -> com.example.stable.v1.CronTab)."""
    custom = _published(group, version, kind)
    if custom is not None:
        base = custom.definition_name
        return base + "List" if kind != custom.resource.kind and kind.endswith("List") else base
    if not group:
        return f"io.k8s.api.core.{version}.{kind}"
    if group == "apiextensions.k8s.io":
        return f"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{kind}"
    if group == "apiregistration.k8s.io":
        return f"io.k8s.kube-aggregator.pkg.apis.apiregistration.{version}.{kind}"
    if group == "metrics.k8s.io":
        return f"io.k8s.metrics.pkg.apis.metrics.{version}.{kind}"
    if group.endswith(".k8s.io") or "." not in group:
        return f"io.k8s.api.{group.split('.')[0]}.{version}.{kind}"
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _kind_header(description: str) -> dict[str, Schema]:
    return {
        "apiVersion": _str("Versioned schema of this object, e.g. v1 or apps/v1."),
        "kind": _str("The kind of object this is, in CamelCase, e.g. Pod."),
        "metadata": _ref(META + "ObjectMeta", description or "Standard object metadata."),
    }


def _meta_schemas() -> dict[str, Schema]:
    """Shared object metadata (from its model) and the request/response schemas of meta/v1."""
    pool = schemas.model_definitions(ObjectMeta)
    _annotate_lists(pool, META + "ObjectMeta", "metadata", OBJECT_META)
    pool.update(_meta_pool())
    return pool


def _meta_pool() -> dict[str, Schema]:
    """meta/v1 types that are not kinds of the register: lists, Status, DeleteOptions, patches."""
    return {
        META + "ListMeta": _object("Metadata of a list response.", {
            "resourceVersion": _str("Where a watch started from this list continues."),
            "continue": _str("Token for the next page when the list was limited."),
            "remainingItemCount": _int("Items left after this page, when known.", "int64"),
        }),
        META + "Status": _object("Result of an operation that returns no object, or an error.", {
            "apiVersion": _str("Versioned schema of this object."),
            "kind": _str("Always Status."),
            "metadata": _ref(META + "ListMeta", "Standard list metadata."),
            "status": _str("Success or Failure."),
            "message": _str("Human-readable description of the result."),
            "reason": _str("Machine-readable reason, e.g. NotFound, AlreadyExists, Invalid."),
            "details": _free("Extra data about the reason: name, kind, causes."),
            "code": _int("HTTP status code of the result."),
        }),
        META + "DeleteOptions": _object("Options for a delete request.", {
            "apiVersion": _str("Versioned schema of this object."),
            "kind": _str("Always DeleteOptions."),
            "gracePeriodSeconds": _int("Seconds before the object is deleted; 0 means now.", "int64"),
            "propagationPolicy": _str("Orphan, Background or Foreground garbage collection."),
            "orphanDependents": {"type": "boolean", "description": "Deprecated: use propagationPolicy."},
            "dryRun": _str_list("When present, nothing is persisted. Only All is valid."),
            "preconditions": _free("uid and/or resourceVersion the object must still have."),
        }),
        META + "Patch": {"type": "object",
                         "description": "A patch body; its format is given by the Content-Type."},
    }


# ---------------------------------------------------------------------------------------------
# The kinds' schemas: derived from their models (apiserver/schemas.py)
# ---------------------------------------------------------------------------------------------


def _kind_schemas(group: str, version: str, kind: str) -> dict[str, Schema]:
    """The definitions of one kind (and those it refers to), with its group-version-kind; a kind
    that publishes its own (``Kind.openapi``, a custom kind) gives them as they are."""
    custom = _published(group, version, kind)
    if custom is not None:
        return custom.openapi()
    name = _def_name(group, version, kind)
    sub_model = schemas.SUBRESOURCE_MODELS.get((group, version, kind))
    res = register.by_kind(f"{group}/{version}" if group else version, kind)
    declared = register.kind_for(res) if res is not None else None
    if sub_model is not None:
        defs = schemas.model_definitions(sub_model, name)
    elif declared is not None:
        defs = schemas.kind_definitions(declared, name, _kind_header("Standard object metadata."))
        if declared.model is not None:
            _annotate_lists(defs, name, "", declared.merge_keys)
    else:
        defs = {name: {"type": "object", "properties": _kind_header("Standard object metadata."),
                       "x-kubernetes-preserve-unknown-fields": True}}
    defs[name] = {**defs[name], GVK_EXT: [_gvk(group, version, kind)]}
    return defs


def _list_schema(group: str, version: str, kind: str) -> Schema:
    custom = _published(group, version, kind)
    if custom is not None:
        return custom.openapi()[_def_name(group, version, kind + "List")]
    return {
        "type": "object",
        "description": f"A list of {kind} objects.",
        "properties": {
            "apiVersion": _str("Versioned schema of this object."),
            "kind": _str(f"Always {kind}List."),
            "metadata": _ref(META + "ListMeta", "Standard list metadata."),
            "items": {"type": "array", "items": _ref(_def_name(group, version, kind)),
                      "description": f"The {kind} objects."},
        },
        "required": ["items"],
        GVK_EXT: [_gvk(group, version, kind + "List")],
    }


# ---------------------------------------------------------------------------------------------
# Paths and operations (neutral form, rendered to v3 or v2)
# ---------------------------------------------------------------------------------------------
#
# An operation is described once as a dict: id, action, description, gvk (or None), params
# (list of (name, in, type, description)), body (schema name or None, plus the accepted
# content types), responses ({code: (schema name or None, description)}), produces.


def _param(name: str, where: str, typ: str, description: str) -> tuple[str, str, str, str]:
    return (name, where, typ, description)


P_PRETTY = _param("pretty", "query", "string", "If 'true', the output is pretty printed.")
P_DRYRUN = _param("dryRun", "query", "string", "When present (All), nothing is persisted.")
P_MANAGER = _param("fieldManager", "query", "string", "Name of the actor making the change.")
P_VALIDATION = _param("fieldValidation", "query", "string",
                      "How to treat unknown or duplicate fields in the body: Ignore, Warn or Strict "
                      "(a 422 error naming the field). The server validates.")
P_FORCE = _param("force", "query", "boolean", "Apply patches only: take over conflicting fields.")
P_GRACE = _param("gracePeriodSeconds", "query", "integer", "Seconds before deletion; 0 means now.")
P_PROPAGATION = _param("propagationPolicy", "query", "string", "Orphan, Background or Foreground.")
LIST_PARAMS = [
    _param("labelSelector", "query", "string", "Only objects whose labels match, e.g. app=web,tier!=db."),
    _param("fieldSelector", "query", "string", "Only objects whose fields match, e.g. metadata.name=web."),
    _param("limit", "query", "integer", "Maximum number of objects in one response."),
    _param("continue", "query", "string", "Token from a previous limited list."),
    _param("resourceVersion", "query", "string", "Version to list or watch from."),
    _param("timeoutSeconds", "query", "integer", "Time limit of a list or watch call."),
    _param("watch", "query", "boolean", "Stream changes as ADDED/MODIFIED/DELETED events."),
    _param("allowWatchBookmarks", "query", "boolean", "Ask for BOOKMARK events while watching."),
]


def _title(s: str) -> str:
    return s[:1].upper() + s[1:]


def _op_id(verb: str, r: Resource, namespaced: bool, suffix: str = "") -> str:
    group = _title(r.group.split(".")[0]) if r.group else "Core"
    ns = "Namespaced" if namespaced else ""
    return f"{verb}{group}{_title(r.version)}{ns}{r.kind}{suffix}"


def _operations(r: Resource) -> dict[str, dict[str, dict[str, Any]]]:
    """path -> method -> neutral operation, for one resource."""
    base = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
    coll = f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{base}/{r.plural}"
    item = coll + "/{name}"
    kind_def = _def_name(r.group, r.version, r.kind)
    list_def = _def_name(r.group, r.version, r.list_kind)
    gvk = _gvk(r.group, r.version, r.kind)
    ns_params = [_param("namespace", "path", "string", "Object name and auth scope.")] if r.namespaced else []
    name_param = [_param("name", "path", "string", f"Name of the {r.kind}.")]
    verbs = set(r.verbs)
    ok = {"200": (kind_def, "OK"), "401": (None, "Unauthorized")}
    paths: dict[str, dict[str, dict[str, Any]]] = {}

    def op(id_: str, action: str, desc: str, params: list, responses: dict, body: str | None = None,
           consumes: list[str] | None = None, op_gvk: dict[str, str] | None = gvk,
           produces: list[str] | None = None) -> dict[str, Any]:
        return {"id": id_, "action": action, "description": desc, "params": params, "responses": responses,
                "body": body, "consumes": consumes or ["*/*"], "gvk": op_gvk,
                "produces": produces or ["application/json", "application/yaml"]}

    write = [P_DRYRUN, P_MANAGER, P_VALIDATION]
    c: dict[str, dict[str, Any]] = {"parameters": ns_params + [P_PRETTY]}
    if "list" in verbs:
        c["get"] = op(_op_id("list", r, r.namespaced), "list", f"List or watch {r.kind} objects.",
                      LIST_PARAMS, {"200": (list_def, "OK"), "401": (None, "Unauthorized")},
                      produces=["application/json", "application/yaml", "application/json;stream=watch"])
    if "create" in verbs:
        c["post"] = op(_op_id("create", r, r.namespaced), "post", f"Create a {r.kind}.", write,
                       {"200": (kind_def, "OK"), "201": (kind_def, "Created"),
                        "202": (kind_def, "Accepted"), "401": (None, "Unauthorized")}, body=kind_def)
    if "deletecollection" in verbs:
        c["delete"] = op(_op_id("deletecollection", r, r.namespaced), "deletecollection",
                         f"Delete a collection of {r.kind} objects.",
                         LIST_PARAMS[:2] + [P_DRYRUN, P_GRACE, P_PROPAGATION],
                         {"200": (META + "Status", "OK"), "401": (None, "Unauthorized")},
                         body=META + "DeleteOptions")
    if len(c) > 1:
        paths[coll] = c
    if r.namespaced and "list" in verbs:
        paths[f"{base}/{r.plural}"] = {"parameters": [P_PRETTY], "get": op(
            _op_id("list", r, False, "ForAllNamespaces"), "list",
            f"List or watch {r.kind} objects of all namespaces.", LIST_PARAMS,
            {"200": (list_def, "OK"), "401": (None, "Unauthorized")},
            produces=["application/json", "application/yaml", "application/json;stream=watch"])}

    i: dict[str, dict[str, Any]] = {"parameters": name_param + ns_params + [P_PRETTY]}
    if "get" in verbs:
        i["get"] = op(_op_id("read", r, r.namespaced), "get", f"Read the named {r.kind}.", [], ok)
    if "update" in verbs:
        i["put"] = op(_op_id("replace", r, r.namespaced), "put", f"Replace the named {r.kind}.", write,
                      {**ok, "201": (kind_def, "Created")}, body=kind_def)
    if "patch" in verbs:
        i["patch"] = op(_op_id("patch", r, r.namespaced), "patch", f"Partially update the named {r.kind}.",
                        write + [P_FORCE], {**ok, "201": (kind_def, "Created")}, body=META + "Patch",
                        consumes=PATCH_TYPES)
    if "delete" in verbs:
        i["delete"] = op(_op_id("delete", r, r.namespaced), "delete", f"Delete the named {r.kind}.",
                         [P_DRYRUN, P_GRACE, P_PROPAGATION],
                         {"200": (kind_def, "OK"), "202": (kind_def, "Accepted"),
                          "401": (None, "Unauthorized")}, body=META + "DeleteOptions")
    if len(i) > 1:
        paths[item] = i

    for sub in r.subresources:
        sub_params = {"parameters": name_param + ns_params + [P_PRETTY]}
        if sub == "log":
            paths[f"{item}/log"] = {**sub_params, "get": op(
                _op_id("read", r, r.namespaced, "Log"), "get", f"Read the log of the named {r.kind}.",
                [_param("container", "query", "string", "Container to read; needed when several."),
                 _param("follow", "query", "boolean", "Stream the log as it grows."),
                 _param("previous", "query", "boolean", "Log of the previous, terminated instance."),
                 _param("tailLines", "query", "integer", "Only this many lines from the end."),
                 _param("sinceSeconds", "query", "integer", "Only lines newer than this many seconds."),
                 _param("timestamps", "query", "boolean", "Prefix each line with its timestamp.")],
                {"200": (None, "OK (text)"), "401": (None, "Unauthorized")}, op_gvk=None,
                produces=["text/plain", "application/json"])}
            continue
        if sub == "eviction":
            continue  # a POST-only subresource (policy/v1 Eviction), like bindings not described
        if sub in r.subresource_kinds:
            s_kind, s_group, s_version = r.subresource_kinds[sub]
        elif sub in ("status", "finalize"):
            s_kind, s_group, s_version = r.kind, r.group, r.version
        else:
            continue  # connect-style subresources (exec, attach, ...) and bindings are not described
        s_def = _def_name(s_group, s_version, s_kind)
        s_gvk = _gvk(s_group, s_version, s_kind)
        s_ok = {"200": (s_def, "OK"), "201": (s_def, "Created"), "401": (None, "Unauthorized")}
        suffix = _title(sub)
        ops: dict[str, dict[str, Any]] = {}
        if sub != "finalize":
            ops["get"] = op(_op_id("read", r, r.namespaced, suffix), "get",
                            f"Read the {sub} of the named {r.kind}.", [], s_ok, op_gvk=s_gvk)
            ops["patch"] = op(_op_id("patch", r, r.namespaced, suffix), "patch",
                              f"Partially update the {sub} of the named {r.kind}.", write + [P_FORCE], s_ok,
                              body=META + "Patch", consumes=PATCH_TYPES, op_gvk=s_gvk)
        ops["put"] = op(_op_id("replace", r, r.namespaced, suffix), "put",
                        f"Replace the {sub} of the named {r.kind}.", write, s_ok, body=s_def, op_gvk=s_gvk)
        paths[f"{item}/{sub}"] = {**sub_params, **ops}
    return paths


def _gv_path(r: Resource) -> str:
    return f"apis/{r.group}/{r.version}" if r.group else f"api/{r.version}"


def _defined_kinds(resources: list[Resource]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for r in resources:
        kinds = [(r.group, r.version, r.kind)]
        kinds += [(g, v, k) for k, g, v in (r.subresource_kinds[s] for s in r.subresources
                                            if s in r.subresource_kinds)]
        for k in kinds:
            if k not in out:
                out.append(k)
    return out


def _schemas_for(resources: list[Resource]) -> dict[str, Schema]:
    """Every schema the resources' operations refer to, transitively."""
    pool = _meta_schemas()
    roots = [META + "Status", META + "DeleteOptions", META + "Patch"]
    for group, version, kind in _defined_kinds(resources):
        pool.update(_kind_schemas(group, version, kind))
        roots.append(_def_name(group, version, kind))
    for r in resources:
        pool[_def_name(r.group, r.version, r.list_kind)] = _list_schema(r.group, r.version, r.kind)
        roots.append(_def_name(r.group, r.version, r.list_kind))
    out: dict[str, Schema] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out[name] = pool[name]
        todo.extend(_refs(pool[name]))
    return dict(sorted(out.items()))


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.append(v.rsplit("/", 1)[-1])
            else:
                found.extend(_refs(v))
    elif isinstance(node, list):
        for v in node:
            found.extend(_refs(v))
    return found


# ---------------------------------------------------------------------------------------------
# OpenAPI v3
# ---------------------------------------------------------------------------------------------


def _v3_param(p: tuple[str, str, str, str]) -> dict[str, Any]:
    name, where, typ, desc = p
    out: dict[str, Any] = {"name": name, "in": where, "description": desc, "schema": {"type": typ}}
    if where == "path":
        out["required"] = True
    else:
        out["schema"]["uniqueItems"] = True
    return out


def _v3_operation(o: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": o["description"], "operationId": o["id"],
                           "parameters": [_v3_param(p) for p in o["params"]]}
    if o["body"]:
        body_schema = {"$ref": V3_REF + o["body"]}
        types = o["consumes"] if o["consumes"] != ["*/*"] else ["*/*"]
        out["requestBody"] = {"content": {t: {"schema": body_schema} for t in types},
                              "required": o["action"] != "delete" and o["action"] != "deletecollection"}
    responses: dict[str, Any] = {}
    for code, (schema, desc) in o["responses"].items():
        resp: dict[str, Any] = {"description": desc}
        if schema:
            resp["content"] = {t: {"schema": {"$ref": V3_REF + schema}} for t in o["produces"]}
        elif code == "200":
            resp["content"] = {t: {"schema": {"type": "string"}} for t in o["produces"]}
        responses[code] = resp
    out["responses"] = responses
    out[ACTION_EXT] = o["action"]
    if o["gvk"]:
        out[GVK_EXT] = o["gvk"]
    return out


def _v3_path_item(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method, o in item.items():
        if method == "parameters":
            out["parameters"] = [_v3_param(p) for p in o]
        else:
            out[method] = _v3_operation(o)
    return out


def _digest(doc: Any) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()


def _v3_documents() -> dict[str, tuple[dict[str, Any], str]]:
    """group-version path ("api/v1", "apis/apps/v1") -> (document, hash)."""
    return _v3_documents_at(register.revision())


@functools.lru_cache(maxsize=2)
def _v3_documents_at(revision: int) -> dict[str, tuple[dict[str, Any], str]]:
    by_gv: dict[str, list[Resource]] = {}
    for r in register.resources():
        by_gv.setdefault(_gv_path(r), []).append(r)
    docs: dict[str, tuple[dict[str, Any], str]] = {}
    for gv, resources in by_gv.items():
        paths: dict[str, Any] = {}
        for r in resources:
            for path, item in _operations(r).items():
                paths[path] = _v3_path_item(item)
        doc = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": API_VERSION},
            "paths": paths,
            "components": {"schemas": copy.deepcopy(_schemas_for(resources))},
        }
        docs[gv] = (doc, _digest(doc))
    return docs


def v3_root() -> dict[str, Any]:
    """The ``GET /openapi/v3`` discovery document: each group-version's document URL with its hash."""
    return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={h}"}
                      for gv, (_, h) in _v3_documents().items()}}


def _normalize_gv(path: str) -> str:
    path = path.split("?", 1)[0].strip("/")
    path = path.removeprefix("openapi/v3/")
    return path


def v3_group(path: str) -> dict[str, Any] | None:
    """The OpenAPI 3 document of one group-version ("api/v1", "/openapi/v3/apis/apps/v1"); None if unknown.

    Callers must not modify the returned document (it is cached).
    """
    found = _v3_documents().get(_normalize_gv(path))
    return found[0] if found else None


def v3_group_bytes(path: str) -> bytes | None:
    """``v3_group`` serialized once (the documents are large; avoid re-encoding on every request)."""
    return _v3_group_bytes(_normalize_gv(path), register.revision())


@functools.lru_cache(maxsize=256)
def _v3_group_bytes(gv: str, revision: int) -> bytes | None:
    found = _v3_documents().get(gv)
    return None if found is None else json.dumps(found[0], separators=(",", ":")).encode()


def v3_hash(path: str) -> str | None:
    """The hash advertised for a group-version document (useful for ETag / Cache-Control)."""
    found = _v3_documents().get(_normalize_gv(path))
    return found[1] if found else None


# ---------------------------------------------------------------------------------------------
# OpenAPI v2 (Swagger 2.0)
# ---------------------------------------------------------------------------------------------


def _to_v2_schema(node: Any) -> Any:
    """Rewrite a v3 schema for v2: #/definitions/ references, single allOf flattened."""
    if isinstance(node, list):
        return [_to_v2_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    if "allOf" in node and len(node["allOf"]) == 1 and set(node["allOf"][0]) == {"$ref"}:
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return {"$ref": V2_REF + node["allOf"][0]["$ref"].rsplit("/", 1)[-1], **_to_v2_schema(rest)}
    out: dict[str, Any] = {}
    if node.get("format") == "int-or-string" and "oneOf" in node:
        node = {"type": "string", **{k: v for k, v in node.items() if k != "oneOf"}}
    for k, v in node.items():
        if k == "$ref":
            out[k] = V2_REF + v.rsplit("/", 1)[-1]
        elif k in ("x-kubernetes-preserve-unknown-fields", GVK_EXT):
            continue  # v3-only; the group-version-kind is dropped on purpose (module docstring)
        elif k == "properties":
            out[k] = {name: _to_v2_schema(s) for name, s in v.items()}
        else:
            out[k] = _to_v2_schema(v)
    return out


#: v2 has no oneOf: the scalar wrappers are strings there, as kube-apiserver publishes them
V2_SCALARS: dict[str, Schema] = {
    schemas.INT_OR_STRING: {"description": schemas.SCALAR_DEFINITIONS[schemas.INT_OR_STRING]["description"],
                            "type": "string", "format": "int-or-string"},
    schemas.QUANTITY: {"description": schemas.SCALAR_DEFINITIONS[schemas.QUANTITY]["description"],
                       "type": "string"},
}


def _v2_param(p: tuple[str, str, str, str]) -> dict[str, Any]:
    name, where, typ, desc = p
    out: dict[str, Any] = {"name": name, "in": where, "description": desc, "type": typ}
    if where == "path":
        out["required"] = True
    else:
        out["uniqueItems"] = True
    return out


def _v2_operation(o: dict[str, Any]) -> dict[str, Any]:
    params = [_v2_param(p) for p in o["params"]]
    if o["body"]:
        params.insert(0, {"name": "body", "in": "body",
                          "required": o["action"] not in ("delete", "deletecollection"),
                          "schema": {"$ref": V2_REF + o["body"]}})
    out: dict[str, Any] = {"description": o["description"], "consumes": o["consumes"],
                           "produces": o["produces"], "schemes": ["https"], "operationId": o["id"],
                           "parameters": params}
    responses: dict[str, Any] = {}
    for code, (schema, desc) in o["responses"].items():
        resp: dict[str, Any] = {"description": desc}
        if schema:
            resp["schema"] = {"$ref": V2_REF + schema}
        elif code == "200":
            resp["schema"] = {"type": "string"}
        responses[code] = resp
    out["responses"] = responses
    out[ACTION_EXT] = o["action"]
    if o["gvk"]:
        out[GVK_EXT] = o["gvk"]
    return out


def _v2_document() -> dict[str, Any]:
    return _v2_document_at(register.revision())


@functools.lru_cache(maxsize=2)
def _v2_document_at(revision: int) -> dict[str, Any]:
    resources = register.resources()
    paths: dict[str, Any] = {}
    for r in resources:
        for path, item in _operations(r).items():
            paths[path] = {m: ([_v2_param(p) for p in o] if m == "parameters" else _v2_operation(o))
                           for m, o in item.items()}
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": API_VERSION},
        "paths": paths,
        "definitions": {name: V2_SCALARS.get(name) or _to_v2_schema(s)
                        for name, s in _schemas_for(resources).items()},
    }


def v2_json() -> dict[str, Any]:
    """The Swagger 2.0 document as JSON (``GET /openapi/v2`` with ``Accept: application/json``).

    Callers must not modify the returned document (it is cached).
    """
    return _v2_document()


def v2_json_bytes() -> bytes:
    """``v2_json`` serialized once (per register revision)."""
    return _v2_json_bytes(register.revision())


@functools.lru_cache(maxsize=2)
def _v2_json_bytes(revision: int) -> bytes:
    return json.dumps(_v2_document(), separators=(",", ":")).encode()


def v2_wants_protobuf(accept: str | None) -> bool:
    """Whether a ``GET /openapi/v2`` Accept header asks for protobuf.

    kubectl 1.27/1.28 send ``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` (with an
    ``@``) but want the reply labelled ``V2_PROTOBUF_CONTENT_TYPE`` (with a dot).
    """
    return bool(accept) and "protobuf" in accept and "proto-openapi" in accept


def v2_protobuf() -> bytes:
    """The Swagger 2.0 document as a serialized gnostic ``openapi.v2.Document``."""
    return _v2_protobuf(register.revision())


@functools.lru_cache(maxsize=2)
def _v2_protobuf(revision: int) -> bytes:
    return openapi_proto.encode_document(_v2_document())
