"""The store under faults: a full disk refuses the write and keeps everything else, a damaged
file is refused at open with what to do (store/sqlite.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikube_lite.store.base import StoreDamaged, StoreFull
from minikube_lite.store.sqlite import SQLiteStore


def test_full_store_refuses_the_write_and_recovers(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db")
    store.create("/registry/configmaps/default/a", {"data": "x"})
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages + 1}")  # what a full disk looks like to SQLite
    rev = store.revision
    with pytest.raises(StoreFull, match="Free some space"):
        for i in range(100):
            store.create(f"/registry/configmaps/default/big{i}", {"data": "y" * 20_000})
    failed_at = store.revision
    assert failed_at >= rev
    assert store.get(f"/registry/configmaps/default/big{failed_at - rev}") is None  # nothing half-written
    assert store.get("/registry/configmaps/default/a").value == {"data": "x"}
    store._db.execute("PRAGMA max_page_count=1073741823")  # space is back
    store.create("/registry/configmaps/default/after", {"data": "z"})
    assert store.revision == failed_at + 1
    assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


@pytest.mark.parametrize("damage", ["garbage", "torn"])
def test_damaged_file_is_refused_with_what_to_do(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "db"
    store = SQLiteStore(path)
    for i in range(200):
        store.create(f"/registry/configmaps/default/c{i}", {"data": "v" * 500})
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    raw = bytearray(path.read_bytes())
    if damage == "garbage":
        raw[:100] = b"\x00not sqlite" * 9 + b"\x00"
    else:  # pages in the middle overwritten, header intact
        raw[4096 * 3: 4096 * 6] = b"\xff" * (4096 * 3)
    path.write_bytes(bytes(raw))
    with pytest.raises(StoreDamaged) as err:
        SQLiteStore(path)
    message = str(err.value)
    assert str(path) in message and f"mv {path} {path}.damaged" in message
