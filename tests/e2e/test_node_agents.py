"""Several nodes, each its own kubelet process: ``minikube-lite start --nodes 3`` and ``node`` verbs.

One cluster of three nodes for the module (the shared cluster must not get extra nodes): the
control plane's kubelet in the daemon, ``minikube-lite-m02`` and ``-m03`` as node agents
(``python -m minikube_lite.node``) that reach the API only over HTTPS with their own node
certificates. Real engine, real kubectl. The node monitor grace period is shortened to 10 s
(kube-controller-manager's ``--node-monitor-grace-period``) so a stopped node goes NotReady fast.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Cluster, running_cluster, wait_for

GRACE = 10
NODES = ["minikube-lite", "minikube-lite-m02", "minikube-lite-m03"]

SPREAD = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: spread}
spec:
  replicas: 3
  selector: {matchLabels: {app: spread}}
  template:
    metadata: {labels: {app: spread}}
    spec:
      terminationGracePeriodSeconds: 0
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: spread}}
            topologyKey: kubernetes.io/hostname
      containers:
      - name: web
        image: minikube-lite/busybox:1.0
        command: ["sh", "-c", "mkdir -p /w && hostname > /w/index.html && echo serving $(hostname) &&
                  exec httpd -f -p 8080 -h /w"]
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: spread}
spec:
  selector: {app: spread}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: spread-np}
spec:
  type: NodePort
  selector: {app: spread}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 0
  nodeSelector: {kubernetes.io/hostname: minikube-lite-m02}
  containers:
  - {name: main, image: minikube-lite/busybox:1.0, command: ["sleep", "3600"]}
"""


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    knobs = {"MINIKUBE_LITE_NODE_MONITOR_GRACE_PERIOD": str(GRACE), "MINIKUBE_LITE_NODE_MONITOR_PERIOD": "1"}
    with running_cluster(Path(tmp_path_factory.mktemp("three")), "--nodes", "3", extra_env=knobs) as c:
        yield c


def _json(c: Cluster, *args: str) -> Any:
    return json.loads(c.kubectl(*args, "-o", "json").stdout)


def _ready(c: Cluster, node: str) -> str:
    obj = c.get(f"/api/v1/nodes/{node}") or {}
    return next((x["status"] for x in (obj.get("status") or {}).get("conditions") or [] if x["type"] == "Ready"),
                "")


def _agent_pid(c: Cluster, node: str) -> int:
    return int((c.settings.state_dir / "nodes" / node / "agent.pid").read_text())


def _node_containers(c: Cluster, node: str, *, states: bool = False) -> dict[str, str]:
    """id -> name (``states``: -> status) of the containers labelled with ``node`` in this cluster."""
    import docker

    client = docker.from_env()
    try:
        found = client.containers.list(all=True, filters={"label": [
            f"io.minikube-lite.cluster={c.settings.cluster_id}", f"io.minikube-lite.node={node}"]},
            ignore_removed=True)
        return {x.id: x.status if states else x.name for x in found}
    finally:
        client.close()


def _internal_ip(c: Cluster, node: str) -> str:
    obj = c.get(f"/api/v1/nodes/{node}") or {}
    return next((a["address"] for a in (obj.get("status") or {}).get("addresses") or []
                 if a["type"] == "InternalIP"), "")


def _host_addresses() -> set[str]:
    out = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True, check=True).stdout
    return {i["local"] for link in json.loads(out) for i in link.get("addr_info") or [] if i.get("family") == "inet"}


def _spread_pods(c: Cluster) -> dict[str, dict[str, Any]]:
    """node -> its running spread pod."""
    pods = _json(c, "get", "pods", "-l", "app=spread")["items"]
    return {p["spec"]["nodeName"]: p for p in pods
            if p["status"].get("phase") == "Running" and p["status"].get("podIP")
            and not p["metadata"].get("deletionTimestamp")}


