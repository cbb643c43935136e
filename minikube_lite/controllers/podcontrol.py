"""Creating and deleting a controller's pods, as Kubernetes' ``PodControl`` and ``slowStartBatch``
(pkg/controller/controller_utils.go, replica_set.go), for the ReplicaSet and Job controllers.

- Pods are created in doubling batches (1, 2, 4 ...): a template the API refuses fails after one
  try, not after hundreds. The creations are announced to the expectations first; those that
  failed and those never tried are taken back, and the first failure is a ``FailedCreate``
  Warning event on the owner and raised (an ``ApiError`` as it is, anything else a RuntimeError).
- A pod's generated name may collide with one that exists: the create is tried again (3 times).
- Deletions are announced to the expectations by pod key; a pod already gone counts as observed.
  Each pod created or deleted is a ``SuccessfulCreate`` / ``SuccessfulDelete`` event on its owner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from ..api.errors import AlreadyExists, ApiError, NotFound
from ..client.base import Client
from ..client.events import record_event
from ..client.informer import object_key
from .expectations import Expectations

Obj = dict[str, Any]


class PodControl:
    def __init__(self, client: Client, expectations: Expectations, component: str) -> None:
        self.client, self.expectations, self.component = client, expectations, component

    async def create_pods(self, key: str, owner: Obj, pods: Sequence[Callable[[], Obj]]) -> None:
        """Create one pod per maker in ``pods`` (each makes a fresh pod object), in doubling batches."""
        self.expectations.expect_creations(key, len(pods))
        pos, batch = 0, 1
        while pos < len(pods):
            chunk = pods[pos:pos + batch]
            results = await asyncio.gather(*(self.create_one(owner, make) for make in chunk), return_exceptions=True)
            pos += len(chunk)
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                self.expectations.lower_creations(key, len(failures) + len(pods) - pos)
                exc = failures[0]
                await record_event(self.client, owner, "FailedCreate", f"Error creating: {exc}", type_="Warning",
                                   component=self.component)
                raise exc if isinstance(exc, ApiError) else RuntimeError(str(exc))
            batch *= 2

    async def create_one(self, owner: Obj, make: Callable[[], Obj]) -> Obj:
        namespace = owner["metadata"]["namespace"]
        for _ in range(3):  # a generated name may collide; Kubernetes' clients retry the same way
            try:
                pod = await self.client.create("pods", make(), namespace=namespace)
                break
            except AlreadyExists:
                continue
        else:
            raise AlreadyExists("pods", owner["metadata"]["name"])
        await record_event(self.client, owner, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                           component=self.component)
        return pod

    async def delete_pods(self, key: str, owner: Obj, pods: list[Obj]) -> None:
        """Delete ``pods`` (those not being deleted already)."""
        pods = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        if not pods:
            return
        self.expectations.expect_deletions(key, [object_key(p) for p in pods])
        for pod in pods:
            name = pod["metadata"]["name"]
            try:
                await self.client.delete("pods", name, namespace=pod["metadata"]["namespace"])
            except NotFound:
                self.expectations.deletion_observed(key, object_key(pod))
                continue
            await record_event(self.client, owner, "SuccessfulDelete", f"Deleted pod: {name}",
                               component=self.component)
