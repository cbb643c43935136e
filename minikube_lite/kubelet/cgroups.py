"""Container CPU and memory read from the cgroup files, as cAdvisor does inside the kubelet.

In Kubernetes the kubelet's resource metrics come from cAdvisor, which reads each container's
cgroup files directly; it never asks the container runtime for stats on the hot path. The Docker
stats API reads the same files but costs an HTTP round trip and a JSON document per container
(~2 ms of Python per call), which made a short ``--metric-resolution`` too expensive. So the
kubelet reads the files itself when the engine is local, and falls back to ``docker stats``
(kubelet/metrics.py) when they are not there (a remote engine, a kubelet in another cgroup
namespace).

Layouts, tried in order for a container id, first match kept per container:

- cgroup v1 (cgroupfs driver ``docker/<id>``, systemd driver ``system.slice/docker-<id>.scope``):
  ``cpuacct/<path>/cpuacct.usage`` (cumulative ns), ``memory/<path>/memory.usage_in_bytes`` and
  ``memory.stat``'s ``total_inactive_file`` (the hierarchical figure cAdvisor uses).
- cgroup v2 (same two paths under the unified root): ``cpu.stat``'s ``usage_usec`` (µs),
  ``memory.current`` and ``memory.stat``'s ``inactive_file``.

Working set = usage - inactive file, never below 0 (cAdvisor's ``setMemoryStats``); the rate is
computed in metrics.py from two samples, as metrics-server does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class CgroupFiles:
    """Where one container's counters are: the CPU file, the memory usage file, memory.stat."""

    version: int  # 1 or 2
    cpu: str
    memory_usage: str
    memory_stat: str


def parse_flat_keyed(text: str, keys: tuple[str, ...]) -> dict[str, int]:
    """The wanted keys of a ``key value`` per line file (memory.stat, cpu.stat)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key in keys:
            try:
                out[key] = int(value)
            except ValueError:
                continue
    return out


def working_set_bytes(usage: int, inactive_file: int) -> int:
    """cAdvisor's working set: usage minus inactive file pages, 0 when they exceed usage."""
    return max(0, usage - inactive_file)


def v1_reading(cpuacct_usage: str, usage_in_bytes: str, memory_stat: str) -> tuple[int, int]:
    """(cumulative CPU ns, working set bytes) from the three cgroup v1 files' contents."""
    stat = parse_flat_keyed(memory_stat, ("total_inactive_file", "inactive_file"))
    inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
    return int(cpuacct_usage.strip()), working_set_bytes(int(usage_in_bytes.strip()), inactive)


def v2_reading(cpu_stat: str, memory_current: str, memory_stat: str) -> tuple[int, int]:
    """(cumulative CPU ns, working set bytes) from the three cgroup v2 files' contents."""
    cpu = parse_flat_keyed(cpu_stat, ("usage_usec",))
    if "usage_usec" not in cpu:
        raise ValueError("cpu.stat has no usage_usec")
    inactive = parse_flat_keyed(memory_stat, ("inactive_file",)).get("inactive_file", 0)
    return cpu["usage_usec"] * 1000, working_set_bytes(int(memory_current.strip()), inactive)


def candidates(cid: str, root: Path = CGROUP_ROOT) -> list[CgroupFiles]:
    """The places a Docker container's cgroup can be, v1 then v2, cgroupfs then systemd driver."""
    rels = (f"docker/{cid}", f"system.slice/docker-{cid}.scope")
    out: list[CgroupFiles] = []
    for rel in rels:
        for cpu_ctl in ("cpuacct", "cpu,cpuacct"):
            mem = root / "memory" / rel
            out.append(CgroupFiles(1, str(root / cpu_ctl / rel / "cpuacct.usage"),
                                   str(mem / "memory.usage_in_bytes"), str(mem / "memory.stat")))
    for rel in rels:
        d = root / rel
        out.append(CgroupFiles(2, str(d / "cpu.stat"), str(d / "memory.current"), str(d / "memory.stat")))
    return out


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def find(cid: str, root: Path = CGROUP_ROOT) -> CgroupFiles | None:
    """The first layout whose three files exist for this container, or None (not a local cgroup)."""
    for files in candidates(cid, root):
        if os.path.exists(files.cpu) and os.path.exists(files.memory_usage) and os.path.exists(files.memory_stat):
            return files
    return None


def read(files: CgroupFiles) -> tuple[int, int]:
    """(cumulative CPU ns, working set bytes) now; OSError/ValueError when the cgroup is gone."""
    cpu, usage, stat = _read(files.cpu), _read(files.memory_usage), _read(files.memory_stat)
    return v1_reading(cpu, usage, stat) if files.version == 1 else v2_reading(cpu, usage, stat)
