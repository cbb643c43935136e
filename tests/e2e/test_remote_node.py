"""A node on another machine: ``minikube-lite agent --server URL --token T`` joins, runs pods there.

The other machine is a Docker engine in a network namespace of its own, linked to this one by a
veth (remotehost.py); the agent runs in that namespace with only the join command: it pins the
CA, gets its client certificate and its kubelet serving certificate through CSRs, registers the
Node with its own address and runs the pods on its own engine. The master reaches its kubelet
endpoint over the veth for ``kubectl logs``, ``exec`` and ``port-forward``, authenticated both ways. One cluster
for the module, listening on its end of the veth.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from minikube_lite.config import CLUSTER_LABEL

from .conftest import Cluster, free_port, pod_running, running_cluster, wait_for
from .remotehost import RemoteMachine, wait_agent
from .test_engine_restart import SHARED_BRIDGE
from .test_streams import fetch, port_forward

NODE = "far-away"
GRACE = 12  # node-monitor-grace-period for this module's cluster (the Lease is renewed every 10 s)
BUSYBOX = "minikube-lite/busybox:1.0"
POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  nodeSelector:
    kubernetes.io/hostname: {node}
  containers:
    - name: main
      image: minikube-lite/busybox:1.0
      command: ["sh", "-c", "echo hello from $(hostname); mkdir -p /w && echo far > /w/index.html &&
                httpd -p 8080 -h /w && exec sleep 3600"]
"""


@pytest.fixture(scope="module")
def machine() -> Iterator[RemoteMachine]:
    had_bridge = SHARED_BRIDGE.exists()
    m = RemoteMachine()
    try:
        m.start()
        m.load_images(BUSYBOX)
        yield m
    finally:
        m.remove()
    assert SHARED_BRIDGE.exists() == had_bridge, "the shared engine's docker0 bridge is gone"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, machine: RemoteMachine) -> Iterator[Cluster]:
    knobs = {"MINIKUBE_LITE_NODE_MONITOR_GRACE_PERIOD": str(GRACE), "MINIKUBE_LITE_NODE_MONITOR_PERIOD": "1"}
    with running_cluster(tmp_path_factory.mktemp("remote"), host=machine.host_ip, extra_env=knobs) as c:
        yield c


def _join_args(cluster: Cluster) -> tuple[str, str, str]:
    out = cluster.cli("node", "token", "--ttl", "1h").stdout.strip()
    m = re.fullmatch(r"minikube-lite agent --server (https://\S+) --token (\S+) --discovery-token-ca-cert-hash (\S+)",
                     out)
    assert m, out
    return m.group(1), m.group(2), m.group(3)


def _ready(cluster: Cluster, name: str) -> bool:
    node = cluster.get(f"/api/v1/nodes/{name}") or {}
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


