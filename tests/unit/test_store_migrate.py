"""SQLite → etcd migration (store/migrate.py) on a real, empty etcd of the test's own: values
(uids included) copied as they are, every new resourceVersion above every old one, the order of
last writes kept, and an etcd that already holds objects refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikube_lite.store.etcd import EtcdConfig, EtcdStore
from minikube_lite.store.etcdproc import LocalEtcd, etcd_binary
from minikube_lite.store.migrate import MigrationError, migrate
from minikube_lite.store.sqlite import SQLiteStore


def test_migrate_keeps_values_and_monotonic_revisions(tmp_path: Path) -> None:
    if etcd_binary() is None:
        pytest.fail("etcd is not installed: apt-get install etcd-server (scripts/test.sh does)")
    src = SQLiteStore(tmp_path / "db")
    for i in range(250):
        src.create(f"/registry/core/configmaps/default/cm{i}", {"metadata": {"name": f"cm{i}", "uid": f"u-{i}"}})
    for _ in range(3):  # a busy key: SQLite's revision runs well ahead of the object count
        for i in range(0, 250, 2):
            src.update(f"/registry/core/configmaps/default/cm{i}", {"metadata": {"name": f"cm{i}", "uid": f"u-{i}"},
                                                                    "data": {"n": "x"}})
    src.delete("/registry/core/configmaps/default/cm249")
    old_entries, old_rev = src.list("/registry/")
    order = [e.key for e in sorted(old_entries, key=lambda e: e.mod_rev)]
    assert old_rev > 600

    with LocalEtcd(tmp_path / "etcd") as e:
        dst = EtcdStore(EtcdConfig.parse(e.url), compaction_interval=0)
        try:
            moved = migrate(src, dst)
            assert moved.objects == 249 and moved.sqlite_revision == old_rev and moved.first_revision > old_rev
            new_entries, new_rev = dst.list("/registry/")
            assert [(x.key, x.value) for x in new_entries] == [(x.key, x.value) for x in old_entries]
            assert min(x.mod_rev for x in new_entries) > old_rev  # every resourceVersion above every old one
            by_key = {x.key: x.mod_rev for x in new_entries}
            revs = [by_key[k] for k in order]
            assert revs == sorted(revs)  # the order of last writes is kept
            assert dst.get("/minikube-lite/migration/revision-pad") is None
            # the store works on from there: a write gets the next revision
            assert dst.create("/registry/core/configmaps/default/new", {}) > new_rev
            with pytest.raises(MigrationError, match="already holds 250 objects"):
                migrate(src, dst)
        finally:
            dst.close()
            src.close()
