"""The kubelet's cgroup sampler (kubelet/cgroups.py): parsing, working set, layouts, the stats fallback."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from minikube_lite.kubelet import cgroups, metrics
from minikube_lite.kubelet.metrics import Metrics, Sample, rate

V1_STAT = """cache 8388608
rss 2097152
inactive_file 1048576
active_file 0
total_cache 8388608
total_rss 2097152
total_inactive_file 6291456
total_active_file 2097152
"""
V2_STAT = """anon 2097152
file 8388608
active_file 1048576
inactive_file 4194304
"""
V2_CPU = """usage_usec 1500000
user_usec 1000000
system_usec 500000
nr_periods 0
"""


def test_v1_reading_uses_the_hierarchical_inactive_file() -> None:
    assert cgroups.v1_reading("123456789\n", "10485760\n", V1_STAT) == (123456789, 10485760 - 6291456)
    # no total_ line (a leaf-only memory.stat): the container's own figure
    assert cgroups.v1_reading("1", "4096", "inactive_file 1024\n") == (1, 3072)


def test_v2_reading_converts_usec_and_subtracts_inactive_file() -> None:
    assert cgroups.v2_reading(V2_CPU, "10485760\n", V2_STAT) == (1_500_000_000, 10485760 - 4194304)
    with pytest.raises(ValueError):
        cgroups.v2_reading("user_usec 1\n", "1", "")


def test_working_set_never_below_zero() -> None:
    assert cgroups.working_set_bytes(4096, 8192) == 0
    assert cgroups.v1_reading("0", "4096", "total_inactive_file 8192\n")[1] == 0


def test_parse_flat_keyed_ignores_other_and_bad_lines() -> None:
    assert cgroups.parse_flat_keyed("a 1\nb x\nc 3\n\n", ("a", "b")) == {"a": 1}


def _v1(root: Path, rel: str, cpu: int, usage: int, inactive: int) -> None:
    (root / "cpuacct" / rel).mkdir(parents=True)
    (root / "cpuacct" / rel / "cpuacct.usage").write_text(f"{cpu}\n")
    (root / "memory" / rel).mkdir(parents=True)
    (root / "memory" / rel / "memory.usage_in_bytes").write_text(f"{usage}\n")
    (root / "memory" / rel / "memory.stat").write_text(f"total_inactive_file {inactive}\n")


def _v2(root: Path, rel: str, usec: int, current: int, inactive: int) -> None:
    d = root / rel
    d.mkdir(parents=True)
    (d / "cpu.stat").write_text(f"usage_usec {usec}\nuser_usec {usec}\n")
    (d / "memory.current").write_text(f"{current}\n")
    (d / "memory.stat").write_text(f"inactive_file {inactive}\n")


def test_find_each_layout(tmp_path: Path) -> None:
    _v1(tmp_path, "docker/aaa", 5, 100, 40)
    _v1(tmp_path, "system.slice/docker-bbb.scope", 6, 100, 0)
    _v2(tmp_path, "docker/ccc", 7, 100, 10)
    _v2(tmp_path, "system.slice/docker-ddd.scope", 8, 100, 20)
    got = {cid: cgroups.find(cid, tmp_path) for cid in ("aaa", "bbb", "ccc", "ddd", "eee")}
    assert got["eee"] is None  # not a local cgroup: the caller asks the stats API
    assert [f.version for f in (got["aaa"], got["bbb"], got["ccc"], got["ddd"])] == [1, 1, 2, 2]  # type: ignore[union-attr]
    assert cgroups.read(got["aaa"]) == (5, 60)  # type: ignore[arg-type]
    assert cgroups.read(got["bbb"]) == (6, 100)  # type: ignore[arg-type]
    assert cgroups.read(got["ccc"]) == (7000, 90)  # type: ignore[arg-type]
    assert cgroups.read(got["ddd"]) == (8000, 80)  # type: ignore[arg-type]


class _Sampler(Metrics):
    """The kubelet's sampling code with a fake stats API (the decision under test: which source)."""

    def __init__(self, root: Path, stats: dict[str, dict[str, Any]]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._samples, self._node_samples, self._last_records = {}, (None, None), {}
        self._cgroup_files, self.cgroup_root = {}, root
        self.asked: list[str] = []
        self.stats = stats

    def _stats(self, cid: str) -> Sample | None:
        self.asked.append(cid)
        s = self.stats.get(cid)
        return Sample(s["cpu"], s["mem"], 0.0) if s else None


def test_sample_reads_files_and_falls_back_to_the_stats_api(tmp_path: Path) -> None:
    _v1(tmp_path, "docker/local", 1_000_000_000, 8192, 4096)
    sampler = _Sampler(tmp_path, {"remote": {"cpu": 7, "mem": 3}})
    ids = {"local": ("ns", "p", "a"), "remote": ("ns", "p", "b"), "gone": ("ns", "q", "c")}
    asyncio.run(sampler._sample(ids))
    assert sorted(sampler.asked) == ["gone", "remote"]  # the local container never went to Docker
    assert sampler._samples["local"][4].cpu_ns == 1_000_000_000 and sampler._samples["local"][4].memory == 4096
    assert sampler._samples["remote"][4] == Sample(7, 3, 0.0)
    assert "gone" not in sampler._samples
    # the next round: the files moved on; the previous sample is kept as the window's start
    (tmp_path / "cpuacct/docker/local/cpuacct.usage").write_text("1500000000\n")
    sampler.asked.clear()
    asyncio.run(sampler._sample({"local": ("ns", "p", "a")}))
    assert sampler.asked == []
    _, _, _, before, now = sampler._samples["local"]
    assert before is not None and now.cpu_ns - before.cpu_ns == 500_000_000
    assert rate(before, now) is not None


def test_a_cgroup_removed_between_scan_and_read_is_skipped(tmp_path: Path) -> None:
    _v1(tmp_path, "docker/x", 1, 1, 0)
    sampler = _Sampler(tmp_path, {})
    asyncio.run(sampler._sample({"x": ("ns", "p", "a")}))
    (tmp_path / "cpuacct/docker/x/cpuacct.usage").unlink()
    asyncio.run(sampler._sample({"x": ("ns", "p", "a")}))
    assert sampler.asked == []  # known to be local: a read error is a stopped container, not a reason to ask Docker
    assert sampler._samples["x"][3] is None  # the failed read did not replace the sample


def test_node_figures_from_proc() -> None:
    stat = "cpu  100 20 30 1000 50 5 5 10 0 0\ncpu0 50 10 15 500 25 2 2 5 0 0\n"
    assert metrics.proc_stat_busy_ns(stat, 100) == (100 + 20 + 30 + 5 + 5 + 10) * 10_000_000  # idle, iowait out
    assert metrics.proc_stat_busy_ns("intr 1 2 3\n") is None
    meminfo = "MemTotal:       8000000 kB\nMemFree:        1000000 kB\nMemAvailable:   3000000 kB\n"
    assert metrics.meminfo_working_set(meminfo) == 5_000_000 * 1024
    assert metrics.meminfo_working_set("MemTotal: 1 kB\n") == 0  # an old kernel without MemAvailable
    assert metrics.host_cpu_ns() is not None and metrics.host_working_set() > 0  # this machine's /proc
