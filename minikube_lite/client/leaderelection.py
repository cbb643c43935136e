"""Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go's ``leaderelection`` does it
for kube-controller-manager and kube-scheduler (``--leader-elect``).

Every candidate tries to take or renew the Lease every ``retry_period`` (2 s). A Lease held by
another is taken only once it has not changed for ``lease_duration`` (15 s) as this candidate
observed it -- the local clock of the observer, never the holder's ``renewTime``, so clocks need
not agree. Taking it sets ``holderIdentity``, ``acquireTime`` and counts ``leaseTransitions``; every
write is an update on the Lease's resourceVersion, so two candidates cannot both win. The leader
runs its work while it holds the Lease and stops it when it could not renew for
``renew_deadline`` (10 s), before any other candidate may take over (kube-controller-manager then
exits; here the candidate simply starts over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from ..api.errors import AlreadyExists, ApiError, Conflict, NotFound
from .base import Client

log = logging.getLogger(__name__)

_JITTER = 1.2  # client-go's JitterFactor for the retry period


def micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_identity() -> str:
    """``<hostname>_<uuid>``, as kube-controller-manager names itself in its Lease."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


class LeaderElector:
    def __init__(self, client: Client, name: str, *, namespace: str = "kube-system", identity: str | None = None,
                 lease_duration: float = 15.0, renew_deadline: float = 10.0, retry_period: float = 2.0) -> None:
        if not lease_duration > renew_deadline > retry_period * _JITTER:
            raise ValueError("lease_duration > renew_deadline > retry_period * 1.2 is required")
        self.client, self.name, self.namespace = client, name, namespace
        self.identity = identity or new_identity()
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self._observed: dict[str, Any] | None = None
        self._observed_at = 0.0
        self.leading = False

    def _lease(self, spec: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": meta or {"name": self.name, "namespace": self.namespace}, "spec": spec}

    async def try_acquire_or_renew(self) -> bool:
        now = micro_time()
        mine = {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": now, "renewTime": now, "leaseTransitions": 0}
        try:
            lease = await self.client.get("leases", self.name, namespace=self.namespace)
        except NotFound:
            try:
                await self.client.create("leases", self._lease(mine), namespace=self.namespace)
            except (AlreadyExists, Conflict):
                return False
            self._observe(mine)
            return True
        spec = dict(lease.get("spec") or {})
        if spec != self._observed:
            self._observe(spec)
        holder = spec.get("holderIdentity")
        expired = self._observed_at + self.lease_duration <= time.monotonic()
        if holder and holder != self.identity and not expired:
            return False
        if holder == self.identity:
            mine["acquireTime"] = spec.get("acquireTime") or now
            mine["leaseTransitions"] = spec.get("leaseTransitions") or 0
        else:
            mine["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1
        meta = {k: lease["metadata"][k] for k in ("name", "namespace", "resourceVersion")}
        try:
            await self.client.update("leases", self._lease(mine, meta), namespace=self.namespace)
        except Conflict:  # another candidate wrote first
            return False
        self._observe(mine)
        return True

    def _observe(self, spec: dict[str, Any]) -> None:
        self._observed, self._observed_at = spec, time.monotonic()

    async def _attempt(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except ApiError as exc:  # the API (or its store) is away: not renewed this time
            log.warning("leader election %s/%s: %s", self.namespace, self.name, exc)
            return False

    async def _wait_to_retry(self) -> None:
        """Until the next attempt: the retry period, or less when the observed Lease expires
        sooner (so a dead leader's Lease is taken when it expires, not up to a period later)."""
        delay = self.retry_period * random.uniform(1.0, _JITTER)
        if self._observed is not None:
            delay = max(0.05, min(delay, self._observed_at + self.lease_duration - time.monotonic() + 0.05))
        await asyncio.sleep(delay)

    async def _follow(self) -> None:
        """While not leading: watch the Lease, so each renewal is observed when it happens (the
        observed time is this candidate's clock at the change, as with polling, only without a
        poll's lag)."""
        while True:
            try:
                async for ev in self.client.watch("leases", namespace=self.namespace,
                                                  field_selector=f"metadata.name={self.name}"):
                    spec = dict((ev.object or {}).get("spec") or {})
                    if ev.type in ("ADDED", "MODIFIED") and spec != self._observed:
                        self._observe(spec)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the API away or 410: polling still runs
                log.debug("watching lease %s/%s: %s", self.namespace, self.name, exc)
            await asyncio.sleep(self.retry_period)

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Forever: become leader, run ``lead()`` while leading, stop it when leadership is lost."""
        while True:
            follower = asyncio.create_task(self._follow())
            try:
                while not await self._attempt():
                    await self._wait_to_retry()
            finally:
                follower.cancel()
                with contextlib.suppress(BaseException):
                    await follower
            self.leading = True
            log.info("%s became leader of %s/%s", self.identity, self.namespace, self.name)
            work = asyncio.create_task(lead(), name=f"leader:{self.name}")
            try:
                await self._renew_until_lost(work)
            finally:
                self.leading = False
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
            log.warning("%s lost the lease %s/%s", self.identity, self.namespace, self.name)

    async def _renew_until_lost(self, work: asyncio.Task[None]) -> None:
        last_renew = time.monotonic()
        while not work.done():
            await asyncio.sleep(self.retry_period)
            if await self._attempt():
                last_renew = time.monotonic()
            elif time.monotonic() - last_renew >= self.renew_deadline or self._held_by_another():
                return

    def _held_by_another(self) -> bool:
        holder = (self._observed or {}).get("holderIdentity")
        return bool(holder) and holder != self.identity
