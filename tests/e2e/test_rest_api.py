"""The same walkthrough for people without kubectl: POST /apply with YAML, REST paths answer JSON."""

from __future__ import annotations

from pathlib import Path

from .conftest import Cluster, pod_running, wait_for

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"


def test_apply_yaml_over_http(cluster: Cluster) -> None:
    body = (SEED / "client-pod.yaml").read_text().replace("client-pod", "rest-pod") + "\n---\n" + """
apiVersion: v1
kind: Service
metadata:
  name: rest-svc
spec:
  selector:
    component: web
  ports:
    - port: 80
      targetPort: 3000
"""
    with cluster.http() as c:
        r = c.post("/apply", content=body, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 200, r.text
        assert [(i["kind"], i["name"], i["action"]) for i in r.json()["items"]] == [
            ("Pod", "rest-pod", "created"), ("Service", "rest-svc", "created")]
        r = c.post("/apply", content=body, headers={"Content-Type": "application/yaml"})
        assert [i["action"] for i in r.json()["items"]] == ["unchanged", "unchanged"]
        r = c.post("/apply", content=body.replace("port: 80", "port: 81"))
        assert [i["action"] for i in r.json()["items"]] == ["unchanged", "configured"]

        wait_for(lambda: pod_running(cluster, "rest-pod"), timeout=15, what="rest-pod Running")
        pods = c.get("/api/v1/namespaces/default/pods").json()
        assert pods["kind"] == "PodList"
        pod = next(p for p in pods["items"] if p["metadata"]["name"] == "rest-pod")
        assert pod["status"]["phase"] == "Running" and pod["status"]["podIP"]
        svc = c.get("/api/v1/namespaces/default/services/rest-svc").json()
        assert svc["spec"]["ports"][0]["port"] == 81 and svc["spec"]["ports"][0]["targetPort"] == 3000
        # kubectl sees what REST applied, and applies over it
        assert cluster.kubectl("get", "pod", "rest-pod", "-o", "name").stdout.strip() == "pod/rest-pod"
        for kind, name in (("pods", "rest-pod"), ("services", "rest-svc")):
            assert c.delete(f"/api/v1/namespaces/default/{kind}/{name}").status_code == 200
        wait_for(lambda: cluster.pod("rest-pod") is None, timeout=40, what="rest-pod gone")
        assert cluster.containers("rest-pod", all=True) == []


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _ld(num: int, data: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def test_delete_with_a_protobuf_delete_options_body(cluster: Cluster) -> None:
    """client-go (helm uninstall) sends DELETE with a protobuf DeleteOptions body: dryRun is
    honoured, then a propagationPolicy + gracePeriodSeconds 0 delete goes through."""
    cluster.kubectl("create", "configmap", "pb-delete", "--from-literal=a=b")
    path = "/api/v1/namespaces/default/configmaps/pb-delete"
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf"}

    def body(raw: bytes) -> bytes:
        return b"k8s\x00" + _ld(1, _ld(1, b"v1") + _ld(2, b"DeleteOptions")) + _ld(2, raw)

    with cluster.http() as c:
        r = c.request("DELETE", path, content=body(_ld(5, b"All")), headers=headers)
        assert r.status_code == 200, r.text
        assert c.get(path).status_code == 200  # dry run: still there
        r = c.request("DELETE", path, content=body(_varint(1 << 3) + _varint(0) + _ld(4, b"Background")),
                      headers=headers)
        assert r.status_code == 200, r.text
        assert c.get(path).status_code == 404
