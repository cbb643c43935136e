"""Service networking end to end: real kubectl, real Docker containers, real sockets and iptables.

Pods reach Services by cluster IP and by the four DNS names, spread over two endpoints; a
headless Service resolves to the pod IPs; named target ports; a pod that dies leaves its
Service within a second; nodePorts and LoadBalancer ports answer on the host; a port taken by
another program is an event and a condition, not a failure of other Services; a Service selecting
nothing refuses at once; the Ingress routes by host and path (ingress-nginx's rewrite); and
``minikube-lite stop`` leaves no address, rule or listener behind.

Failing connections are probed with busybox ``nc`` (Debian's static busybox ``wget`` crashes).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from .conftest import Cluster, free_port, pod_running, wait_for

WEB = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: netweb}}}}
spec:
  containers:
  - name: web
    image: minikube-lite/busybox:1.0
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 3000 -h /www"]
    ports: [{{name: web-port, containerPort: 3000}}]
"""

SETUP = WEB.format(name="netweb-1") + "---" + WEB.format(name="netweb-2") + """---
apiVersion: v1
kind: Pod
metadata: {name: netclient}
spec:
  containers:
  - {name: c, image: "minikube-lite/busybox:1.0", command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Service
metadata: {name: netweb}
spec:
  selector: {app: netweb}
  ports: [{name: http, port: 80, targetPort: web-port}]
---
apiVersion: v1
kind: Service
metadata: {name: netweb-headless}
spec:
  clusterIP: None
  selector: {app: netweb}
  ports: [{port: 3000}]
"""


def _exec(cluster: Cluster, script: str, pod: str = "netclient") -> str:
    return cluster.kubectl("exec", pod, "--", "sh", "-c", script, timeout=30).stdout


def _http(cluster: Cluster, host: str, port: int, pod: str = "netclient") -> str:
    out = _exec(cluster, f'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 {host} {port} | tail -1', pod)
    return out.strip()


@pytest.fixture(scope="module")
def net(cluster: Cluster) -> Iterator[Cluster]:
    cluster.kubectl("apply", "-f", "-", input=SETUP)
    try:
        for name in ("netweb-1", "netweb-2", "netclient"):
            wait_for(lambda n=name: pod_running(cluster, n), timeout=60, what=f"{name} running")
        wait_for(lambda: len(_ready_ips(cluster, "netweb")) == 2, timeout=10, what="two endpoints")
        yield cluster
    finally:  # the session cluster is shared: leave the default namespace as it was found
        cluster.kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false", input=SETUP, check=False)


def _ready_ips(cluster: Cluster, svc: str) -> list[str]:
    ep = cluster.get(f"/api/v1/namespaces/default/endpoints/{svc}") or {}
    return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])


def test_cluster_ip_and_dns_names_reach_both_endpoints(net: Cluster) -> None:
    svc = net.get("/api/v1/namespaces/default/services/netweb")
    cip = svc["spec"]["clusterIP"]
    # every name a pod may use, and the address itself
    for name in ("netweb", "netweb.default", "netweb.default.svc", "netweb.default.svc.cluster.local", cip):
        assert _http(net, name, 80).startswith("netweb-"), name
    # spread across the two endpoints (random choice in the kernel: 16 tries)
    seen = _exec(net, 'for i in $(seq 16); do printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 netweb 80 | tail -1; done')
    assert set(seen.split()) == {"netweb-1", "netweb-2"}
    # kubectl shows the endpoints and the named port resolved to 3000
    out = net.kubectl("get", "endpoints", "netweb").stdout
    assert ":3000" in out and out.count(":3000") == 2
    described = net.kubectl("describe", "service", "netweb").stdout
    assert "Endpoints:" in described and ":3000" in described
    slices = net.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=netweb", "-o", "json").stdout
    items = json.loads(slices)["items"]
    assert items and len(items[0]["endpoints"]) == 2 and items[0]["ports"][0]["port"] == 3000


