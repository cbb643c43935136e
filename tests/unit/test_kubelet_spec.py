"""Pod spec -> docker create arguments, the pause executable and the work queue, on plain inputs."""

from __future__ import annotations

import asyncio
import base64
import struct
from typing import Any

import pytest

from minikube_lite.kubelet.pause import pause_executable, pause_tar
from minikube_lite.kubelet.spec import (
    MASTER_SERVICE_ENV,
    ConfigError,
    app_container_args,
    host_resources,
    parse_quantity,
    pause_container_args,
    pull_policy,
    referenced_objects,
    resolve_env,
)
from minikube_lite.kubelet.workqueue import WorkQueue

POD = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"}},
       "spec": {"nodeName": "node-1"}}


@pytest.mark.parametrize(("image", "policy"), [
    ("busybox", "Always"), ("busybox:latest", "Always"), ("busybox:1.36", "IfNotPresent"),
    ("localhost:5000/x", "Always"), ("localhost:5000/x:2", "IfNotPresent"), ("x@sha256:abc", "IfNotPresent"),
])
def test_default_pull_policy(image: str, policy: str) -> None:
    assert pull_policy({"image": image}) == policy
    assert pull_policy({"image": image, "imagePullPolicy": "Never"}) == "Never"


def test_quantities() -> None:
    assert parse_quantity("500m") == 0.5
    assert parse_quantity("2") == 2
    assert parse_quantity("128Mi") == 128 * 1024**2
    assert parse_quantity("1G") == 1e9
    assert host_resources({"resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}) == {
        "mem_limit": 64 * 1024**2, "memswap_limit": 64 * 1024**2, "nano_cpus": 500_000_000, "cpu_shares": 512}
    assert host_resources({"resources": {"requests": {"cpu": "250m"}}}) == {"cpu_shares": 256}


def lookup_from(objects: dict[tuple[str, str], dict[str, Any]]) -> Any:
    return lambda resource, name: objects.get((resource, name))


def test_env_values_field_refs_and_expansion() -> None:
    container = {"name": "c", "env": [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "$(A)-two-$$(A)"},
        {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
    ]}
    env = resolve_env(POD, container, lookup=lookup_from({}), pod_ip="10.1.0.2", host_ip="10.1.0.1")
    master, env = env[:len(MASTER_SERVICE_ENV)], env[len(MASTER_SERVICE_ENV):]
    assert master[0] == "KUBERNETES_SERVICE_HOST=10.96.0.1" and "KUBERNETES_SERVICE_PORT=443" in master
    assert env == ["A=1", "B=1-two-$(A)", "NAME=web", "NS=shop", "UID=u-1", "APP=web", "NODE=node-1",
                   "IP=10.1.0.2", "HOST=10.1.0.1"]


def test_env_from_config_maps_and_secrets() -> None:
    objects = {("configmaps", "cfg"): {"data": {"MODE": "prod", "LEVEL": "3"}},
               ("secrets", "pw"): {"data": {"password": base64.b64encode(b"s3cret").decode()}}}
    container = {"name": "c", "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
                 "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "pw", "key": "password"}}},
                         {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "MODE"}}},
                         {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x",
                                                                          "optional": True}}}]}
    assert referenced_objects(container) == {("configmaps", "cfg"), ("secrets", "pw"), ("configmaps", "nope")}
    env = resolve_env(POD, container, lookup=lookup_from(objects), pod_ip=None, host_ip=None)[len(MASTER_SERVICE_ENV):]
    assert env == ["CFG_MODE=prod", "CFG_LEVEL=3", "PASSWORD=s3cret", "MODE=prod"]


def test_env_missing_references_are_config_errors() -> None:
    missing_map = {"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "m", "key": "k"}}}]}
    with pytest.raises(ConfigError, match='configmap "m" not found'):
        resolve_env(POD, missing_map, lookup=lookup_from({}), pod_ip=None, host_ip=None)
    with pytest.raises(ConfigError, match="couldn't find key k in ConfigMap shop/m"):
        resolve_env(POD, missing_map, lookup=lookup_from({("configmaps", "m"): {"data": {}}}), pod_ip=None,
                    host_ip=None)
    missing_from = {"name": "c", "envFrom": [{"secretRef": {"name": "s"}}]}
    with pytest.raises(ConfigError, match='secret "s" not found'):  # envFrom: the same wording
        resolve_env(POD, missing_from, lookup=lookup_from({}), pod_ip=None, host_ip=None)
    optional_from = {"name": "c", "envFrom": [{"secretRef": {"name": "s", "optional": True}},
                                              {"configMapRef": {"name": "m", "optional": True}}]}
    assert resolve_env(POD, optional_from, lookup=lookup_from({}), pod_ip=None, host_ip=None) == \
        [f"{k}={v}" for k, v in MASTER_SERVICE_ENV.items()]


def test_app_container_args() -> None:
    container = {"name": "c", "image": "img:1", "command": ["sh", "-c"], "args": ["echo $(GREETING)"],
                 "workingDir": "/w", "stdin": True, "tty": True,
                 "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "privileged": False,
                                     "readOnlyRootFilesystem": True, "capabilities": {"add": ["NET_ADMIN"],
                                                                                      "drop": ["ALL"]}},
                 "resources": {"limits": {"memory": "32Mi"}}}
    create, host = app_container_args(POD, container, pause_id="abc", labels={"l": "1"}, env=["GREETING=hi"])
    assert create["entrypoint"] == ["sh", "-c"] and create["command"] == ["echo hi"]
    assert create["working_dir"] == "/w" and create["user"] == "1000:3000"
    assert create["stdin_open"] and create["tty"] and create["labels"] == {"l": "1"}
    assert host["network_mode"] == "container:abc" and host["read_only"]
    assert host["cap_add"] == ["NET_ADMIN"] and host["cap_drop"] == ["ALL"]
    assert host["mem_limit"] == 32 * 1024**2
    assert "restart_policy" not in host  # the kubelet restarts containers, never Docker
    only_args, _ = app_container_args(POD, {"name": "c", "image": "i", "args": ["x"]}, pause_id="p", labels={},
                                      env=[])
    assert "entrypoint" not in only_args and only_args["command"] == ["x"]


