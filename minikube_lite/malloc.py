"""The daemon's memory after connection storms: freed connection buffers go back to the OS.

Not a part of Kubernetes (kube-apiserver is Go, with its own allocator); this is about the Python
process under glibc. asyncio's TLS transport gives each connection a 256 KiB read buffer
(``asyncio.sslproto.SSLProtocol.max_size``). glibc serves blocks that large with ``mmap`` and
returns them on ``free`` -- until the first such free, after which its *dynamic* mmap threshold
rises past 256 KiB and later buffers come from the heap, whose freed space is kept: 200 clients
connecting once left the daemon ~80 MB larger for good (bench/bench_hostile.py, storm). Fixing the
threshold at glibc's default (128 KiB) turns the dynamic adjustment off, so a closed connection's
buffer is unmapped with it. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
MMAP_THRESHOLD = 128 * 1024


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold (no dynamic adjustment); ``False`` when not on glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(_M_MMAP_THRESHOLD, threshold))
    if not ok:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused")
    return ok
