"""Authorization decisions: request attributes, RBAC rule matching, default roles, the 403 wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikube_lite.auth import pki
from minikube_lite.auth.authn import ANONYMOUS, Authenticator, bearer_token
from minikube_lite.auth.middleware import forbidden
from minikube_lite.auth.rbac import DefaultPolicy, RBACAuthorizer, Rule, UserInfo
from minikube_lite.auth.requestinfo import Attributes, request_attributes
from minikube_lite.auth.tokens import Issuer, Verifier

SA = UserInfo("system:serviceaccount:default:default", "",
              ("system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"))


@pytest.mark.parametrize(("method", "path", "query", "expect"), [
    ("GET", "/api/v1/namespaces/default/pods", "", ("list", "", "pods", "", "default", "")),
    ("GET", "/api/v1/namespaces/default/pods", "watch=true", ("watch", "", "pods", "", "default", "")),
    ("GET", "/api/v1/watch/namespaces/default/pods", "", ("watch", "", "pods", "", "default", "")),
    ("GET", "/api/v1/pods", "fieldSelector=metadata.name%3Dweb", ("list", "", "pods", "", "", "web")),
    ("GET", "/api/v1/namespaces/default/pods/web/log", "", ("get", "", "pods", "log", "default", "web")),
    ("POST", "/api/v1/namespaces/default/pods/web/exec", "", ("create", "", "pods", "exec", "default", "web")),
    ("DELETE", "/apis/apps/v1/namespaces/x/deployments", "", ("deletecollection", "apps", "deployments", "", "x", "")),
    ("PATCH", "/apis/apps/v1/namespaces/x/deployments/d/scale", "", ("patch", "apps", "deployments", "scale", "x", "d")),
    ("GET", "/api/v1/namespaces/kube-system", "", ("get", "", "namespaces", "", "kube-system", "kube-system")),
    ("PUT", "/api/v1/namespaces/t/finalize", "", ("update", "", "namespaces", "finalize", "t", "t")),
    ("GET", "/api/v1/nodes", "", ("list", "", "nodes", "", "", "")),
])
def test_request_attributes(method: str, path: str, query: str, expect: tuple[str, ...]) -> None:
    a = request_attributes(method, path, query.encode())
    assert a.resource_request
    assert (a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name) == expect


def test_non_resource_paths() -> None:
    for path in ("/version", "/healthz", "/api", "/api/v1", "/apis", "/apis/apps/v1", "/openapi/v2"):
        a = request_attributes("GET", path)
        assert not a.resource_request and a.verb == "get" and a.path == path
    assert request_attributes("POST", "/apply").verb == "post"


def test_rule_matching() -> None:
    rule = Rule.from_obj({"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"],
                          "resourceNames": ["web"]})
    get = Attributes("get", True, resource="pods", namespace="d", name="web")
    assert rule.allows(get)
    assert not rule.allows(Attributes("get", True, resource="pods", namespace="d", name="db"))
    assert rule.allows(Attributes("get", True, resource="pods", subresource="log", name="web"))
    assert not rule.allows(Attributes("get", True, resource="pods", subresource="exec", name="web"))
    assert not rule.allows(Attributes("get", True, api_group="apps", resource="pods", name="web"))
    star = Rule.from_obj({"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["*"]})
    assert star.allows(Attributes("patch", True, api_group="apps", resource="deployments", subresource="scale"))
    assert not star.allows(Attributes("patch", True, api_group="apps", resource="deployments"))
    urls = Rule.from_obj({"nonResourceURLs": ["/healthz", "/apis/*"], "verbs": ["get"]})
    assert urls.allows(Attributes("get", False, path="/apis/apps/v1"))
    assert urls.allows(Attributes("get", False, path="/healthz"))
    assert not urls.allows(Attributes("get", False, path="/healthz/etcd"))
    assert not urls.allows(Attributes("post", False, path="/healthz"))


def test_default_policy_anonymous_masters_and_service_accounts() -> None:
    authz = RBACAuthorizer(DefaultPolicy())
    version = Attributes("get", False, path="/version")
    assert authz.authorize(ANONYMOUS, version)[0]
    assert not authz.authorize(ANONYMOUS, Attributes("get", False, path="/api"))[0]  # discovery: authenticated
    assert authz.authorize(SA, Attributes("get", False, path="/api"))[0]
    secrets = Attributes("list", True, resource="secrets")
    assert not authz.authorize(ANONYMOUS, secrets)[0]
    assert authz.authorize(UserInfo("minikube-user", "", ("system:masters",)), secrets)[0]
    pods = Attributes("list", True, resource="pods", namespace="default")
    assert not authz.authorize(SA, pods)[0]
    node = UserInfo("system:node:n1", "", ("system:nodes", "system:authenticated"))
    assert authz.authorize(node, Attributes("update", True, resource="pods", subresource="status", name="p",
                                            namespace="default"))[0]
    assert not authz.authorize(node, Attributes("delete", True, resource="namespaces", name="x"))[0]


def test_aggregated_roles_hold_their_parts() -> None:
    roles = {r["metadata"]["name"]: r for r in DefaultPolicy().objects()[1]}
    view = [Rule.from_obj(r) for r in roles["view"]["rules"]]
    edit = [Rule.from_obj(r) for r in roles["edit"]["rules"]]
    admin = [Rule.from_obj(r) for r in roles["admin"]["rules"]]
    list_pods = Attributes("list", True, resource="pods", namespace="x")
    create_deploy = Attributes("create", True, api_group="apps", resource="deployments", namespace="x")
    create_role = Attributes("create", True, api_group="rbac.authorization.k8s.io", resource="roles", namespace="x")
    get_secret = Attributes("get", True, resource="secrets", namespace="x")
    assert any(r.allows(list_pods) for r in view) and not any(r.allows(get_secret) for r in view)
    assert any(r.allows(create_deploy) for r in edit) and any(r.allows(get_secret) for r in edit)
    assert not any(r.allows(create_role) for r in edit) and any(r.allows(create_role) for r in admin)
    assert all(any(r.allows(a) for r in admin) for a in (list_pods, create_deploy, get_secret))


class _Source:
    def __init__(self) -> None:
        self.generation = 0
        self.roles: list[dict] = []
        self.bindings: list[dict] = []

    def objects(self):  # type: ignore[no-untyped-def]
        roles, bindings = DefaultPolicy().objects()[1], DefaultPolicy().objects()[3]
        return self.roles, roles, self.bindings, bindings


def test_role_bindings_in_their_namespace_only_and_missing_roles_named() -> None:
    source = _Source()
    authz = RBACAuthorizer(source)
    pods = Attributes("list", True, resource="pods", namespace="default")
    assert not authz.authorize(SA, pods)[0]
    source.bindings = [{"metadata": {"name": "b", "namespace": "default"},
                        "roleRef": {"kind": "ClusterRole", "name": "view"},
                        "subjects": [{"kind": "ServiceAccount", "name": "default"}]},
                       {"metadata": {"name": "c", "namespace": "default"},
                        "roleRef": {"kind": "Role", "name": "gone"},
                        "subjects": [{"kind": "Group", "name": "system:serviceaccounts"}]}]
    source.generation += 1
    assert authz.authorize(SA, pods)[0]
    other = Attributes("list", True, resource="pods", namespace="other")
    allowed, reason = authz.authorize(SA, other)
    assert not allowed and reason == 'RBAC: role.rbac.authorization.k8s.io "gone" not found'


def test_forbidden_wording_is_kubernetes() -> None:
    err = forbidden(SA, Attributes("list", True, resource="pods", namespace="default"))
    assert err.code == 403 and err.reason == "Forbidden"
    assert err.message == ('pods is forbidden: User "system:serviceaccount:default:default" cannot list resource '
                           '"pods" in API group "" in the namespace "default"')
    err = forbidden(ANONYMOUS, Attributes("get", True, api_group="apps", resource="deployments", name="web",
                                          subresource="scale"))
    assert err.message == ('deployments.apps "web" is forbidden: User "system:anonymous" cannot get resource '
                           '"deployments/scale" in API group "apps" at the cluster scope')
    assert err.status()["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    err = forbidden(ANONYMOUS, Attributes("get", False, path="/api"))
    assert err.message == 'forbidden: User "system:anonymous" cannot get path "/api"'


def test_certificates_and_tokens(tmp_path: Path) -> None:
    p = pki.ensure_client(tmp_path)
    assert pki.ensure_serving(tmp_path, ("172.18.0.1",))
    assert not pki.ensure_serving(tmp_path, ("172.18.0.1",))  # reused
    assert pki.ensure_serving(tmp_path, ("10.0.0.7",))  # a new name: made again, keeping the old ones
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(p.server_crt.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(i) for i in sans.get_values_for_type(x509.IPAddress)}
    assert {"127.0.0.1", "10.96.0.1", "172.18.0.1", "10.0.0.7"} <= ips
    assert "kubernetes.default.svc.cluster.local" in sans.get_values_for_type(x509.DNSName)
    client = x509.load_pem_x509_certificate(p.client_crt.read_bytes())
    assert client.subject.rfc4514_string() == "CN=minikube-user,O=system:masters"
    for key in (p.ca_key, p.server_key, p.client_key, p.sa_key, p.token_file):
        assert key.stat().st_mode & 0o777 == 0o600
    authn = Authenticator(tmp_path)
    admin = authn.user_for_token(pki.admin_token(tmp_path))
    assert admin is not None and admin.name == "minikube-user" and "system:masters" in admin.groups
    assert authn.user_for_token("nope") is None
    token, _ = Issuer(p.sa_key, p.sa_pub).issue("default", "default", "uid-1", pod=("web", "pod-uid"))
    user = authn.user_for_token(token)
    assert user is not None and user.name == "system:serviceaccount:default:default"
    assert dict(user.extra)["authentication.kubernetes.io/pod-name"] == ("web",)
    gone = Verifier(p.sa_pub, lambda resource, ns, name: None)
    assert gone.verify(token) is None  # the ServiceAccount no longer exists: revoked
    assert bearer_token([(b"authorization", b"Bearer abc")]) == "abc"
    assert bearer_token([(b"sec-websocket-protocol", b"v4.channel.k8s.io, base64url.bearer.authorization.k8s.io.YWJj")]) == "abc"


def test_daemon_refuses_an_open_api_off_loopback(tmp_path: Path) -> None:
    from minikube_lite.config import Settings
    from minikube_lite.daemon import Daemon

    with pytest.raises(SystemExit, match="without TLS and authentication"):
        Daemon(Settings(state_dir=tmp_path / "s", host="0.0.0.0", secure=False), with_kubelet=False)


def test_service_account_admission_adds_the_api_access_volume() -> None:
    from minikube_lite.api.errors import Forbidden
    from minikube_lite.auth.admission import MOUNT_PATH, admit_pod

    pod = {"metadata": {"name": "p", "namespace": "d"},
           "spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "i"}]}}
    admit_pod(pod, [])
    vol = pod["spec"]["volumes"][0]
    assert pod["spec"]["serviceAccountName"] == "default" and vol["name"].startswith("kube-api-access-")
    assert [s for src in vol["projected"]["sources"] for s in src] == ["serviceAccountToken", "configMap",
                                                                         "downwardAPI"]
    for c in (*pod["spec"]["containers"], *pod["spec"]["initContainers"]):
        assert c["volumeMounts"] == [{"name": vol["name"], "readOnly": True, "mountPath": MOUNT_PATH}]
    quiet = {"metadata": {"name": "q", "namespace": "d"}, "spec": {"serviceAccountName": "robot",
                                                                    "containers": [{"name": "a"}]}}
    admit_pod(quiet, [{"metadata": {"name": "robot", "namespace": "d"}, "automountServiceAccountToken": False}])
    assert "volumes" not in quiet["spec"]
    with pytest.raises(Forbidden, match='error looking up service account d/ghost: serviceaccount "ghost" not found'):
        admit_pod({"metadata": {"name": "g", "namespace": "d"},
                   "spec": {"serviceAccountName": "ghost", "containers": [{"name": "a"}]}}, [])


def test_regenerate_certs_makes_a_new_ca_and_keeps_the_rest_until_asked(tmp_path: Path) -> None:
    p = pki.ensure_client(tmp_path)
    pki.ensure_serving(tmp_path)
    ca, token = p.ca_crt.read_bytes(), pki.admin_token(tmp_path)
    pki.ensure_client(tmp_path)
    assert p.ca_crt.read_bytes() == ca  # a later start reuses everything
    pki.ensure_client(tmp_path, regenerate=True)  # start --regenerate-certs
    assert p.ca_crt.read_bytes() != ca and not p.server_crt.exists()
    assert pki.admin_token(tmp_path) == token  # the token and ServiceAccount key are not certificates
    assert pki.ensure_serving(tmp_path)
