"""Object lifecycle in the registry: generation, finalizers, deletion policies, namespaces,
and the garbage collector and namespace controller driven in-process through LocalClient."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from minikube_lite.api.errors import ApiError, Invalid, NotFound
from minikube_lite.api.register import by_plural
from minikube_lite.apiserver.registry import Registry
from minikube_lite.client.local import LocalClient
from minikube_lite.config import Settings
from minikube_lite.controllers.garbagecollector import GarbageCollector
from minikube_lite.daemon import bootstrap
from minikube_lite.store.sqlite import SQLiteStore

PODS = by_plural("pods")
NS = by_plural("namespaces")
assert PODS is not None and NS is not None


def _pod(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(SQLiteStore(tmp_path / "db"))
    bootstrap(reg, Settings(state_dir=tmp_path))
    return reg


def test_generation_bumps_on_spec_changes_only(registry: Registry) -> None:
    pod, _ = registry.create(PODS, "default", _pod("g"))
    assert pod["metadata"]["generation"] == 1
    pod["metadata"]["labels"] = {"a": "b"}
    pod, _ = registry.update(PODS, "default", "g", pod)
    assert pod["metadata"]["generation"] == 1
    pod["spec"]["activeDeadlineSeconds"] = 30
    pod, _ = registry.update(PODS, "default", "g", pod)
    assert pod["metadata"]["generation"] == 2


def test_finalizers_hold_deletion_until_the_last_one_goes(registry: Registry) -> None:
    registry.create(PODS, "default", _pod("f", finalizers=["a/x", "b/y"]))
    obj, finished = registry.delete(PODS, "default", "f")
    assert not finished and obj["metadata"]["deletionTimestamp"]
    with pytest.raises(Invalid, match="no new finalizers"):
        registry.patch(PODS, "default", "f", b'{"metadata":{"finalizers":["a/x","b/y","c/z"]}}',
                       "application/merge-patch+json")
    registry.patch(PODS, "default", "f", b'{"metadata":{"finalizers":["b/y"]}}', "application/merge-patch+json")
    assert registry.get(PODS, "default", "f")["metadata"]["finalizers"] == ["b/y"]
    registry.patch(PODS, "default", "f", b'{"metadata":{"finalizers":null}}', "application/merge-patch+json")
    with pytest.raises(NotFound):
        registry.get(PODS, "default", "f")


def test_propagation_policies_set_gc_finalizers(registry: Registry) -> None:
    registry.create(PODS, "default", _pod("fg"))
    obj, finished = registry.delete(PODS, "default", "fg", propagation_policy="Foreground")
    assert not finished and obj["metadata"]["finalizers"] == ["foregroundDeletion"]
    registry.create(PODS, "default", _pod("or"))
    obj, _ = registry.delete(PODS, "default", "or", propagation_policy="Orphan")
    assert obj["metadata"]["finalizers"] == ["orphan"]
    registry.create(PODS, "default", _pod("bg"))
    _, finished = registry.delete(PODS, "default", "bg", propagation_policy="Background")
    assert finished
    with pytest.raises(ApiError, match="propagationPolicy"):
        registry.delete(PODS, "default", "or", propagation_policy="Sideways")


def test_namespaces_terminate_and_refuse_new_content(registry: Registry) -> None:
    with pytest.raises(ApiError, match='namespaces "default" is forbidden: this namespace may not be deleted'):
        registry.delete(NS, None, "default")
    with pytest.raises(NotFound, match='namespaces "nope" not found'):
        registry.create(PODS, "nope", _pod("p"))
    registry.create(NS, None, {"metadata": {"name": "t"}})
    obj, finished = registry.delete(NS, None, "t")
    assert not finished and obj["status"]["phase"] == "Terminating" and obj["spec"]["finalizers"] == ["kubernetes"]
    with pytest.raises(ApiError) as err:
        registry.create(PODS, "t", _pod("p"))
    assert err.value.code == 403
    assert err.value.message == ('pods "p" is forbidden: unable to create new content in namespace t '
                                 "because it is being terminated")
    registry.update(NS, None, "t", {"metadata": {"name": "t"}, "spec": {"finalizers": []}}, subresource="finalize")
    with pytest.raises(NotFound):
        registry.get(NS, None, "t")


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _running(component: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(component.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def _exists(client: LocalClient, plural: str, name: str) -> bool:
    try:
        await client.get(plural, name, namespace="default")
        return True
    except NotFound:
        return False


def _owned(name: str, owner: dict[str, Any], block: bool = False) -> dict[str, Any]:
    ref = {"apiVersion": "v1", "kind": "Pod", "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}
    if block:
        ref["blockOwnerDeletion"] = True
    return _pod(name, ownerReferences=[ref])


def test_garbage_collector_background_foreground_orphan(registry: Registry) -> None:
    async def main() -> None:
        client = LocalClient(registry)
        gc = GarbageCollector(client)
        async with _running(gc):
            # Background: owner goes at once, the dependent after
            owner = await client.create("pods", _pod("owner-bg"))
            await client.create("pods", _owned("dep-bg", owner))
            await client.delete("pods", "owner-bg", propagation_policy="Background")
            await _until(lambda: _not(_exists(client, "pods", "dep-bg")))

            # Foreground: the owner waits for its blocking dependent
            owner = await client.create("pods", _pod("owner-fg"))
            await client.create("pods", _owned("dep-fg", owner, block=True))
            await client.patch("pods", "dep-fg", {"metadata": {"finalizers": ["test/hold"]}})
            await client.delete("pods", "owner-fg", propagation_policy="Foreground")
            await _until(lambda: _marked(client, "dep-fg"))
            assert await _exists(client, "pods", "owner-fg")
            await client.patch("pods", "dep-fg", {"metadata": {"finalizers": None}})
            await _until(lambda: _not(_exists(client, "pods", "owner-fg")))

            # Orphan: the dependent stays, without the reference
            owner = await client.create("pods", _pod("owner-or"))
            await client.create("pods", _owned("dep-or", owner))
            await client.delete("pods", "owner-or", propagation_policy="Orphan")
            await _until(lambda: _not(_exists(client, "pods", "owner-or")))
            dep = await client.get("pods", "dep-or", namespace="default")
            assert not dep["metadata"].get("ownerReferences")

    asyncio.run(main())


async def _not(aw: Awaitable[bool]) -> bool:
    return not await aw


async def _marked(client: LocalClient, name: str) -> bool:
    obj = await client.get("pods", name, namespace="default")
    return bool(obj["metadata"].get("deletionTimestamp"))


def test_namespace_controller_empties_then_removes(registry: Registry) -> None:
    from minikube_lite.controllers.namespace import NamespaceController

    async def main() -> None:
        client = LocalClient(registry)
        await client.create("namespaces", {"metadata": {"name": "gone"}})
        await client.create("pods", _pod("a"), namespace="gone")
        await client.create("pods", _pod("b", finalizers=["test/hold"]), namespace="gone")
        async with _running(NamespaceController(client)):
            await client.delete("namespaces", "gone")
            ns = await client.get("namespaces", "gone")
            assert ns["status"]["phase"] == "Terminating"

            async def pod_a_gone() -> bool:
                return not [p for p in (await client.list("pods", namespace="gone"))[0]
                            if p["metadata"]["name"] == "a"]
            await _until(pod_a_gone)
            assert await client.get("namespaces", "gone")  # b still holds it
            await client.patch("pods", "b", {"metadata": {"finalizers": None}}, namespace="gone")

            async def ns_gone() -> bool:
                try:
                    await client.get("namespaces", "gone")
                    return False
                except NotFound:
                    return True
            await _until(ns_gone)

    asyncio.run(main())


def test_ensure_tolerates_a_concurrent_creator(registry: Registry, tmp_path: Path) -> None:
    """Two API servers on one store both bootstrapping: the one that loses the create race must
    not fail (it used to raise AlreadyExists and leave that server without controllers)."""
    from minikube_lite.auth.storepolicy import bootstrap as rbac_bootstrap

    other = Registry(registry.store)
    real_get = registry.store.get
    # the other server's get happens before this one's create: it sees nothing, then loses the race
    other.store = type("Racing", (), {"__getattr__": lambda _s, n: getattr(registry.store, n),
                                      "get": staticmethod(lambda key: None)})()
    rbac_bootstrap(registry)
    rbac_bootstrap(other)  # every create raises KeyExists underneath; none escapes
    res = by_plural("clusterroles")
    assert res is not None and real_get(registry._key(res, None, "cluster-admin")) is not None
