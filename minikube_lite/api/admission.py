"""Admission plugins of kube-apiserver that change what is written (mutating admission).

Called from the Pod kind's defaulting (``api/pods.py``), which runs on create and update before
validation, where kube-apiserver runs its admission plugins.

DefaultTolerationSeconds: a new pod that does not already tolerate
``node.kubernetes.io/not-ready:NoExecute`` and ``node.kubernetes.io/unreachable:NoExecute``
gets tolerations of both for 300 s (kube-apiserver's ``--default-not-ready-toleration-seconds``
and ``--default-unreachable-toleration-seconds``), so that taint-based eviction moves its pods
off a dead node five minutes later instead of at once. On create and update, as in Kubernetes
(the plugin handles both), so an update that omits them does not remove them.
"""

from __future__ import annotations

from typing import Any

from minikube_lite.api.scheduling import TAINT_NOT_READY, TAINT_UNREACHABLE

DEFAULT_TOLERATION_SECONDS = 300


def _tolerates_key(tolerations: list[dict[str, Any]], key: str) -> bool:
    return any((t.get("key") in (key, None, "")) and (t.get("effect") in ("NoExecute", None, ""))
               for t in tolerations)


def default_toleration_seconds(pod: dict[str, Any]) -> None:
    spec = pod.setdefault("spec", {})
    tolerations = list(spec.get("tolerations") or [])
    for key in (TAINT_NOT_READY, TAINT_UNREACHABLE):
        if not _tolerates_key(tolerations, key):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})
    spec["tolerations"] = tolerations
