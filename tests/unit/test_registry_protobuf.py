"""The protobuf request decoder: what kubectl's typed commands send (create namespace/configmap/secret)."""

from __future__ import annotations

import pytest

from minikube_lite.api.errors import ApiError
from minikube_lite.apiserver.protobuf import MAGIC, decode_object


def _varint(n: int) -> bytes:
    out = b""
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _ld(num: int, data: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def _s(num: int, text: str) -> bytes:
    return _ld(num, text.encode())


def _int(num: int, n: int) -> bytes:
    return _varint(num << 3) + _varint(n)


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return MAGIC + _ld(1, _s(1, api_version) + _s(2, kind)) + _ld(2, raw)


def test_namespace_and_configmap() -> None:
    meta = _s(1, "team") + _s(2, "") + _ld(11, _s(1, "env") + _s(2, "dev")) + _ld(8, b"")
    ns = decode_object(_envelope("v1", "Namespace", _ld(1, meta) + _ld(2, b"")))
    assert ns == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": {"env": "dev"}}}
    cm = decode_object(_envelope("v1", "ConfigMap", _ld(1, _s(1, "c")) + _ld(2, _s(1, "a") + _s(2, ""))))
    assert cm["data"] == {"a": ""}
    secret = decode_object(_envelope("v1", "Secret", _ld(1, _s(1, "s")) + _ld(2, _s(1, "k") + _s(2, "xyz"))
                                     + _s(3, "Opaque")))
    assert secret["data"] == {"k": "eHl6"} and secret["type"] == "Opaque"


def test_zero_replicas_is_kept_and_int_or_string() -> None:
    port = _int(3, 80) + _ld(4, _int(1, 1) + _s(3, "http"))
    svc = decode_object(_envelope("v1", "Service", _ld(1, _s(1, "x")) + _ld(2, _ld(1, port))))
    assert svc["spec"]["ports"] == [{"port": 80, "targetPort": "http"}]
    dep = decode_object(_envelope("apps/v1", "Deployment", _ld(1, _s(1, "d")) + _ld(2, _int(1, 0))))
    assert dep["spec"] == {"replicas": 0}


def test_delete_options_as_helm_and_kubectl_send_them() -> None:
    """client-go writes DeleteOptions as protobuf on DELETE (helm uninstall); grace 0 is kept."""
    for api_version in ("v1", "meta.k8s.io/v1"):
        raw = (_int(1, 0) + _ld(2, _s(1, "uid-1")) + _s(4, "Background") + _s(5, "All"))
        opts = decode_object(_envelope(api_version, "DeleteOptions", raw))
        assert opts == {"apiVersion": api_version, "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                        "preconditions": {"uid": "uid-1"}, "propagationPolicy": "Background",
                        "dryRun": ["All"]}


def test_every_protobuf_kind_of_the_register_is_decodable() -> None:
    from minikube_lite.api import register
    from minikube_lite.apiserver.protobuf_tables import ROOTS

    for r in register.resources():
        if r.group in ("", "apps", "batch", "policy", "rbac.authorization.k8s.io", "authorization.k8s.io",
                       "authentication.k8s.io", "networking.k8s.io", "coordination.k8s.io"):
            assert (r.api_version, r.kind) in ROOTS, r.kind


def test_messages_of_the_same_name_in_two_packages_stay_apart() -> None:
    """authentication/v1 and authorization/v1 each have an ExtraValue; a SubjectAccessReview's
    ``extra`` decodes with authorization's, and kubectl create rolebinding's subjects with rbac's Subject."""
    extra = _ld(5, _s(1, "scopes") + _ld(2, _s(1, "read") + _s(1, "write")))
    sar = decode_object(_envelope("authorization.k8s.io/v1", "SubjectAccessReview",
                                  _ld(1, b"") + _ld(2, _s(3, "jane") + extra)))
    assert sar["spec"] == {"user": "jane", "extra": {"scopes": ["read", "write"]}}
    subject = _s(1, "ServiceAccount") + _s(3, "default") + _s(4, "team")
    rb = decode_object(_envelope("rbac.authorization.k8s.io/v1", "RoleBinding",
                                 _ld(1, _s(1, "rb")) + _ld(2, subject)
                                 + _ld(3, _s(1, "rbac.authorization.k8s.io") + _s(2, "ClusterRole") + _s(3, "view"))))
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "default", "namespace": "team"}]
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}


@pytest.mark.parametrize("body", [b"", b"k8s\x00\xff", b"nope", MAGIC + _ld(1, _s(1, "v9") + _s(2, "Thing")),
                                  _envelope("v1", "Namespace", b"\x0a\xff\xff\xff\xff\x0f"),
                                  _envelope("v1", "Namespace", b"\x0f")])
def test_bad_bodies_are_4xx(body: bytes) -> None:
    with pytest.raises(ApiError) as err:
        decode_object(body)
    assert 400 <= err.value.code < 500
