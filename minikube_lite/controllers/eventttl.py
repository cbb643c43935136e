"""Events expire, as kube-apiserver's ``--event-ttl`` (default 1 h) makes them.

Kubernetes attaches an etcd lease to every Event write, so an Event disappears an hour after
it was last written (created or its ``count`` bumped). SQLite has no leases: this loop looks
every minute for Events whose last write is older than the TTL and deletes them, so
``kubectl get events`` shows the last hour as on a real cluster and a long-running cluster
with churning pods does not keep every Event it ever recorded.

The last write is the newest of ``lastTimestamp``, ``series.lastObservedTime``, ``eventTime``
and ``metadata.creationTimestamp``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..api.errors import ApiError, NotFound
from ..api.times import parse_time
from ..client.base import Client

log = logging.getLogger(__name__)

EVENT_TTL = timedelta(hours=1)
SWEEP_SECONDS = 60.0


def last_written(event: dict[str, Any]) -> datetime | None:
    times = [parse_time(event.get("lastTimestamp")), parse_time((event.get("series") or {}).get("lastObservedTime")),
             parse_time(event.get("eventTime")), parse_time((event.get("metadata") or {}).get("creationTimestamp"))]
    known = [t for t in times if t is not None]
    return max(known) if known else None


class EventTTL:
    def __init__(self, client: Client, *, ttl: timedelta = EVENT_TTL, period: float = SWEEP_SECONDS,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client, self.ttl, self.period, self.now = client, ttl, period, now

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except ApiError as e:
                log.warning("event TTL sweep failed: %s", e)
            await asyncio.sleep(self.period)

    async def sweep(self) -> int:
        """Delete the expired Events; returns how many went."""
        horizon = self.now() - self.ttl
        events, _ = await self.client.list("events")
        gone = 0
        for ev in events:
            written = last_written(ev)
            if written is None or written >= horizon:
                continue
            meta = ev["metadata"]
            try:
                await self.client.delete("events", meta["name"], namespace=meta.get("namespace"))
                gone += 1
            except NotFound:
                pass
        return gone