def test_pause_container_args() -> None:
    pod = {**POD, "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}}
    create, host = pause_container_args(pod, labels={"l": "1"}, network="net")
    assert create["hostname"] == "web" and host["network_mode"] == "net"
    assert host["port_bindings"] == {"80/tcp": ("0.0.0.0", 8080)}
    assert create["stop_signal"] == "SIGKILL"  # an engine's stop must not wait 10 s for a PID 1 ignoring SIGTERM


@pytest.mark.parametrize(("machine", "e_machine"), [("x86_64", 62), ("aarch64", 183)])
def test_pause_executable_is_a_tiny_static_elf(machine: str, e_machine: int) -> None:
    data = pause_executable(machine)
    assert data[:4] == b"\x7fELF" and data[4] == 2  # 64-bit
    assert struct.unpack_from("<H", data, 18)[0] == e_machine
    entry = struct.unpack_from("<Q", data, 24)[0]
    assert entry == 0x400000 + 120
    if machine == "x86_64":
        assert len(data) == 129
    assert pause_tar(machine)  # a tar with /pause


def test_pause_unknown_architecture() -> None:
    with pytest.raises(RuntimeError):
        pause_executable("sparc")


def test_work_queue_never_syncs_one_key_twice_at_once() -> None:
    async def scenario() -> None:
        active: set[str] = set()
        calls: list[str] = []

        async def handler(key: str) -> None:
            assert key not in active
            active.add(key)
            calls.append(key)
            await asyncio.sleep(0.02)
            active.discard(key)

        q = WorkQueue(handler)
        for _ in range(3):
            q.add("a")  # before the sync starts: one sync covers them all
        await asyncio.sleep(0.005)
        for _ in range(5):
            q.add("a")  # while it runs: exactly one more sync afterwards
        q.add("b")
        await asyncio.sleep(0.1)
        assert calls.count("a") == 2
        assert calls.count("b") == 1
        q.add_after("b", 0.01)
        await asyncio.sleep(0.08)
        assert calls.count("b") == 2
        await q.close()

    asyncio.run(scenario())


def test_work_queue_retries_a_failing_sync() -> None:
    async def scenario() -> None:
        calls = 0

        async def handler(key: str) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("docker is down")

        q = WorkQueue(handler)
        q.add("a")
        await asyncio.sleep(0.7)
        assert calls == 2
        await q.close()

    asyncio.run(scenario())


def test_pause_container_gets_cluster_dns_when_given() -> None:
    _, host = pause_container_args(POD, labels={}, network="net", dns_server="10.0.0.1")
    assert host["dns"] == ["10.0.0.1"] and host["dns_opt"] == ["ndots:5"]
    assert host["dns_search"] == ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    _, plain = pause_container_args(POD, labels={}, network="net")
    assert "dns" not in plain


def test_run_as_non_root_is_verified_as_the_kubelet_does() -> None:
    from minikube_lite.kubelet.spec import ConfigError, run_as_non_root, verify_non_root

    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "u1"},
           "spec": {"securityContext": {"runAsNonRoot": True}}}
    c = {"name": "app"}
    assert run_as_non_root(pod, c)
    assert not run_as_non_root(pod, {"name": "app", "securityContext": {"runAsNonRoot": False}})
    for image_user in ("", "0", "root", "0:0"):
        with pytest.raises(ConfigError, match=r'^container has runAsNonRoot and image will run as root '
                                              r'\(pod: "p_default\(u1\)", container: app\)$'):
            verify_non_root(pod, c, image_user)
    with pytest.raises(ConfigError, match=r"image has non-numeric user \(nobody\), cannot verify user is non-root"):
        verify_non_root(pod, c, "nobody")
    verify_non_root(pod, c, "1000")
    verify_non_root(pod, c, "1000:1000")
    verify_non_root(pod, {"name": "app", "securityContext": {"runAsUser": 1000}}, "")  # runAsUser wins
    with pytest.raises(ConfigError, match="container's runAsUser breaks non-root policy"):
        verify_non_root(pod, {"name": "app", "securityContext": {"runAsUser": 0}}, "1000")


def test_host_network_pause_container() -> None:
    from minikube_lite.kubelet.spec import pause_container_args

    def pod(**spec: object) -> dict:
        return {"metadata": {"name": "p", "namespace": "ns"},
                "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080, "hostPort": 8080}]}],
                         **spec}}

    create, host = pause_container_args(pod(), labels={}, network="bridge-net", dns_server="10.0.0.10")
    assert host["network_mode"] == "bridge-net" and host["dns"] == ["10.0.0.10"]
    assert create["hostname"] == "p" and host["port_bindings"] == {"8080/tcp": ("0.0.0.0", 8080)}

    create, host = pause_container_args(pod(hostNetwork=True), labels={}, network="bridge-net",
                                        dns_server="10.0.0.10")
    assert host["network_mode"] == "host"
    assert "hostname" not in create and "port_bindings" not in host  # the node's name; ports are the host's
    assert "dns" not in host  # ClusterFirst on the host's network: the node's resolver, as Kubernetes

    _, host = pause_container_args(pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), labels={},
                                   network="bridge-net", dns_server="10.0.0.10")
    assert host["dns"] == ["10.0.0.10"] and host["dns_search"][0] == "ns.svc.cluster.local"
