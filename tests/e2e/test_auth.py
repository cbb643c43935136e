"""Who may do what, end to end: TLS, authentication, RBAC, ServiceAccounts and the API from pods.

Against the real daemon, kubectl, the official Python client (in a pod, from an image holding this
machine's Python: tests/e2e/python_image.py) and a real second user account on this machine.
"""

from __future__ import annotations

import json
import pwd
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Cluster, wait_for
from .python_image import ensure_python_image

OTHER_USER = "mlite-other"
LIST_PODS = """
from kubernetes import client, config
from kubernetes.client.rest import ApiException
config.load_incluster_config()
ns = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
try:
    pods = client.CoreV1Api().list_namespaced_pod(ns)
    print("PODS", sorted(p.metadata.name for p in pods.items), flush=True)
except ApiException as e:
    print("STATUS", e.status, e.body, flush=True)
"""

# the same request, repeated every 0.2 s while it is refused (the first refusal printed), until allowed
LIST_PODS_UNTIL_ALLOWED = """
import time
from kubernetes import client, config
from kubernetes.client.rest import ApiException
config.load_incluster_config()
ns = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
told = False
while True:
    try:
        pods = client.CoreV1Api().list_namespaced_pod(ns)
    except ApiException as e:
        if e.status != 403 or not told:
            print("STATUS", e.status, e.body, flush=True)
        if e.status != 403:
            raise SystemExit(1)
        told = True
        time.sleep(0.2)
        continue
    print("PODS", sorted(p.metadata.name for p in pods.items), flush=True)
    break
"""


def _namespace(cluster: Cluster) -> Iterator[str]:
    ns = f"auth-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", ns)
    wait_for(lambda: cluster.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default"), timeout=15,
             what="the default ServiceAccount")
    try:
        yield ns
    finally:
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    yield from _namespace(cluster)


def _python_pod(name: str, ns: str, script: str, *, sa: str | None = None, restart: str = "Never") -> str:
    spec = {"restartPolicy": restart,
            "containers": [{"name": "c", "image": ensure_python_image(), "imagePullPolicy": "Never",
                            "args": ["-c", script]}]}
    if sa:
        spec["serviceAccountName"] = sa
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                       "spec": spec})


def _logs_when_done(cluster: Cluster, name: str, ns: str) -> str:
    wait_for(lambda: ((cluster.pod(name, ns) or {}).get("status") or {}).get("phase") in ("Succeeded", "Failed"),
             timeout=90, what=f"pod {name} to finish")
    return cluster.kubectl("logs", name, "-n", ns).stdout


