"""ControllerRevisions: the revision history of StatefulSets and DaemonSets (Kubernetes' ``controller/history``).

A revision stores the pod template as the patch that restores it,
``{"spec": {"template": {..., "$patch": "replace"}}}``, which is exactly what ``kubectl rollout
undo`` sends back as a strategic merge patch. Its name is ``<owner>-<hash of the data>``, it
carries the template's labels (kubectl finds an owner's history with the owner's selector) plus
``controller-revision-hash``, and a controller owner reference.

``sync_revisions`` makes the owner's current template a revision: an existing revision with the
same data is reused and, when it is not the newest, renumbered to the next revision (a rollback
moves an old revision to the top, as Kubernetes does); otherwise a new one is created. History
beyond ``revisionHistoryLimit`` is pruned, oldest first, sparing the revisions still in use.
"""

from __future__ import annotations

import copy
from typing import Any

from ..api.errors import AlreadyExists, Conflict, NotFound
from ..client.base import Client
from . import rollout as ro

Obj = dict[str, Any]
HASH_LABEL = "controller-revision-hash"


def revision_data(owner: Obj) -> Obj:
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def revision_hash(data: Obj, collision_count: int | None = None) -> str:
    return ro.template_hash(data, collision_count)


def owned_revisions(revisions: list[Obj], owner: Obj) -> list[Obj]:
    ns, uid = owner["metadata"].get("namespace"), owner["metadata"].get("uid")
    return sorted((r for r in revisions if r["metadata"].get("namespace") == ns
                   and (ro.controller_ref(r) or {}).get("uid") == uid), key=lambda r: r.get("revision", 0))


def _same_data(a: Obj, b: Obj) -> bool:
    return (a.get("data") or {}) == (b.get("data") or {})


async def sync_revisions(client: Client, owner: Obj, revisions: list[Obj]) -> tuple[Obj, list[Obj]]:
    """(the revision of the owner's current template, all the owner's revisions, oldest first)."""
    ns, name = owner["metadata"]["namespace"], owner["metadata"]["name"]
    owned = owned_revisions(revisions, owner)
    data = revision_data(owner)
    newest = max((r.get("revision", 0) for r in owned), default=0)
    for rev in owned:
        if _same_data(rev, {"data": data}):
            if rev.get("revision", 0) < newest:
                updated = {**copy.deepcopy(rev), "revision": newest + 1}
                rev = await client.update("controllerrevisions", updated, namespace=ns)
                owned = [r for r in owned if r["metadata"]["name"] != rev["metadata"]["name"]] + [rev]
            return rev, owned
    collision = int(((owner.get("status") or {}).get("collisionCount")) or 0)
    labels = dict((((owner.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})
    for attempt in range(5):
        digest = revision_hash(data, collision + attempt)
        labels[HASH_LABEL] = digest
        rev = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
               "metadata": {"name": f"{name}-{digest}", "namespace": ns, "labels": dict(labels),
                            "ownerReferences": [ro.owner_reference(owner)]},
               "data": data, "revision": newest + 1}
        change_cause = ((owner["metadata"].get("annotations") or {}).get("kubernetes.io/change-cause"))
        if change_cause:
            rev["metadata"]["annotations"] = {"kubernetes.io/change-cause": change_cause}
        try:
            created = await client.create("controllerrevisions", rev, namespace=ns)
            return created, [*owned, created]
        except AlreadyExists:
            existing = await client.get("controllerrevisions", rev["metadata"]["name"], namespace=ns)
            if _same_data(existing, rev) and (ro.controller_ref(existing) or {}).get("uid") == \
                    owner["metadata"].get("uid"):
                return existing, [*owned, existing]
            continue  # a hash collision: try the next collision count
    raise Conflict("controllerrevisions", name, "could not find a free revision name")


async def prune(client: Client, owner: Obj, owned: list[Obj], live: set[str]) -> None:
    """Delete revisions beyond ``revisionHistoryLimit``, oldest first, sparing ``live`` names."""
    limit = int((owner.get("spec") or {}).get("revisionHistoryLimit", 10) or 0)
    old = [r for r in sorted(owned, key=lambda r: r.get("revision", 0)) if r["metadata"]["name"] not in live]
    for rev in old[:max(0, len(old) - limit)]:
        try:
            await client.delete("controllerrevisions", rev["metadata"]["name"], namespace=rev["metadata"]["namespace"])
        except NotFound:
            pass
