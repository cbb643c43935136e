"""``minikube-lite start --ha`` (issue 16), through the real CLI, kubectl and processes.

Three etcd members, two API servers on the same state folder (one CA, one serving certificate,
authentication as any cluster: the admin certificate works on both, anonymous requests are
refused on both, a ServiceAccount token one signed the other accepts) and the TCP front the
kubeconfig points at. Faults with kill -9: one etcd member
down, writes go on; two down, kubectl gets kube-apiserver's 503/504 saying the store is
unavailable; ``minikube-lite start`` brings the members back and writes work again, nothing
acknowledged lost; API server 1 killed, kubectl goes on through the front to API server 2.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import time
from pathlib import Path

import httpx
import pytest

from minikube_lite.store.etcdproc import etcd_binary

from .conftest import Cluster, running_cluster, wait_for


def _pid(c: Cluster, name: str) -> int:
    path = c.settings.state_dir / ("daemon.pid" if name == "apiserver-1" else f"ha/{name}.pid")
    return int(path.read_text())


def _status(c: Cluster) -> dict:
    return json.loads(c.cli("status", "-o", "json", check=False).stdout)["HA"]


def _configmaps(c: Cluster) -> set[str]:
    out = c.kubectl("get", "configmaps", "-o", "name").stdout.split()
    return {n.split("/", 1)[1] for n in out if n.startswith("configmap/ha-")}


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or
             Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", timeout=10)


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if etcd_binary() is None:
        pytest.fail("etcd is not installed: apt-get install etcd-server (scripts/test.sh does)")
    root = tmp_path_factory.mktemp("ha-start")
    with running_cluster(root, "--ha") as c:
        yield c
    leftovers = [p for p in os.listdir("/proc") if p.isdigit() and
                 str(c.settings.state_dir).encode() in _cmdline(p)]
    assert not leftovers, "processes of the deleted HA cluster still run"


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_ha_start_and_faults(ha: Cluster) -> None:
    c = ha
    st = _status(c)
    assert [m["state"] for m in st["etcd"]] == ["Running"] * 3 and st["front"] == "Running"
    assert [s["state"] for s in st["apiservers"]] == ["Running", "Running"]
    for server in st["apiservers"]:  # the same CA and auth on both API servers
        with httpx.Client(base_url=server["address"], verify=c.ssl_context(), timeout=10) as h:
            assert h.get("/api/v1/namespaces/default").status_code == 200
        anon = ssl.create_default_context(cafile=c.ca_file)
        with httpx.Client(base_url=server["address"], verify=anon, timeout=10) as h:
            assert h.get("/api/v1/namespaces/default").status_code in (401, 403)
    assert c.kubectl("get", "nodes").returncode == 0
    wait_for(lambda: c.kubectl("get", "serviceaccount", "default", check=False).returncode == 0, timeout=30,
             what="the default ServiceAccount")
    token = c.kubectl("create", "token", "default").stdout.strip()
    for server in st["apiservers"]:  # signed with the one key: both servers authenticate it
        with httpx.Client(base_url=server["address"], verify=ssl.create_default_context(cafile=c.ca_file),
                          timeout=10) as h:
            review = h.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                            headers={"Authorization": f"Bearer {token}"},
                            json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        assert review.status_code == 201, review.text
        assert review.json()["status"]["userInfo"]["username"] == "system:serviceaccount:default:default"
    c.kubectl("create", "configmap", "ha-1")

    leader = next(m["name"] for m in st["etcd"] if m.get("leader"))
    followers = [m["name"] for m in st["etcd"] if m["name"] != leader]
    _kill(_pid(c, f"etcd-{followers[0]}"))
    c.kubectl("create", "configmap", "ha-2")  # two of three: a quorum, writes go on

    _kill(_pid(c, f"etcd-{followers[1]}"))
    t0 = time.monotonic()
    failed = c.kubectl("create", "configmap", "ha-lost", check=False, timeout=30)
    assert failed.returncode != 0 and time.monotonic() - t0 < 20
    assert "the store" in failed.stderr and ("unavailable" in failed.stderr or "Timeout" in failed.stderr), \
        failed.stderr
    with c.http() as h:
        r = h.post("/api/v1/namespaces/default/configmaps",
                   json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ha-lost-2"}})
    assert r.status_code in (503, 504) and r.json()["kind"] == "Status", r.text

    c.cli("start", timeout=120)  # brings the members back
    assert [m["state"] for m in _status(c)["etcd"]] == ["Running"] * 3
    wait_for(lambda: c.kubectl("create", "configmap", "ha-3", check=False).returncode == 0, timeout=30,
             interval=0.5, what="writes after the members returned")

    _kill(_pid(c, "apiserver-1"))
    c.kubectl("create", "configmap", "ha-4")  # the front sends it to API server 2
    assert _configmaps(c) == {"ha-1", "ha-2", "ha-3", "ha-4"}  # every acknowledged write, nothing else
    st = _status(c)
    assert [s["state"] for s in st["apiservers"]] == ["Stopped", "Running"]


def _server_of_holder(c: Cluster) -> str:
    """Which API server holds kube-controller-manager's Lease (its identity is in its log)."""
    holder = c.kubectl("get", "lease", "-n", "kube-system", "kube-controller-manager",
                       "-o", "jsonpath={.spec.holderIdentity}").stdout.strip()
    assert holder, "nobody holds the kube-controller-manager Lease"
    logs = {"apiserver-1": c.settings.log_file, "apiserver-2": c.settings.state_dir / "ha" / "apiserver-2.log"}
    found = [name for name, log in logs.items() if f"{holder} became leader" in log.read_text(errors="replace")]
    assert len(found) == 1, (holder, found)
    return found[0]