@pytest.fixture(scope="module")
def spread(three: Cluster) -> dict[str, dict[str, Any]]:
    three.kubectl("apply", "-f", "-", input=SPREAD)
    def all_three() -> dict[str, dict[str, Any]] | None:
        pods = _spread_pods(three)
        return pods if len(pods) == 3 else None
    return wait_for(all_three, timeout=60, what="one spread pod Running on each node")


def test_three_nodes_each_its_own_kubelet_process(three: Cluster) -> None:
    out = three.kubectl("get", "nodes").stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert sorted(rows) == NODES
    assert all(r[1] == "Ready" for r in rows.values()), out
    assert rows["minikube-lite"][2] == "control-plane"
    assert rows["minikube-lite-m02"][2] == rows["minikube-lite-m03"][2] == "<none>"
    listed = three.cli("node", "list").stdout.split()
    assert listed[0::2] == NODES
    ports = set()
    for node in NODES[1:]:
        pid = _agent_pid(three, node)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert b"minikube_lite.node" in cmdline and node.encode() in cmdline  # a process of its own
        obj = three.get(f"/api/v1/nodes/{node}")
        ports.add(obj["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"])
        assert "node-role.kubernetes.io/control-plane" not in obj["metadata"]["labels"]
    main = three.get("/api/v1/nodes/minikube-lite")["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    ports.add(main)
    assert len(ports) == 3 and all(p > 0 for p in ports)
    # the agents are authenticated as their nodes: their Leases were written by system:node:<name>
    lease = three.get("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/minikube-lite-m02")
    managers = {m.get("manager") for m in lease["metadata"].get("managedFields") or []}
    assert lease["spec"]["holderIdentity"] == "minikube-lite-m02" and "kubelet" in managers, lease
    # kubectl describe node lists what its kubelet and the node controller recorded, as on kind
    wait_for(lambda: _node_events(three, "minikube-lite-m02") >= {
        ("Starting", "kubelet", "Starting kubelet."),
        ("NodeHasSufficientMemory", "kubelet", "Node minikube-lite-m02 status is now: NodeHasSufficientMemory"),
        ("NodeAllocatableEnforced", "kubelet", "Updated Node Allocatable limit across pods"),
        ("NodeReady", "kubelet", "Node minikube-lite-m02 status is now: NodeReady"),
        ("RegisteredNode", "node-controller",
         "Node minikube-lite-m02 event: Registered Node minikube-lite-m02 in Controller")},
        timeout=10, what="the node's events in kubectl describe node")


def _node_events(c: Cluster, node: str) -> set[tuple[str, str, str]]:
    """(reason, from, message) of the Events section of ``kubectl describe node``."""
    out = c.kubectl("describe", "node", node).stdout
    rows = out.split("\nEvents:", 1)[1].splitlines()[3:] if "\nEvents:" in out else []
    found = set()
    for row in rows:
        cells = [x for x in row.strip().split("  ") if x.strip()]
        if len(cells) >= 5:
            found.add((cells[1].strip(), cells[3].strip(), "  ".join(cells[4:]).strip()))
    return found


def test_each_node_has_its_own_address(three: Cluster) -> None:
    """kind's nodes each have an InternalIP; here the control plane has the bridge's gateway and every
    other node the first address of its pod range, an address of the host that its endpoint listens on."""
    ips = {n: _internal_ip(three, n) for n in NODES}
    assert len(set(ips.values())) == 3 and all(ips.values()), ips
    for node in NODES[1:]:
        cidr = three.get(f"/api/v1/nodes/{node}")["spec"]["podCIDR"]
        assert ips[node] == str(next(ipaddress.ip_network(cidr).hosts())), (node, cidr, ips)
    assert set(ips.values()) <= _host_addresses()
    wide = three.kubectl("get", "nodes", "-o", "wide").stdout.splitlines()
    col = wide[0].split().index("INTERNAL-IP")
    assert {r.split()[0]: r.split()[col] for r in wide[1:]} == ips, wide
    assert three.cli("ip").stdout.strip() == ips["minikube-lite"]
    assert three.cli("ip", "--node", "minikube-lite-m02").stdout.strip() == ips["minikube-lite-m02"]
    assert three.cli("ip", "-n", "m03").stdout.strip() == ips["minikube-lite-m03"]  # minikube's short form
    listed = three.cli("node", "list").stdout.split()
    assert dict(zip(listed[0::2], listed[1::2], strict=True)) == ips
    # each agent's kubelet endpoint listens on its node's address, not on the others'
    for node in NODES[1:]:
        port = three.get(f"/api/v1/nodes/{node}")["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        socket.create_connection((ips[node], port), timeout=3).close()
        with pytest.raises(OSError):
            socket.create_connection((ips["minikube-lite"], port), timeout=3).close()


def test_node_port_answers_on_every_node_address(three: Cluster, spread: dict[str, dict[str, Any]]) -> None:
    svc = three.get("/api/v1/namespaces/default/services/spread-np")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    names = {p["metadata"]["name"] for p in spread.values()}
    for node in NODES:  # from the host, as curl http://$(minikube ip -n NODE):NODEPORT
        ip = _internal_ip(three, node)
        wait_for(lambda ip=ip: httpx.get(f"http://{ip}:{node_port}/", timeout=3).text.strip() in names,
                 timeout=20, what=f"the NodePort on {node}'s address {ip}")
    # from a pod on m02 to m03's address
    ip = _internal_ip(three, "minikube-lite-m03")
    wait_for(lambda: ((three.pod("client") or {}).get("status") or {}).get("phase") == "Running", timeout=30,
             what="the client pod on m02")
    got = three.kubectl("exec", "client", "--", "sh", "-c", f'printf "GET / HTTP/1.0\\r\\n\\r\\n" | '
                                                             f"nc -w 3 {ip} {node_port} | tail -1").stdout.strip()
    assert got in names, got
    # exec and logs through each node's own endpoint address
    for node, pod in spread.items():
        name = pod["metadata"]["name"]
        assert three.kubectl("exec", name, "--", "cat", "/w/index.html").stdout.strip() == name, node
        assert f"serving {name}" in three.kubectl("logs", name).stdout, node


def test_pods_spread_and_reach_each_other_across_nodes(three: Cluster,
                                                       spread: dict[str, dict[str, Any]]) -> None:
    import ipaddress

    cidrs = {n: three.get(f"/api/v1/nodes/{n}")["spec"].get("podCIDR") for n in NODES}
    assert all(cidrs.values()) and len(set(cidrs.values())) == 3, cidrs  # a pod range per node
    for node, pod in spread.items():  # each pod's IP from its node's range
        assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(cidrs[node]), (node, pod["status"])
    wide = three.kubectl("get", "pods", "-l", "app=spread", "-o", "wide").stdout
    for node, pod in spread.items():
        line = next(x for x in wide.splitlines() if x.startswith(pod["metadata"]["name"]))
        assert node in line.split() and pod["status"]["podIP"] in line.split(), wide
    # each node's containers carry its label, and only its own pods
    for node, pod in spread.items():
        names = _node_containers(three, node).values()
        assert any(pod["metadata"]["name"] in n for n in names)
        others = [p["metadata"]["name"] for n, p in spread.items() if n != node]
        assert not any(o in n for o in others for n in names)
    m03 = spread["minikube-lite-m03"]
    src = "client"  # on m02, not a backend of the Service (a pod reaching itself is hairpin traffic)
    wait_for(lambda: ((three.pod(src) or {}).get("status") or {}).get("phase") == "Running", timeout=30,
             what="the client pod on m02")
    assert three.pod(src)["spec"]["nodeName"] == "minikube-lite-m02"
    # pod IP, ClusterIP by DNS name, from a pod on m02 to a pod on m03 / any node (exec via m02's kubelet)
    def fetch(host: str, port: int) -> str:  # busybox nc (Debian's static busybox wget crashes)
        return three.kubectl("exec", src, "--", "sh", "-c", f'printf "GET / HTTP/1.0\\r\\n\\r\\n" | '
                                                            f"nc -w 3 {host} {port} | tail -1").stdout.strip()
    assert fetch(m03["status"]["podIP"], 8080) == m03["metadata"]["name"]
    seen = set()
    for _ in range(12):
        seen.add(fetch("spread.default.svc.cluster.local", 80))
        if len(seen) == 3:
            break
    assert seen <= {p["metadata"]["name"] for p in spread.values()} and len(seen) > 1, seen
    # logs come from the pod's node agent, through its kubelet endpoint
    logs = three.kubectl("logs", m03["metadata"]["name"]).stdout
    assert f"serving {m03['metadata']['name']}" in logs


def test_kubelet_endpoint_serves_only_the_api_server(three: Cluster) -> None:
    from minikube_lite.auth import pki
    from minikube_lite.auth.nodecerts import node_client

    obj = three.get("/api/v1/nodes/minikube-lite-m02")
    host = next(a["address"] for a in obj["status"]["addresses"] if a["type"] == "InternalIP")
    port = obj["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    url = f"https://{host}:{port}/healthz"
    ca = str(pki.paths(three.settings.state_dir).ca_crt)
    anonymous = httpx.get(url, verify=ssl.create_default_context(cafile=ca), timeout=5)
    assert anonymous.status_code == 401
    crt, key = node_client(three.settings.state_dir, "minikube-lite-m03")  # another node's identity
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(str(crt), str(key))
    other = httpx.get(url, verify=ctx, timeout=5)
    assert other.status_code == 403 and "user=system:node:minikube-lite-m03" in other.json()["message"]
    admin = httpx.get(url, verify=three.ssl_context(), timeout=5)
    assert admin.status_code == 200 and admin.text == "ok"


def test_killed_agent_adopts_its_containers(three: Cluster, spread: dict[str, dict[str, Any]]) -> None:
    node = "minikube-lite-m02"
    before = _node_containers(three, node)
    pod = spread[node]["metadata"]["name"]
    os.kill(_agent_pid(three, node), signal.SIGKILL)
    time.sleep(0.5)
    out = three.cli("node", "start", "m02").stdout  # minikube's short name works too
    assert f'Successfully started node "{node}"' in out, out
    assert _ready(three, node) == "True"
    time.sleep(3)  # a few syncs of the new agent
    assert _node_containers(three, node) == before  # nothing replaced, nothing duplicated
    status = (three.pod(pod) or {})["status"]
    assert status["phase"] == "Running" and status["containerStatuses"][0]["restartCount"] == 0
    assert three.kubectl("exec", pod, "--", "cat", "/w/index.html").stdout.strip() == pod


def test_stopped_node_goes_not_ready_and_its_pods_are_replaced(three: Cluster,
                                                             spread: dict[str, dict[str, Any]]) -> None:
    manifest = """
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
      nodeSelector: {kubernetes.io/hostname: minikube-lite-m03}
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - {name: main, image: minikube-lite/busybox:1.0, command: ["sleep", "3600"]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: roaming}
spec:
  replicas: 1
  selector: {matchLabels: {app: roaming}}
  template:
    metadata: {labels: {app: roaming}}
    spec:
      terminationGracePeriodSeconds: 0
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            preference: {matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [minikube-lite-m03]}]}
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - {name: main, image: minikube-lite/busybox:1.0, command: ["sleep", "3600"]}
"""
    node = "minikube-lite-m03"
    three.kubectl("apply", "-f", "-", input=manifest)
    try:
        def movable() -> list[dict[str, Any]]:
            return _json(three, "get", "pods", "-l", "app=movable")["items"]
        first = wait_for(lambda: [p for p in movable() if p["status"].get("phase") == "Running"], timeout=30,
                         what="the movable pod Running on m03")[0]["metadata"]["name"]
        def roaming() -> list[dict[str, Any]]:
            return [p for p in _json(three, "get", "pods", "-l", "app=roaming")["items"]
                    if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
        roamer = wait_for(roaming, timeout=30, what="the roaming pod Running")[0]
        assert roamer["spec"]["nodeName"] == node, roamer["spec"]  # it prefers m03
        before = _node_containers(three, node)
        spread_pod = spread[node]["metadata"]["name"]
        address = _internal_ip(three, node)
        out = three.cli("node", "stop", node).stdout
        assert f'Successfully stopped node "{node}"' in out
        # the machine is off: its containers are stopped, not removed; its address is gone
        stopped = _node_containers(three, node, states=True)
        assert set(stopped) == set(before) and set(stopped.values()) == {"exited"}, stopped
        assert address not in _host_addresses()
        # minikube status lists every node; a stopped worker makes it fail (host and kubelet bits)
        st = three.cli("status", check=False)
        assert st.returncode == 3, st.stdout
        assert f"\n{node}\ntype: Worker\nhost: Stopped\nkubelet: Stopped\n" in st.stdout, st.stdout
        assert "\nminikube-lite-m02\ntype: Worker\nhost: Running\nkubelet: Running\n" in st.stdout, st.stdout
        lease = three.get(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}")
        wait_for(lambda: _ready(three, node) == "Unknown", timeout=GRACE + 15, what="m03 NotReady")
        now = time.time()
        renewed = datetime.fromisoformat(lease["spec"]["renewTime"]).timestamp()
        assert now - renewed >= GRACE - 1  # not before the grace period after the last renewal
        assert "NotReady" in three.kubectl("get", "node", node).stdout
        # the pod tolerates unreachable for 2 s, then it is evicted (grace 0: removed at once), and the
        # Deployment's replacement waits Pending: its node selector names the unreachable node
        wait_for(lambda: three.pod(first) is None, timeout=20, what="the eviction of the pod on the stopped node")
        wait_for(lambda: [p for p in movable() if p["metadata"]["name"] != first], timeout=10,
                 what="the Deployment's replacement")
        # the roaming pod's replacement runs on another node (m03 is tainted unreachable:NoSchedule)
        moved = wait_for(lambda: [p for p in roaming() if p["metadata"]["name"] != roamer["metadata"]["name"]],
                         timeout=30, what="the roaming pod's replacement Running on another node")
        assert moved[0]["spec"]["nodeName"] in NODES[:2], moved[0]["spec"]
        # the spread pod on m03 is evicted after the default 300 s: not within this test
        three.cli("node", "start", node)
        assert _ready(three, node) == "True"
        replacement = wait_for(lambda: [p for p in movable() if p["status"].get("phase") == "Running"],
                               timeout=30, what="the replacement Running on m03")
        assert len(replacement) == 1 and replacement[0]["metadata"]["name"] != first
        names = list(_node_containers(three, node).values())
        assert not any(first in n or roamer["metadata"]["name"] in n for n in names)  # stale ones cleaned
        assert sum(replacement[0]["metadata"]["name"] in n and "_POD_" in n for n in names) == 1
        assert _internal_ip(three, node) == address and address in _host_addresses()
        events = wait_for(lambda: (e := _node_events(three, node)) and ("NodeReady", "kubelet",
                          f"Node {node} status is now: NodeReady") in e and e, timeout=10, what="m03's NodeReady")
        assert ("NodeNotReady", "node-controller", f"Node {node} status is now: NodeNotReady") in events, events
        assert ("Starting", "kubelet", "Starting kubelet.") in events, events
        listed = json.loads(three.cli("status", "-o", "json").stdout)  # exit code 0: all running
        assert [(x["Name"], x["Host"], x["Kubelet"], x.get("Worker", False)) for x in listed] == [
            (NODES[0], "Running", "Running", False), *((n, "Running", "Running", True) for n in NODES[1:])]
        # the spread pod (tolerating unreachable for 300 s) was not evicted: after the "reboot" its
        # kubelet gives it a new sandbox and restarts its container; the dead sandbox is removed
        restarted = wait_for(lambda: next((p for p in [three.pod(spread_pod)] if p and p["status"].get("phase")
                                           == "Running" and p["status"]["containerStatuses"][0]["ready"]
                                           and p["status"]["containerStatuses"][0]["restartCount"] >= 1), None),
                             timeout=30, what="the spread pod on m03 restarted")
        assert restarted["spec"]["nodeName"] == node
        live = _node_containers(three, node, states=True)
        mine = {cid: (n, live[cid]) for cid, n in _node_containers(three, node).items() if spread_pod in n}
        sandboxes = [st for n, st in mine.values() if "_POD_" in n]
        apps = [st for n, st in mine.values() if "_POD_" not in n]
        assert sandboxes == ["running"], mine
        assert sorted(apps) == ["exited", "running"], mine  # the live attempt and the previous (logs -p)
        assert f"serving {spread_pod}" in three.kubectl("logs", spread_pod).stdout
    finally:
        three.kubectl("delete", "deployment", "movable", "roaming", "--ignore-not-found", check=False)


DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: per-node}
spec:
  selector: {matchLabels: {app: per-node}}
  template:
    metadata: {labels: {app: per-node}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - {name: main, image: minikube-lite/busybox:1.0, command: ["sleep", "3600"]}
"""


def test_node_add_and_delete(three: Cluster) -> None:
    three.kubectl("apply", "-f", "-", input=DAEMONSET)

    def daemon_pods() -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for p in _json(three, "get", "pods", "-l", "app=per-node")["items"]:
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp"):
                out.setdefault(p["spec"]["nodeName"], []).append(p["metadata"]["name"])
        return out
    wait_for(lambda: sorted(daemon_pods()) == NODES, timeout=30, what="a daemon pod Running on each node")
    out = three.cli("node", "add").stdout
    assert "Successfully added minikube-lite-m04" in out
    assert _ready(three, "minikube-lite-m04") == "True"
    # the new node gets its daemon pod, and only one: created once, never deleted and made again
    # (the node registers NotReady; the node controller's not-ready:NoSchedule taint follows a moment later)
    wait_for(lambda: len(daemon_pods().get("minikube-lite-m04", [])) == 1, timeout=30,
             what="the daemon pod Running on m04")
    made = [e["message"] for e in _json(three, "get", "events", "--field-selector",
                                        "involvedObject.kind=DaemonSet,involvedObject.name=per-node")["items"]
            if e["reason"] in ("SuccessfulCreate", "SuccessfulDelete")]
    assert len(made) == 4 and all(m.startswith("Created pod: ") for m in made), made
    three.kubectl("delete", "ds", "per-node")
    wait_for(lambda: _json(three, "get", "pods", "-l", "app=per-node")["items"] == [], timeout=30,
             what="the daemon pods gone")
    address = _internal_ip(three, "minikube-lite-m04")
    assert address not in {_internal_ip(three, n) for n in NODES} and address in _host_addresses()
    pod = """
apiVersion: v1
kind: Pod
metadata: {name: on-m04}
spec:
  terminationGracePeriodSeconds: 0
  nodeSelector: {kubernetes.io/hostname: minikube-lite-m04}
  containers:
  - {name: main, image: minikube-lite/busybox:1.0, command: ["sleep", "3600"]}
"""
    three.kubectl("apply", "-f", "-", input=pod)
    wait_for(lambda: ((three.pod("on-m04") or {}).get("status") or {}).get("phase") == "Running", timeout=30,
             what="a pod Running on m04")
    three.cli("node", "stop", "minikube-lite-m04")
    kept = _node_containers(three, "minikube-lite-m04", states=True)
    assert len(kept) == 2 and set(kept.values()) == {"exited"}, kept  # sandbox + main, stopped
    # a stopped node's containers go with it: node delete removes them (no agent runs to do it)
    out = three.cli("node", "delete", "minikube-lite-m04").stdout
    assert 'Node "minikube-lite-m04" was successfully deleted.' in out
    assert three.get("/api/v1/nodes/minikube-lite-m04") is None
    assert not (three.settings.state_dir / "nodes" / "minikube-lite-m04").exists()
    assert _node_containers(three, "minikube-lite-m04") == {}
    assert address not in _host_addresses()
    assert three.cli("node", "list").stdout.split()[0::2] == NODES
    # its pod is the pod GC's after a 40 s quarantine, as in Kubernetes: not waited for here
    three.kubectl("delete", "pod", "on-m04", "--force", "--grace-period=0", check=False)
