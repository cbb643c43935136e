"""The RBAC objects in the store, as the authorizer reads them (kube-apiserver's RBAC informers).

kube-apiserver writes its default roles at start (the ``rbac/bootstrap-roles`` post-start hook:
missing ones are created, and those annotated ``rbac.authorization.kubernetes.io/autoupdate:
"true"`` get back any rule or subject removed from them) and then authorises from watch caches
of Roles, ClusterRoles and their bindings. Here :func:`bootstrap` does the first, and
:class:`StorePolicy` is the second: a watch on the four kinds bumps ``generation``, and the
authorizer rebuilds its index from a fresh list only then. Until the watch is up the default
policy is used, so the first requests after start are answered at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..api.errors import ApiError
from ..api.register import by_plural
from ..api.resources import Resource
from .rbac import RBAC_GROUP, DefaultPolicy, default_objects

log = logging.getLogger(__name__)
Obj = dict[str, Any]
KINDS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")


def _res(plural: str) -> Resource | None:
    return by_plural(plural, RBAC_GROUP)


def served() -> bool:
    """Whether the RBAC kinds are in the resource table."""
    return all(_res(k) is not None for k in KINDS)


def bootstrap(registry: Any) -> None:
    """Create the default roles and bindings; restore what was removed from the autoupdate ones."""
    roles, bindings = default_objects()
    for plural, objs in (("clusterroles", roles), ("clusterrolebindings", bindings)):
        res = _res(plural)
        if res is None:
            return
        for obj in objs:
            try:
                current = registry.get(res, None, obj["metadata"]["name"])
            except ApiError:
                registry.ensure(res, obj)
                continue
            annotations = current["metadata"].get("annotations") or {}
            if annotations.get("rbac.authorization.kubernetes.io/autoupdate") == "false":
                continue
            field = "rules" if plural == "clusterroles" else "subjects"
            have = current.get(field) or []
            missing = [x for x in obj.get(field) or [] if x not in have]
            if missing and not (plural == "clusterroles" and current.get("aggregationRule")):
                current[field] = have + missing
                with contextlib.suppress(ApiError):
                    registry.update(res, None, current["metadata"]["name"], current, field_validation="Ignore",
                                    field_manager="kube-apiserver")


class StorePolicy:
    """A PolicySource over the store; ``run()`` keeps ``generation`` in step with the RBAC objects."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self.generation = 0
        self._default = DefaultPolicy()
        self._live = False

    def objects(self) -> tuple[list[Obj], list[Obj], list[Obj], list[Obj]]:
        if not self._live:
            return self._default.objects()
        out: list[list[Obj]] = []
        for plural in KINDS:
            res = _res(plural)
            items = self.registry.list(res, None)[0] if res is not None else []
            out.append(items)
        return out[0], out[1], out[2], out[3]

    async def run(self) -> None:
        if not served():
            return
        streams = []
        for plural in KINDS:
            res = _res(plural)
            assert res is not None
            streams.append(await self.registry.watch(res, None, resource_version=str(self.registry.store.revision)))
        self._live = True
        self.generation += 1
        queue: asyncio.Queue[None] = asyncio.Queue()

        async def pump(events: Any) -> None:
            async for _ in events:
                queue.put_nowait(None)

        tasks = [asyncio.create_task(pump(s)) for s in streams]
        try:
            while True:
                await queue.get()
                while not queue.empty():
                    queue.get_nowait()
                self.generation += 1
        finally:
            self._live = False
            self.generation += 1
            for t in tasks:
                t.cancel()
            for s in streams:
                with contextlib.suppress(BaseException):
                    await s.aclose()


class ClusterRoleAggregator:
    """kube-controller-manager's clusterrole-aggregation controller: a ClusterRole with an
    ``aggregationRule`` holds the rules of every ClusterRole its selectors pick, kept in step."""

    def __init__(self, client: Any) -> None:
        from ..client.informer import Informer

        self.client = client
        self.roles = Informer(client, "clusterroles")
        self._wake = asyncio.Event()
        self.roles.add_handler(lambda _t, _o: self._wake.set())

    async def run(self) -> None:
        from .rbac import aggregate

        task = asyncio.create_task(self.roles.run())
        try:
            await self.roles.synced.wait()
            self._wake.set()
            while True:
                await self._wake.wait()
                self._wake.clear()
                import copy

                roles = [copy.deepcopy(r) for r in self.roles.list()]
                for role in aggregate(roles):
                    try:
                        await self.client.update("clusterroles", role)
                    except ApiError as e:
                        log.info("aggregating clusterrole %s: %s", role["metadata"]["name"], e)
                        self._wake.set()
                await asyncio.sleep(0.2)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