def test_anonymous_gets_only_public_info_and_bad_tokens_are_401(cluster: Cluster) -> None:
    with cluster.anonymous() as anon:
        assert anon.get("/version").json()["major"] == "1"
        assert anon.get("/readyz").status_code == 200
        r = anon.get("/api/v1/secrets")
        assert r.status_code == 403
        assert r.json()["message"] == ('secrets is forbidden: User "system:anonymous" cannot list resource '
                                       '"secrets" in API group "" at the cluster scope')
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"},
               "spec": {"containers": [{"name": "c", "image": "minikube-lite/busybox:1.0"}],
                        "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}}
        r = anon.post("/api/v1/namespaces/default/pods", json=pod)
        assert r.status_code == 403 and r.json()["reason"] == "Forbidden"
        assert anon.post("/apply", content=b"kind: Namespace\napiVersion: v1\nmetadata: {name: x}\n").status_code == 403
        bad = anon.get("/api/v1/pods", headers={"Authorization": "Bearer not-a-token"})
        assert bad.status_code == 401 and bad.json()["reason"] == "Unauthorized"
        ok = anon.get("/api/v1/namespaces/default/pods", headers={"Authorization": f"Bearer {cluster.token}"})
        assert ok.status_code == 200 and ok.json()["kind"] == "PodList"
    assert cluster.url.startswith("https://")
    kc = cluster.kubectl("config", "view", "--raw", "-o", "json").stdout
    user = json.loads(kc)["users"][0]["user"]
    assert user["client-certificate-data"] and user["client-key-data"]


@pytest.fixture(scope="module")
def other_user() -> str:
    if shutil.which("useradd") is None or shutil.which("runuser") is None:
        pytest.fail("useradd and runuser are needed to test a second local user")
    try:
        pwd.getpwnam(OTHER_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", OTHER_USER], check=True)
    return OTHER_USER


def test_another_local_user_reads_no_secret_and_writes_nothing(cluster: Cluster, other_user: str) -> None:
    cluster.kubectl("create", "secret", "generic", "local-user-test", "--from-literal=k=v")
    try:
        def as_other(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["runuser", "-u", other_user, "--", *args], capture_output=True, text=True,
                                  timeout=30, check=False)

        base = cluster.url
        secrets = as_other("curl", "-sk", f"{base}/api/v1/secrets")
        assert json.loads(secrets.stdout)["code"] == 403
        one = as_other("curl", "-sk", f"{base}/api/v1/namespaces/default/secrets/local-user-test")
        assert json.loads(one.stdout)["code"] == 403
        pod = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hostroot"},
                          "spec": {"containers": [{"name": "c", "image": "minikube-lite/busybox:1.0"}],
                                   "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}})
        create = as_other("curl", "-sk", "-X", "POST", "-H", "Content-Type: application/json", "--data", pod,
                          f"{base}/api/v1/namespaces/default/pods")
        assert json.loads(create.stdout)["code"] == 403
        assert cluster.pod("hostroot") is None
        # and the credentials on disk are not theirs to read
        for path in (cluster.settings.certs_dir / "ca.key", cluster.settings.certs_dir / "token.csv",
                     cluster.settings.db_path, cluster.kubeconfig):
            assert as_other("cat", str(path)).returncode != 0, path
    finally:
        cluster.kubectl("delete", "secret", "local-user-test")


def test_pod_lists_pods_only_after_a_rolebinding_to_view(cluster: Cluster, ns: str) -> None:
    """One pod (one start of the Python client, the slow part) asks, is refused, and asks again
    every 0.2 s: the RoleBinding created meanwhile lets the same token list, with no restart."""
    cluster.kubectl("apply", "-f", "-", input=_python_pod("lister", ns, LIST_PODS_UNTIL_ALLOWED))

    def first_answer() -> str | None:
        out = cluster.kubectl("logs", "lister", "-n", ns, check=False).stdout
        return out if "STATUS" in out or "PODS" in out else None

    out = wait_for(first_answer, timeout=90, interval=0.3, what="the pod's first answer")
    assert "STATUS 403" in out, out
    assert (f'pods is forbidden: User \\"system:serviceaccount:{ns}:default\\" cannot list resource \\"pods\\" '
            f'in API group \\"\\" in the namespace \\"{ns}\\"') in out, out
    assert "PODS" not in out, out
    pod = cluster.pod("lister", ns) or {}
    mounts = pod["spec"]["containers"][0]["volumeMounts"]
    assert mounts[0]["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount"
    assert mounts[0]["name"].startswith("kube-api-access-")
    cluster.kubectl("apply", "-f", "-", input=json.dumps({  # a pod the binding lets it see
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bystander", "namespace": ns},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [
            {"name": "c", "image": "minikube-lite/busybox:1.0", "command": ["sleep", "3600"]}]}}))
    cluster.kubectl("create", "rolebinding", "default-view", "--clusterrole=view", f"--serviceaccount={ns}:default",
                    "-n", ns)
    out = _logs_when_done(cluster, "lister", ns)
    assert "PODS ['bystander', 'lister']" in out, out


def test_chart_shaped_install(cluster: Cluster, ns: str) -> None:
    """ServiceAccount + Role + RoleBinding + Deployment running as that account, as a chart ships."""
    script = LIST_PODS + "\nimport time\ntime.sleep(3600)\n"
    manifest = f"""
apiVersion: v1
kind: ServiceAccount
metadata: {{name: lister}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: pod-reader}}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: lister-reads-pods}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}}
subjects:
- {{kind: ServiceAccount, name: lister}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: lister}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: lister}}}}
  template:
    metadata: {{labels: {{app: lister}}}}
    spec:
      serviceAccountName: lister
      containers:
      - name: c
        image: {ensure_python_image()}
        imagePullPolicy: Never
        args: ["-c", {json.dumps(script)}]
"""
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=manifest)

    def listed() -> str | None:
        out = cluster.kubectl("logs", "-n", ns, "deployment/lister", check=False).stdout
        return out if "PODS" in out or "STATUS" in out else None

    out = wait_for(listed, timeout=90, what="the chart's pod to list pods")
    assert "PODS ['lister-" in out, out
    # a pod naming a ServiceAccount that does not exist is refused, as the admission plugin does
    bad = cluster.kubectl("run", "ghost", "-n", ns, "--image=minikube-lite/busybox:1.0",
                          "--overrides", '{"spec": {"serviceAccountName": "nobody"}}', check=False)
    assert bad.returncode != 0
    assert f'error looking up service account {ns}/nobody: serviceaccount "nobody" not found' in bad.stderr
    # automountServiceAccountToken: false -> no credentials in the pod
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nocreds"},
        "spec": {"automountServiceAccountToken": False,
                 "containers": [{"name": "c", "image": "minikube-lite/busybox:1.0", "command": ["sleep", "3600"]}]}}))
    assert not (cluster.pod("nocreds", ns) or {})["spec"].get("volumes")


