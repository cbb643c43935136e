"""``minikube-lite store``: which store the cluster keeps its objects in, and moving them.

``store migrate --to etcd://HOST:PORT[,...]`` moves a stopped cluster's objects from its SQLite
file to etcd (store/migrate.py says how uids and resourceVersions are kept) and makes etcd the
cluster's store from the next ``start`` on; ``store show`` says which store is in use.
"""

from __future__ import annotations

import click

from minikube_lite.config import Settings


def _cli() -> object:
    from minikube_lite.cli import main

    return main


@click.group()
def store() -> None:
    """The cluster's store: the embedded SQLite file or etcd."""


@store.command()
@click.option("--state-dir", default=None, type=click.Path(file_okay=False),
              help="The cluster's state folder [default: ~/.minikube-lite or $MINIKUBE_LITE_HOME].")
def show(state_dir: str | None) -> None:
    """Print which store the cluster uses."""
    main = _cli()
    settings: Settings = main._settings_for(state_dir or str(main.default_state_dir()))  # type: ignore[attr-defined]
    click.echo(settings.store or f"sqlite ({settings.db_path})")


@store.command()
@click.option("--state-dir", default=None, type=click.Path(file_okay=False),
              help="The cluster's state folder [default: ~/.minikube-lite or $MINIKUBE_LITE_HOME].")
@click.option("--to", "to", required=True, metavar="etcd://HOST:PORT[,HOST:PORT...]", help="The etcd to move to.")
@click.option("--etcd-cafile", default=None, type=click.Path(dir_okay=False, exists=True))
@click.option("--etcd-certfile", default=None, type=click.Path(dir_okay=False, exists=True))
@click.option("--etcd-keyfile", default=None, type=click.Path(dir_okay=False, exists=True))
def migrate(state_dir: str | None, to: str, etcd_cafile: str | None, etcd_certfile: str | None,
            etcd_keyfile: str | None) -> None:
    """Move a stopped cluster's objects from SQLite to etcd, keeping uids, resourceVersions monotonic."""
    from dataclasses import replace

    from minikube_lite.store.base import StoreError
    from minikube_lite.store.factory import etcd_config, is_etcd

    main = _cli()
    say, fail = main._say, main._fail  # type: ignore[attr-defined]
    settings: Settings = main._settings_for(state_dir or str(main.default_state_dir()))  # type: ignore[attr-defined]
    if main.running_pid(settings) is not None:  # type: ignore[attr-defined]
        fail("✋", f"The cluster is running: stop it first (minikube-lite stop --state-dir {settings.state_dir})")
    if settings.store not in ("", "sqlite"):
        fail("🤷", f"The cluster already uses {settings.store}: nothing to migrate")
    if not settings.db_path.exists():
        fail("🤷", f"No SQLite store at {settings.db_path}: nothing to migrate")
    if not is_etcd(to):
        fail("❌", f"--to must be etcd://HOST:PORT[,HOST:PORT...], not {to!r}")
    opts = main._store_options(to, etcd_cafile, etcd_certfile, etcd_keyfile)  # type: ignore[attr-defined]
    target_settings = replace(settings, **opts)
    from minikube_lite.store.etcd import EtcdStore
    from minikube_lite.store.migrate import migrate as run
    from minikube_lite.store.sqlite import SQLiteStore

    source = SQLiteStore(settings.db_path)
    try:
        target = EtcdStore(etcd_config(target_settings), compaction_interval=0)
    except (StoreError, ValueError) as exc:
        source.close()
        fail("❌", str(exc))
    try:
        moved = run(source, target, progress=lambda m: say("📦", m))
    except StoreError as exc:
        fail("❌", f"Migration stopped: {exc}")
    finally:
        source.close()
        target.close()
    target_settings.save()
    say("🚚", f"Moved {moved.objects} objects to {to}: resourceVersions now start at {moved.first_revision} "
              f"(the SQLite store was at {moved.sqlite_revision}); uids are unchanged")
    say("👉", f"The next start uses etcd: minikube-lite start --state-dir {settings.state_dir}   "
              f"({settings.db_path.name} is kept: start --store sqlite goes back to it)")
