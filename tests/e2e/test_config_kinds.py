"""ConfigMap, Secret, Endpoints, EndpointSlice and events through the real kubectl.

``kubectl create configmap/secret`` from kubectl 1.32 on sends its body as protobuf, which the API
server decodes (checked with the default kubectl and 1.33); the other tests drive kubectl 1.31,
which sends the same command as JSON.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from .conftest import Cluster

OLD = "1.31"  # sends JSON for typed creates


def test_create_configmap_literal_and_file(cluster: Cluster, tmp_path: Path) -> None:
    f = tmp_path / "app.properties"
    f.write_text("color=blue\n")
    out = cluster.kubectl("create", "configmap", "app-config", "--from-literal=mode=dev", f"--from-file={f}",
                          version=OLD).stdout
    assert out.strip() == "configmap/app-config created"
    table = cluster.kubectl("get", "cm", "app-config").stdout.splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"]
    assert table[1].split()[:2] == ["app-config", "2"]
    data = json.loads(cluster.kubectl("get", "configmap", "app-config", "-o", "json").stdout)["data"]
    assert data == {"mode": "dev", "app.properties": "color=blue\n"}


def test_secret_generic_and_jsonpath_decode(cluster: Cluster) -> None:
    cluster.kubectl("create", "secret", "generic", "pgpassword", "--from-literal", "PGPASSWORD=s3cr3t!",
                    version=OLD)
    table = cluster.kubectl("get", "secret", "pgpassword").stdout.splitlines()
    assert table[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert table[1].split()[:3] == ["pgpassword", "Opaque", "1"]
    encoded = cluster.kubectl("get", "secret", "pgpassword", "-o", "jsonpath={.data.PGPASSWORD}").stdout
    assert base64.b64decode(encoded) == b"s3cr3t!"
    names = cluster.kubectl("get", "secrets", "--field-selector", "type=Opaque", "-o", "name").stdout.split()
    assert "secret/pgpassword" in names
    assert cluster.kubectl("get", "secrets", "--field-selector", "type=kubernetes.io/tls",
                           "-o", "name").stdout.strip() == ""


def test_secret_string_data_is_folded(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: Secret
metadata: {name: folded}
stringData: {user: admin}
""")
    obj = json.loads(cluster.kubectl("get", "secret", "folded", "-o", "json").stdout)
    assert "stringData" not in obj
    assert base64.b64decode(obj["data"]["user"]) == b"admin"


def test_invalid_base64_is_422_naming_the_key(cluster: Cluster) -> None:
    proc = cluster.kubectl("apply", "-f", "-", check=False, input="""
apiVersion: v1
kind: Secret
metadata: {name: broken}
data: {token: "not base64!"}
""")
    assert proc.returncode == 1
    assert 'The Secret "broken" is invalid: data[token]' in proc.stderr
    assert "illegal base64 data" in proc.stderr
    assert cluster.kubectl("get", "secret", "broken", check=False).returncode == 1


def test_immutable_configmap_refuses_changes(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: ConfigMap
metadata: {name: frozen}
data: {a: "1"}
immutable: true
""")
    proc = cluster.kubectl("patch", "configmap", "frozen", "-p", '{"data":{"a":"2"}}', check=False)
    assert proc.returncode == 1
    assert "field is immutable when `immutable` is set" in proc.stderr
    cluster.kubectl("label", "configmap", "frozen", "tier=web")  # metadata may still change


def test_create_configmap_and_secret_with_default_kubectl(cluster: Cluster) -> None:
    """kubectl 1.32+ sends typed creates as protobuf (apiserver/protobuf.py decodes them)."""
    for version in (None, "1.33"):
        suffix = version.replace(".", "-") if version else "default"
        cluster.kubectl("create", "configmap", f"proto-cm-{suffix}", "--from-literal=a=b", version=version)
        cluster.kubectl("create", "secret", "generic", f"proto-secret-{suffix}", "--from-literal", "PGPASSWORD=pw",
                        version=version)
        cm = cluster.get(f"/api/v1/namespaces/default/configmaps/proto-cm-{suffix}")
        assert cm["data"] == {"a": "b"}
        secret = cluster.get(f"/api/v1/namespaces/default/secrets/proto-secret-{suffix}")
        assert secret["data"] == {"PGPASSWORD": "cHc="} and secret["type"] == "Opaque"
        cluster.kubectl("delete", "configmap", f"proto-cm-{suffix}", version=version)
        cluster.kubectl("delete", "secret", f"proto-secret-{suffix}", version=version)


def test_endpoints_and_slices_columns(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: Endpoints
metadata: {name: manual-ep}
subsets:
- addresses: [{ip: 172.18.0.3}, {ip: 172.18.0.4}, {ip: 172.18.0.5}, {ip: 172.18.0.6}]
  ports: [{port: 3000}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: manual-ep-abcde
  labels: {kubernetes.io/service-name: manual-ep}
addressType: IPv4
endpoints:
- addresses: [172.18.0.3]
  conditions: {ready: true, serving: true, terminating: false}
ports: [{name: http, port: 3000, protocol: TCP}]
""")
    ep = cluster.kubectl("get", "ep", "manual-ep").stdout.splitlines()
    assert ep[0].split() == ["NAME", "ENDPOINTS", "AGE"]
    assert "172.18.0.3:3000,172.18.0.4:3000,172.18.0.5:3000 + 1 more..." in ep[1]
    es = cluster.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=manual-ep").stdout.splitlines()
    assert es[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert es[1].split()[:4] == ["manual-ep-abcde", "IPv4", "3000", "172.18.0.3"]


def test_python_client_configmaps_and_secrets(cluster: Cluster) -> None:
    import kubernetes  # the official client (a test dependency)
    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(cluster.kubeconfig)))
    api.create_namespaced_config_map("default", {"metadata": {"name": "py-cm"}, "data": {"k": "v"}})
    api.patch_namespaced_config_map("py-cm", "default", {"data": {"k": "w"}})
    assert api.read_namespaced_config_map("py-cm", "default").data == {"k": "w"}
    api.create_namespaced_secret("default", {"metadata": {"name": "py-secret"}, "string_data": {"p": "q"}})
    secret = api.read_namespaced_secret("py-secret", "default")
    assert base64.b64decode(secret.data["p"]) == b"q" and secret.type == "Opaque"
    names = [s.metadata.name for s in api.list_namespaced_secret("default", field_selector="type=Opaque").items]
    assert "py-secret" in names
    api.delete_namespaced_config_map("py-cm", "default")
    api.delete_namespaced_secret("py-secret", "default")
