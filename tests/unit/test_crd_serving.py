"""A CRD written through the API is served by the CRD handler at run time, and after a restart of
the app from the same store; its deletion removes its objects and the kind. Real app and
registry through Starlette's TestClient (no Docker)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from minikube_lite.api import register
from minikube_lite.apiserver.app import create_app
from minikube_lite.apiserver.registry import Registry
from minikube_lite.config import Settings
from minikube_lite.daemon import bootstrap
from minikube_lite.store.sqlite import SQLiteStore

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
THINGS = "/apis/test.example.com/v1/namespaces/default/things"
CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "things.test.example.com"},
    "spec": {"group": "test.example.com", "scope": "Namespaced",
             "names": {"plural": "things", "kind": "Thing", "shortNames": ["th"]},
             "versions": [
                 {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                  "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                      "spec": {"type": "object", "properties": {
                          "size": {"type": "integer", "default": 3, "maximum": 5}}},
                      "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}},
                 {"name": "v1alpha1", "served": True, "storage": False,
                  "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
}


def wait(predicate: Callable[[], Any], timeout: float = 5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.fixture
def store_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for version in ("v1", "v1alpha1"):
        register.unregister("test.example.com", version, "things")


def app_client(path: Path) -> TestClient:
    reg = Registry(SQLiteStore(path / "db"))
    bootstrap(reg, Settings(state_dir=path))
    return TestClient(create_app(reg))


def thing(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "test.example.com/v1", "kind": "Thing", "metadata": {"name": name}, "spec": spec}


def test_crd_served_validated_and_removed(store_dir: Path) -> None:
    with app_client(store_dir) as c:
        created = c.post(CRDS, json=CRD)
        assert created.status_code == 201
        conds = {x["type"]: x["status"] for x in created.json()["status"]["conditions"]}
        assert conds == {"NamesAccepted": "True", "Established": "True"}
        assert "customresourcecleanup.apiextensions.k8s.io" in created.json()["metadata"]["finalizers"]
        wait(lambda: c.get(THINGS).status_code == 200)
        versions = [v["version"] for v in c.get("/apis/test.example.com").json()["versions"]]
        assert versions == ["v1", "v1alpha1"]  # the preferred (storage-ranked) version first

        r = c.post(THINGS, json=thing("a"))
        assert r.status_code == 201 and r.json()["spec"] == {"size": 3}
        r = c.post(THINGS, json=thing("b", size=9))
        assert r.status_code == 422
        assert r.json()["message"] == ('Thing.test.example.com "b" is invalid: spec.size: Invalid value: 9: '
                                       "spec.size in body should be less than or equal to 5")
        r = c.post(THINGS, json=thing("c", color="red"))  # the default is Warn, as kube-apiserver's
        assert r.status_code == 201 and r.headers["warning"] == '299 - "unknown field \\"spec.color\\""'
        r = c.post(THINGS, json=thing("d", color="red"), params={"fieldValidation": "Strict"})
        assert r.status_code == 400 and 'strict decoding error: unknown field "spec.color"' in r.json()["message"]
        alpha = c.get("/apis/test.example.com/v1alpha1/namespaces/default/things/a").json()
        assert alpha["apiVersion"] == "test.example.com/v1alpha1" and alpha["spec"] == {"size": 3}

        # a status write is not a new generation; a spec write is
        status = c.put(THINGS + "/a/status", json={**c.get(THINGS + "/a").json(), "status": {"ok": True}})
        assert status.json()["status"] == {"ok": True} and status.json()["metadata"]["generation"] == 1
        patched = c.patch(THINGS + "/a", content='{"spec":{"size":4}}',
                          headers={"Content-Type": "application/merge-patch+json"})
        assert patched.json()["metadata"]["generation"] == 2

        # a changed schema is served at once (the handler re-registers the kind)
        crd = c.get(CRDS + "/things.test.example.com").json()
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["size"][
            "maximum"] = 10
        assert c.put(CRDS + "/things.test.example.com", json=crd).status_code == 200
        wait(lambda: c.post(THINGS, json=thing("big", size=9)).status_code == 201)

        # a second CRD of the group may not take the same names
        clash = copy.deepcopy(CRD)
        clash["metadata"]["name"] = "others.test.example.com"
        clash["spec"]["names"] = {"plural": "others", "kind": "Other", "shortNames": ["th"]}
        conds = {x["type"]: x for x in c.post(CRDS, json=clash).json()["status"]["conditions"]}
        assert conds["NamesAccepted"]["reason"] == "ShortNamesConflict"
        assert conds["Established"]["status"] == "False"
        assert c.get("/apis/test.example.com/v1/namespaces/default/others").status_code == 404

        assert c.delete(CRDS + "/things.test.example.com").status_code in (200, 202)
        wait(lambda: c.get(CRDS + "/things.test.example.com").status_code == 404)
        assert c.get(THINGS).status_code == 404
        assert register.by_plural("things", "test.example.com") is None
        c.delete(CRDS + "/others.test.example.com")


def test_crd_served_again_after_restart(store_dir: Path) -> None:
    with app_client(store_dir) as c:
        assert c.post(CRDS, json=CRD).status_code == 201
        wait(lambda: c.get(THINGS).status_code == 200)
        assert c.post(THINGS, json=thing("kept")).status_code == 201
    for version in ("v1", "v1alpha1"):
        register.unregister("test.example.com", version, "things")  # as a new process would start
    with app_client(store_dir) as c:
        assert c.get(THINGS + "/kept").json()["spec"] == {"size": 3}  # registered before the first request
