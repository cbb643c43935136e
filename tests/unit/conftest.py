"""A real etcd for the store tests (Debian's etcd-server, which scripts/test.sh installs), started
once per test session in a temporary folder on free ports; each test writes under keys of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from minikube_lite.store.etcdproc import LocalEtcd, etcd_binary


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEtcd]:
    if etcd_binary() is None:
        pytest.fail("etcd is not installed: apt-get install etcd-server (scripts/test.sh does)")
    with LocalEtcd(tmp_path_factory.mktemp("etcd")) as cluster:
        yield cluster
