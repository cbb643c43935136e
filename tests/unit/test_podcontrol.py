"""controllers/podcontrol.py: how the ReplicaSet and Job controllers create and delete their pods
(Kubernetes' slowStartBatch and PodControl), against a fake API that records what it was asked."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from minikube_lite.api.errors import AlreadyExists, Invalid, NotFound
from minikube_lite.controllers.expectations import Expectations
from minikube_lite.controllers.podcontrol import PodControl

_uids = itertools.count()


class FakeAPI:
    def __init__(self, refuse_from: int = 10**9, collide: int = 0, gone: tuple[str, ...] = ()) -> None:
        self.refuse_from, self.collide, self.gone = refuse_from, collide, gone
        self.creates = 0
        self.deleted: list[str] = []
        self.events: list[str] = []

    async def create(self, resource: str, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        if resource == "events":
            self.events.append(obj["reason"])
            return obj
        self.creates += 1
        if self.collide:
            self.collide -= 1
            raise AlreadyExists("pods", "web-abcde")
        if self.creates >= self.refuse_from:
            raise Invalid("Pod", "", [{"field": "spec.containers", "message": "Required value"}])
        return {**obj, "metadata": {**obj["metadata"], "name": f"web-{self.creates}"}}

    async def delete(self, resource: str, name: str, namespace: str | None = None) -> None:
        if name in self.gone:
            raise NotFound("pods", name)
        self.deleted.append(name)


def _owner() -> dict[str, Any]:
    return {"kind": "ReplicaSet", "apiVersion": "apps/v1",
            "metadata": {"name": "web", "namespace": "default", "uid": f"uid-{next(_uids)}"}}


def _pod() -> dict[str, Any]:
    return {"metadata": {"generateName": "web-", "namespace": "default"}}


def test_creates_in_doubling_batches_and_stops_at_a_refusal() -> None:
    api, exp = FakeAPI(refuse_from=2), Expectations()
    control = PodControl(api, exp, "test")  # type: ignore[arg-type]
    with pytest.raises(Invalid):
        asyncio.run(control.create_pods("default/web", _owner(), [_pod] * 7))
    assert api.creates == 3  # a batch of 1 (made), then of 2 (refused): the other 4 never tried
    assert api.events == ["SuccessfulCreate", "FailedCreate"]
    assert not exp.satisfied("default/web")  # the one made is still to be seen
    exp.creation_observed("default/web")
    assert exp.satisfied("default/web")  # the 6 refused or never tried are not waited for


def test_a_generated_name_that_collides_is_tried_again() -> None:
    api, exp = FakeAPI(collide=2), Expectations()
    control = PodControl(api, exp, "test")  # type: ignore[arg-type]
    asyncio.run(control.create_pods("default/web", _owner(), [_pod]))
    assert api.creates == 3 and api.events == ["SuccessfulCreate"]
    api = FakeAPI(collide=3)
    with pytest.raises(AlreadyExists):
        asyncio.run(PodControl(api, exp, "test").create_one(_owner(), _pod))  # type: ignore[arg-type]


def test_deletes_skip_pods_being_deleted_and_count_gone_ones_as_seen() -> None:
    api, exp = FakeAPI(gone=("b",)), Expectations()
    control = PodControl(api, exp, "test")  # type: ignore[arg-type]
    pods = [{"metadata": {"name": n, "namespace": "default", **extra}}
            for n, extra in (("a", {}), ("b", {}), ("c", {"deletionTimestamp": "2024-01-01T00:00:00Z"}))]
    asyncio.run(control.delete_pods("default/web", _owner(), pods))
    assert api.deleted == ["a"] and api.events == ["SuccessfulDelete"]
    assert not exp.satisfied("default/web")  # a's deletion is still to be seen; b's is
    exp.deletion_observed("default/web", "default/a")
    assert exp.satisfied("default/web")
    asyncio.run(control.delete_pods("default/other", _owner(), pods[2:]))  # nothing left to delete
    assert exp.satisfied("default/other") and api.deleted == ["a"]