@pytest.fixture(scope="module")
def joined(cluster: Cluster, machine: RemoteMachine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    server, token, pin = _join_args(cluster)
    assert server == f"https://{machine.host_ip}:{cluster.settings.port}"  # the address the other machine reaches
    data_dir = tmp_path_factory.mktemp("agent-data")
    t0 = time.monotonic()
    machine.start_agent("--server", server, "--token", token, "--discovery-token-ca-cert-hash", pin,
                        "--name", NODE, "--data-dir", str(data_dir))
    wait_agent(machine, lambda: _ready(cluster, NODE), timeout=60, what=f"node {NODE} Ready")
    return {"token": token, "data_dir": data_dir, "ready_s": time.monotonic() - t0}


def test_agent_joins_with_its_own_address_and_no_ca_key(cluster: Cluster, machine: RemoteMachine,
                                                         joined: dict[str, Any]) -> None:
    node = cluster.get(f"/api/v1/nodes/{NODE}")
    assert {"type": "InternalIP", "address": machine.ip} in node["status"]["addresses"]
    assert "node-role.kubernetes.io/control-plane" not in node["metadata"]["labels"]
    assert f"{NODE}\t{machine.ip}" in cluster.cli("node", "list").stdout.splitlines()
    files = sorted(p.name for p in Path(joined["data_dir"]).iterdir() if p.is_file())
    assert "ca.key" not in files and "ca.crt" in files  # the CA it pinned, never its key
    rows = json.loads(cluster.kubectl("get", "csr", "-o", "json").stdout)["items"]
    mine = {r["spec"]["signerName"]: r for r in rows
            if r["spec"]["username"] in (f"system:bootstrap:{joined['token'][:6]}", f"system:node:{NODE}")}
    client, serving = mine["kubernetes.io/kube-apiserver-client-kubelet"], mine["kubernetes.io/kubelet-serving"]
    assert serving["spec"]["username"] == f"system:node:{NODE}"  # asked with its new client certificate
    for csr in (client, serving):
        wait_for(lambda c=csr: cluster.get(f"/apis/certificates.k8s.io/v1/certificatesigningrequests/"
                                           f"{c['metadata']['name']}")["status"].get("certificate"),
                 timeout=30, what="the CSR issued")
    table = cluster.kubectl("get", "csr", serving["metadata"]["name"]).stdout
    assert "kubernetes.io/kubelet-serving" in table and "Approved,Issued" in table, table


def test_pod_runs_on_the_other_engine_with_logs_exec_port_forward(cluster: Cluster, machine: RemoteMachine,
                                                        joined: dict[str, Any], tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD.format(name="yonder", node=NODE))
    cluster.kubectl("apply", "-f", str(manifest))
    wait_agent(machine, lambda: pod_running(cluster, "yonder"), timeout=90, what="yonder Running")
    pod = cluster.pod("yonder")
    assert pod["spec"]["nodeName"] == NODE and pod["status"]["hostIP"] == machine.ip
    theirs = [c for c in machine.containers(label="io.kubernetes.pod.name=yonder")]
    assert theirs, "the pod's containers are on the other machine's engine"
    assert cluster.containers("yonder", all=True) == []  # and none on the master's
    assert all(c.labels.get(CLUSTER_LABEL) != cluster.settings.cluster_id for c in theirs)  # the agent's own id
    logs = wait_for(lambda: cluster.kubectl("logs", "yonder").stdout, timeout=20, what="logs")
    assert logs.startswith("hello from yonder"), logs
    out = cluster.kubectl("exec", "yonder", "--", "sh", "-c", "echo $((6*7)) on $(hostname)").stdout
    assert out.strip() == "42 on yonder"
    local = free_port()
    with port_forward(cluster, "pod/yonder", f"{local}:8080"):
        assert fetch(local) == b"far\n"
    cluster.kubectl("delete", "pod", "yonder", "--grace-period=0", "--force", check=False)


def _kubelet_port(cluster: Cluster) -> int:
    return int(cluster.get(f"/api/v1/nodes/{NODE}")["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"])


def test_kubelet_endpoint_is_authenticated_both_ways(cluster: Cluster, machine: RemoteMachine,
                                                     joined: dict[str, Any]) -> None:
    from cryptography import x509

    port = _kubelet_port(cluster)
    # the master's side: the endpoint's certificate is the CSR-issued one, for the node's address
    ctx = ssl.create_default_context(cafile=cluster.ca_file)
    with socket.create_connection((machine.ip, port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=machine.ip) as tls:
        der = tls.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der)
    issued = x509.load_pem_x509_certificate((Path(joined["data_dir"]) / "kubelet-server-current.crt").read_bytes())
    assert cert == issued
    assert cert.subject.rfc4514_string() == f"CN=system:node:{NODE},O=system:nodes"
    # the kubelet's side: no client certificate, 401; a cluster user that is not the API server, 403
    with httpx.Client(verify=ctx, timeout=10) as anon:
        assert anon.get(f"https://{machine.ip}:{port}/healthz").status_code == 401
    node_ctx = ssl.create_default_context(cafile=cluster.ca_file)
    node_ctx.load_cert_chain(str(Path(joined["data_dir"]) / "kubelet-client-current.crt"),
                             str(Path(joined["data_dir"]) / "kubelet-client-current.key"))
    with httpx.Client(verify=node_ctx, timeout=10) as as_node:
        r = as_node.get(f"https://{machine.ip}:{port}/containerLogs/default/x/y")
        assert r.status_code == 403, r.text


def test_client_certificate_rotates_through_a_csr_of_its_own(cluster: Cluster, machine: RemoteMachine,
                                                            joined: dict[str, Any]) -> None:
    """kubelet's client certificate rotation: a new key and a CSR made with the current certificate,
    approved as selfnodeclient; the agent schedules it (its log) and keeps working after the swap."""
    from minikube_lite.node.join import renew_client_certificate
    from minikube_lite.node.rotation import certificate_times

    data_dir = Path(joined["data_dir"])
    crt = data_dir / "kubelet-client-current.crt"
    wait_for(lambda: "client certificate valid until" in (machine.root / "agent.log").read_text(errors="replace"),
             timeout=10, what="the agent's rotation deadline in its log")
    before = crt.read_bytes()
    server = f"https://{machine.host_ip}:{cluster.settings.port}"
    renew_client_certificate(server, (data_dir / "ca.crt").read_bytes(), NODE, data_dir)
    assert crt.read_bytes() != before
    not_before, not_after = certificate_times(crt)
    assert not_after - not_before > 300 * 86400  # a certificate of the usual lifetime (a year)
    rows = json.loads(cluster.kubectl("get", "csr", "-o", "json").stdout)["items"]
    renewals = [r for r in rows if r["spec"]["username"] == f"system:node:{NODE}"
                and r["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"]
    assert renewals, [r["spec"]["username"] for r in rows]
    approved = [c for c in renewals[0]["status"]["conditions"] if c["type"] == "Approved"]
    assert approved and "self kubelet client" in approved[0]["message"], renewals[0]["status"]
    ctx = ssl.create_default_context(cadata=(data_dir / "ca.crt").read_text())
    ctx.load_cert_chain(str(crt), str(data_dir / "kubelet-client-current.key"))
    with httpx.Client(base_url=server, verify=ctx, timeout=10) as c:  # the new pair is the node
        assert c.get(f"/api/v1/nodes/{NODE}").status_code == 200
    assert _ready(cluster, NODE)


def test_image_load_copies_an_image_to_the_other_machine(cluster: Cluster, machine: RemoteMachine,
                                                         joined: dict[str, Any]) -> None:
    import docker

    shared = docker.from_env()
    ref = f"mkl-test/carried:{secrets.token_hex(4)}"  # a name only this test made
    shared.images.get(BUSYBOX).tag(ref)
    try:
        assert not [i for i in machine.docker().images.list() if ref in i.tags]
        out = cluster.cli("image", "load", ref).stdout
        assert f'"{ref}" is on node "minikube-lite"' in out, out  # the master's node shares this engine
        assert f'Loaded "{ref}" into node "{NODE}"' in out, out
        assert [i for i in machine.docker().images.list() if ref in i.tags]
        cluster.kubectl("run", "carried", f"--image={ref}", "--image-pull-policy=Never", "--restart=Never",
                        f'--overrides={{"spec":{{"nodeSelector":{{"kubernetes.io/hostname":"{NODE}"}}}}}}',
                        "--", "sleep", "3600")
        wait_agent(machine, lambda: pod_running(cluster, "carried"), timeout=60, what="carried Running")
        assert cluster.pod("carried")["spec"]["nodeName"] == NODE
        bad = cluster.cli("image", "load", "mkl-test/never-built:0", check=False)
        assert bad.returncode != 0 and "is not on this machine's Docker engine" in bad.stdout + bad.stderr
    finally:
        cluster.kubectl("delete", "pod", "carried", "--grace-period=0", "--force", "--ignore-not-found", check=False)
        shared.images.remove(ref)  # the tag only: the image stays under its own name
        shared.close()


MOVABLE = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: movable}
spec:
  replicas: 1
  selector: {matchLabels: {app: movable}}
  template:
    metadata: {labels: {app: movable}}
    spec:
      terminationGracePeriodSeconds: 0
      nodeSelector: {kubernetes.io/hostname: NODE}
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - {name: main, image: minikube-lite/busybox:1.0, command: ["sleep", "3600"]}
""".replace("NODE", NODE)


def _ready_status(cluster: Cluster) -> str:
    node = cluster.get(f"/api/v1/nodes/{NODE}") or {}
    return next((c["status"] for c in (node.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"), "")


def _pod_containers(machine: RemoteMachine, pod: str) -> list[Any]:
    return [c for c in machine.containers(label=f"io.kubernetes.pod.name={pod}") if c.status == "running"]


def test_network_loss_is_a_lost_node_and_its_return_runs_nothing_twice(cluster: Cluster, machine: RemoteMachine,
                                                                      joined: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=MOVABLE)

    def movable() -> list[dict[str, Any]]:
        return json.loads(cluster.kubectl("get", "pods", "-l", "app=movable", "-o", "json").stdout)["items"]
    try:
        first = wait_agent(machine, lambda: [p for p in movable() if p["status"].get("phase") == "Running"],
                           timeout=60, what="the movable pod Running on the other machine")[0]["metadata"]["name"]
        machine.cut_network()
        try:
            wait_for(lambda: _ready_status(cluster) == "Unknown", timeout=GRACE + 20, what="the node NotReady")
            taints = cluster.get(f"/api/v1/nodes/{NODE}")["spec"].get("taints") or []
            assert {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"} in [
                {"key": t["key"], "effect": t["effect"]} for t in taints], taints
            assert "NotReady" in cluster.kubectl("get", "node", NODE).stdout
            wait_for(lambda: cluster.pod(first) is None, timeout=20, what="the eviction of the unreachable pod")
            wait_for(lambda: [p for p in movable() if p["metadata"]["name"] != first], timeout=10,
                     what="the Deployment's replacement")
            # the other machine cannot know: its pod runs on, as a kubelet cut off does in Kubernetes
            assert _pod_containers(machine, first)
        finally:
            machine.cut_network(False)
        wait_agent(machine, lambda: _ready_status(cluster) == "True", timeout=60, what="the node Ready again")
        assert not [t for t in cluster.get(f"/api/v1/nodes/{NODE}")["spec"].get("taints") or []
                    if t["key"] == "node.kubernetes.io/unreachable"]
        running = wait_agent(machine, lambda: [p for p in movable() if p["status"].get("phase") == "Running"],
                             timeout=60, what="the replacement Running on the node back")
        assert len(running) == 1 and running[0]["metadata"]["name"] != first
        wait_for(lambda: not _pod_containers(machine, first), timeout=30,
                 what="the evicted pod's containers removed on the node's return")
        replacement = running[0]["metadata"]["name"]
        sandboxes = [c for c in _pod_containers(machine, replacement)
                     if c.labels.get("io.kubernetes.container.name") == "POD"]
        assert len(sandboxes) == 1  # one copy of the pod, not two
    finally:
        cluster.kubectl("delete", "deployment", "movable", "--ignore-not-found", check=False)


def test_node_delete_removes_it_and_revokes_its_token(cluster: Cluster, machine: RemoteMachine,
                                                      joined: dict[str, Any]) -> None:
    machine.stop_agent()  # the machine leaves first (a running kubelet registers its Node again)
    assert machine.containers(label="io.kubernetes.pod.name=yonder") == []
    out = cluster.cli("node", "delete", NODE).stdout
    assert "Revoked secret/bootstrap-token-" in out, out
    assert cluster.get(f"/api/v1/nodes/{NODE}") is None
    assert cluster.get(f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{joined['token'][:6]}") is None
    rows = json.loads(cluster.kubectl("get", "csr", "-o", "json").stdout)["items"]
    assert not [r for r in rows if r["spec"]["username"] == f"system:node:{NODE}"]
