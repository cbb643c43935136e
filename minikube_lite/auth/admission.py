"""The ServiceAccount admission plugin: every pod runs as a ServiceAccount and gets its API credentials.

As kube-apiserver's ``ServiceAccount`` admission does on pod create: ``serviceAccountName``
defaults to ``default``; a pod naming a ServiceAccount that does not exist is refused (403, with
Kubernetes' words); unless ``automountServiceAccountToken`` is false (on the pod, else on the
ServiceAccount), the pod gets the projected volume ``kube-api-access-<random>`` (a bound token,
the cluster CA from the ``kube-root-ca.crt`` ConfigMap, the namespace) mounted read-only at
``/var/run/secrets/kubernetes.io/serviceaccount`` in every container. The missing ``default``
ServiceAccount of a namespace made a moment ago is let through (its controller is about to make
it; the kubelet waits for it before asking for the token).
"""

from __future__ import annotations

import random
from typing import Any

from ..api.errors import Forbidden

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_SECONDS = 3607  # kube-apiserver's default for the projected token (an hour and a bit)
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # utilrand's, no vowels


def api_access_volume() -> dict[str, Any]:
    suffix = "".join(random.choice(_ALPHABET) for _ in range(5))
    return {"name": f"kube-api-access-{suffix}", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}


def admit_pod(pod: dict[str, Any], service_accounts: list[dict[str, Any]]) -> None:
    """Mutate ``pod`` (create) as the ServiceAccount admission plugin; raises Forbidden."""
    spec = pod.setdefault("spec", {})
    meta = pod.get("metadata") or {}
    ns = meta.get("namespace", "default")
    name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = name
    spec["serviceAccount"] = name
    sa = next((s for s in service_accounts if s["metadata"].get("namespace") == ns
               and s["metadata"]["name"] == name), None)
    if sa is None and name != "default":
        pod_name = meta.get("name") or meta.get("generateName") or ""
        raise Forbidden(f'pods "{pod_name}" is forbidden: error looking up service account {ns}/{name}: '
                        f'serviceaccount "{name}" not found', resource="pods", name=pod_name)
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = (sa or {}).get("automountServiceAccountToken")
    if automount is False:
        return
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    if all(any(m.get("mountPath") == MOUNT_PATH for m in c.get("volumeMounts") or []) for c in containers):
        return
    volume = api_access_volume()
    spec.setdefault("volumes", []).append(volume)
    for c in containers:
        if not any(m.get("mountPath") == MOUNT_PATH for m in c.get("volumeMounts") or []):
            c.setdefault("volumeMounts", []).append({"name": volume["name"], "readOnly": True,
                                                     "mountPath": MOUNT_PATH})
