"""Pods on two machines reach each other by pod IP, ClusterIP and DNS over Swarm's overlay (issue 15).

Both machines are made here (remotehost.py): the master's engine in a network namespace of its
own, linked to this one by a veth (kubectl and the test reach the API there), and the joined
node's engine in another, linked only to the master's. The master daemon runs in its namespace
with ``start --multi-host`` against its own engine, so swarm mode never touches the machine's
shared engine; the agent joins with ``minikube-lite agent`` only. Every packet goes between
addresses of the namespaces made here, and everything goes at the end: ``delete`` takes the
master's engine out of the swarm minikube-lite made, the agent's stop its own.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from minikube_lite.kubelet.pause import PAUSE_IMAGE

from .conftest import Cluster, pod_running, wait_for
from .remotehost import NsCluster, RemoteMachine, join_agent, multi_host_cluster, wait_agent
from .test_engine_restart import SHARED_BRIDGE

NODE = "far-away"
BUSYBOX = "minikube-lite/busybox:1.0"
SERVED = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  nodeSelector:
    kubernetes.io/hostname: {node}
  terminationGracePeriodSeconds: 0
  containers:
    - name: main
      image: minikube-lite/busybox:1.0
      command: ["sh", "-c", "mkdir -p /w && echo {name} > /w/index.html && exec httpd -f -p 8080 -h /w"]
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""


@pytest.fixture(scope="module")
def machines() -> Iterator[tuple[RemoteMachine, RemoteMachine]]:
    from minikube_lite.images import ensure_images

    ensure_images()
    had_bridge = SHARED_BRIDGE.exists()
    # Docker's own iptables rules in both namespaces (masquerade, bridge isolation), as on a user's
    # engine: the overlay's NAT exceptions must get past them
    master = RemoteMachine(iptables=True)
    far = RemoteMachine(peer=master, iptables=True)
    try:
        with ThreadPoolExecutor(2) as pool:  # the two engines start side by side
            list(pool.map(lambda m: (m.engine.start(), m.load_images(BUSYBOX, PAUSE_IMAGE)), (master, far)))
        master.start()
        far.start()
        yield master, far
    finally:
        far.remove()
        master.remove()
    assert SHARED_BRIDGE.exists() == had_bridge, "the shared engine's docker0 bridge is gone"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, machines: tuple[RemoteMachine, RemoteMachine]) -> Iterator[NsCluster]:
    with multi_host_cluster(tmp_path_factory.mktemp("overlay"), machines[0]) as c:
        assert "switched this engine to swarm mode" in c.start_output, c.start_output
        yield c


@pytest.fixture(scope="module")
def joined(cluster: NsCluster, machines: tuple[RemoteMachine, RemoteMachine],
           tmp_path_factory: pytest.TempPathFactory) -> RemoteMachine:
    join_agent(cluster, machines[1], NODE, tmp_path_factory.mktemp("agent-data"))
    # start --multi-host returned once the overlay was published: the agent found it and joined the swarm
    assert "Multi-host network ready" in cluster.start_output, cluster.start_output
    assert machines[1].swarm_state() == "active", machines[1].agent_log()
    return machines[1]


def _wget(cluster: Cluster, pod: str, url: str) -> str:
    return cluster.kubectl("exec", pod, "--", "timeout", "5", "wget", "-qO-", url, check=False).stdout.strip()


def test_pods_of_two_machines_reach_each_other_by_ip_service_and_dns(
        cluster: NsCluster, joined: RemoteMachine, tmp_path: Path) -> None:
    near_node = cluster.settings.node_name
    manifest = tmp_path / "pods.yaml"
    manifest.write_text(SERVED.format(name="near", node=near_node) + "---\n" + SERVED.format(name="far", node=NODE))
    cluster.kubectl("apply", "-f", str(manifest))
    for pod in ("near", "far"):
        wait_agent(joined, lambda p=pod: pod_running(cluster, p), timeout=60, what=f"{pod} Running")
    near, far = cluster.pod("near"), cluster.pod("far")
    assert far["spec"]["nodeName"] == NODE and near["spec"]["nodeName"] == near_node
    assert joined.containers(label="io.kubernetes.pod.name=far"), "far runs on the other machine's engine"
    # each pod's IP is in its node's range
    for pod, node in ((near, near_node), (far, NODE)):
        cidr = cluster.get(f"/api/v1/nodes/{node}")["spec"]["podCIDR"]
        assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(cidr), (pod["status"], cidr)
    # by pod IP, both ways (the source address is checked in the next test)
    assert wait_for(lambda: _wget(cluster, "near", f"http://{far['status']['podIP']}:8080/") == "far",
                    timeout=20, what="near -> far by pod IP")
    assert _wget(cluster, "far", f"http://{near['status']['podIP']}:8080/") == "near"
    # by ClusterIP Service name: the cluster DNS (on the master) and the kube-proxy of each machine
    assert wait_for(lambda: _wget(cluster, "near", "http://far.default.svc.cluster.local/") == "far",
                    timeout=20, what="near -> far by Service name")
    assert wait_for(lambda: _wget(cluster, "far", "http://near/") == "near", timeout=20,
                    what="far -> near by Service name (the DNS search path)")
    svc = cluster.get("/api/v1/namespaces/default/services/near")["spec"]["clusterIP"]
    assert _wget(cluster, "far", f"http://{svc}/") == "near"


def test_the_pod_ip_is_the_source_across_machines(cluster: NsCluster, joined: RemoteMachine) -> None:
    """Flat network, no NAT: the far pod sees the near pod's connection come from the near pod's IP."""
    wait_agent(joined, lambda: pod_running(cluster, "far") and pod_running(cluster, "near"), timeout=60,
               what="the pods of the first test")
    near_ip, far_ip = cluster.pod("near")["status"]["podIP"], cluster.pod("far")["status"]["podIP"]
    procs = [subprocess.Popen([*cluster.kubectl_cmd(), "exec", "far", "--", "sh", "-c", "sleep 10 | nc -l -p 9090"],
                              env=cluster.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for(lambda: ":9090" in cluster.kubectl("exec", "far", "--", "netstat", "-ltn").stdout, timeout=10,
                 what="far listening on 9090")
        procs.append(subprocess.Popen([*cluster.kubectl_cmd(), "exec", "near", "--", "sh", "-c",
                                       f"sleep 8 | nc {far_ip} 9090"], env=cluster.env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        seen = wait_for(lambda: [ln for ln in cluster.kubectl("exec", "far", "--", "netstat", "-tn").stdout.splitlines()
                                 if f"{far_ip}:9090" in ln and "ESTABLISHED" in ln], timeout=10,
                        what="the connection on far")
    finally:
        for p in procs:
            p.kill()
            p.wait(10)
    assert any(re.search(rf"[ :]{re.escape(near_ip)}:\d+ ", ln) for ln in seen), seen  # its own pod IP


NODE_PORT = """apiVersion: v1
kind: Service
metadata:
  name: {name}-np
