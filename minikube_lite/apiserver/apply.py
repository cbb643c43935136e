"""``POST /apply``: apply a (multi-document) YAML body the way ``kubectl apply`` does.

For people without kubectl. Each document is created when absent, otherwise updated with a
three-way merge (last applied manifest, new manifest, live object) and answered with
``created`` / ``configured`` / ``unchanged`` or its own Kubernetes Status. The manifest is
recorded in the ``kubectl.kubernetes.io/last-applied-configuration`` annotation exactly as
kubectl records it, so the two can be mixed freely on the same objects.

A body that is not valid YAML is refused whole (400 with line and column) before anything
is written.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ..api.errors import ApiError, BadRequest, NotFound
from ..api.register import by_kind
from ..api.resources import Resource
from .decoding import load_yaml_all
from .patch import merge_key_for, strategic_merge_patch
from .registry import Registry

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def parse_documents(body: bytes) -> list[Any]:
    """The documents of a YAML stream (``decoding.load_yaml_all``: aliases and depth bounded),
    a ``List``'s items in its place."""
    docs = [d for d in load_yaml_all(body) if d is not None]
    out: list[Any] = []
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "List" and isinstance(d.get("items"), list):
            out.extend(d["items"])
        else:
            out.append(d)
    return out


def three_way_patch(old: Any, new: Any, kind: str, path: str = "") -> Any:
    """The strategic merge patch taking the live object from ``old`` (last applied) to ``new``.

    Everything in ``new`` is set; map keys that ``old`` had and ``new`` dropped become ``null``;
    items of merge-keyed lists (containers by name, ports by port ...) that ``new`` dropped become
    ``{"$patch": "delete", <key>: ...}``. Fields the server or controllers added, which neither
    manifest names, are left as they are, as kubectl's client-side apply does.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        patch: dict[str, Any] = {}
        for k, v in new.items():
            patch[k] = three_way_patch(old.get(k), v, kind, f"{path}.{k}" if path else k)
        for k in old:
            if k not in new:
                patch[k] = None
        return patch
    if isinstance(old, list) and isinstance(new, list):
        key = merge_key_for(kind, path)
        if key and all(isinstance(i, dict) for i in old + new):
            old_by_key = {i.get(key): i for i in old}
            new_keys = {i.get(key) for i in new}
            items = [three_way_patch(old_by_key.get(i.get(key)), i, kind, path) for i in new]
            items += [{"$patch": "delete", key: i.get(key)} for i in old if i.get(key) not in new_keys]
            return items
    return new


def display_name(res: Resource, name: str) -> str:
    return f"{res.singular}.{res.group}/{name}" if res.group else f"{res.singular}/{name}"


def apply_one(registry: Registry, doc: Any, namespace: str, *, dry_run: bool = False) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise BadRequest(f"each document must be a Kubernetes object (a mapping), not {type(doc).__name__}")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not api_version or not kind:
        raise BadRequest("Object 'Kind' is missing" if not kind else "Object 'apiVersion' is missing")
    res = by_kind(str(api_version), str(kind))
    if res is None:
        raise ApiError(f'no matches for kind "{kind}" in version "{api_version}"', code=400, reason="BadRequest")
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise BadRequest(f"{kind}: metadata.name is required")
    name = str(meta["name"])
    ns = (meta.get("namespace") or namespace) if res.namespaced else None
    manifest = copy.deepcopy(doc)
    manifest.get("metadata", {}).get("annotations", {}).pop(LAST_APPLIED, None)
    if not (manifest["metadata"].get("annotations")):
        manifest["metadata"].pop("annotations", None)
    annotated = copy.deepcopy(manifest)
    annotated["metadata"].setdefault("annotations", {})[LAST_APPLIED] = json.dumps(
        manifest, separators=(",", ":"), sort_keys=True) + "\n"
    result = {"apiVersion": res.api_version, "kind": res.kind, "name": name}
    if ns:
        result["namespace"] = ns
    try:
        live = registry.get(res, ns, name)
    except NotFound:
        registry.create(res, ns, annotated, dry_run=dry_run, field_validation="Strict",
                        field_manager="minikube-lite-apply")
        return {**result, "action": "created", "message": f"{display_name(res, name)} created"}
    previous: Any = {}
    raw = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if raw:
        try:
            previous = json.loads(raw)
        except json.JSONDecodeError:
            previous = {}
    merged = strategic_merge_patch(live, three_way_patch(previous, annotated, res.kind), res.kind)
    merged.setdefault("metadata", {})["resourceVersion"] = live["metadata"]["resourceVersion"]
    updated, _ = registry.update(res, ns, name, merged, dry_run=dry_run, field_validation="Strict",
                                 field_manager="minikube-lite-apply")
    same = updated["metadata"].get("resourceVersion") == live["metadata"]["resourceVersion"] and not dry_run
    if dry_run:
        same = updated == live
    action = "unchanged" if same else "configured"
    return {**result, "action": action, "message": f"{display_name(res, name)} {action}"}


def apply_documents(registry: Registry, body: bytes | list[Any], *, namespace: str = "default",
                    dry_run: bool = False) -> tuple[dict[str, Any], int]:
    """Apply every document (a YAML body, or its ``parse_documents``); one result per document."""
    docs = parse_documents(body) if isinstance(body, bytes | bytearray) else body
    if not docs:
        raise BadRequest("no objects found in the request body: send one or more YAML documents")
    items: list[dict[str, Any]] = []
    code = 200
    for doc in docs:
        try:
            items.append(apply_one(registry, doc, namespace, dry_run=dry_run))
        except ApiError as err:
            meta = doc.get("metadata") if isinstance(doc, dict) else None
            items.append({"kind": doc.get("kind") if isinstance(doc, dict) else None,
                          "name": meta.get("name") if isinstance(meta, dict) else None,
                          "action": "error", "message": err.message, "error": err.status()})
            if code == 200:
                code = err.code
    return {"kind": "ApplyResult", "apiVersion": "minikube-lite/v1", "items": items}, code