def test_host_network_pod_shares_the_nodes_network(net: Cluster) -> None:
    """hostNetwork: true: the pod's IP and hostname are the node's, its port is a port of the host
    (127.0.0.1 answers), a Service routes to it by the node's IP, and pods still reach it."""
    port = free_port()
    applied = net.kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: hostnet, labels: {{app: hostnet}}}}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: minikube-lite/busybox:1.0
    command: ["sh", "-c", "mkdir -p /www && echo hostnet-$(hostname) > /www/index.html && exec httpd -f -p {port} -h /www"]
    ports: [{{containerPort: {port}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: hostnet}}
spec:
  selector: {{app: hostnet}}
  ports: [{{port: 80, targetPort: {port}}}]
""")
    assert "Warning" not in applied.stderr, applied.stderr  # supported: no "does not act on it"
    try:
        wait_for(lambda: pod_running(net, "hostnet"), timeout=60, what="hostnet running")
        pod = net.pod("hostnet")
        assert pod["status"]["podIP"] == pod["status"]["hostIP"]
        assert pod["spec"]["containers"][0]["ports"][0]["hostPort"] == port  # Kubernetes' default
        expected = f"hostnet-{socket.gethostname()}"

        def answered(host: str, p: int) -> str:
            with socket.create_connection((host, p), timeout=2) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                return conn.makefile("rb").read().decode().strip().splitlines()[-1]

        assert wait_for(lambda: _quiet(answered, "127.0.0.1", port), timeout=10, what="localhost answers") == expected
        wait_for(lambda: _ready_ips(net, "hostnet") == [pod["status"]["hostIP"]], timeout=10, what="endpoint")
        cip = net.get("/api/v1/namespaces/default/services/hostnet")["spec"]["clusterIP"]
        assert wait_for(lambda: _quiet(answered, cip, 80), timeout=10, what="cluster IP answers") == expected
        assert _http(net, "hostnet", 80) == expected  # from a pod on the bridge, by DNS name
    finally:
        net.kubectl("delete", "pod,service", "hostnet", "--wait=false", check=False)


def _quiet(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except OSError:
        return None


def test_headless_service_resolves_to_pod_ips(net: Cluster) -> None:
    out = _exec(net, "nslookup netweb-headless.default.svc.cluster.local")
    ips = {p["status"]["podIP"] for p in (net.pod("netweb-1"), net.pod("netweb-2"))}
    for ip in ips:
        assert ip in out
    assert net.get("/api/v1/namespaces/default/services/netweb")["spec"]["clusterIP"] not in out


def test_service_without_selector_uses_hand_written_endpoints(net: Cluster) -> None:
    """No selector: the controller leaves Endpoints alone, and the proxy routes to what a person wrote."""
    ip = net.pod("netweb-1")["status"]["podIP"]
    manifest = f"""
apiVersion: v1
kind: Service
metadata: {{name: manual}}
spec:
  ports: [{{port: 8080, targetPort: 3000}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: manual}}
subsets:
- addresses: [{{ip: "{ip}"}}]
  ports: [{{port: 3000}}]
"""
    net.kubectl("apply", "-f", "-", input=manifest)
    try:
        wait_for(lambda: _http(net, "manual", 8080) == "netweb-1", timeout=10, what="the hand-written endpoint")
        ep = net.get("/api/v1/namespaces/default/endpoints/manual")
        assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == [ip]  # untouched by the controller
    finally:
        net.kubectl("delete", "-f", "-", "--ignore-not-found", input=manifest, check=False)


def test_udp_service_port_is_forwarded(net: Cluster) -> None:
    """A UDP port of a ClusterIP Service reaches its endpoint (here the cluster DNS on the node's
    address, written by hand: busybox has no UDP server, and DNS is the UDP service pods use)."""
    node = net.get(f"/api/v1/nodes/{net.settings.node_name}")
    node_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    manifest = f"""
apiVersion: v1
kind: Service
metadata: {{name: udp-dns}}
spec:
  ports: [{{name: dns, port: 5353, targetPort: 53, protocol: UDP}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: udp-dns}}
subsets:
- addresses: [{{ip: "{node_ip}"}}]
  ports: [{{name: dns, port: 53, protocol: UDP}}]
"""
    net.kubectl("apply", "-f", "-", input=manifest)
    try:
        cip = net.get("/api/v1/namespaces/default/services/udp-dns")["spec"]["clusterIP"]
        netweb = net.get("/api/v1/namespaces/default/services/netweb")["spec"]["clusterIP"]
        out = wait_for(lambda: netweb in _exec(net, f"nslookup netweb.default.svc.cluster.local {cip}:5353 || true"),
                       timeout=10, what="a DNS answer through the UDP cluster IP")
        assert out
    finally:
        net.kubectl("delete", "-f", "-", "--ignore-not-found", input=manifest, check=False)


def test_unknown_names_fail_and_kubernetes_service_reaches_the_api(net: Cluster) -> None:
    proc = net.kubectl("exec", "netclient", "--", "nslookup", "nothing-here.default.svc.cluster.local",
                       check=False)
    assert "NXDOMAIN" in proc.stdout or "can't find" in proc.stdout, (proc.returncode, proc.stdout, proc.stderr)
    # The API behind the kubernetes Service speaks only TLS now: a plain HTTP request gets no answer
    # (the official client in a pod reaches it over HTTPS with the mounted CA: test_auth.py).
    reply = _exec(net, 'printf "GET /version HTTP/1.0\\r\\n\\r\\n" | nc -w 2 kubernetes.default 443; true')
    assert '"major":"1"' not in reply


def test_dead_pod_leaves_the_endpoints_within_a_second(net: Cluster) -> None:
    net.kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: Pod
metadata: {name: netweb-3, labels: {app: netweb}}
spec:
  restartPolicy: Never
  containers:
  - name: web
    image: minikube-lite/busybox:1.0
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 3000 -h /www"]
    ports: [{name: web-port, containerPort: 3000}]
""")
    wait_for(lambda: pod_running(net, "netweb-3"), timeout=30, what="netweb-3 running")
    ip = net.pod("netweb-3")["status"]["podIP"]
    wait_for(lambda: ip in _ready_ips(net, "netweb"), timeout=5, what="netweb-3 in the endpoints")
    container = next(c for c in net.containers("netweb-3") if c.labels.get("io.kubernetes.container.name") == "web")
    t0 = time.monotonic()
    container.kill()
    wait_for(lambda: ip not in _ready_ips(net, "netweb"), timeout=5, interval=0.01, what="netweb-3 removed")
    assert time.monotonic() - t0 < 1.0
    net.kubectl("delete", "pod", "netweb-3", "--wait=false")


