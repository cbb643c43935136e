"""A small kopf operator, run by the end-to-end tests with kopf's own CLI against minikube-lite.

A ``WebApp`` (``apps.example.com/v1``) asks for an image and a replica count; the operator
creates a Deployment of that image owned by the WebApp (kopf.adopt: ownerReferences, so the
garbage collector deletes it with the WebApp), then writes ``status.phase`` and
``status.deployment``, which the CRD's printer columns show in ``kubectl get webapps``. A change
of ``spec.replicas`` is carried to the Deployment; the delete handler makes kopf hold the WebApp
with its finalizer until it has run. It uses only public client libraries (kopf
for the reactor, the official ``kubernetes`` client for the Deployment), nothing of
minikube-lite.
"""

from __future__ import annotations

from typing import Any

import kopf
import kubernetes


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.level = 20  # INFO events on the WebApp, as operators usually post
    settings.watching.server_timeout = 60
    kubernetes.config.load_kube_config()


def _deployment(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "webapp-operator"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"{name}-web", "labels": labels},
        "spec": {
            "replicas": spec.get("replicas", 1),
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "web", "image": spec["image"]}]}},
        },
    }


@kopf.on.create("apps.example.com", "v1", "webapps")
def create_fn(spec: dict[str, Any], name: str, namespace: str, patch: kopf.Patch, **_: Any) -> dict[str, Any]:
    body = _deployment(name, dict(spec))
    kopf.adopt(body)
    api = kubernetes.client.AppsV1Api()
    try:
        api.create_namespaced_deployment(namespace=namespace, body=body)
    except kubernetes.client.ApiException as e:
        if e.status != 409:
            raise kopf.TemporaryError(f"creating the Deployment: {e.reason}", delay=2) from e
    patch.status["phase"] = "Deployed"
    patch.status["deployment"] = body["metadata"]["name"]
    return {"deployment": body["metadata"]["name"]}


@kopf.on.update("apps.example.com", "v1", "webapps", field="spec.replicas")
def replicas_fn(new: Any, name: str, namespace: str, patch: kopf.Patch, **_: Any) -> None:
    if new is None:
        return
    kubernetes.client.AppsV1Api().patch_namespaced_deployment(
        name=f"{name}-web", namespace=namespace, body={"spec": {"replicas": new}})
    patch.status["replicas"] = new


@kopf.on.delete("apps.example.com", "v1", "webapps")
def delete_fn(name: str, logger: kopf.Logger, **_: Any) -> None:
    # kopf holds the WebApp with its finalizer until this has run; the Deployment then goes with
    # its owner through the garbage collector (ownerReferences), nothing to delete here
    logger.info("WebApp %s released", name)
