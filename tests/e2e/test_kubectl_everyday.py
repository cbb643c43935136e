"""Every everyday kubectl command, with the real binary, against the session cluster.

Each test works in a namespace of its own so that they share the one cluster without seeing
each other. Pods that need not run carry a nodeSelector no node matches: they stay Pending,
cost no container and go at once on delete; the one that must be Ready (``kubectl wait``)
runs on Docker.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import Cluster, wait_for

PENDING_POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {app}, tier: {tier}}}
spec:
  nodeSelector: {{nowhere: "true"}}
  containers:
  - name: c
    image: {image}
"""


def _pod_yaml(name: str, app: str = "web", tier: str = "front", image: str = "minikube-lite/busybox:1.0") -> str:
    return PENDING_POD.format(name=name, app=app, tier=tier, image=image)


@pytest.fixture
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower().replace("test_", ""))[:40].strip("-")
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_apply_create_replace_patch(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    k = cluster.kubectl
    f = _write(tmp_path, "a.yaml", _pod_yaml("a"))
    assert k("apply", "-n", ns, "-f", f).stdout.strip() == "pod/a created"
    assert k("apply", "-n", ns, "-f", f).stdout.strip() == "pod/a unchanged"
    f2 = _write(tmp_path, "a2.yaml", _pod_yaml("a", tier="back"))
    assert k("apply", "-n", ns, "-f", f2).stdout.strip() == "pod/a configured"
    assert k("get", "pod", "a", "-n", ns, "-o", "jsonpath={.metadata.labels.tier}").stdout == "back"

    assert k("create", "-n", ns, "-f", _write(tmp_path, "b.yaml", _pod_yaml("b"))).stdout.strip() == "pod/b created"
    err = k("create", "-n", ns, "-f", str(tmp_path / "b.yaml"), check=False)
    assert err.returncode == 1 and 'pods "b" already exists' in err.stderr
    # replace the pod as it is served (with the kube-api-access volume admission added: replacing it
    # from the bare file is refused, "pod updates may not change fields ...", as in Kubernetes)
    live = json.loads(k("get", "pod", "b", "-n", ns, "-o", "json").stdout)
    live["spec"]["containers"][0]["image"] = "minikube-lite/multi-client:1.0"
    replaced = _write(tmp_path, "b2.json", json.dumps(live))
    assert k("replace", "-n", ns, "-f", replaced).stdout.strip() == "pod/b replaced"
    bare = k("replace", "-n", ns, "-f", _write(tmp_path, "b3.yaml", _pod_yaml("b")), check=False)
    assert bare.returncode == 1 and "pod updates may not change fields" in bare.stderr
    assert k("get", "pod", "b", "-n", ns, "-o", "jsonpath={.spec.containers[0].image}").stdout == \
        "minikube-lite/multi-client:1.0"

    assert k("patch", "pod", "b", "-n", ns, "--type", "strategic",
             "-p", '{"metadata":{"labels":{"s":"1"}}}').stdout.strip() == "pod/b patched"
    k("patch", "pod", "b", "-n", ns, "--type", "merge", "-p", '{"metadata":{"labels":{"m":"1"}}}')
    k("patch", "pod", "b", "-n", ns, "--type", "json", "-p", '[{"op":"add","path":"/metadata/labels/j","value":"1"}]')
    labels = json.loads(k("get", "pod", "b", "-n", ns, "-o", "jsonpath={.metadata.labels}").stdout)
    assert labels == {"app": "web", "tier": "front", "s": "1", "m": "1", "j": "1"}
    assert k("patch", "pod", "b", "-n", ns, "--type", "merge",
             "-p", '{"metadata":{"labels":{"s":"1"}}}').stdout.strip() == "pod/b patched (no change)"
    bad = k("patch", "pod", "b", "-n", ns, "--type", "json", "-p", '[{"op":"remove","path":"/nope"}]', check=False)
    assert bad.returncode == 1 and "nope" in bad.stderr

    # edit with EDITOR set to a script that seds the file
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/tier: front/tier: edited/' \"$1\"\n")
    editor.chmod(0o755)
    env = dict(cluster.env, EDITOR=str(editor), KUBE_EDITOR=str(editor))
    out = subprocess.run([*cluster.kubectl_cmd(), "edit", "pod", "b", "-n", ns], env=env, capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "pod/b edited", out.stderr
    assert k("get", "pod", "b", "-n", ns, "-o", "jsonpath={.metadata.labels.tier}").stdout == "edited"
    fields = k("get", "pod", "b", "-n", ns, "-o", "json", "--show-managed-fields").stdout
    managers = {(m["manager"], m["operation"]) for m in json.loads(fields)["metadata"]["managedFields"]}
    assert {("kubectl-create", "Update"), ("kubectl-patch", "Update"), ("kubectl-edit", "Update")} <= managers


def test_label_annotate(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    k = cluster.kubectl
    k("apply", "-n", ns, "-f", _write(tmp_path, "p.yaml", _pod_yaml("p")))
    assert k("label", "pod", "p", "-n", ns, "env=dev").stdout.strip() == "pod/p labeled"
    err = k("label", "pod", "p", "-n", ns, "env=prod", check=False)
    assert err.returncode == 1 and "already has a value (dev)" in err.stderr
    k("label", "pod", "p", "-n", ns, "env=prod", "--overwrite")
    assert k("annotate", "pod", "p", "-n", ns, "note=hello world").stdout.strip() == "pod/p annotated"
    k("label", "pod", "p", "-n", ns, "env-")
    meta = json.loads(k("get", "pod", "p", "-n", ns, "-o", "json").stdout)["metadata"]
    assert "env" not in meta["labels"] and meta["annotations"]["note"] == "hello world"
    bad = k("label", "pod", "p", "-n", ns, "bad key=x", check=False)
    assert bad.returncode != 0


def test_server_side_apply(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    k = cluster.kubectl
    f = _write(tmp_path, "s.yaml", _pod_yaml("s"))
    assert k("apply", "--server-side", "-n", ns, "-f", f).stdout.strip() == "pod/s serverside-applied"
    other = _write(tmp_path, "s2.yaml", _pod_yaml("s", tier="other"))
    err = k("apply", "--server-side", "--field-manager", "someone", "-n", ns, "-f", other, check=False)
    assert err.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl" using v1: .metadata.labels.tier' in err.stderr
    k("apply", "--server-side", "--field-manager", "someone", "--force-conflicts", "-n", ns, "-f", other)
    obj = json.loads(k("get", "pod", "s", "-n", ns, "-o", "json", "--show-managed-fields").stdout)
    assert obj["metadata"]["labels"]["tier"] == "other"
    owners = {m["manager"]: m["fieldsV1"] for m in obj["metadata"]["managedFields"]}
    assert "f:tier" in owners["someone"]["f:metadata"]["f:labels"]
    assert "f:tier" not in owners["kubectl"]["f:metadata"]["f:labels"]
    # client-side apply, then server-side apply over it: kubectl migrates the managers
    c = _write(tmp_path, "c.yaml", _pod_yaml("c"))
    k("apply", "-n", ns, "-f", c)
    assert k("apply", "--server-side", "-n", ns, "-f", c).stdout.strip() == "pod/c serverside-applied"
    yaml_out = k("get", "pod", "c", "-n", ns, "-o", "yaml", "--show-managed-fields").stdout
    assert "manager: kubectl" in yaml_out and "operation: Apply" in yaml_out and "fieldsV1:" in yaml_out


def test_server_side_apply_of_a_tcp_and_udp_service(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    """A DNS-style Service (53/UDP and 53/TCP): applied server-side twice, the second is a no-op."""
    k = cluster.kubectl
    f = _write(tmp_path, "dns.yaml", """
apiVersion: v1
kind: Service
metadata: {name: dns}
spec:
  selector: {app: dns}
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
""")
    assert k("apply", "--server-side", "-n", ns, "-f", f).stdout.strip() == "service/dns serverside-applied"
    assert k("apply", "--server-side", "-n", ns, "-f", f).stdout.strip() == "service/dns serverside-applied"
    row = k("get", "service", "dns", "-n", ns).stdout.splitlines()[1].split()
    assert row[4] == "53/UDP,53/TCP"


def test_diff_and_server_dry_run(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    k = cluster.kubectl
    f = _write(tmp_path, "d.yaml", _pod_yaml("d"))
    k("apply", "--server-side", "-n", ns, "-f", f)
    assert k("diff", "--server-side", "-n", ns, "-f", f).returncode == 0
    c = _write(tmp_path, "c.yaml", _pod_yaml("c"))
    k("apply", "-n", ns, "-f", c)
    assert k("diff", "-n", ns, "-f", c).returncode == 0
    changed = _write(tmp_path, "d2.yaml", _pod_yaml("d", tier="back"))
    out = k("diff", "-n", ns, "-f", changed, check=False)
    assert out.returncode == 1 and "-    tier: front" in out.stdout and "+    tier: back" in out.stdout
    out = k("diff", "-n", ns, "-f", _write(tmp_path, "c2.yaml", _pod_yaml("c", tier="back")), check=False)
    assert out.returncode == 1 and "+    tier: back" in out.stdout
    assert k("apply", "--dry-run=server", "-n", ns, "-f", str(tmp_path / "c2.yaml")).stdout.strip() == \
        "pod/c configured (server dry run)"
    assert k("apply", "--server-side", "--dry-run=server", "-n", ns, "-f", changed).returncode == 0
    new = _write(tmp_path, "newpod.yaml", _pod_yaml("newpod"))
    assert k("create", "--dry-run=server", "-n", ns, "-f", new).stdout.strip() == "pod/newpod created (server dry run)"
    assert k("delete", "--dry-run=server", "-n", ns, "pod", "d").stdout.strip() == "pod \"d\" deleted (server dry run)"
    assert k("get", "pods", "-n", ns, "-o", "name").stdout.split() == ["pod/c", "pod/d"]
    assert k("get", "pod", "d", "-n", ns, "-o", "jsonpath={.metadata.labels.tier}").stdout == "front"


def test_get_output_formats(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    k = cluster.kubectl
    docs = "---\n".join(_pod_yaml(n, app=a) for n, a in (("zeta", "web"), ("alpha", "db"), ("mid", "web")))
    k("apply", "-n", ns, "-f", _write(tmp_path, "many.yaml", docs))
    wide = k("get", "pods", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:9] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED",
                                   "NODE"]
    assert json.loads(k("get", "pods", "-n", ns, "-o", "json").stdout)["kind"] == "List"
    assert "kind: Pod" in k("get", "pod", "alpha", "-n", ns, "-o", "yaml").stdout
    assert k("get", "pods", "-n", ns, "-o", "name").stdout.split() == ["pod/alpha", "pod/mid", "pod/zeta"]
    assert k("get", "pods", "-n", ns, "-o", "jsonpath={.items[*].metadata.name}").stdout == "alpha mid zeta"
    cols = k("get", "pods", "-n", ns, "-o", "custom-columns=NAME:.metadata.name,APP:.metadata.labels.app").stdout
    assert cols.split() == ["NAME", "APP", "alpha", "db", "mid", "web", "zeta", "web"]
    assert k("get", "pods", "-n", ns, "-l", "app=web", "-o", "name").stdout.split() == ["pod/mid", "pod/zeta"]
    assert k("get", "pods", "-n", ns, "-l", "app in (db),tier!=back", "-o", "name").stdout.split() == ["pod/alpha"]
    assert "app=db,tier=front" in k("get", "pods", "-n", ns, "--show-labels").stdout
    sorted_names = k("get", "pods", "-n", ns, "--sort-by=.metadata.labels.app", "-o",
                     "custom-columns=N:.metadata.name", "--no-headers").stdout.split()
    assert sorted_names[0] == "alpha"
    everywhere = k("get", "pods", "-A").stdout.splitlines()
    assert everywhere[0].split()[0] == "NAMESPACE" and any(line.startswith(ns) for line in everywhere)
    err = k("get", "pods", "-n", ns, "-l", "app in (", check=False)
    assert err.returncode == 1


def test_get_watch(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    k = cluster.kubectl
    proc = subprocess.Popen([*cluster.kubectl_cmd(), "get", "pods", "-n", ns, "-w"], env=cluster.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        k("apply", "-n", ns, "-f", _write(tmp_path, "w.yaml", _pod_yaml("watched")))
        k("label", "pod", "watched", "-n", ns, "seen=yes")
        k("delete", "pod", "watched", "-n", ns)
        time.sleep(1.5)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    lines = [line for line in out.splitlines() if line.startswith("watched")]
    assert len(lines) >= 2 and all("Pending" in line for line in lines), out


def test_delete_variants(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    k = cluster.kubectl
    f = _write(tmp_path, "byfile.yaml", _pod_yaml("byfile"))
    k("apply", "-n", ns, "-f", f)
    assert k("delete", "-n", ns, "-f", f).stdout.strip() == 'pod "byfile" deleted'
    docs = "---\n".join(_pod_yaml(n, app=a) for n, a in (("one", "ex"), ("two", "ex"), ("three", "why"), ("four", "zed")))
    k("apply", "-n", ns, "-f", _write(tmp_path, "m.yaml", docs))
    assert k("delete", "pod", "four", "-n", ns).stdout.strip() == 'pod "four" deleted'
    assert sorted(k("delete", "pods", "-n", ns, "-l", "app=ex").stdout.splitlines()) == [
        'pod "one" deleted', 'pod "two" deleted']
    assert k("delete", "pods", "-n", ns, "--all").stdout.strip() == 'pod "three" deleted'
    assert k("get", "pods", "-n", ns).stderr.strip() == f"No resources found in {ns} namespace."
    missing = k("delete", "pod", "nope", "-n", ns, check=False)
    assert missing.returncode == 1 and 'pods "nope" not found' in missing.stderr


def _cm(name: str, owner: dict | None = None, block: bool = False) -> str:
    meta: dict = {"name": name}
    if owner is not None:
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
               "uid": owner["metadata"]["uid"]}
        if block:
            ref["blockOwnerDeletion"] = True
        meta["ownerReferences"] = [ref]
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}})


def test_cascading_deletion(cluster: Cluster, ns: str) -> None:
    k = cluster.kubectl

    def make(owner_name: str, block: bool = False) -> None:
        owner = json.loads(k("create", "-n", ns, "-o", "json", "-f", "-", input=_cm(owner_name)).stdout)
        for i in (1, 2):
            k("create", "-n", ns, "-f", "-", input=_cm(f"{owner_name}-dep{i}", owner, block))

    def names() -> set[str]:
        return set(k("get", "configmaps", "-n", ns, "-o", "custom-columns=N:.metadata.name",
                     "--no-headers").stdout.split())

    make("bg")
    k("delete", "configmap", "bg", "-n", ns, "--cascade=background")
    wait_for(lambda: not {"bg-dep1", "bg-dep2"} & names(), timeout=10, what="background dependents collected")

    make("fg", block=True)
    out = k("delete", "configmap", "fg", "-n", ns, "--cascade=foreground", "--timeout=20s")
    assert out.stdout.strip() == 'configmap "fg" deleted'
    assert not {"fg", "fg-dep1", "fg-dep2"} & names()  # kubectl waited for the owner, which waited for them

    make("or")
    k("delete", "configmap", "or", "-n", ns, "--cascade=orphan")
    wait_for(lambda: "or" not in names(), timeout=10, what="orphaning owner gone")
    dep = json.loads(k("get", "configmap", "or-dep1", "-n", ns, "-o", "json").stdout)
    assert not dep["metadata"].get("ownerReferences")
    time.sleep(0.5)
    assert {"or-dep1", "or-dep2"} <= names()


def test_namespace_lifecycle(cluster: Cluster, tmp_path: Path) -> None:
    k = cluster.kubectl
    err = k("create", "-n", "no-such-ns", "-f", _write(tmp_path, "x.yaml", _pod_yaml("x")), check=False)
    assert err.returncode == 1 and 'namespaces "no-such-ns" not found' in err.stderr
    err = k("delete", "namespace", "kube-system", check=False)
    assert 'namespaces "kube-system" is forbidden: this namespace may not be deleted' in err.stderr

    k("create", "namespace", "doomed")
    k("apply", "-n", "doomed", "-f", _write(tmp_path, "p.yaml", _pod_yaml("p")))
    k("create", "-n", "doomed", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["test/hold"]}}))
    k("delete", "namespace", "doomed", "--wait=false")
    phase = k("get", "namespace", "doomed", "-o", "jsonpath={.status.phase}").stdout
    assert phase == "Terminating"
    refused = k("create", "-n", "doomed", "-f", _write(tmp_path, "late.yaml", _pod_yaml("late")), check=False)
    assert ('pods "late" is forbidden: unable to create new content in namespace doomed because it is being '
            "terminated") in refused.stderr
    wait_for(lambda: k("get", "pods", "-n", "doomed", "-o", "name").stdout.strip() == "", timeout=15,
             what="pods of the terminating namespace deleted")
    k("patch", "configmap", "held", "-n", "doomed", "--type", "merge", "-p", '{"metadata":{"finalizers":null}}')
    wait_for(lambda: k("get", "namespace", "doomed", check=False).returncode == 1, timeout=15,
             what="namespace gone")


def test_wait_describe_events(cluster: Cluster, ns: str, tmp_path: Path) -> None:
    k = cluster.kubectl
    pod = """apiVersion: v1
kind: Pod
metadata: {name: ready}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: minikube-lite/busybox:1.0
    command: ["sleep", "3600"]
"""
    k("apply", "-n", ns, "-f", _write(tmp_path, "r.yaml", pod))
    out = k("wait", "--for=condition=Ready", "pod/ready", "-n", ns, "--timeout=60s", timeout=90, check=False)
    assert out.returncode == 0, (out.stderr, k("get", "pod", "ready", "-n", ns, "-o", "yaml").stdout)
    assert out.stdout.strip() == "pod/ready condition met"
    described = k("describe", "pod", "ready", "-n", ns).stdout
    assert re.search(r"^Status:\s+Running", described, re.MULTILINE) and "Events:" in described
    assert "Scheduled" in described
    events = k("get", "events", "-n", ns).stdout
    assert "Scheduled" in events and "pod/ready" in events
    k("delete", "pod", "ready", "-n", ns, "--grace-period=1")


def test_discovery_and_explain(cluster: Cluster) -> None:
    k = cluster.kubectl
    resources = k("api-resources").stdout
    assert re.search(r"^pods\s+po\s+v1\s+true\s+Pod", resources, re.MULTILINE)
    assert "v1" in k("api-versions").stdout.split()
    explained = k("explain", "pods.spec.containers").stdout
    assert "KIND:" in explained and "Pod" in explained and "image" in explained
    if os.environ.get("KUBECTL_EXPLAIN_STRICT"):
        assert "FIELDS:" in explained
