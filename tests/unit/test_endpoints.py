"""Decisions of the endpoints controller, the iptables rule set and the ingress routing table
(pure functions on plain dicts; the end-to-end tests drive them for real)."""

from __future__ import annotations

from minikube_lite.controllers.endpoints import desired_endpoints, desired_slices
from minikube_lite.proxy.ingress import build_table, match
from minikube_lite.proxy.iptables import Chains, ServiceRule, render
from minikube_lite.proxy.proxier import service_endpoints


def _pod(name: str, ip: str | None, *, ready: bool = True, labels: dict | None = None, port_name: str = "http",
         port: int = 3000, phase: str = "Running", deleting: bool = False) -> dict:
    meta: dict = {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": labels or {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": meta,
            "spec": {"nodeName": "n", "containers": [{"name": "c", "ports": [{"name": port_name, "containerPort": port}]}]},
            "status": {"phase": phase, "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


SVC = {"metadata": {"name": "web", "namespace": "default", "uid": "svc-uid"},
       "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.5.5",
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}


def test_ready_pods_serve_unready_ones_are_listed_apart_and_named_ports_resolve() -> None:
    pods = [_pod("a", "172.18.0.2"), _pod("b", "172.18.0.3", ready=False), _pod("c", None),
            _pod("d", "172.18.0.5", phase="Failed"), _pod("e", "172.18.0.6", deleting=True),
            _pod("f", "172.18.0.7", labels={"app": "other"}), _pod("g", "172.18.0.8", port_name="web", port=8080)]
    ep = desired_endpoints(SVC, pods)
    (subset,) = ep["subsets"]  # g has no port named "http": left out, as Kubernetes does
    assert [a["ip"] for a in subset["addresses"]] == ["172.18.0.2"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["172.18.0.3"]
    assert subset["ports"] == [{"name": "http", "port": 3000, "protocol": "TCP"}]
    assert subset["addresses"][0]["targetRef"]["name"] == "a"
    assert service_endpoints(SVC["spec"]["ports"][0], ep) == [("172.18.0.2", 3000)]


def test_pods_with_different_ports_make_different_subsets_and_slices() -> None:
    svc = {**SVC, "spec": {**SVC["spec"], "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
    pods = [_pod("a", "172.18.0.2"), _pod("b", "172.18.0.3", port=4000)]
    assert len(desired_endpoints(svc, pods)["subsets"]) == 2
    slices = desired_slices(svc, pods)
    assert len(slices) == 2
    assert all(s["metadata"]["labels"]["kubernetes.io/service-name"] == "web" for s in slices)
    assert slices[0]["metadata"]["ownerReferences"][0]["uid"] == "svc-uid"


def test_no_pods_means_no_subsets_and_one_empty_slice() -> None:
    assert "subsets" not in desired_endpoints(SVC, [])
    (empty,) = desired_slices(SVC, [])
    assert empty["endpoints"] == []


def test_iptables_rules_spread_reject_and_touch_only_our_chains() -> None:
    chains = Chains("abcdef0123")
    text = render(chains, [
        ServiceRule("default/web:http", "TCP", "10.96.5.5", 80, (("172.18.0.2", 3000), ("172.18.0.3", 3000)),
                    (31000,)),
        ServiceRule("default/none:80", "TCP", "10.96.5.6", 80, (), (31001,)),
    ], existing={"MKL-abcdef0123-SVC-DEADBEEF"})
    lines = text.splitlines()
    assert all(line.split()[1].startswith("MKL-abcdef0123") for line in lines if line.startswith(("-A", "-X")))
    assert any("--probability 0.5" in line and "172.18.0.2:3000" in line for line in lines)
    assert any("--dport 31000" in line and "NODEPORTS" in line for line in lines)
    assert any("10.96.5.6/32" in line and "REJECT --reject-with tcp-reset" in line for line in lines)
    assert "-X MKL-abcdef0123-SVC-DEADBEEF" in lines  # a removed Service's chain goes in the same transaction
    assert len(chains.service_chain(ServiceRule("x" * 300, "TCP", None, 1))) <= 28


def test_external_traffic_policy_local_keeps_outside_traffic_on_this_machine() -> None:
    """Local: pods and the host go to every endpoint; others to this machine's endpoints, not
    masqueraded and let through FORWARD; none here: dropped (kube-proxy's "has no local endpoints")."""
    chains = Chains("abcdef0123")
    here, there = ("10.244.1.2", 8080), ("10.244.0.5", 8080)
    text = render(chains, [
        ServiceRule("default/a:80", "TCP", "10.96.5.5", 80, (here, there), (31000,), local_endpoints=(here,)),
        ServiceRule("default/b:80", "TCP", "10.96.5.6", 80, (there,), (31001,), local_endpoints=()),
        ServiceRule("default/c:80", "TCP", "10.96.5.7", 80, (there,), (31002,)),
    ], cluster_cidr="10.244.0.0/20")
    lines = text.splitlines()
    xlb_a = chains.service_chain(ServiceRule("default/a:80", "TCP", None, 80), "XLB")
    svc_a = chains.service_chain(ServiceRule("default/a:80", "TCP", None, 80))
    assert any("--dport 31000" in ln and ln.endswith(f"-j {xlb_a}") for ln in lines)
    mine = [ln for ln in lines if ln.startswith(f"-A {xlb_a} ")]
    assert mine[0].startswith(f"-A {xlb_a} -s 10.244.0.0/20") and mine[0].endswith(f"-j {svc_a}")
    assert "--src-type LOCAL" in mine[1] and mine[1].endswith(f"-j {svc_a}")
    assert mine[2:] == [f"-A {xlb_a} -p tcp -j DNAT --to-destination 10.244.1.2:8080"]  # no MARK: no masquerade
    assert any("--ctorigdstport 31000" in ln and "-j ACCEPT" in ln and "FORWARD" in ln for ln in lines)
    assert any("--dport 31001" in ln and "has no local endpoints" in ln and ln.endswith("-j DROP") for ln in lines)
    assert not any("--dport 31002" in ln and "XLB" in ln for ln in lines)  # Cluster: as before
    assert len(xlb_a) <= 28


def test_node_ports_from_the_network_on_the_listed_addresses_only() -> None:
    chains = Chains("abcdef0123")
    outside = [r for t, b, r in chains.jumps("br-x", external=("192.0.2.7",)) if b == "PREROUTING" and "!" in r]
    assert outside == [["!", "-i", "br-x", "-d", "192.0.2.7/32", "-j", chains.nodeports]]
    assert not [r for t, b, r in chains.jumps("br-x", external=False) if "!" in r]
    assert next(r for t, b, r in chains.jumps("br-x", external=True) if "!" in r)[3:7] == [
        "-m", "addrtype", "--dst-type", "LOCAL"]


def test_local_endpoints_are_those_of_this_machine_nodes() -> None:
    from minikube_lite.proxy.proxier import ServiceProxy

    ep = {"subsets": [{"addresses": [{"ip": "10.244.1.2", "nodeName": "here"}, {"ip": "10.244.0.5", "nodeName": "there"}],
                       "ports": [{"name": "http", "port": 3000, "protocol": "TCP"}]}]}
    assert service_endpoints(SVC["spec"]["ports"][0], ep, {"here"}) == [("10.244.1.2", 3000)]
    proxy = ServiceProxy.__new__(ServiceProxy)
    proxy._node_ips = {}

    class Dirty:
        def set(self) -> None:
            pass
    proxy._dirty = Dirty()  # type: ignore[assignment]
    for name, ip in (("here", "127.0.0.1"), ("there", "192.0.2.1")):  # TEST-NET: never this machine's
        proxy._node_changed("ADDED", {"metadata": {"name": name},
                                      "status": {"addresses": [{"type": "InternalIP", "address": ip}]}})
    assert proxy.local_nodes() == {"here"}
    proxy._node_changed("DELETED", {"metadata": {"name": "here"}})
    assert proxy.local_nodes() == set()


def test_ingress_rewrite_and_path_types() -> None:
    ing = {"metadata": {"name": "i", "namespace": "default", "annotations": {
        "nginx.ingress.kubernetes.io/use-regex": "true", "nginx.ingress.kubernetes.io/rewrite-target": "/$1"}},
        "spec": {"rules": [{"http": {"paths": [
            {"path": "/?(.*)", "pathType": "ImplementationSpecific", "backend": {"service": {"name": "client"}}},
            {"path": "/api/?(.*)", "pathType": "ImplementationSpecific", "backend": {"service": {"name": "server"}}},
        ]}}]}}
    plain = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"rules": [{"host": "a.test", "http": {"paths": [
        {"path": "/foo", "pathType": "Prefix", "backend": {"service": {"name": "foo"}}},
        {"path": "/foo/bar", "pathType": "Exact", "backend": {"service": {"name": "bar"}}},
    ]}}]}}
    table, _ = build_table([ing, plain])
    route, path = match(table, "anything", "/api/values/all")  # type: ignore[misc]
    assert (route.service, path) == ("server", "/values/all")
    route, path = match(table, "x", "/index.html")  # type: ignore[misc]
    assert (route.service, path) == ("client", "/index.html")
    assert match(table, "a.test", "/foo/bar")[0].service == "bar"  # type: ignore[index]
    assert match(table, "a.test", "/foo/baz")[0].service == "foo"  # type: ignore[index]
    assert match(table, "a.test", "/foobar") is None
