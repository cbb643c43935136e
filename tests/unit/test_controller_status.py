"""client/controller.write_status: the workload controllers' status write and what a failure does."""

from __future__ import annotations

import asyncio
from typing import Any

from minikube_lite.api.errors import Conflict, NotFound
from minikube_lite.client.controller import write_status


class FakeAPI:
    def __init__(self, error: Exception | None = None) -> None:
        self.error, self.writes = error, []

    async def update_status(self, resource: str, obj: dict[str, Any], namespace: str | None = None) -> None:
        self.writes.append((resource, namespace, obj["status"]))
        if self.error is not None:
            raise self.error


class FakeQueue:
    def __init__(self) -> None:
        self.later: list[tuple[str, float]] = []

    def add_after(self, key: str, delay: float) -> None:
        self.later.append((key, delay))


JOB = {"metadata": {"name": "pi", "namespace": "default"}, "status": {"active": 1}}


def _write(api: FakeAPI, status: dict[str, Any]) -> FakeQueue:
    queue = FakeQueue()
    asyncio.run(write_status(api, queue, "jobs", JOB, status))  # type: ignore[arg-type]
    return queue


def test_written_only_when_changed() -> None:
    api = FakeAPI()
    assert not _write(api, {"active": 1}).later and api.writes == []
    _write(api, {"active": 0, "succeeded": 1})
    assert api.writes == [("jobs", "default", {"active": 0, "succeeded": 1})]


def test_a_gone_object_is_left_and_a_conflict_comes_back_shortly() -> None:
    assert not _write(FakeAPI(NotFound("jobs", "pi")), {"active": 0}).later
    assert _write(FakeAPI(Conflict("jobs", "pi", "the object has been modified")), {"active": 0}).later == \
        [("default/pi", 0.1)]