def test_kubectl_auth_whoami_can_i_and_impersonation(cluster: Cluster, ns: str) -> None:
    who = cluster.kubectl("auth", "whoami").stdout
    assert "minikube-user" in who and "system:masters" in who
    sa = f"system:serviceaccount:{ns}:default"
    assert cluster.kubectl("auth", "can-i", "list", "pods", "-n", ns, "--as", sa, check=False).stdout.strip() == "no"
    assert cluster.kubectl("auth", "can-i", "create", "deployments", "-n", ns).stdout.strip() == "yes"
    cluster.kubectl("create", "rolebinding", "sa-edit", "--clusterrole=edit", f"--serviceaccount={ns}:default",
                    "-n", ns)
    wait_for(lambda: cluster.kubectl("auth", "can-i", "create", "deployments", "-n", ns, "--as", sa,
                                     check=False).stdout.strip() == "yes", timeout=5, what="the binding to apply")
    assert cluster.kubectl("auth", "can-i", "create", "roles", "-n", ns, "--as", sa,
                           check=False).stdout.strip() == "no"  # edit does not grant RBAC
    listing = cluster.kubectl("auth", "can-i", "--list", "-n", ns, "--as", sa).stdout
    assert "deployments.apps" in listing and "Non-Resource URLs" in listing
    token = cluster.kubectl("create", "token", "default", "-n", ns).stdout.strip()

    def with_token(*args: str, token: str = token) -> subprocess.CompletedProcess[str]:
        """kubectl with only the server, the CA and a bearer token (no client certificate)."""
        cmd = [cluster.kubectl_cmd()[0], "--kubeconfig", "/dev/null", "--server", cluster.url,
               "--certificate-authority", cluster.ca_file, "--token", token, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)

    as_sa = with_token("auth", "whoami").stdout
    assert sa in as_sa, as_sa
    assert with_token("get", "pods", "-n", ns).returncode == 0
    # a ServiceAccount may not impersonate anyone
    denied = with_token("get", "pods", "-n", ns, "--as", "minikube-user")
    assert denied.returncode != 0
    assert (f'users "minikube-user" is forbidden: User "{sa}" cannot impersonate resource "users" in API group '
            '"" at the cluster scope') in denied.stderr
    # an unknown token is refused
    bad = with_token("get", "pods", token="garbage")
    assert bad.returncode != 0 and "Unauthorized" in bad.stderr


def _kubectl_with_token(cluster: Cluster, token: str, *args: str,
                        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """kubectl with only the server, the CA and a bearer token (no client certificate)."""
    cmd = [cluster.kubectl_cmd()[0], "--kubeconfig", "/dev/null", "--server", cluster.url,
           "--certificate-authority", cluster.ca_file, "--token", token, *args]
    return subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=60, check=False)