spec:
  type: NodePort
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""


def _curl(machine: RemoteMachine, url: str) -> str:
    """An HTTP GET from ``machine``'s own network namespace (its host, not a pod): the body, or ""."""
    done = subprocess.run(machine.nsenter("curl", "-sS", "--max-time", "2", url), capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def _answers(machine: RemoteMachine, url: str, name: str, what: str) -> None:
    """``url`` answers ``name`` from ``machine`` (tried again for a while: a loaded CI machine)."""
    wait_for(lambda: _curl(machine, url) == name, timeout=15, what=f"{url} answering {name} {what}")


def test_node_ports_answer_on_the_joined_node_address(cluster: NsCluster, joined: RemoteMachine, tmp_path: Path,
                                                      machines: tuple[RemoteMachine, RemoteMachine]) -> None:
    """Every node's kube-proxy answers every NodePort: the joined node's on its InternalIP (from the
    network and from its own machine, localhost too), to a pod on either machine; with
    ``externalTrafficPolicy: Local`` traffic from elsewhere only to a pod on that node."""
    master = machines[0]
    wait_agent(joined, lambda: pod_running(cluster, "far") and pod_running(cluster, "near"), timeout=60,
               what="the pods of the first test")
    addresses = cluster.get(f"/api/v1/nodes/{NODE}")["status"]["addresses"]
    assert {"type": "InternalIP", "address": joined.ip} in addresses, addresses
    manifest = tmp_path / "np.yaml"
    manifest.write_text(NODE_PORT.format(name="near") + "---\n" + NODE_PORT.format(name="far"))
    cluster.kubectl("apply", "-f", str(manifest))
    port = {name: cluster.get(f"/api/v1/namespaces/default/services/{name}-np")["spec"]["ports"][0]["nodePort"]
            for name in ("near", "far")}
    # externalTrafficPolicy Cluster: from the master's machine and from the joined one (its address
    # and localhost), to the pod on the master's node and to the one on the joined node
    for name in ("near", "far"):
        url = f"http://{joined.ip}:{port[name]}/"
        _answers(master, url, name, "from the master's machine")
        _answers(joined, url, name, "from the joined machine")
        _answers(joined, f"http://127.0.0.1:{port[name]}/", name, "on the joined machine's localhost")
    for name in ("near", "far"):
        cluster.kubectl("patch", "service", f"{name}-np", "-p", '{"spec":{"externalTrafficPolicy":"Local"}}')
    # Local: from elsewhere only where the pod is (the joined node has "far" only); traffic of the
    # node itself still goes to every endpoint, as kube-proxy sends it
    near_url, far_url = f"http://{joined.ip}:{port['near']}/", f"http://{joined.ip}:{port['far']}/"
    wait_for(lambda: not _curl(master, near_url), timeout=20, what=f"{near_url} (Local, no pod there) not answering")
    _answers(master, far_url, "far", "from the master's machine (Local, the pod is there)")
    _answers(joined, near_url, "near", "from the joined machine itself (Local)")
    _answers(joined, far_url, "far", "from the joined machine itself (Local)")
    # and the pod sees the client's own address (not masqueraded, as Local promises)
    hold = subprocess.Popen(master.nsenter(sys.executable, "-c", "import socket, time; "
                                           f"s = socket.create_connection(({joined.ip!r}, {port['far']})); "
                                           "time.sleep(8)"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen = wait_for(lambda: [ln for ln in cluster.kubectl("exec", "far", "--", "netstat", "-tn").stdout.splitlines()
                                 if ":8080 " in ln and "ESTABLISHED" in ln], timeout=10, what="the connection on far")
    finally:
        hold.kill()
        hold.wait(10)
    assert any(re.search(rf"[ :]{re.escape(master.ip)}:\d+ ", ln) for ln in seen), (master.ip, seen)


def test_health_check_node_port_says_which_machine_has_an_endpoint(
        cluster: NsCluster, joined: RemoteMachine, machines: tuple[RemoteMachine, RemoteMachine]) -> None:
    """A Local LoadBalancer's healthCheckNodePort, served by every node's kube-proxy: 200 and the count
    on the joined node (it has the pod), 503 on the master's machine (it has none)."""
    master = machines[0]
    cluster.kubectl("create", "service", "loadbalancer", "far-lb", "--tcp=18080:8080")
    cluster.kubectl("patch", "service", "far-lb", "-p",
                    '{"spec":{"externalTrafficPolicy":"Local","selector":{"app":"far"}}}')
    hc = cluster.get("/api/v1/namespaces/default/services/far-lb")["spec"].get("healthCheckNodePort")
    assert hc, "a Local LoadBalancer gets a healthCheckNodePort"

    def probe(machine: RemoteMachine, host: str) -> tuple[int, dict]:
        done = subprocess.run(machine.nsenter("curl", "-sS", "--max-time", "2", "-w", "\\n%{http_code}",
                                              f"http://{host}:{hc}/healthz"), capture_output=True, text=True,
                              check=False)
        body, _, code = done.stdout.rpartition("\n")
        return (int(code), json.loads(body)) if done.returncode == 0 and body else (0, {})

    code, body = wait_for(lambda: (r := probe(master, joined.ip))[0] == 200 and r, timeout=20,
                          what="the joined node's health check")
    assert body == {"service": {"namespace": "default", "name": "far-lb"}, "localEndpoints": 1,
                    "serviceProxyHealthy": True}
    code, body = wait_for(lambda: (r := probe(master, "127.0.0.1"))[0] and r, timeout=20,
                          what="the master machine's health check")
    assert (code, body["localEndpoints"]) == (503, 0), body
    # the API keeps it as kube-apiserver does: immutable while needed, dropped with the policy
    other = hc + 1 if hc < 32767 else hc - 1
    bad = cluster.kubectl("patch", "service", "far-lb", "-p", f'{{"spec":{{"healthCheckNodePort":{other}}}}}',
                          check=False)
    assert bad.returncode != 0 and "spec.healthCheckNodePort: Forbidden: field is immutable" in bad.stderr, bad.stderr
    cluster.kubectl("patch", "service", "far-lb", "-p", '{"spec":{"externalTrafficPolicy":"Cluster"}}')
    assert "healthCheckNodePort" not in cluster.get("/api/v1/namespaces/default/services/far-lb")["spec"]


def test_delete_undoes_swarm_mode(cluster: NsCluster, joined: RemoteMachine,
                                  machines: tuple[RemoteMachine, RemoteMachine]) -> None:
    master, far = machines
    assert master.swarm_state() == "active" and far.swarm_state() == "active"
    far.stop_agent()
    assert far.swarm_state() == "inactive"  # the agent leaves the swarm it joined
    assert not far.containers(label="io.minikube-lite.overlay-router")
    cluster.cli("delete")
    assert master.swarm_state() == "inactive"  # the swarm minikube-lite made is gone
    assert not master.containers(label="io.minikube-lite.overlay-router")
    client = master.docker()
    try:
        assert not [n for n in client.networks.list() if n.name.startswith("minikube-lite-")]
    finally:
        client.close()
