"""The locally built images, on the real Docker engine.

No registry is reachable, so the demo's ``minikube-lite/multi-client:1.0`` and the tests'
``minikube-lite/busybox:1.0`` are built from the static busybox. Checked here: they build, a
second build changes nothing, multi-client answers HTTP on port 3000 with its page naming the
pod (its hostname), and it stops promptly on SIGTERM (``docker stop`` < 2 s, not the 10 s grace).
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from minikube_lite import images


@pytest.fixture(scope="module")
def client() -> Any:
    try:
        c = docker.from_env()
        c.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"the Docker engine does not answer (run scripts/ensure-docker.sh): {exc}")
    return c


@pytest.fixture(scope="module")
def built(client: Any) -> list[str]:
    return images.ensure_images(client)


@pytest.fixture
def container_name() -> Iterator[str]:
    name = f"mkl-test-images-{uuid.uuid4().hex[:8]}"
    yield name
    try:
        docker.from_env().containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass


def test_busybox_is_static() -> None:
    assert images.is_static_elf(images.find_busybox())


def test_images_build_and_are_idempotent(client: Any, built: list[str]) -> None:
    assert built[:2] == [images.BUSYBOX_IMAGE, images.MULTI_CLIENT_IMAGE]
    assert set(built[2:]) == {spec.ref for spec in images.specs()[2:]}  # the multi-tier example's
    ids = {ref: client.images.get(ref).id for ref in built}
    busybox = images.find_busybox()
    applets = images.busybox_applets(busybox)
    for spec in images.specs():
        assert images.build_image(client, spec, busybox, applets) is False  # same content: skipped
    assert {ref: client.images.get(ref).id for ref in built} == ids
    for ref in built:
        assert images.HASH_LABEL in (client.images.get(ref).labels or {})


def test_busybox_has_applets(client: Any, built: list[str]) -> None:
    out = client.containers.run(images.BUSYBOX_IMAGE, ["which", "sh", "sleep", "nc", "httpd", "wget", "cat"],
                                remove=True)
    assert out.decode().split() == [f"/bin/{a}" for a in ("sh", "sleep", "nc", "httpd", "wget", "cat")]


def test_multi_client_serves_and_stops_fast(client: Any, built: list[str], container_name: str) -> None:
    c = client.containers.run(images.MULTI_CLIENT_IMAGE, detach=True, name=container_name,
                              hostname="client-pod", ports={"3000/tcp": ("127.0.0.1", None)})
    c.reload()
    host_port = int(c.attrs["NetworkSettings"]["Ports"]["3000/tcp"][0]["HostPort"])
    body = ""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=2) as resp:
                assert resp.status == 200
                body = resp.read().decode()
                break
        except OSError:
            time.sleep(0.05)
    assert "multi-client, served from pod client-pod" in body

    t0 = time.monotonic()
    c.stop(timeout=10)
    elapsed = time.monotonic() - t0
    assert elapsed < 2, f"docker stop took {elapsed:.2f}s: SIGTERM is not handled"
    c.reload()
    assert c.attrs["State"]["ExitCode"] == 0
