"""The official Python client (``kubernetes`` on PyPI) against the daemon: a program that lists,
creates, patches, watches (``watch.Watch()``) and deletes pods, services, configmaps and secrets."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from .conftest import Cluster

NS = "pyclient"


@pytest.fixture(scope="module")
def core(cluster: Cluster) -> Iterator[client.CoreV1Api]:
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    api = client.CoreV1Api(api_client)
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    yield api
    api.delete_namespace(NS)
    api_client.close()


def _pod(name: str) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": "py"}),
        spec=client.V1PodSpec(node_selector={"nowhere": "true"},
                              containers=[client.V1Container(name="c", image="minikube-lite/busybox:1.0")]))


def test_pods_list_create_patch_watch_delete(core: client.CoreV1Api) -> None:
    start_rv = core.list_namespaced_pod(NS).metadata.resource_version
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def watcher() -> None:
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_pod, NS, resource_version=start_rv, timeout_seconds=10):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()
        done.set()

    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    created = core.create_namespaced_pod(NS, _pod("py-pod"))
    assert created.metadata.uid and created.status.phase == "Pending"
    patched = core.patch_namespaced_pod("py-pod", NS, {"metadata": {"labels": {"patched": "yes"}}})
    assert patched.metadata.labels == {"app": "py", "patched": "yes"}
    names = [p.metadata.name for p in core.list_namespaced_pod(NS, label_selector="patched=yes").items]
    assert names == ["py-pod"]
    core.delete_namespaced_pod("py-pod", NS)
    assert done.wait(15)
    assert seen[0] == ("ADDED", "py-pod") and ("MODIFIED", "py-pod") in seen and seen[-1] == ("DELETED", "py-pod")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("py-pod", NS)
    assert err.value.status == 404


def test_services(core: client.CoreV1Api) -> None:
    svc = client.V1Service(metadata=client.V1ObjectMeta(name="py-svc"), spec=client.V1ServiceSpec(
        selector={"app": "py"}, ports=[client.V1ServicePort(port=80, target_port=8080)]))
    created = core.create_namespaced_service(NS, svc)
    assert created.spec.cluster_ip and created.spec.ports[0].target_port == 8080
    patched = core.patch_namespaced_service("py-svc", NS, {"spec": {"type": "NodePort"}})
    assert patched.spec.type == "NodePort" and patched.spec.ports[0].node_port
    assert [s.metadata.name for s in core.list_namespaced_service(NS).items] == ["py-svc"]
    core.delete_namespaced_service("py-svc", NS)
    assert core.list_namespaced_service(NS).items == []


def test_configmaps_and_secrets(core: client.CoreV1Api) -> None:
    cm = core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-cm"),
                                                                  data={"a": "1"}))
    assert cm.data == {"a": "1"}
    cm = core.patch_namespaced_config_map("py-cm", NS, {"data": {"b": "2"}})
    assert cm.data == {"a": "1", "b": "2"}
    secret = core.create_namespaced_secret(NS, client.V1Secret(metadata=client.V1ObjectMeta(name="py-secret"),
                                                               string_data={"PGPASSWORD": "pw"}))
    assert secret.data == {"PGPASSWORD": "cHc="}
    assert [s.metadata.name for s in core.list_namespaced_secret(NS).items] == ["py-secret"]
    core.delete_namespaced_config_map("py-cm", NS)
    core.delete_namespaced_secret("py-secret", NS)
    # what is left is the cluster CA every namespace gets, as in Kubernetes
    assert [c.metadata.name for c in core.list_namespaced_config_map(NS).items] == ["kube-root-ca.crt"]


def test_server_side_apply_and_conflict(core: client.CoreV1Api) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "py-ssa"}, "data": {"k": "v"}}
    apply = "application/apply-patch+yaml"
    cm = core.patch_namespaced_config_map("py-ssa", NS, body, field_manager="py", _content_type=apply)
    assert cm.data == {"k": "v"} and cm.metadata.managed_fields[0].manager == "py"
    body["data"]["k"] = "other"
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("py-ssa", NS, body, field_manager="py2", _content_type=apply)
    assert err.value.status == 409 and "FieldManagerConflict" in err.value.body
    cm = core.patch_namespaced_config_map("py-ssa", NS, body, field_manager="py2", force=True, _content_type=apply)
    assert cm.data == {"k": "other"}
    core.delete_namespaced_config_map("py-ssa", NS)
