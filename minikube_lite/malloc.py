"""The daemon's memory after connection storms: freed connection buffers go back to the OS.

Not a part of Kubernetes (kube-apiserver is Go, with its own allocator); this is about the Python
process under glibc. asyncio's TLS transport gives each connection a 256 KiB read buffer
(``asyncio.sslproto.SSLProtocol.max_size``). glibc serves blocks that large with ``mmap`` and
returns them on ``free`` -- until the first such free, after which its *dynamic* mmap threshold
rises past 256 KiB and later buffers come from the heap, whose freed space is kept: 200 clients
connecting once left the daemon ~80 MB larger for good (bench/bench_hostile.py, storm). Fixing the
threshold at glibc's default (128 KiB) turns the dynamic adjustment off, so a closed connection's
buffer is unmapped with it. Elsewhere than glibc this does nothing.

What stays after a storm is smaller blocks (request and response bodies, parsed objects) freed
all over glibc's heaps, whose pages glibc keeps until ``malloc_trim`` gives them back (it
``madvise``s every free page, not only the top of the heap). :func:`trim_after_bursts` calls it
once a burst of work is over: when the process has used a second of CPU since the last trim
and then stays quiet for a period. It runs in a thread (ctypes drops the GIL), so the event
loop goes on serving meanwhile. Memory freed without a burst -- the watch history
(store/window.py) expiring a storm's events a little over a minute later -- counts too: many
allocated blocks gone since the last trim (``sys.getallocatedblocks``) is also a reason to trim.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import sys
import time
from typing import Any

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
MMAP_THRESHOLD = 128 * 1024


def _libc() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold (no dynamic adjustment); ``False`` when not on glibc."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(_M_MMAP_THRESHOLD, threshold))
    if not ok:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused")
    return ok


def trimmer() -> Any:
    """glibc's ``malloc_trim`` as a callable (returns whether memory was released), or None."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: bool(trim(0))


async def trim_after_bursts(period: float = 1.0, burst_cpu: float = 1.0, quiet_share: float = 0.1,
                            freed_blocks: int = 10_000, *, after_start: bool = False, cpu: Any = time.process_time,
                            blocks: Any = sys.getallocatedblocks, trim: Any = None) -> None:
    """Give freed heap pages back to the OS once each burst of work is over (runs until cancelled).

    A burst is ``burst_cpu`` seconds of the process's CPU since the last trim, or ``freed_blocks``
    fewer allocated blocks than the most seen since it; it is over when a whole ``period`` used
    less than ``quiet_share`` of a core. With ``after_start``, the work before this was called
    (a process's start) counts as a burst however small: the first quiet period trims. Nothing
    happens off glibc.
    """
    trim = trim or trimmer()
    if trim is None:
        return
    mark = last = cpu()
    high = blocks()
    while True:
        await asyncio.sleep(period)
        now, held = cpu(), blocks()
        quiet = now - last < quiet_share * period
        last, high = now, max(high, held)
        if quiet and (after_start or now - mark >= burst_cpu or high - held >= freed_blocks):
            after_start = False
            await asyncio.to_thread(trim)
            mark = last = cpu()
            high = blocks()