def _both_servers_up(c: Cluster) -> None:
    c.cli("start", timeout=120)  # revives whichever API server is down
    wait_for(lambda: [s["state"] for s in _status(c)["apiservers"]] == ["Running", "Running"], timeout=30,
             interval=0.5, what="both API servers")


def _pods_of(c: Cluster, app: str) -> list[dict]:
    return json.loads(c.kubectl("get", "pods", "-l", f"app={app}", "-o", "json").stdout)["items"]


def _running_on_first_node(c: Cluster, app: str, replicas: int) -> bool:
    pods = _pods_of(c, app)
    return len(pods) == replicas and all(
        p["spec"].get("nodeName") == c.settings.node_name and p["status"].get("phase") == "Running"
        and all(s.get("ready") for s in p["status"].get("containerStatuses") or [{}]) for p in pods)


def _no_duplicates(c: Cluster, apps: list[str], replicas: int) -> None:
    """Each pod of ``apps`` has one sandbox and one container on the engine, and each Deployment
    still has ``replicas`` pods: nothing was started twice when a server came back."""
    from minikube_lite.kubelet.runtime import LABEL_CONTAINER

    for app in apps:
        pods = _pods_of(c, app)
        assert len(pods) == replicas, [p["metadata"]["name"] for p in pods]
        for p in pods:
            names = [k.labels.get(LABEL_CONTAINER, "") for k in c.containers(p["metadata"]["name"])]
            assert sorted(names).count("app") == 1 and len(names) == 2, (p["metadata"]["name"], names)


def test_first_node_outlives_either_server(ha: Cluster) -> None:
    """The first node is a node agent behind the front: with either API server killed (the Lease
    holder, then the other), a new Deployment's pods on it become Running and kubectl logs and
    exec reach them through the survivor; the killed server comes back without duplicates."""
    c = ha
    _both_servers_up(c)
    assert _status(c)["node"] == "Running"
    script = "echo hello-from-$POD; sleep 3600"
    apps = []
    for round_, pick in enumerate(("holder", "other")):
        holder = _server_of_holder(c)
        victim = holder if pick == "holder" else next(s for s in ("apiserver-1", "apiserver-2") if s != holder)
        _kill(_pid(c, victim))
        app = f"ha-web-{round_}"
        apps.append(app)
        spec = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": app}},
                         "template": {"metadata": {"labels": {"app": app}},
                                      "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                                          "name": "app", "image": "minikube-lite/busybox:1.0",
                                          "command": ["sh", "-c", script],
                                          "env": [{"name": "POD", "valueFrom": {"fieldRef": {
                                              "fieldPath": "metadata.name"}}}]}]}}}}
        c.kubectl("apply", "-f", "-", input=json.dumps(spec))
        wait_for(lambda app=app: _running_on_first_node(c, app, 2), timeout=60, interval=0.5,
                 what=f"{app}'s pods Running on the first node with {victim} ({pick}) killed")
        pod = _pods_of(c, app)[0]["metadata"]["name"]
        logs = wait_for(lambda pod=pod: c.kubectl("logs", pod, check=False).stdout, timeout=10, what="logs")
        assert f"hello-from-{pod}" in logs
        assert c.kubectl("exec", pod, "--", "sh", "-c", "echo exec-in-$POD").stdout.strip() == f"exec-in-{pod}"
        _both_servers_up(c)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3:  # the server that came back starts nothing again
            _no_duplicates(c, apps, 2)
            time.sleep(0.5)
    c.kubectl("delete", "deployment", *apps, "--wait=false")


def test_front_skips_a_hung_server(ha: Cluster) -> None:
    """A server stopped with SIGSTOP accepts connections and never answers: the front's /readyz
    checks take it out (kubectl works through the other within seconds) and bring it back once it
    answers again (then the other one can hang and kubectl still works)."""
    c = ha
    _both_servers_up(c)
    front_log = c.settings.state_dir / "ha" / "front.log"
    for victim in ("apiserver-2", "apiserver-1"):
        pid = _pid(c, victim)
        port = next(s for s in _status(c)["apiservers"] if s["name"] == victim)["address"].rsplit(":", 1)[1]
        before = front_log.read_text().count(f":{port} is DOWN")
        ups = front_log.read_text().count(f":{port} is UP again")
        os.kill(pid, signal.SIGSTOP)
        try:
            def get() -> bool:
                return c.kubectl("get", "--raw", "/api/v1/namespaces/default", "--request-timeout=3s",
                                 check=False, timeout=10).returncode == 0

            t0 = time.monotonic()
            wait_for(get, timeout=15, interval=0.1, what=f"kubectl through the front with {victim} stopped")
            wait_for(lambda p=port, n=before: front_log.read_text().count(f":{p} is DOWN") > n, timeout=10,
                     interval=0.2, what=f"the front taking {victim} out")
            assert time.monotonic() - t0 < 15
            t1 = time.monotonic()  # now no request may go to the hung server
            assert all(get() for _ in range(4)), f"a request went to {victim} after it was taken out"
            c.kubectl("create", "configmap", f"ha-hung-{victim}", "--request-timeout=5s")
            assert time.monotonic() - t1 < 12
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda p=port, n=ups: front_log.read_text().count(f":{p} is UP again") > n, timeout=15,
                 interval=0.2, what=f"{victim} back in the front")
