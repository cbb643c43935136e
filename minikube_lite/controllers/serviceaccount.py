"""Every namespace gets its ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap.

Two of kube-controller-manager's controllers: the serviceaccount controller (a ``default``
ServiceAccount in each namespace, made again when deleted) and the root-ca-cert-publisher (a
ConfigMap ``kube-root-ca.crt`` holding the cluster CA under ``ca.crt``, which every pod's
``kube-api-access-*`` volume projects as ``/var/run/secrets/kubernetes.io/serviceaccount/ca.crt``).
Level-triggered: a namespace, ServiceAccount or ConfigMap change queues its namespace, and
the namespace is made to match.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..api.errors import AlreadyExists, ApiError, Conflict, NotFound
from ..client.base import Client
from ..client.informer import Informer

log = logging.getLogger(__name__)
ROOT_CA = "kube-root-ca.crt"
ROOT_CA_ANNOTATION = "kubernetes.io/description"
ROOT_CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using "
                       "internal endpoints such as the internal service IP or kubernetes.default.svc. No other "
                       "usage is guaranteed across distributions of Kubernetes clusters.")


class ServiceAccountController:
    def __init__(self, client: Client, *, ca_pem: str, cm_client: Client | None = None) -> None:
        self.client = client
        self.cm_client = cm_client or client
        self.ca_pem = ca_pem
        self.namespaces = Informer(client, "namespaces")
        self.accounts = Informer(client, "serviceaccounts")
        self.configmaps = Informer(self.cm_client, "configmaps", field_selector=f"metadata.name={ROOT_CA}")
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self.namespaces.add_handler(lambda _t, o: self._queue(o["metadata"]["name"]))
        for inf in (self.accounts, self.configmaps):
            inf.add_handler(lambda _t, o: self._queue(o["metadata"].get("namespace", "")))

    def _queue(self, ns: str) -> None:
        if ns:
            self._dirty.add(ns)
            self._wake.set()

    async def run(self) -> None:
        tasks = [asyncio.create_task(i.run()) for i in (self.namespaces, self.accounts, self.configmaps)]
        try:
            for inf in (self.namespaces, self.accounts, self.configmaps):
                await inf.synced.wait()
            for ns in self.namespaces.list():
                self._queue(ns["metadata"]["name"])
            while True:
                await self._wake.wait()
                self._wake.clear()
                dirty, self._dirty = self._dirty, set()
                for ns in sorted(dirty):
                    try:
                        await self.sync(ns)
                    except ApiError as e:
                        log.warning("service accounts of namespace %s: %s; retrying", ns, e)
                        self._dirty.add(ns)
                if self._dirty:
                    await asyncio.sleep(1)
                    self._wake.set()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def sync(self, ns: str) -> None:
        namespace = self.namespaces.get(ns)
        if namespace is None or namespace["metadata"].get("deletionTimestamp"):
            return
        if self.accounts.get(f"{ns}/default") is None:
            with contextlib.suppress(AlreadyExists):
                await self.client.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                             "metadata": {"name": "default", "namespace": ns}},
                                         namespace=ns)
        cm = self.configmaps.get(f"{ns}/{ROOT_CA}")
        if cm is None:
            with contextlib.suppress(AlreadyExists):
                await self.cm_client.create("configmaps", {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": ROOT_CA, "namespace": ns,
                                 "annotations": {ROOT_CA_ANNOTATION: ROOT_CA_DESCRIPTION}},
                    "data": {"ca.crt": self.ca_pem}}, namespace=ns)
        elif (cm.get("data") or {}).get("ca.crt") != self.ca_pem:
            cm = {**cm, "data": {**(cm.get("data") or {}), "ca.crt": self.ca_pem}}
            with contextlib.suppress(Conflict, NotFound):
                await self.cm_client.update("configmaps", cm, namespace=ns)
