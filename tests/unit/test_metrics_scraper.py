"""The metrics store's decisions (apiserver/metrics_scraper.py): when a request waits for a scrape,
and what a round keeps. The kubelets are replaced by a function; the e2e side is test_metrics.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from minikube_lite.api.register import by_plural
from minikube_lite.apiserver import metrics
from minikube_lite.apiserver.metrics_scraper import ALIGN, MetricsScraper
from minikube_lite.apiserver.registry import Registry
from minikube_lite.store.sqlite import SQLiteStore


class _App:
    def __init__(self) -> None:
        self.state = SimpleNamespace()  # the shape of Starlette's app.state


def _node(name: str, ready: bool) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


class Counting(MetricsScraper):
    def __init__(self, registry: Registry, answers: dict[str, Any]) -> None:
        super().__init__(_App(), registry, resolution=5.0)
        self.answers, self.calls = answers, []

    async def _scrape(self, node_obj: dict[str, Any]) -> dict[str, Any] | None:
        node = node_obj["metadata"]["name"]  # the Node object of the round's one list
        self.calls.append(node)
        await asyncio.sleep(0.01)
        return self.answers.get(node)


def _registry(tmp_path: Path) -> Registry:
    reg = Registry(SQLiteStore(tmp_path / "s.db"))
    res = by_plural("nodes", "")
    for name, ready in (("a", True), ("b", True), ("c", False)):
        reg.create(res, None, _node(name, ready))
    return reg


def test_first_request_waits_for_one_round_then_serves_the_store(tmp_path: Path) -> None:
    pods = {"pods": [{"metadata": {"name": "p", "namespace": "default"}}]}
    s = Counting(_registry(tmp_path), {"a": pods, "b": None})

    async def go() -> None:
        first = await asyncio.gather(*(s.latest() for _ in range(5)))  # five requests share one round
        assert s.calls == ["a", "b"]  # Ready nodes only
        assert all(f == {"a": pods} for f in first)  # b's failed scrape is left out
        assert await s.latest() == {"a": pods}
        assert s.calls == ["a", "b"]  # fresh: no kubelet asked
        s.scraped_at = (s.scraped_at or 0) - 11  # two resolutions old: the loop fell behind
        await s.latest()
        assert s.calls == ["a", "b", "a", "b"]

    asyncio.run(go())


def test_a_round_replaces_the_store(tmp_path: Path) -> None:
    s = Counting(_registry(tmp_path), {"a": {"pods": []}, "b": {"pods": []}})

    async def go() -> None:
        await s.scrape_round()
        assert set(s.scraped) == {"a", "b"}
        s.answers["b"] = None  # b stops answering: gone at the next round, as in metrics-server
        await s.scrape_round()
        assert set(s.scraped) == {"a"}

    asyncio.run(go())


def test_collect_does_not_change_the_stored_scrape(tmp_path: Path) -> None:
    reg = _registry(tmp_path)
    node_metrics = {"metadata": {"name": "a"}, "usage": {"cpu": "1m"}}
    s = Counting(reg, {"a": {"node": node_metrics, "pods": []}})
    app = _App()
    app.state.metrics_scraper = s

    async def go() -> None:
        items = await metrics.collect(app, reg, by_plural("nodes", "metrics.k8s.io"), None)
        assert [i["metadata"]["name"] for i in items] == ["a"] and "labels" in items[0]["metadata"]
        assert "labels" not in s.scraped["a"]["node"]["metadata"]

    asyncio.run(go())


def test_rounds_come_just_after_the_kubelets_own(tmp_path: Path) -> None:
    s = Counting(_registry(tmp_path), {})
    now = 1000.0
    assert s.next_delay(now) == 5.0  # nothing scraped yet: one resolution
    s.scraped = {"a": {"sampledAt": now - 1.0, "resolution": 5.0}, "b": {"sampledAt": now - 3.0, "resolution": 5.0}}
    assert abs(s.next_delay(now) - (2.0 + ALIGN)) < 1e-9  # b samples again in 2 s: just after it
    s.scraped = {"a": {"sampledAt": now - 5.1, "resolution": 5.0}}
    assert s.next_delay(now) == ALIGN  # a is a little late: asked again shortly
    s.scraped = {"a": {"sampledAt": now - 60, "resolution": 5.0}}
    assert s.next_delay(now) == 5.0  # a stopped sampling: plain rounds
