"""The namespace controller: empties a Terminating namespace, then lets it go.

``kubectl delete namespace x`` only marks the namespace (deletionTimestamp, phase
Terminating, the ``kubernetes`` entry in ``spec.finalizers``). This controller, like
kube-controller-manager's, then deletes every namespaced object in it through the API
(pods get their graceful stop from the kubelet), and once nothing is left removes the
``kubernetes`` finalizer through the ``/finalize`` subresource, after which the API server
deletes the namespace. A namespace with content still going away is looked at again shortly.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..api.errors import NotFound
from ..api.register import resources
from ..client.base import Client
from ..client.informer import Informer
from ..client.workqueue import WorkQueue

log = logging.getLogger(__name__)

FINALIZER = "kubernetes"
RECHECK_SECONDS = 0.25


class NamespaceController:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.namespaces = Informer(client, "namespaces")
        self.queue = WorkQueue("namespace")
        self.namespaces.add_handler(self._on_event)

    def _on_event(self, etype: str, ns: dict[str, Any]) -> None:
        if etype != "DELETED" and ns["metadata"].get("deletionTimestamp"):
            self.queue.add(ns["metadata"]["name"])

    async def run(self) -> None:
        await asyncio.gather(self.namespaces.run(), self._work())

    async def _work(self) -> None:
        await self.namespaces.synced.wait()
        await self.queue.run(self.reconcile, workers=2)

    async def reconcile(self, name: str) -> None:
        ns = self.namespaces.get(name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        if await self._delete_content(name):
            self.queue.add_after(name, RECHECK_SECONDS)
            return
        rest = [f for f in ns["spec"]["finalizers"] if f != FINALIZER]
        try:
            await self.client.patch("namespaces", name, {"spec": {"finalizers": rest}}, subresource="finalize")
        except NotFound:
            return
        log.info("namespace %s is empty and deleted", name)

    async def _delete_content(self, namespace: str) -> int:
        """Delete what is left in the namespace; returns how many objects remain."""
        remaining = 0
        for res in resources():
            if not res.namespaced or "list" not in res.verbs or "delete" not in res.verbs:
                continue
            items, _ = await self.client.list(res.plural, namespace=namespace)
            remaining += len(items)
            for obj in items:
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    await self.client.delete(res.plural, obj["metadata"]["name"], namespace=namespace,
                                             propagation_policy="Background")
                except NotFound:
                    pass
        return remaining