def _free_node_port() -> int:
    for port in range(32700, 30000, -1):
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port")


def _refused(port: int, host: str = "127.0.0.1") -> float:
    t0 = time.monotonic()
    with pytest.raises((ConnectionRefusedError, ConnectionResetError)), \
            socket.create_connection((host, port), timeout=3) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        if not s.recv(100):
            raise ConnectionResetError
    return time.monotonic() - t0


def test_node_port_conflict_is_reported_and_others_unaffected(net: Cluster) -> None:
    taken_port = _free_node_port()
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("0.0.0.0", taken_port))
    blocker.listen(1)
    try:
        ok_port = _free_node_port()
        net.kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: Service
metadata: {{name: netweb-taken}}
spec:
  type: NodePort
  selector: {{app: netweb}}
  ports: [{{port: 80, targetPort: 3000, nodePort: {taken_port}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: netweb-np}}
spec:
  type: NodePort
  selector: {{app: netweb}}
  ports: [{{port: 80, targetPort: web-port, nodePort: {ok_port}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: netweb-nothing}}
spec:
  type: NodePort
  selector: {{app: nobody-has-this}}
  ports: [{{port: 80, targetPort: 3000}}]
""")

        def condition() -> dict | None:
            svc = net.get("/api/v1/namespaces/default/services/netweb-taken") or {}
            return next((c for c in (svc.get("status") or {}).get("conditions") or []
                         if c.get("type") == "PortsAvailable" and c.get("status") == "False"), None)

        cond = wait_for(condition, timeout=10, what="the PortsAvailable condition")
        assert str(taken_port) in cond["message"]
        events = net.kubectl("get", "events", "--field-selector", "involvedObject.name=netweb-taken").stdout
        assert "PortInUse" in events
        # the other program keeps its port: our connection lands in its backlog, not on a pod
        # the other NodePort service works, on localhost and on the node's address
        node_ip = net.cli("ip").stdout.strip()
        for host in ("127.0.0.1", node_ip):
            with socket.create_connection((host, ok_port), timeout=3) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                assert b"netweb-" in s.recv(4096) + s.recv(4096)
        url = net.cli("service", "netweb-np", "--url").stdout.strip()
        assert url == f"http://{node_ip}:{ok_port}"
        # a service that selects nothing refuses at once (host port and cluster IP)
        nothing = net.get("/api/v1/namespaces/default/services/netweb-nothing")
        assert _refused(nothing["spec"]["ports"][0]["nodePort"]) < 0.5
        cip = nothing["spec"]["clusterIP"]
        t0 = time.monotonic()
        out = _exec(net, f'nc -w 3 {cip} 80 </dev/null; echo rc=$?')
        assert "rc=1" in out and time.monotonic() - t0 < 2.5
    finally:
        blocker.close()
        net.kubectl("delete", "service", "netweb-taken", "netweb-np", "netweb-nothing", check=False)


def test_load_balancer_gets_an_external_ip_and_answers(net: Cluster) -> None:
    port = _free_node_port()
    net.kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: Service
metadata: {{name: netweb-lb}}
spec:
  type: LoadBalancer
  selector: {{app: netweb}}
  ports: [{{port: {port}, targetPort: 3000}}]
""")
    try:
        wait_for(lambda: "127.0.0.1" in net.kubectl("get", "service", "netweb-lb").stdout, timeout=10,
                 what="EXTERNAL-IP")
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert b"netweb-" in s.recv(4096) + s.recv(4096)
        assert net.cli("service", "netweb-lb", "--url").stdout.strip() == f"http://127.0.0.1:{port}"
    finally:
        net.kubectl("delete", "service", "netweb-lb", check=False)


INGRESS = """
apiVersion: v1
kind: Pod
metadata: {name: netapi, labels: {app: netapi}}
spec:
  terminationGracePeriodSeconds: 1  # httpd as PID 1 ignores SIGTERM: the delete below would wait 30 s
  containers:
  - name: api
    image: minikube-lite/busybox:1.0
    command: ["sh", "-c", "mkdir -p /www/values && echo api-root > /www/index.html && echo api-values > /www/values/index.html && exec httpd -f -p 5000 -h /www"]
---
apiVersion: v1
kind: Service
metadata: {name: netapi}
spec:
  selector: {app: netapi}
  ports: [{port: 5000}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: net-ingress
  annotations:
    nginx.ingress.kubernetes.io/use-regex: "true"
    nginx.ingress.kubernetes.io/rewrite-target: /$1
spec:
  ingressClassName: nginx
  rules:
  - http:
      paths:
      - {path: "/?(.*)", pathType: ImplementationSpecific, backend: {service: {name: netweb, port: {number: 80}}}}
      - {path: "/api/?(.*)", pathType: ImplementationSpecific, backend: {service: {name: netapi, port: {number: 5000}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: net-hosted}
spec:
  rules:
  - host: api.net.test
    http:
      paths:
      - {path: /values, pathType: Prefix, backend: {service: {name: netapi, port: {number: 5000}}}}
      - {path: /, pathType: Exact, backend: {service: {name: netweb, port: {name: http}}}}
"""


def _get(port: int, path: str, host: str = "localhost") -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode().strip()


def test_ingress_routes_by_host_and_path_with_rewrite(net: Cluster) -> None:
    net.kubectl("apply", "-f", "-", input=INGRESS)
    try:
        wait_for(lambda: pod_running(net, "netapi"), timeout=30, what="netapi running")

        def port() -> int | None:
            ing = net.get("/apis/networking.k8s.io/v1/namespaces/default/ingresses/net-ingress") or {}
            lb = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if not lb:
                return None
            return (lb[0].get("ports") or [{"port": 80}])[0]["port"]

        p = wait_for(port, timeout=10, what="ingress status")
        table = net.kubectl("get", "ingress").stdout
        assert "NAME" in table and "CLASS" in table and "ADDRESS" in table and "PORTS" in table
        assert "127.0.0.1" in table and "api.net.test" in table and "nginx" in table
        # the classless Ingress got the default class on create (the DefaultIngressClass admission)
        hosted = net.get("/apis/networking.k8s.io/v1/namespaces/default/ingresses/net-hosted")
        assert hosted["spec"]["ingressClassName"] == "nginx"
        wait_for(lambda: _get(p, "/api/values/")[1] == "api-values", timeout=5, what="rewrite to the api")
        assert _get(p, "/api/")[1] == "api-root"
        assert _get(p, "/")[1].startswith("netweb-")
        assert _get(p, "/values/", host="api.net.test")[1] == "api-values"
        assert _get(p, "/", host="api.net.test")[1].startswith("netweb-")
        assert _get(p, "/other", host="api.net.test")[0] == 404
        # changes apply at once: drop the host rule
        net.kubectl("delete", "ingress", "net-hosted")
        wait_for(lambda: _get(p, "/values/", host="api.net.test")[0] == 404, timeout=5,
                 what="the host rule gone (the catch-all rewrite sends /values/ to netweb: 404)")
        # bad input: a Prefix path that is not absolute is refused with 422 naming the field
        bad = net.kubectl("apply", "-f", "-", check=False, input="""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: net-bad}
spec:
  rules:
  - http:
      paths:
      - {path: api, pathType: Prefix, backend: {service: {name: netapi, port: {number: 5000}}}}
""")
        assert bad.returncode != 0 and "spec.rules[0].http.paths[0].path" in bad.stderr
    finally:
        net.kubectl("delete", "-f", "-", "--ignore-not-found", input=INGRESS, check=False)


def _leftovers(cluster_id: str) -> tuple[list[str], list[str]]:
    """Rules of the cluster still in iptables."""
    rules = [line for table in ("nat", "filter")
             for line in subprocess.run(["iptables", "-w", "-t", table, "-S"], capture_output=True,
                                        text=True, check=False).stdout.splitlines() if cluster_id in line]
    return rules, []


def test_stop_removes_addresses_rules_and_listeners(restartable: Cluster) -> None:
    c = restartable  # left stopped: the fixture starts it again for a later user
    port = _free_node_port()
    c.kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: Service
metadata: {{name: np}}
spec:
  type: NodePort
  selector: {{app: x}}
  ports: [{{port: 80, nodePort: {port}}}]
""")
    cid = c.settings.cluster_id
    wait_for(lambda: any(str(port) in r for r in _leftovers(cid)[0]), timeout=10, what="rules")
    bridge = json.loads(subprocess.run(["docker", "network", "inspect", c.settings.network_name],
                                       capture_output=True, text=True, check=True).stdout)[0]["Id"][:12]
    addrs = subprocess.run(["ip", "-br", "addr", "show", f"br-{bridge}"], capture_output=True, text=True, check=True).stdout
    assert "10.96.0.1/32" in addrs
    c.cli("stop")
    assert _leftovers(cid)[0] == []
    addrs = subprocess.run(["ip", "-br", "addr", "show", f"br-{bridge}"], capture_output=True, text=True, check=True).stdout
    assert "10.96." not in addrs
    with socket.socket() as s:
        s.bind(("0.0.0.0", port))  # the nodePort is free again
