"""Max-in-flight (apiserver/inflight.py), query parameters (apiserver/query.py) and 405's Allow."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from minikube_lite.apiserver.app import create_app
from minikube_lite.apiserver.inflight import MaxInFlight, is_long_running
from minikube_lite.apiserver.registry import Registry
from minikube_lite.config import Settings
from minikube_lite.daemon import bootstrap
from minikube_lite.store.sqlite import SQLiteStore

PODS = "/api/v1/namespaces/default/pods"


def _scope(method: str, path: str, query: str = "") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "query_string": query.encode(), "headers": []}


def test_long_running_requests() -> None:
    assert is_long_running(_scope("GET", PODS, "watch=true"))
    assert is_long_running(_scope("GET", PODS, "watch=1&labelSelector=a"))
    assert not is_long_running(_scope("GET", PODS, "watch=false"))
    assert is_long_running(_scope("GET", "/api/v1/watch/pods"))
    assert is_long_running(_scope("GET", "/apis/apps/v1/watch/deployments"))
    assert is_long_running(_scope("GET", PODS + "/web/log", "follow=true"))
    assert is_long_running(_scope("POST", PODS + "/web/exec"))
    assert not is_long_running(_scope("GET", "/api/v1/namespaces/watch/pods"))
    assert not is_long_running(_scope("GET", PODS + "/web"))


def test_limits_per_pool_and_429_beyond() -> None:
    async def scenario() -> tuple[list[int], list[dict[str, Any]], MaxInFlight]:
        release = asyncio.Event()

        async def slow_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["query_string"] != b"watch=true":
                await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        mw = MaxInFlight(slow_app, max_requests_inflight=2, max_mutating_requests_inflight=1)
        codes: list[int] = []
        bodies: list[dict[str, Any]] = []

        async def call(method: str, query: str = "") -> None:
            sent: list[dict[str, Any]] = []

            async def send(msg: dict[str, Any]) -> None:
                sent.append(msg)

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            await mw(_scope(method, PODS, query), receive, send)
            codes.append(sent[0]["status"])
            if sent[0]["status"] == 429:
                headers = dict(sent[0]["headers"])
                assert headers[b"retry-after"] == b"1"
                bodies.append(json.loads(sent[1]["body"]))

        tasks = [asyncio.create_task(call("GET")) for _ in range(3)]
        tasks += [asyncio.create_task(call("POST")) for _ in range(2)]
        await asyncio.sleep(0.01)
        watch = asyncio.create_task(call("GET", "watch=true"))  # counted apart: served although reads are full
        await watch
        assert mw.in_flight == {False: 2, True: 1}
        release.set()
        await asyncio.gather(*tasks)
        return codes, bodies, mw

    codes, bodies, mw = asyncio.run(scenario())
    assert sorted(codes) == [200, 200, 200, 200, 429, 429]
    assert bodies[0] == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                         "message": "Too many requests, please try again later.", "reason": "TooManyRequests",
                         "code": 429, "details": {"retryAfterSeconds": 1}}
    assert mw.in_flight == {False: 0, True: 0} and mw.long_running == 0


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("query")
    reg = Registry(SQLiteStore(root / "db"))
    bootstrap(reg, Settings(state_dir=root))
    with TestClient(create_app(reg), raise_server_exceptions=False) as c:
        c.post(PODS, json={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                           "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        yield c


@pytest.mark.parametrize("method,path,params,message", [
    ("GET", PODS, {"timeoutSeconds": "abc"}, 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ("GET", PODS, {"limit": "1.5"}, 'strconv.ParseInt: parsing "1.5": invalid syntax'),
    ("GET", PODS, {"limit": ""}, 'strconv.ParseInt: parsing "": invalid syntax'),
    ("GET", PODS, {"watch": "true", "timeoutSeconds": "9223372036854775808"},
     'strconv.ParseInt: parsing "9223372036854775808": value out of range'),
    ("DELETE", PODS + "/p", {"gracePeriodSeconds": "-99999999999999999999", "dryRun": "All"},
     'strconv.ParseInt: parsing "-99999999999999999999": value out of range'),
    ("DELETE", PODS, {"gracePeriodSeconds": "x", "dryRun": "All"}, 'strconv.ParseInt: parsing "x": invalid syntax'),
    ("GET", PODS + "/p/log", {"tailLines": "ten"}, 'strconv.ParseInt: parsing "ten": invalid syntax'),
])
def test_bad_query_parameters_are_400(api: TestClient, method: str, path: str, params: dict[str, str],
                                      message: str | None) -> None:
    r = api.request(method, path, params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["kind"] == "Status" and body["reason"] == "BadRequest"
    if message:
        assert body["message"] == message


def test_booleans_as_kubernetes_reads_them(api: TestClient) -> None:
    r = api.get(PODS, params={"watch": "yes please", "timeoutSeconds": "1"})
    assert r.status_code == 200 and r.text.startswith('{"type":"ADDED"')
    r = api.get(PODS, params={"watch": "False"})
    assert r.json()["kind"] == "PodList"


def test_grace_period_in_the_body_outside_int64(api: TestClient) -> None:
    r = api.request("DELETE", PODS + "/p", params={"dryRun": "All"}, json={"gracePeriodSeconds": 2**64})
    assert r.status_code == 400 and "DeleteOptions.gracePeriodSeconds of type int64" in r.json()["message"]


@pytest.mark.parametrize("method,path,allow", [
    ("PUT", PODS, "GET, POST, DELETE"), ("POST", PODS + "/p", "GET, PUT, PATCH, DELETE"),
    ("DELETE", PODS + "/p/status", "GET, PATCH, PUT"), ("POST", "/version", "GET"),
])
def test_405_has_allow(api: TestClient, method: str, path: str, allow: str) -> None:
    r = api.request(method, path, content=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allow
    assert r.json()["reason"] == "MethodNotAllowed"


def test_scale_body_parts_must_be_objects(api: TestClient) -> None:
    """Found by schemathesis: a Scale whose spec is a list or a string was a 500."""
    for spec in ([None, None], "AAA"):
        r = api.put("/apis/apps/v1/namespaces/default/deployments/none/scale?dryRun=All", json={"spec": spec})
        assert r.status_code == 400, r.text
        assert "cannot unmarshal" in r.json()["message"]
