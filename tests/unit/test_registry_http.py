"""Read and watch semantics over HTTP (Starlette's TestClient on the real app and registry):
bookmarks, sendInitialEvents, 410 as an ERROR event, pagination under writes,
resourceVersion / resourceVersionMatch, optimistic concurrency, generateName, dryRun."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from minikube_lite.apiserver.app import create_app
from minikube_lite.apiserver.registry import Registry
from minikube_lite.config import Settings
from minikube_lite.daemon import bootstrap
from minikube_lite.store.sqlite import SQLiteStore

PODS = "/api/v1/namespaces/default/pods"


def _pod(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def _make(tmp_path: Path, window: int = 20_000) -> TestClient:
    reg = Registry(SQLiteStore(tmp_path / "db", window=window))
    bootstrap(reg, Settings(state_dir=tmp_path))
    app = create_app(reg)
    app.state.bookmark_interval = 0.2
    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with _make(tmp_path) as c:
        yield c


def _events(client: TestClient, query: str) -> list[dict[str, Any]]:
    with client.stream("GET", f"{PODS}?watch=true&{query}") as r:
        assert r.status_code == 200
        return [json.loads(line) for line in r.iter_lines() if line]


def test_bookmarks_periodically_and_at_timeout(client: TestClient) -> None:
    client.post(PODS, json=_pod("a"))
    events = _events(client, "allowWatchBookmarks=true&timeoutSeconds=1")
    types = [e["type"] for e in events]
    assert types[0] == "ADDED" and types.count("BOOKMARK") >= 3 and types[-1] == "BOOKMARK"
    rv = int(events[-1]["object"]["metadata"]["resourceVersion"])
    assert rv >= int(events[0]["object"]["metadata"]["resourceVersion"])
    assert events[-1]["object"]["kind"] == "Pod"
    assert "BOOKMARK" not in [e["type"] for e in _events(client, "timeoutSeconds=1")]


def test_send_initial_events_ends_with_an_annotated_bookmark(client: TestClient) -> None:
    for n in ("a", "b"):
        client.post(PODS, json=_pod(n))
    events = _events(client, "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
                             "&timeoutSeconds=1")
    assert [e["type"] for e in events[:3]] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    # sendInitialEvents=false: from now on, nothing initial
    assert [e["type"] for e in _events(client, "sendInitialEvents=false&resourceVersionMatch=NotOlderThan"
                                               "&timeoutSeconds=1")] == []


def test_too_old_resource_version_is_an_error_event(tmp_path: Path) -> None:
    with _make(tmp_path, window=3) as client:
        first = client.post(PODS, json=_pod("p0")).json()["metadata"]["resourceVersion"]
        for i in range(1, 6):
            client.post(PODS, json=_pod(f"p{i}"))
        events = _events(client, f"resourceVersion={first}&timeoutSeconds=1")
        assert len(events) == 1 and events[0]["type"] == "ERROR"
        status = events[0]["object"]
        assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"


def test_pagination_under_concurrent_writes(client: TestClient) -> None:
    """Later pages show the objects as they were at the first page's revision (etcd's snapshot):
    a pod deleted meanwhile is still listed with its old content, one created meanwhile is not,
    one changed meanwhile shows its old labels and old resourceVersion."""
    for i in range(20):
        client.post(PODS, json=_pod(f"p{i:02d}"))
    seen: list[str] = []
    page = client.get(f"{PODS}?limit=5").json()
    rv = page["metadata"]["resourceVersion"]
    seen += [p["metadata"]["name"] for p in page["items"]]
    before = client.get(f"{PODS}/p12").json()
    client.delete(f"{PODS}/p07")  # on a later page: gone before it is read
    client.delete(f"{PODS}/p01")  # already read
    client.post(PODS, json=_pod("p99"))  # created during the listing
    client.patch(f"{PODS}/p12", json={"metadata": {"labels": {"changed": "yes"}}},
                 headers={"Content-Type": "application/merge-patch+json"})
    later: dict[str, Any] = {}
    while page["metadata"].get("continue"):
        page = client.get(f"{PODS}?limit=5&continue={page['metadata']['continue']}").json()
        assert page["metadata"]["resourceVersion"] == rv
        seen += [p["metadata"]["name"] for p in page["items"]]
        later.update({p["metadata"]["name"]: p for p in page["items"]})
    assert seen == [f"p{i:02d}" for i in range(20)]  # exactly the 20 of the first page's revision
    assert later["p12"]["metadata"].get("labels") is None
    assert later["p12"]["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert "p07" in later and "p99" not in later
    # a listing without continue sees the new state
    now = {p["metadata"]["name"] for p in client.get(PODS).json()["items"]}
    assert "p99" in now and "p07" not in now and "p01" not in now


def test_a_continue_token_older_than_the_window_is_410(tmp_path: Path) -> None:
    with _make(tmp_path, window=3) as c:
        for i in range(6):
            c.post(PODS, json=_pod(f"q{i}"))
        page = c.get(f"{PODS}?limit=2").json()
        for i in range(5):  # more writes than the window keeps
            c.post(PODS, json=_pod(f"r{i}"))
        r = c.get(f"{PODS}?limit=2&continue={page['metadata']['continue']}")
        assert r.status_code == 410 and r.json()["reason"] == "Expired"
        assert r.json()["message"].startswith("The provided continue parameter is too old")


def test_pagination_rejects_bad_tokens(client: TestClient) -> None:
    assert client.get(f"{PODS}?limit=5&continue=bm90IGEgdG9rZW4=").status_code == 400
    assert client.get(f"{PODS}?limit=-1").status_code == 400


def test_resource_version_semantics(client: TestClient) -> None:
    created = client.post(PODS, json=_pod("a")).json()
    rv = created["metadata"]["resourceVersion"]
    assert client.get(f"{PODS}?resourceVersion=0").status_code == 200
    assert client.get(f"{PODS}/a?resourceVersion=0").status_code == 200
    assert client.get(f"{PODS}?resourceVersion={rv}&resourceVersionMatch=NotOlderThan").status_code == 200
    assert client.get(f"{PODS}?resourceVersion={rv}&resourceVersionMatch=Exact").status_code == 200
    client.post(PODS, json=_pod("b"))
    r = client.get(f"{PODS}?resourceVersion={rv}&resourceVersionMatch=Exact")
    assert r.status_code == 410 and r.json()["reason"] == "Expired"
    r = client.get(f"{PODS}?resourceVersionMatch=Exact")
    assert r.status_code == 422 and "forbidden unless resourceVersion is provided" in r.json()["message"]
    assert client.get(f"{PODS}?resourceVersion=1&resourceVersionMatch=Sometimes").status_code == 422
    r = client.get(f"{PODS}?resourceVersion=999999")
    assert r.status_code == 504 and r.json()["message"].startswith("Too large resource version")
    assert client.get(f"{PODS}?resourceVersion=abc").status_code == 400
    # PUT with a stale resourceVersion
    stale = dict(created)
    stale["metadata"] = dict(created["metadata"], labels={"x": "1"})
    assert client.put(f"{PODS}/a", json=stale).status_code == 200
    r = client.put(f"{PODS}/a", json=stale | {"metadata": dict(stale["metadata"], labels={"x": "2"})})
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"


def test_generate_name_and_dry_run(client: TestClient) -> None:
    gen = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    a, b = client.post(PODS, json=gen).json(), client.post(PODS, json=gen).json()
    assert a["metadata"]["name"].startswith("web-") and a["metadata"]["name"] != b["metadata"]["name"]
    r = client.post(f"{PODS}?dryRun=All", json=_pod("dry"))
    assert r.status_code == 201 and client.get(f"{PODS}/dry").status_code == 404
    name = a["metadata"]["name"]
    r = client.patch(f"{PODS}/{name}?dryRun=All", content=b'{"metadata":{"labels":{"d":"1"}}}',
                     headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["metadata"]["labels"] == {"d": "1"}
    assert "labels" not in client.get(f"{PODS}/{name}").json()["metadata"]
    assert client.delete(f"{PODS}/{name}?dryRun=All").status_code == 200
    assert client.get(f"{PODS}/{name}").status_code == 200
    r = client.patch(f"{PODS}/{name}?dryRun=All&fieldManager=t", content=json.dumps(_pod(name)).encode(),
                     headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status_code == 200
    assert client.delete(f"{PODS}?dryRun=All").status_code == 200
    assert len(client.get(PODS).json()["items"]) == 2
    assert client.post(f"{PODS}?dryRun=Some", json=_pod("x")).status_code == 400


def test_status_fields_in_kube_apiservers_order(client: TestClient) -> None:
    client.post(PODS, json=_pod("dup"))
    r = client.post(PODS, json=_pod("dup"))
    assert r.status_code == 409
    assert list(r.json()) == ["kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"]
    assert r.text.startswith('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",')
    assert r.text.endswith(',"code":409}')


def test_not_found_answers_as_kube_apiserver(client: TestClient) -> None:
    # a served resource, a missing object: the resource and group in the details
    r = client.get("/apis/apps/v1/namespaces/default/deployments/x")
    assert r.status_code == 404
    assert r.json()["details"] == {"name": "x", "group": "apps", "kind": "deployments"}
    # an unknown resource under a served group-version: go-restful's 404 as a Status, no kind
    for path in ("/apis/apps/v1/namespaces/default/foos/x", "/apis/apps/v1/foos",
                 "/api/v1/namespaces/default/pods/x/nosuchsub"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": "the server could not find the requested resource", "reason": "NotFound",
                            "details": {"causes": [{"reason": "UnexpectedServerResponse",
                                                    "message": "404: Page Not Found"}]},
                            "code": 404}, path
    # a group-version nobody serves, or no route at all: Go's plain-text 404
    for path in ("/apis/nosuch.example.com/v1/things", "/api/v2/pods", "/nothing/here"):
        r = client.get(path)
        assert (r.status_code, r.text) == (404, "404 page not found\n"), path
        assert r.headers["content-type"].startswith("text/plain")
