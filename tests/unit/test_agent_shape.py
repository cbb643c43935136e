"""The node agent's process shape (issue 14): what it imports, how its client finds resources, how
its certificates are made without loading ``cryptography`` into it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from minikube_lite.api.errors import BadRequest
from minikube_lite.auth import nodecerts, pki
from minikube_lite.client.http import HTTPClient

ROOT = Path(__file__).resolve().parents[2]

AGENT_IMPORTS = """
import sys
import minikube_lite.node.agent as agent
agent.skip_unused_imports()
import minikube_lite.client.http, minikube_lite.kubelet.kubelet, minikube_lite.kubelet.server
import minikube_lite.proxy.hostnet, minikube_lite.auth.nodecerts
from minikube_lite.apiserver.upgrade import default_handlers
default_handlers()
print(" ".join(sorted(m for m in sys.modules if sys.modules[m] is not None)))
"""


def test_agent_imports_none_of_the_api_server() -> None:
    """Everything the agent runs (the kubelet, its endpoint with the SPDY and WebSocket sessions,
    the HTTPS client) loads without FastAPI, pydantic, the kind register or cryptography."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", AGENT_IMPORTS], check=True, capture_output=True, text=True,
                         env=env).stdout.split()
    loaded = set(out)
    for heavy in ("fastapi", "pydantic", "starlette", "cryptography", "minikube_lite.api.register",
                  "minikube_lite.api.models", "minikube_lite.client.local", "rich", "charset_normalizer"):
        assert heavy not in loaded, f"{heavy} is imported by the node agent"
    assert "minikube_lite.kubelet.kubelet" in loaded and "uvicorn" in loaded


def _discovery(requests: list[str]) -> httpx.MockTransport:
    core = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod"},
        {"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod"},
        {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node"}]}
    groups = {"kind": "APIGroupList", "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
        {"name": "coordination.k8s.io", "versions": [{"groupVersion": "coordination.k8s.io/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "coordination.k8s.io/v1", "version": "v1"}}]}
    lists = {"/api/v1": core, "/apis": groups,
             "/apis/apps/v1": {"resources": [{"name": "deployments", "namespaced": True, "kind": "Deployment"}]},
             "/apis/coordination.k8s.io/v1": {"resources": [{"name": "leases", "namespaced": True, "kind": "Lease"}]}}

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(f"{request.method} {request.url.path}")
        if request.url.path in lists:
            return httpx.Response(200, json=lists[request.url.path])
        if request.url.path == "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1":
            return httpx.Response(200, json={"kind": "Lease", "metadata": {"name": "n1"}})
        if request.url.path == "/api/v1/nodes/n1":
            return httpx.Response(200, json={"kind": "Node", "metadata": {"name": "n1"}})
        return httpx.Response(404, json={"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404,
                                         "message": "not found"})
    return httpx.MockTransport(handle)


def test_http_client_finds_resources_by_discovery_once() -> None:
    requests: list[str] = []
    client = HTTPClient("https://api.invalid")
    client._http = httpx.AsyncClient(base_url="https://api.invalid", transport=_discovery(requests))

    async def go() -> None:
        assert (await client.get("nodes", "n1"))["kind"] == "Node"  # cluster-scoped: no namespace in the path
        lease = await client.get("leases.coordination.k8s.io", "n1", namespace="kube-node-lease")
        assert lease["kind"] == "Lease"
        await client.get("leases", "n1", namespace="kube-node-lease")  # a bare plural: core first, then groups
        await client.get("nodes", "n1")
        with pytest.raises(BadRequest, match='resource type "widgets"'):
            await client.get("widgets", "x")
        await client.close()
    asyncio.run(go())
    discovery = [r for r in requests if r.split()[1] in ("/api/v1", "/apis") or r.split()[1].count("/") == 3]
    # each list read once; "widgets" looked through the groups not read yet (apps) and failed
    assert sorted(discovery) == sorted(["GET /api/v1", "GET /apis", "GET /apis/coordination.k8s.io/v1",
                                        "GET /apis/apps/v1"])


def test_node_certificates_made_by_a_child_with_a_note(tmp_path: Path, monkeypatch: Any) -> None:
    pki.ensure_client(tmp_path)
    monkeypatch.setattr(nodecerts, "IN_CHILD_PROCESS", True)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    ips = ("10.244.0.1", "127.0.0.1")
    nodecerts.ensure_node_certs(tmp_path, "n-m02", ips)
    d = pki.paths(tmp_path).dir
    for name in ("kubelet-client-n-m02.crt", "kubelet-client-n-m02.key", "kubelet-n-m02.crt", "kubelet-n-m02.key"):
        assert (d / name).exists(), name
    note = json.loads((d / "kubelet-n-m02.json").read_text())
    assert set(note["ips"]) == set(ips) and note["notAfter"] > 0
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((d / "kubelet-n-m02.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(i) for i in sans.get_values_for_type(x509.IPAddress)} == set(ips)
    made = (d / "kubelet-n-m02.crt").stat().st_mtime_ns
    nodecerts.ensure_node_certs(tmp_path, "n-m02", ips)  # the note says it is good: nothing made again
    assert (d / "kubelet-n-m02.crt").stat().st_mtime_ns == made
    nodecerts.kubelet_serving(tmp_path, "n-m02", ("10.244.16.1",))  # a new address: made again
    assert "10.244.16.1" in json.loads((d / "kubelet-n-m02.json").read_text())["ips"]
