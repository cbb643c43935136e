"""Leader election on a coordination.k8s.io Lease (client/leaderelection.py), through the real
registry: one leader at a time, the Lease's fields as client-go writes them, a dead leader's Lease
taken over only after lease_duration as the others observed it, and a leader that cannot renew
stops its work before renew_deadline has passed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from minikube_lite.api.register import by_plural
from minikube_lite.apiserver.registry import Registry
from minikube_lite.client.leaderelection import LeaderElector
from minikube_lite.client.local import LocalClient
from minikube_lite.store.sqlite import SQLiteStore

TIMING = {"lease_duration": 1.5, "renew_deadline": 1.0, "retry_period": 0.2}


def _client(tmp_path: Path) -> LocalClient:
    reg = Registry(SQLiteStore(tmp_path / "db"))
    reg.ensure(by_plural("namespaces"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    return LocalClient(reg)


def test_one_leader_then_failover_after_lease_duration(tmp_path: Path) -> None:
    client = _client(tmp_path)
    leading: list[str] = []

    async def main() -> None:
        a, b = (LeaderElector(client, "kube-controller-manager", identity=n, **TIMING) for n in ("a", "b"))

        def work(name: str) -> Callable[[], Awaitable[None]]:
            async def lead() -> None:
                leading.append(name)
                await asyncio.sleep(3600)
            return lead

        ta = asyncio.create_task(a.run(work("a")))
        await asyncio.sleep(0.05)
        tb = asyncio.create_task(b.run(work("b")))
        await asyncio.sleep(1.0)
        assert leading == ["a"] and a.leading and not b.leading  # one leader, the other waits
        lease = await client.get("leases", "kube-controller-manager", namespace="kube-system")
        spec = lease["spec"]
        assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 1
        assert spec["leaseTransitions"] == 0 and spec["renewTime"] > spec["acquireTime"]
        ta.cancel()  # the leader dies: it renews no more
        died = time.monotonic()
        while not b.leading:
            await asyncio.sleep(0.02)
        took = time.monotonic() - died
        assert TIMING["lease_duration"] - TIMING["retry_period"] * 1.2 <= took <= TIMING["lease_duration"] + 0.6, took
        # the elector starts its work as a task once it leads: give that task its turn
        while leading != ["a", "b"] and time.monotonic() - died < took + 1.0:
            await asyncio.sleep(0.01)
        assert leading == ["a", "b"]
        spec = (await client.get("leases", "kube-controller-manager", namespace="kube-system"))["spec"]
        assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
        tb.cancel()

    asyncio.run(main())


def test_leader_that_cannot_renew_stops_its_work(tmp_path: Path) -> None:
    client = _client(tmp_path)
    stopped: list[float] = []

    async def main() -> None:
        a = LeaderElector(client, "kube-scheduler", identity="a", **TIMING)

        async def lead() -> None:
            try:
                await asyncio.sleep(3600)
            finally:
                stopped.append(time.monotonic())

        task = asyncio.create_task(a.run(lead))
        while not a.leading:
            await asyncio.sleep(0.02)
        # another holder takes the Lease behind a's back (as after a partition): a must stop at once
        lease = await client.get("leases", "kube-scheduler", namespace="kube-system")
        lease["spec"]["holderIdentity"] = "intruder"
        await client.update("leases", lease, namespace="kube-system")
        t0 = time.monotonic()
        while not stopped:
            await asyncio.sleep(0.02)
        assert stopped[0] - t0 < TIMING["retry_period"] * 2 and not a.leading
        task.cancel()

    asyncio.run(main())
