"""Volume rules on a temporary folder: the atomic ``..data`` writer, payloads, hostPath types, mounts."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from minikube_lite.kubelet.spec import ConfigError, pod_references
from minikube_lite.kubelet.volumes import (
    HostVolume,
    check_host_path,
    container_mounts,
    downward_payload,
    keyed_payload,
    object_bytes,
    write_atomic,
)


def test_atomic_writer_layout_and_update(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert write_atomic(target, {"a": (b"1", 0o644), "dir/b": (b"2", 0o400)})
    assert os.readlink(target / "..data").startswith("..")
    assert os.readlink(target / "a") == "..data/a" and os.readlink(target / "dir") == "..data/dir"
    assert (target / "dir" / "b").read_bytes() == b"2"
    assert oct((target / "dir" / "b").stat().st_mode & 0o777) == oct(0o400)
    assert not write_atomic(target, {"a": (b"1", 0o644), "dir/b": (b"2", 0o400)})  # unchanged: no write
    old = os.readlink(target / "..data")
    assert write_atomic(target, {"a": (b"new", 0o644)})
    assert (target / "a").read_bytes() == b"new"
    assert not (target / "dir").exists()  # names that left the payload disappear
    assert not (target / old).exists()  # the previous payload folder is removed
    hidden = sorted(p.name for p in target.iterdir() if p.name.startswith(".."))
    assert hidden == sorted(["..data", os.readlink(target / "..data")])


def test_atomic_writer_refuses_escaping_paths(tmp_path: Path) -> None:
    for bad in ("../x", "/etc/passwd", "..data/x"):
        with pytest.raises(ValueError):
            write_atomic(tmp_path / "v", {bad: (b"", 0o644)})


def test_keyed_payload_items_modes_optional() -> None:
    data = {"k1": b"v1", "k2": b"v2"}
    assert keyed_payload("configmap", "cm", data, {}, 0o644) == {"k1": (b"v1", 0o644), "k2": (b"v2", 0o644)}
    src = {"items": [{"key": "k2", "path": "sub/two", "mode": 0o600}]}
    assert keyed_payload("configmap", "cm", data, src, 0o644) == {"sub/two": (b"v2", 0o600)}
    assert keyed_payload("secret", "s", None, {"optional": True}, 0o644) == {}
    with pytest.raises(ConfigError, match='configmap "cm" not found'):
        keyed_payload("configmap", "cm", None, {}, 0o644)
    with pytest.raises(ConfigError, match="non-existent config key: nope"):
        keyed_payload("configmap", "cm", data, {"items": [{"key": "nope", "path": "x"}]}, 0o644)


def test_object_bytes_decodes_secrets_and_binary_data() -> None:
    assert object_bytes("secrets", {"data": {"p": "czNjcmV0"}, "stringData": {"q": "plain"}}) == \
        {"p": b"s3cret", "q": b"plain"}
    assert object_bytes("configmaps", {"data": {"a": "x"}, "binaryData": {"b": "AAE="}}) == \
        {"a": b"x", "b": b"\x00\x01"}


def test_downward_payload() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns", "labels": {"b": "2", "a": "1"}},
           "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}}}]}}
    items = [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
             {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory",
                                                   "divisor": "1Mi"}}]
    assert downward_payload(pod, items, 0o644) == {"labels": (b'a="1"\nb="2"', 0o644), "mem": (b"64", 0o644)}


def test_host_path_types(tmp_path: Path) -> None:
    check_host_path(str(tmp_path / "new" / "dir"), "DirectoryOrCreate")
    assert (tmp_path / "new" / "dir").is_dir()
    check_host_path(str(tmp_path / "f"), "FileOrCreate")
    assert (tmp_path / "f").is_file()
    check_host_path(str(tmp_path / "f"), "File")
    check_host_path(str(tmp_path / "anything"), None)  # no type: no check
    with pytest.raises(ConfigError, match="is not a directory"):
        check_host_path(str(tmp_path / "f"), "Directory")
    with pytest.raises(ConfigError, match="is not a file"):
        check_host_path(str(tmp_path / "new"), "File")
    with pytest.raises(ConfigError, match="parent folder"):
        check_host_path(str(tmp_path / "no" / "f"), "FileOrCreate")
    sock_path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock_path))
        check_host_path(str(sock_path), "Socket")
    with pytest.raises(ConfigError, match="is not a socket file"):
        check_host_path(str(tmp_path / "f"), "Socket")


def test_container_mounts_subpath_and_read_only(tmp_path: Path) -> None:
    vols = {"data": HostVolume(tmp_path / "data"), "cfg": HostVolume(tmp_path / "cfg", read_only=True)}
    (tmp_path / "data").mkdir()
    mounts = container_mounts({"volumeMounts": [
        {"name": "data", "mountPath": "/var/lib/db", "subPath": "postgres"},
        {"name": "data", "mountPath": "/ro", "readOnly": True},
        {"name": "cfg", "mountPath": "/etc/app"}]}, vols)
    assert [(m["Target"], m["Source"], m["ReadOnly"]) for m in mounts] == [
        ("/var/lib/db", str(tmp_path / "data" / "postgres"), False),
        ("/ro", str(tmp_path / "data"), True),
        ("/etc/app", str(tmp_path / "cfg"), True)]
    assert (tmp_path / "data" / "postgres").is_dir()  # subPath folders are created, as Kubernetes does
    with pytest.raises(ConfigError, match="subPath"):
        container_mounts({"volumeMounts": [{"name": "data", "mountPath": "/x", "subPath": "../up"}]}, vols)
    with pytest.raises(ConfigError, match='volume "nope" not found'):
        container_mounts({"volumeMounts": [{"name": "nope", "mountPath": "/x"}]}, vols)


def test_pod_references_cover_env_volumes_and_claims() -> None:
    pod = {"spec": {
        "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "s1"}}]}],
        "containers": [{"name": "c", "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm1",
                                                                                             "key": "k"}}}]}],
        "volumes": [{"name": "v1", "configMap": {"name": "cm2"}}, {"name": "v2", "secret": {"secretName": "s2"}},
                    {"name": "v3", "persistentVolumeClaim": {"claimName": "pvc"}},
                    {"name": "v4", "projected": {"sources": [{"configMap": {"name": "cm3"}},
                                                             {"secret": {"name": "s3"}}]}}]}}
    assert pod_references(pod) == {("secrets", "s1"), ("configmaps", "cm1"), ("configmaps", "cm2"),
                                   ("secrets", "s2"), ("persistentvolumeclaims", "pvc"), ("configmaps", "cm3"),
                                   ("secrets", "s3")}
