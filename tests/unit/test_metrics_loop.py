"""The kubelet's sampling loop (kubelet/metrics.py): full rounds one resolution apart, by deadline.

The HPA's worst case (load -> first scale-out <= 20 s, issue 18) counts on a sample at most one
resolution after the last; the loop used to count its 1 s ticks, so a resolution that is not a whole
number of ticks (or a tick that fired a hair early) made a round a whole tick late.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any

from minikube_lite.kubelet.metrics import Metrics


def _loop_rounds(resolution: float, seconds: float) -> list[float]:
    m: Any = object.__new__(Metrics)
    m._last_records, m._samples, m._cgroup_files = {}, {}, {}
    m._node_samples = (None, None)
    m.metrics_resolution = resolution
    full: list[float] = []

    def sample_node() -> None:
        full.append(time.monotonic())
        m._node_samples = ("before", "now")  # a first window: the ticks in between do nothing

    async def sample(ids: dict[str, Any]) -> None:
        return None

    m._sample_node, m._sample = sample_node, sample

    async def run() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(m._metrics_loop(), seconds)

    asyncio.run(run())
    return full


def test_full_rounds_are_one_resolution_apart_not_a_whole_tick() -> None:
    rounds = _loop_rounds(0.25, 1.4)
    gaps = [b - a for a, b in itertools.pairwise(rounds)]
    assert len(rounds) >= 3, rounds  # counting 1 s ticks it was 2 in 1.4 s, 1 s apart
    assert all(0.24 <= g < 0.9 for g in gaps), gaps


def test_a_resolution_of_one_and_a_half_ticks_is_kept() -> None:
    rounds = _loop_rounds(1.5, 3.3)
    gaps = [b - a for a, b in itertools.pairwise(rounds)]
    assert len(rounds) >= 2 and all(1.49 <= g < 1.95 for g in gaps), gaps  # counting ticks: 2 s apart
