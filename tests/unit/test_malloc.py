"""When the daemon gives freed heap back to the OS (malloc.py): after a burst of CPU, and after
much memory was freed without one (the watch history expiring a storm's events)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from minikube_lite.malloc import trim_after_bursts


def _run(cpu: list[float], blocks: list[int]) -> int:
    """Trims done while the fake clocks ``cpu`` / ``blocks`` (one value a period) run out."""
    trims: list[int] = []
    cpu_it: Iterator[float] = iter(cpu)
    blocks_it: Iterator[int] = iter(blocks)

    async def main() -> None:
        task = asyncio.create_task(trim_after_bursts(
            period=0.001, cpu=lambda: next(cpu_it), blocks=lambda: next(blocks_it),
            trim=lambda: trims.append(1) or True))
        with contextlib.suppress(StopIteration, RuntimeError):
            await task

    asyncio.run(main())
    return len(trims)


def test_trims_once_a_cpu_burst_is_over() -> None:
    # busy periods (0 -> 2 s of CPU), then a quiet one: one trim; quiet afterwards: no more
    assert _run([0, 1, 2, 2.01, 2.01, 2.02, 2.02, 2.03], [100] * 8) == 1


def test_no_trim_while_busy_or_for_a_small_burst() -> None:
    assert _run([0, 0.5, 1.0, 1.5, 2.0, 2.5], [100] * 6) == 0  # never quiet
    assert _run([0, 0.3, 0.31, 0.32, 0.33], [100] * 5) == 0  # quiet, but the burst was small


def test_trims_when_much_memory_was_freed_without_a_burst() -> None:
    quiet = [0.0] * 8
    assert _run(quiet, [100_000, 100_000, 80_000, 80_000, 80_000, 80_000, 80_000, 80_000]) == 1
    assert _run(quiet, [100_000, 99_000, 98_000, 97_000, 96_000, 96_000, 96_000, 96_000]) == 0


def _run_after_start(cpu: list[float], blocks: list[int]) -> int:
    trims: list[int] = []
    cpu_it, blocks_it = iter(cpu), iter(blocks)

    async def main() -> None:
        with contextlib.suppress(StopIteration, RuntimeError):
            await trim_after_bursts(period=0.001, after_start=True, cpu=lambda: next(cpu_it),
                                    blocks=lambda: next(blocks_it), trim=lambda: trims.append(1) or True)

    asyncio.run(main())
    return len(trims)


def test_after_start_the_first_quiet_period_trims_once() -> None:
    """A node agent's start (node/agent.py): its memory is given back once the start has quieted,
    however little CPU it took; then only bursts trim."""
    assert _run_after_start([0, 0.5, 1.0, 1.01, 1.01, 1.02], [100] * 6) == 1  # busy, busy, then quiet
    assert _run_after_start([0, 0, 0.01, 0.01, 0.02], [100] * 5) == 1  # quiet from the first period
    assert _run_after_start([0, 0.5, 1.0, 1.5, 2.0], [100] * 5) == 0  # never quiet
    assert _run_after_start([0, 0, 0, 1.5, 1.5, 1.5], [100] * 6) == 2  # and a later burst once more
