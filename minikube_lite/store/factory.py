"""Which store a cluster runs on: the embedded SQLite file by default (as k3s keeps SQLite by
default), or etcd when ``--store etcd://...`` was given (what kube-apiserver always uses)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings


def is_etcd(spec: str) -> bool:
    return spec.split("://", 1)[0] in ("etcd", "http", "https") and "://" in spec


def etcd_config(settings: Settings) -> Any:
    from .etcd import EtcdConfig

    return EtcdConfig.parse(settings.store, cafile=settings.etcd_cafile or None,
                            certfile=settings.etcd_certfile or None, keyfile=settings.etcd_keyfile or None)


def open_store(settings: Settings) -> Any:
    """The store of the cluster ``settings`` describes (etcd is imported only when used)."""
    if settings.store in ("", "sqlite"):
        import os

        from .sqlite import SYNCHRONOUS, SQLiteStore

        # MINIKUBE_LITE_STORE_SYNC=FULL: every acknowledged write survives a power cut too, at the
        # cost of an fsync per write (docs/supported.md, durability)
        sync = os.environ.get("MINIKUBE_LITE_STORE_SYNC", "").upper() or SYNCHRONOUS
        if sync not in ("NORMAL", "FULL"):
            raise ValueError(f"MINIKUBE_LITE_STORE_SYNC must be NORMAL or FULL, not {sync!r}")
        return SQLiteStore(settings.db_path, synchronous=sync)
    if not is_etcd(settings.store):
        raise ValueError(f"unknown store {settings.store!r}: use sqlite or etcd://HOST:PORT[,HOST:PORT...]")
    from .etcd import EtcdStore

    return EtcdStore(etcd_config(settings))
