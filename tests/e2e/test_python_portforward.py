"""The official Python client's ``kubernetes.stream.portforward()`` against a real pod.

The client speaks the kubelet's WebSocket port-forward (subprotocol ``v4.channel.k8s.io``, two
channels per port, each opened by the port number), not kubectl's SPDY. A busybox pod serves a
2 MiB random file over HTTP on port 3000: it comes through intact (its sha256 as ``sha256sum``
in the pod computes it); 4 MiB sent to an echo server on port 4000 come back intact (both
directions at once, through the server's bounded buffers); a second, closed port in the same request gets the kubelet's error
text on its error channel; a pod that does not run gets Kubernetes' message there; a missing pod
and a request without ports are refused before the upgrade with a Status (404, 400).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from collections.abc import Iterator

import pytest
import websockets.exceptions
import websockets.sync.client
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward

from .conftest import Cluster, wait_for

NS = "pyportforward"
SERVER = ("mkdir -p /www && head -c 2097152 /dev/urandom > /www/big && echo hello > /www/index.html"
          " && httpd -p 3000 -h /www && exec nc -ll -p 4000 -e cat")


@pytest.fixture(scope="module")
def core(cluster: Cluster) -> Iterator[client.CoreV1Api]:
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    api = client.CoreV1Api(api_client)
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    for name, selector in (("web", None), ("pending", {"nowhere": "true"})):
        api.create_namespaced_pod(NS, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(node_selector=selector, termination_grace_period_seconds=0, containers=[
                client.V1Container(name="c", image="minikube-lite/busybox:1.0", command=["sh", "-c", SERVER])])))
    wait_for(lambda: pod_running_in(cluster, "web"), timeout=30, what="the web pod to run")
    yield api
    api.delete_namespace(NS)
    api_client.close()


def pod_running_in(cluster: Cluster, name: str) -> bool:
    pod = cluster.get(f"/api/v1/namespaces/{NS}/pods/{name}") or {}
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return pod.get("status", {}).get("phase") == "Running" and bool(statuses) and all(s.get("ready") for s in statuses)


def _http_get(sock: socket.socket, path: str) -> bytes:
    sock.setblocking(True)
    sock.settimeout(20)
    sock.sendall(f"GET {path} HTTP/1.0\r\nHost: pod\r\n\r\n".encode())
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0], head
    return body


def test_download_through_the_python_clients_portforward(cluster: Cluster, core: client.CoreV1Api) -> None:
    pf = portforward(core.connect_get_namespaced_pod_portforward, "web", NS, ports="3000,3001")
    try:
        body = _http_get(pf.socket(3000), "/big")
        expected = cluster.kubectl("exec", "-n", NS, "web", "--", "sha256sum", "/www/big").stdout.split()[0]
        assert len(body) == 2 * 1024 * 1024 and hashlib.sha256(body).hexdigest() == expected
        assert pf.error(3000) is None
        error = wait_for(lambda: pf.error(3001), timeout=10, what="the closed port's error")
        assert error.startswith("error forwarding port 3001 to pod web, uid : failed to connect to localhost:3001")
        assert error.endswith("connect: connection refused"), error
        wait_for(lambda: not pf.connected, timeout=10, what="the WebSocket to close once both ports ended")
    finally:
        pf.close()


def test_upload_and_echo_both_ways(core: client.CoreV1Api) -> None:
    payload = os.urandom(4 * 1024 * 1024)
    pf = portforward(core.connect_get_namespaced_pod_portforward, "web", NS, ports="4000")
    try:
        sock = pf.socket(4000)
        sock.setblocking(True)
        sock.settimeout(30)
        sender = threading.Thread(target=sock.sendall, args=(payload,), daemon=True)
        sender.start()
        received = bytearray()
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            assert chunk, f"the echo ended after {len(received)} bytes"
            received += chunk
        sender.join(10)
        assert bytes(received) == payload
    finally:
        pf.close()


def test_a_client_that_hangs_up_mid_download_leaves_the_server_serving(core: client.CoreV1Api) -> None:
    pf = portforward(core.connect_get_namespaced_pod_portforward, "web", NS, ports="3000")
    sock = pf.socket(3000)
    sock.setblocking(True)
    sock.sendall(b"GET /big HTTP/1.0\r\n\r\n")
    assert sock.recv(65536)
    pf.websocket.close()  # gone with most of 2 MiB still to send
    pf.close()
    again = portforward(core.connect_get_namespaced_pod_portforward, "web", NS, ports="3000")
    try:
        assert _http_get(again.socket(3000), "/index.html") == b"hello\n"
    finally:
        again.close()


def test_a_pod_that_does_not_run_says_so_on_the_error_channel(core: client.CoreV1Api) -> None:
    pf = portforward(core.connect_get_namespaced_pod_portforward, "pending", NS, ports="3000")
    try:
        error = wait_for(lambda: pf.error(3000), timeout=10, what="the error channel")
        assert error == "unable to forward port because pod is not running. Current status=Pending"
    finally:
        pf.close()


def test_refusals_before_the_upgrade_are_statuses(cluster: Cluster, core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as err:
        portforward(core.connect_get_namespaced_pod_portforward, "nosuch", NS, ports="80")
    assert "404" in str(err.value.reason)

    ctx = cluster.ssl_context()
    url = cluster.url.replace("https://", "wss://") + f"/api/v1/namespaces/{NS}/pods/web/portforward"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        websockets.sync.client.connect(url, ssl=ctx, subprotocols=["v4.channel.k8s.io"], open_timeout=10)
    assert refused.value.response.status_code == 400
    status = json.loads(refused.value.response.body)
    assert status["kind"] == "Status" and status["message"] == 'query parameter "port" is required'
