"""Events expire an hour after their last write (kube-apiserver's --event-ttl), through the real
registry and store; only the clock is chosen by the test."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from minikube_lite.apiserver.registry import Registry
from minikube_lite.client.local import LocalClient
from minikube_lite.config import Settings
from minikube_lite.controllers.eventttl import EventTTL, last_written
from minikube_lite.daemon import bootstrap
from minikube_lite.store.sqlite import SQLiteStore


def _event(name: str, **times: str) -> dict:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Started", "message": "m", "type": "Normal", **times}


def test_expired_events_go_recent_ones_stay(tmp_path: Path) -> None:
    registry = Registry(SQLiteStore(tmp_path / "db"))
    bootstrap(registry, Settings(state_dir=tmp_path / "state", port=1))
    client = LocalClient(registry)
    now = datetime.now(UTC) + timedelta(hours=2)  # every event created now is 2 h old to the sweeper
    recent = (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def main() -> None:
        await client.create("events", _event("old"))
        await client.create("events", _event("bumped", lastTimestamp=recent))  # count bumped 10 min ago
        await client.create("events", _event("series", series={"count": 3, "lastObservedTime":
                                                              recent.replace("Z", ".000000Z")}))
        sweeper = EventTTL(client, now=lambda: now)
        assert await sweeper.sweep() == 1
        names = sorted(e["metadata"]["name"] for e in (await client.list("events"))[0])
        assert names == ["bumped", "series"]
        assert await sweeper.sweep() == 0

    asyncio.run(main())


def test_last_written_is_the_newest_time() -> None:
    ev = _event("x", lastTimestamp="2026-01-01T10:00:00Z", eventTime="2026-01-01T09:00:00.000000Z")
    ev["metadata"]["creationTimestamp"] = "2026-01-01T08:00:00Z"
    assert last_written(ev) == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert last_written({"metadata": {}}) is None