def test_rbac_grants_only_what_the_writer_holds_unless_escalate_or_bind(cluster: Cluster, ns: str) -> None:
    """Privilege-escalation prevention: a ServiceAccount that may write Roles and RoleBindings may
    not grant more than it holds, until it is given ``escalate`` or ``bind``."""
    cluster.kubectl("create", "serviceaccount", "deployer", "-n", ns)
    cluster.kubectl("create", "role", "deployer", "-n", ns, "--verb=get,list,create,update,patch,delete",
                    "--resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io")
    cluster.kubectl("create", "role", "pods", "-n", ns, "--verb=get,list", "--resource=pods")
    for role in ("deployer", "pods"):
        cluster.kubectl("create", "rolebinding", f"deployer-{role}", f"--role={role}", "-n", ns,
                        f"--serviceaccount={ns}:deployer")
    token = cluster.kubectl("create", "token", "deployer", "-n", ns).stdout.strip()
    sa = f"system:serviceaccount:{ns}:deployer"
    wait_for(lambda: _kubectl_with_token(cluster, token, "get", "roles", "-n", ns).returncode == 0, timeout=10,
             what="the deployer's bindings to apply")

    ok = _kubectl_with_token(cluster, token, "create", "role", "pod-reader", "-n", ns, "--verb=get",
                             "--resource=pods")
    assert ok.returncode == 0, ok.stderr
    beyond = _kubectl_with_token(cluster, token, "create", "role", "secret-reader", "-n", ns, "--verb=get,list",
                                 "--resource=secrets,pods")
    assert beyond.returncode != 0
    assert beyond.stderr.strip() == (
        f'Error from server (Forbidden): roles.rbac.authorization.k8s.io "secret-reader" is forbidden: user "{sa}" '
        f'(groups=["system:serviceaccounts" "system:serviceaccounts:{ns}" "system:authenticated"]) is attempting '
        'to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], '
        'Verbs:["get" "list"]}'), beyond.stderr
    # an update that adds a rule not held is refused the same way (apply: a PATCH)
    grown = json.dumps({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                        "metadata": {"name": "pod-reader", "namespace": ns},
                        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "delete"]}]})
    refused = _kubectl_with_token(cluster, token, "apply", "-f", "-", input=grown)
    assert refused.returncode != 0 and "is attempting to grant RBAC permissions not currently held" in refused.stderr
    assert 'Verbs:["delete"]' in refused.stderr, refused.stderr
    assert cluster.kubectl("get", "role", "pod-reader", "-n", ns, "-o", "jsonpath={.rules[0].verbs}").stdout \
        == '["get"]'

    # binding: a role held is fine; cluster-admin's view (secrets ...) is not
    assert _kubectl_with_token(cluster, token, "create", "rolebinding", "b-ok", "--role=pod-reader", "-n", ns,
                               f"--serviceaccount={ns}:default").returncode == 0
    denied = _kubectl_with_token(cluster, token, "create", "rolebinding", "b-admin", "--clusterrole=admin", "-n", ns,
                                 f"--serviceaccount={ns}:default")
    assert denied.returncode != 0
    assert (f'rolebindings.rbac.authorization.k8s.io "b-admin" is forbidden: user "{sa}"' in denied.stderr
            and "is attempting to grant RBAC permissions not currently held" in denied.stderr), denied.stderr

    # given bind on the admin ClusterRole (that name only) and escalate on roles, both go through
    cluster.kubectl("create", "clusterrole", f"{ns}-binder", "--verb=bind", "--resource=clusterroles",
                    "--resource-name=admin")
    cluster.kubectl("create", "role", "escalator", "-n", ns, "--verb=escalate", "--resource=roles")
    try:
        cluster.kubectl("create", "rolebinding", "deployer-binder", f"--clusterrole={ns}-binder", "-n", ns,
                        f"--serviceaccount={ns}:deployer")
        cluster.kubectl("create", "rolebinding", "deployer-escalator", "--role=escalator", "-n", ns,
                        f"--serviceaccount={ns}:deployer")
        bound = wait_for(lambda: (r := _kubectl_with_token(
            cluster, token, "create", "rolebinding", "b-admin", "--clusterrole=admin", "-n", ns,
            f"--serviceaccount={ns}:default")).returncode == 0 and r, timeout=10, what="bind to be granted")
        assert "created" in bound.stdout
        edit = _kubectl_with_token(cluster, token, "create", "rolebinding", "b-edit", "--clusterrole=edit", "-n", ns,
                                   f"--serviceaccount={ns}:default")
        assert edit.returncode != 0 and "not currently held" in edit.stderr  # bind was for admin only
        escalated = _kubectl_with_token(cluster, token, "create", "role", "secret-reader", "-n", ns,
                                        "--verb=get,list", "--resource=secrets")
        assert escalated.returncode == 0, escalated.stderr
    finally:
        cluster.kubectl("delete", "clusterrole", f"{ns}-binder", "--wait=false", check=False)


