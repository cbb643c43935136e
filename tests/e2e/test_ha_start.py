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
