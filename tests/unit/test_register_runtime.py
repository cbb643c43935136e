"""A kind registered at run time (as a CustomResourceDefinition will) is served by the same code
as a built-in one: discovery, REST, validation and defaults, Tables, watch, OpenAPI, merge keys;
unregistered, it is no longer served. Runs the real app and registry through Starlette's TestClient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from minikube_lite.api import register
from minikube_lite.api.kind import Kind, StoreView, Strategy
from minikube_lite.api.resources import ALL_VERBS, Resource
from minikube_lite.api.tables import AGE_COLUMN, NAME_COLUMN, age, column, name
from minikube_lite.api.validation import ErrorList
from minikube_lite.apiserver import openapi
from minikube_lite.apiserver.app import create_app
from minikube_lite.apiserver.registry import Registry
from minikube_lite.config import Settings
from minikube_lite.daemon import bootstrap
from minikube_lite.store.sqlite import SQLiteStore

WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


def _validate(errs: ErrorList, obj: dict[str, Any]) -> None:
    size = (obj.get("spec") or {}).get("size")
    if size is not None and (not isinstance(size, int) or size < 0):
        errs.invalid("spec.size", size, "must be greater than or equal to 0")


def _default(obj: dict[str, Any]) -> None:
    obj.setdefault("spec", {}).setdefault("size", 1)


def _cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [name(obj), (obj.get("spec") or {}).get("size"), age(obj, now)]


class _WidgetStrategy(Strategy):
    def prepare_create(self, obj: dict[str, Any], store: StoreView) -> None:
        obj["status"] = {"phase": "New"}


WIDGET = Kind(
    Resource("example.com", "v1", "widgets", "widget", "Widget", True, ("wd",), ("all",), tuple(ALL_VERBS),
             ("status",)),
    validate=_validate, default=_default, strategy=_WidgetStrategy(),
    columns=[NAME_COLUMN, column("Size", "How big.", type_="integer"), AGE_COLUMN], cells=_cells,
    merge_keys={"spec.parts": "name"},
)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    reg = Registry(SQLiteStore(tmp_path / "db"))
    bootstrap(reg, Settings(state_dir=tmp_path))
    with TestClient(create_app(reg)) as c:
        yield c
    register.unregister("example.com", "v1", "widgets")


def _widget(wname: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": wname}, "spec": spec}


def test_a_kind_registered_at_run_time_is_served_like_a_built_in_one(client: TestClient) -> None:
    assert client.get(WIDGETS).status_code == 404
    assert "example.com" not in [g["name"] for g in client.get("/apis").json()["groups"]]
    before = register.revision()
    v3_root = openapi.v3_root()
    register.register(WIDGET)
    assert register.revision() > before

    # discovery and OpenAPI change with the register
    assert "example.com" in [g["name"] for g in client.get("/apis").json()["groups"]]
    listed = client.get("/apis/example.com/v1").json()["resources"]
    assert {"widgets", "widgets/status"} <= {r["name"] for r in listed}
    assert next(r for r in listed if r["name"] == "widgets")["shortNames"] == ["wd"]
    assert openapi.v3_root() != v3_root and "apis/example.com/v1" in openapi.v3_root()["paths"]

    # create: validation, defaults, the strategy's status reset
    bad = client.post(WIDGETS, json=_widget("w", size=-1))
    assert bad.status_code == 422 and bad.json()["details"]["causes"][0]["field"] == "spec.size"
    created = client.post(WIDGETS, json={**_widget("w"), "status": {"phase": "Hacked"}})
    assert created.status_code == 201, created.text
    assert created.json()["spec"] == {"size": 1} and created.json()["status"] == {"phase": "New"}

    # a main-resource write keeps the status (the kind has a status subresource); /status changes it
    obj = created.json()
    obj["spec"]["size"], obj["status"] = 3, {"phase": "Ignored"}
    updated = client.put(f"{WIDGETS}/w", json=obj).json()
    assert updated["spec"]["size"] == 3 and updated["status"] == {"phase": "New"}
    updated["status"] = {"phase": "Ready"}
    assert client.put(f"{WIDGETS}/w/status", json=updated).json()["status"] == {"phase": "Ready"}

    # strategic merge patch uses the kind's merge keys
    client.patch(f"{WIDGETS}/w", json={"spec": {"parts": [{"name": "a", "n": 1}, {"name": "b", "n": 2}]}},
                 headers={"Content-Type": "application/merge-patch+json"})
    patched = client.patch(f"{WIDGETS}/w", json={"spec": {"parts": [{"name": "b", "n": 3}]}},
                           headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert patched.json()["spec"]["parts"] == [{"name": "a", "n": 1}, {"name": "b", "n": 3}]

    # Table with the kind's columns
    table = client.get(WIDGETS, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Age"]
    assert table["rows"][0]["cells"][:2] == ["w", 3]

    # watch sees the change
    rv = client.get(WIDGETS).json()["metadata"]["resourceVersion"]
    client.delete(f"{WIDGETS}/w")
    with client.stream("GET", f"{WIDGETS}?watch=true&resourceVersion={rv}&timeoutSeconds=1") as r:
        events = [json.loads(line) for line in r.iter_lines() if line]
    assert [e["type"] for e in events] == ["DELETED"] and events[0]["object"]["metadata"]["name"] == "w"

    # unregistered: no longer served, gone from discovery
    assert register.unregister("example.com", "v1", "widgets") is WIDGET
    assert client.get(WIDGETS).status_code == 404
    assert "example.com" not in [g["name"] for g in client.get("/apis").json()["groups"]]


def test_registering_twice_needs_replace() -> None:
    register.register(WIDGET)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register.register(WIDGET)
        register.register(WIDGET, replace=True)
        assert register.by_plural("widgets", "example.com") is WIDGET.resource
        assert register.by_kind("example.com/v1", "Widget") is WIDGET.resource
    finally:
        register.unregister("example.com", "v1", "widgets")
    assert register.by_plural("widgets") is None
