"""Bad input gets a clear Kubernetes Status, changes nothing, and the daemon stays up."""

from __future__ import annotations

from pathlib import Path

import httpx

from .conftest import Cluster

GOOD_POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels:
    component: web
spec:
  containers:
    - name: client
      image: minikube-lite/multi-client:1.0
"""


def _apply(cluster: Cluster, body: str) -> httpx.Response:
    with cluster.http() as c:
        return c.post("/apply", content=body.encode(), headers={"Content-Type": "application/yaml"})


def _assert_absent(cluster: Cluster, name: str) -> None:
    assert cluster.pod(name) is None, f"{name} was stored"


def test_yaml_syntax_error_names_line_and_column(cluster: Cluster) -> None:
    r = _apply(cluster, GOOD_POD.format(name="bad-yaml") + "  oops: [unclosed\n")
    assert r.status_code == 400
    body = r.json()
    assert body["kind"] == "Status" and body["reason"] == "BadRequest"
    assert "line" in body["message"] and "column" in body["message"]
    _assert_absent(cluster, "bad-yaml")


def test_unknown_kind(cluster: Cluster, tmp_path: Path) -> None:
    r = _apply(cluster, GOOD_POD.format(name="pood").replace("kind: Pod", "kind: Pood"))
    item = r.json()["items"][0]
    assert r.status_code == 400
    assert item["message"] == 'no matches for kind "Pood" in version "v1"'
    manifest = tmp_path / "pood.yaml"
    manifest.write_text(GOOD_POD.format(name="pood").replace("kind: Pod", "kind: Pood"))
    proc = cluster.kubectl("apply", "-f", str(manifest), check=False)
    assert proc.returncode != 0 and 'no matches for kind "Pood" in version "v1"' in proc.stderr
    _assert_absent(cluster, "pood")


def test_missing_image_is_422_naming_the_field(cluster: Cluster, tmp_path: Path) -> None:
    manifest = tmp_path / "noimage.yaml"
    manifest.write_text(GOOD_POD.format(name="noimage").replace("      image: minikube-lite/multi-client:1.0\n", ""))
    proc = cluster.kubectl("apply", "-f", str(manifest), check=False)
    assert proc.returncode != 0
    assert 'The Pod "noimage" is invalid: spec.containers[0].image: Required value' in proc.stderr
    with cluster.http() as c:
        r = c.post("/api/v1/namespaces/default/pods", json={
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "noimage"},
            "spec": {"containers": [{"name": "c"}]}})
    assert r.status_code == 422
    body = r.json()
    assert body["reason"] == "Invalid"
    assert {"field": "spec.containers[0].image"}.items() <= body["details"]["causes"][0].items()
    _assert_absent(cluster, "noimage")


def test_unknown_field_under_strict_validation(cluster: Cluster, tmp_path: Path) -> None:
    manifest = tmp_path / "typo.yaml"
    manifest.write_text(GOOD_POD.format(name="typo").replace("containers:", "contianers:"))
    proc = cluster.kubectl("apply", "-f", str(manifest), check=False)
    assert proc.returncode != 0
    assert 'unknown field "spec.contianers"' in proc.stderr
    _assert_absent(cluster, "typo")


def test_garbage_bodies_never_500(cluster: Cluster) -> None:
    bodies = [b"{", b"[]", b"null", b"42", b'"x"', b"\xff\xfe", b'{"kind": 5}', b'{"metadata": []}',
              b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name"},"spec":{"containers":[]}}',
              b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":"nope"}}']
    with cluster.http() as c:
        for body in bodies:
            r = c.post("/api/v1/namespaces/default/pods", content=body,
                       headers={"Content-Type": "application/json"})
            assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
            assert r.json()["kind"] == "Status"
            r = c.patch("/api/v1/namespaces/default/services/kubernetes", content=body,
                        headers={"Content-Type": "application/strategic-merge-patch+json"})
            assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        r = c.patch("/api/v1/namespaces/default/services/kubernetes", content=b"{}",
                    headers={"Content-Type": "text/x-nonsense"})
        assert r.status_code == 415
        assert c.get("/readyz").status_code == 200
        names = [p["metadata"]["name"] for p in c.get("/api/v1/namespaces/default/pods").json()["items"]]
        assert "x" not in names and "Bad_Name" not in names


def test_lone_surrogates_never_break_a_reply(cluster: Cluster) -> None:
    """JSON may carry "\\ud800"; it is read as U+FFFD, as Kubernetes' Go decoder reads it, and errors
    quoting it stay 4xx."""
    body = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"surrogate",'
            '"annotations":{"note":"\\ud800 and \\udfff"}},"data":{"k":"v"}}')
    with cluster.http() as c:
        r = c.post("/api/v1/namespaces/default/configmaps", content=body,
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 201, r.text
        r = c.get("/api/v1/namespaces/default/configmaps/surrogate")
        assert r.status_code == 200 and r.json()["metadata"]["annotations"]["note"] == "\ufffd and \ufffd"
        r = c.patch("/api/v1/namespaces/default/configmaps/surrogate", content='{"metadata":{"name":"\\ud800"}}',
                    headers={"Content-Type": "application/merge-patch+json"})
        assert 400 <= r.status_code < 500, r.text
        assert c.delete("/api/v1/namespaces/default/configmaps/surrogate").status_code == 200
