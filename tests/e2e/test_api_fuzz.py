"""Fuzzing the API server's input handling with hypothesis: no input may give a 500, hang, or kill it.

Most properties run in-process through Starlette's TestClient on the real app and registry (fast
enough for hundreds of examples each): body decoders (JSON, YAML, protobuf, garbage), label and
field selectors, list parameters, and every patch type. The last test throws oversized and
garbage requests at the live daemon of the session cluster and checks it still answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from minikube_lite.apiserver.app import MAX_BODY, create_app
from minikube_lite.apiserver.protobuf import MAGIC
from minikube_lite.apiserver.registry import Registry
from minikube_lite.config import Settings
from minikube_lite.daemon import bootstrap
from minikube_lite.store.sqlite import SQLiteStore

from .conftest import Cluster

PODS = "/api/v1/namespaces/default/pods"
FUZZ = settings(max_examples=100, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
CONTENT_TYPES = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf", "text/plain",
                 "application/merge-patch+json", "application/strategic-merge-patch+json",
                 "application/json-patch+json", "application/apply-patch+yaml", "", "application/cbor"]
PATCH_TYPES = CONTENT_TYPES[4:8]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    reg = Registry(SQLiteStore(root / "db"))
    bootstrap(reg, Settings(state_dir=root))
    with TestClient(create_app(reg), raise_server_exceptions=False) as c:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "target", "labels": {"app": "x"}},
               "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80}]}]}}
        assert c.post(PODS, json=pod).status_code == 201
        yield c


def _ok(r: httpx.Response) -> None:
    # 504 Timeout is Kubernetes' answer to a resourceVersion from the future, not a failure
    assert r.status_code < 500 or (r.status_code == 504 and r.json()["reason"] == "Timeout"), (
        r.status_code, r.text[:500])
    if r.status_code >= 400:
        body = r.json()
        assert body["kind"] == "Status" and body["code"] == r.status_code


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20)

# objects shaped a little like pods, so validation (not only decoding) is reached
pod_like = st.fixed_dictionaries({
    "apiVersion": st.sampled_from(["v1", "apps/v1", "", "v2"]),
    "kind": st.sampled_from(["Pod", "Service", "Thing"]),
    "metadata": st.one_of(json_values, st.fixed_dictionaries(
        {"name": st.text(max_size=70)}, optional={"labels": json_values, "generateName": st.text(max_size=10),
                                                  "resourceVersion": st.text(max_size=5),
                                                  "finalizers": json_values, "ownerReferences": json_values})),
    "spec": st.one_of(json_values, st.fixed_dictionaries(
        {"containers": st.lists(st.dictionaries(st.sampled_from(["name", "image", "ports", "env", "command"]),
                                                json_values, max_size=5), max_size=3)})),
})


@FUZZ
@given(body=st.binary(max_size=300), ctype=st.sampled_from(CONTENT_TYPES))
def test_any_bytes_to_create(api: TestClient, body: bytes, ctype: str) -> None:
    _ok(api.post(PODS, content=body, headers={"Content-Type": ctype}))


@FUZZ
@given(body=st.binary(max_size=200))
def test_protobuf_envelopes(api: TestClient, body: bytes) -> None:
    _ok(api.post(PODS, content=MAGIC + body, headers={"Content-Type": "application/vnd.kubernetes.protobuf"}))


@FUZZ
@given(obj=pod_like, dry=st.booleans())
def test_structured_objects_to_create_and_replace(api: TestClient, obj: dict[str, Any], dry: bool) -> None:
    q = "?dryRun=All" if dry else "?dryRun=All&fieldValidation=Strict"
    _ok(api.post(PODS + q, content=json.dumps(obj), headers={"Content-Type": "application/json"}))
    _ok(api.put(f"{PODS}/target{q}", content=json.dumps(obj), headers={"Content-Type": "application/json"}))


selector_chars = st.text(alphabet="abcxyz01=!,() -_./in notin", max_size=40)


@FUZZ
@given(labels=selector_chars, fields=selector_chars, limit=st.text(alphabet="-0123456789a", max_size=4),
       cont=st.text(max_size=20), rv=st.text(alphabet="0123456789-x", max_size=4),
       match=st.sampled_from(["", "Exact", "NotOlderThan", "Bogus"]))
def test_list_parameters(api: TestClient, labels: str, fields: str, limit: str, cont: str, rv: str,
                         match: str) -> None:
    params = {"labelSelector": labels, "fieldSelector": fields, "limit": limit, "continue": cont,
              "resourceVersion": rv, "resourceVersionMatch": match}
    _ok(api.get(PODS, params={k: v for k, v in params.items() if v}))


@settings(FUZZ, max_examples=12)  # each watch lasts its one-second timeout
@given(labels=selector_chars, rv=st.text(alphabet="0123456789-x", max_size=3))
def test_watch_parameters(api: TestClient, labels: str, rv: str) -> None:
    params = {"watch": "true", "timeoutSeconds": "1", "labelSelector": labels, "resourceVersion": rv,
              "allowWatchBookmarks": "true"}
    r = api.get(PODS, params=params)
    _ok(r)
    if r.status_code != 200:
        return
    for line in r.text.splitlines():
        assert json.loads(line)["type"] in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR")


json_patch_ops = st.lists(st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
     "path": st.sampled_from(["/metadata/labels/a", "/spec/containers/0/image", "/spec/containers/-", "/x",
                              "", "/metadata/name", "/spec/containers/9", "~1", "/metadata/labels"])},
    optional={"value": json_values, "from": st.sampled_from(["/metadata/labels", "/spec", "/nope"])}), max_size=4)


@FUZZ
@given(patch=json_values | pod_like, ctype=st.sampled_from(PATCH_TYPES), force=st.booleans())
def test_patches(api: TestClient, patch: Any, ctype: str, force: bool) -> None:
    q = "?dryRun=All&fieldManager=fuzz" + ("&force=true" if force else "")
    _ok(api.patch(f"{PODS}/target{q}", content=json.dumps(patch), headers={"Content-Type": ctype}))


@FUZZ
@given(ops=json_patch_ops)
def test_json_patches(api: TestClient, ops: list[dict[str, Any]]) -> None:
    _ok(api.patch(f"{PODS}/target?dryRun=All", content=json.dumps(ops),
                  headers={"Content-Type": "application/json-patch+json"}))


@FUZZ
@given(body=json_values, ctype=st.sampled_from(["application/json", "application/yaml", ""]),
       query=st.dictionaries(st.sampled_from(["gracePeriodSeconds", "propagationPolicy", "dryRun"]),
                             st.text(alphabet="AlBackgroundOrphan-01x", max_size=10), max_size=3))
def test_delete_options(api: TestClient, body: Any, ctype: str, query: dict[str, str]) -> None:
    params = dict(query, dryRun="All")
    _ok(api.request("DELETE", f"{PODS}/target", params=params, content=json.dumps(body),
                    headers={"Content-Type": ctype}))


def test_live_daemon_survives_oversized_and_garbage(cluster: Cluster) -> None:
    with cluster.http(timeout=30) as c:
        big = b"{" + b" " * (MAX_BODY + 10) + b"}"
        r = c.post(PODS, content=big, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["reason"] == "RequestEntityTooLarge"
        r = c.patch(f"{PODS}/anything", content=big, headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 413
        deep = b"[" * 100_000 + b"]" * 100_000
        assert c.post(PODS, content=deep, headers={"Content-Type": "application/json"}).status_code == 400
        yaml_bomb = b"a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        assert c.post(PODS, content=yaml_bomb, headers={"Content-Type": "application/yaml"}).status_code < 500
        assert c.get("/healthz").text == "ok"
