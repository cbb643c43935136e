"""The CRD handler: established CRDs become served kinds; a deleted CRD takes its objects along.

In kube-apiserver, apiextensions-apiserver watches CustomResourceDefinitions and (re)builds the
storage of every served version of an established one; its *finalizer* controller empties a CRD
being deleted (``customresourcecleanup.apiextensions.k8s.io``: every custom object is deleted,
then the finalizer is removed and the CRD goes). This handler is both, on the API server's own
event loop: ``sync()`` registers every stored CRD before the server answers its first request
(so a restarted daemon serves its CRDs at once), and ``run()`` follows the CRD watch so a CRD
written through the API is served, changed or unserved within milliseconds. Discovery and the
OpenAPI documents read the register, so kubectl's discovery cache sees new documents as on a
real cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..api import register
from ..api.errors import ApiError, NotFound
from ..api.resources import Resource
from ..api.times import now_rfc3339
from . import kinds, naming

log = logging.getLogger(__name__)

Obj = dict[str, Any]
FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
CRD_GROUP = "apiextensions.k8s.io"
CRD_PLURAL = "customresourcedefinitions"


class CRDHandler:
    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self._served: dict[str, list[Resource]] = {}  # CRD name -> its registered resources
        self._pending: set[str] = set()  # CRDs being emptied, checked again shortly

    @property
    def crd_resource(self) -> Resource:
        res = register.by_plural(CRD_PLURAL, CRD_GROUP)
        assert res is not None
        return res

    def sync(self) -> None:
        """Register the kinds of every stored CRD (at start, before serving)."""
        crds, _, _ = self.registry.list(self.crd_resource, None)
        for crd in crds:
            self.reconcile(crd)

    def reconcile(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        if crd["metadata"].get("deletionTimestamp"):
            self._mark_terminating(name, True)
            self._empty(crd)
            return
        wanted = kinds.kinds_for(crd)
        keep = {(k.resource.group, k.resource.version, k.resource.plural) for k in wanted}
        for res in self._served.get(name, []):
            if (res.group, res.version, res.plural) not in keep:
                register.unregister(res.group, res.version, res.plural)
        for kind in wanted:
            register.register(kind, replace=True)
        self._served[name] = [k.resource for k in wanted]

    def forget(self, name: str) -> None:
        """The CRD is gone: its kinds are no longer served."""
        for res in self._served.pop(name, []):
            register.unregister(res.group, res.version, res.plural)
        self._pending.discard(name)

    def _mark_terminating(self, name: str, terminating: bool) -> None:
        for res in self._served.get(name, []):
            strategy = register.kind_for(res).strategy
            if isinstance(strategy, kinds.CustomResourceStrategy):
                strategy.terminating = terminating

    def _empty(self, crd: Obj) -> None:
        """The finalizer controller: delete every object of the CRD, then release the CRD."""
        name = crd["metadata"]["name"]
        served = self._served.get(name) or []
        left = 0
        if served:
            res = served[0]
            objs, _, _ = self.registry.list(res, None)
            for obj in objs:
                meta = obj["metadata"]
                if meta.get("deletionTimestamp"):
                    left += 1
                    continue
                try:
                    _, finished = self.registry.delete(res, meta.get("namespace"), meta["name"])
                    left += 0 if finished else 1
                except NotFound:
                    pass
                except ApiError as exc:  # keep going; the next check tries again
                    log.warning("deleting %s %s: %s", res.plural, meta["name"], exc.message)
                    left += 1
        if left:
            self._set_terminating_condition(crd, f"CustomResource deletion is in progress ({left} left)")
            self._pending.add(name)
            return
        self._pending.discard(name)
        self.forget(name)
        finalizers = [f for f in crd["metadata"].get("finalizers") or [] if f != FINALIZER]
        if finalizers == (crd["metadata"].get("finalizers") or []):
            return
        try:
            current = self.registry.get(self.crd_resource, None, name)
            current["metadata"]["finalizers"] = [f for f in current["metadata"].get("finalizers") or []
                                                 if f != FINALIZER]
            self.registry.update(self.crd_resource, None, name, current, field_validation="Ignore")
        except NotFound:
            pass
        except ApiError as exc:
            log.warning("releasing CRD %s: %s", name, exc.message)
            self._pending.add(name)

    def _set_terminating_condition(self, crd: Obj, message: str) -> None:
        status = dict(crd.get("status") or {})
        naming.set_condition(status, {"type": "Terminating", "status": "True",
                                      "lastTransitionTime": now_rfc3339(), "reason": "InstanceDeletionInProgress",
                                      "message": message})
        if status == crd.get("status"):
            return
        with contextlib.suppress(ApiError):
            current = self.registry.get(self.crd_resource, None, crd["metadata"]["name"])
            current["status"] = status
            self.registry.update(self.crd_resource, None, crd["metadata"]["name"], current,
                                 subresource="status", field_validation="Ignore")

    async def run(self) -> None:
        """Follow the CRD watch for as long as the API server runs."""
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("CRD handler: watch failed; starting again")
                await asyncio.sleep(0.5)

    async def _follow(self) -> None:
        crds, rv, _ = self.registry.list(self.crd_resource, None)
        names = set()
        for crd in crds:
            names.add(crd["metadata"]["name"])
            self.reconcile(crd)
        for name in set(self._served) - names:
            self.forget(name)
        events = await self.registry.watch(self.crd_resource, None, resource_version=rv)
        retry = asyncio.create_task(self._retry_pending())
        try:
            async for etype, crd in events:
                if etype == "DELETED":
                    self.forget(crd["metadata"]["name"])
                elif etype in ("ADDED", "MODIFIED"):
                    self.reconcile(crd)
        finally:
            retry.cancel()

    async def _retry_pending(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            for name in list(self._pending):
                try:
                    crd = self.registry.get(self.crd_resource, None, name)
                except NotFound:
                    self.forget(name)
                    continue
                self.reconcile(crd)