def test_busybox_wget_reaches_the_api_over_tls(cluster: Cluster, ns: str) -> None:
    """busybox's own TLS (no openssl in the image) sends no signature_algorithms: the server must
    still agree a suite (it reset the connection while OpenSSL's security level refused SHA-1 there)."""
    script = ('wget -q -O- https://kubernetes.default.svc/version; echo; '
              'wget -q -O- --header "Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)" '
              'https://kubernetes.default.svc/api/v1/namespaces/$(cat /var/run/secrets/kubernetes.io/serviceaccount/'
              'namespace)/pods 2>&1; true')
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bb-wget"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "minikube-lite/busybox:1.0",
                                                            "command": ["sh", "-c", script]}]}}))
    out = _logs_when_done(cluster, "bb-wget", ns)
    assert '"gitVersion"' in out, out
    assert "403 Forbidden" in out, out  # the token was read (a 401 if not): the default SA may not list pods


def test_a_node_identity_cannot_modify_another_node(cluster: Cluster, tmp_path: Path) -> None:
    """NodeRestriction: with a kubelet's certificate (``system:node:<name>`` in ``system:nodes``) a
    node may patch its own Node but not another's, nor another node's Lease."""
    import ssl

    from minikube_lite.auth import pki

    other = f"other-{uuid.uuid4().hex[:6]}"
    node = cluster.settings.node_name
    crt, key = tmp_path / "node.crt", tmp_path / "node.key"
    pki.write_client_cert(pki.paths(cluster.settings.state_dir), f"system:node:{other}", ("system:nodes",), crt, key)
    ctx = ssl.create_default_context(cafile=cluster.ca_file)
    ctx.load_cert_chain(str(crt), str(key))
    merge = {"Content-Type": "application/merge-patch+json"}
    cluster.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Node",
                                                          "metadata": {"name": other}}))
    try:
        with httpx.Client(base_url=cluster.url, verify=ctx, timeout=10) as as_node:
            own = as_node.patch(f"/api/v1/nodes/{other}", content=b'{"metadata":{"labels":{"mine":"yes"}}}',
                                headers=merge)
            assert own.status_code == 200, own.text
            theirs = as_node.patch(f"/api/v1/nodes/{node}", content=b'{"metadata":{"labels":{"mine":"no"}}}',
                                   headers=merge)
            assert theirs.status_code == 403, theirs.text
            assert theirs.json()["message"] == (f'nodes "{node}" is forbidden: node "{other}" is not allowed to '
                                                f'modify node "{node}"')
            status = as_node.patch(f"/api/v1/nodes/{node}/status", content=b'{"status":{"capacity":{"pods":"1"}}}',
                                   headers=merge)
            assert status.status_code == 403, status.text
            lease = as_node.patch(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}",
                                  content=b'{"spec":{"holderIdentity":"me"}}', headers=merge)
            assert lease.status_code == 403 and "can only access node lease with the same name" in lease.text
            assert as_node.get(f"/api/v1/nodes/{node}").status_code == 200  # reading is RBAC's: allowed
        labels = cluster.get(f"/api/v1/nodes/{node}")["metadata"].get("labels") or {}
        assert "mine" not in labels
    finally:
        cluster.kubectl("delete", "node", other, "--wait=false", check=False)
