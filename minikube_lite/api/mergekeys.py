"""Merge keys: how lists of an object are merged (the Go struct tags ``patchMergeKey`` /
``patchStrategy`` and ``listType=map`` / ``listMapKey`` of ``k8s.io/api``).

Kubernetes reads these from its Go types; here each kind declares its own on its ``Kind``
(``Kind.merge_keys``, a map from the dotted path of a list, list levels not counted, to its
merge key), built from the blocks below. Strategic merge patch (``apiserver/patch.py``),
server-side apply (``apiserver/ssa.py``) and the published OpenAPI read them from the register,
so they are written once. A leaf module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Marks a list of scalars merged as a set (union keeping order), e.g. ``metadata.finalizers``.
PRIMITIVE = ""

#: Lists inside a container (``containers``, ``initContainers``, ``ephemeralContainers``).
CONTAINER_LISTS: Mapping[str, str] = {
    "ports": "containerPort",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "resizePolicy": "resourceName",
}

#: Lists of a PodSpec, relative to the PodSpec. ``tolerations`` has no merge key: replaced whole.
POD_SPEC_LISTS: Mapping[str, str] = {
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "resourceClaims": "name",
    "schedulingGates": "name",
    "topologySpreadConstraints": "topologyKey",
    **{
        f"{containers}{suffix}": key
        for containers in ("containers", "initContainers", "ephemeralContainers")
        for suffix, key in [("", "name"), *((f".{f}", k) for f, k in CONTAINER_LISTS.items())]
    },
}

#: Lists every kind has (ObjectMeta).
OBJECT_META: Mapping[str, str] = {
    "metadata.ownerReferences": "uid",
    "metadata.finalizers": PRIMITIVE,
}

#: ``status.conditions`` merged by ``type``, as most kinds with conditions declare it.
CONDITIONS: Mapping[str, str] = {"status.conditions": "type"}

#: Lists whose schema key (``x-kubernetes-list-map-keys``) has more fields than their
#: strategic-merge key: Service ports are keyed by port *and* protocol, container ports by
#: containerPort and protocol, so 53/UDP and 53/TCP are two elements. A key field an element
#: leaves out takes its default (``KEY_DEFAULTS``).
LIST_MAP_KEYS: Mapping[str, tuple[str, ...]] = {"port": ("port", "protocol"),
                                                "containerPort": ("containerPort", "protocol")}
KEY_DEFAULTS: Mapping[str, Any] = {"protocol": "TCP"}

#: PodSpec lists whose patch strategy is ``merge,retainKeys`` rather than ``merge``: only the
#: OpenAPI documents show the difference.
RETAIN_KEYS_LISTS = frozenset({"volumes", "resourceClaims"})


def pod_spec_at(at: str) -> dict[str, str]:
    """The PodSpec's lists for a kind that keeps its PodSpec at dotted ``at``
    (``"spec"`` for a Pod, ``"spec.template.spec"`` for a Deployment)."""
    return {f"{at}.{path}": key for path, key in POD_SPEC_LISTS.items()}


def merge_keys(*parts: Mapping[str, str]) -> dict[str, str]:
    """A kind's table: ObjectMeta's lists plus ``parts``."""
    out = dict(OBJECT_META)
    for part in parts:
        out.update(part)
    return out


def list_keys(mkey: str) -> tuple[str, ...]:
    """The fields that identify an element of a list merged by ``mkey`` (server-side apply)."""
    return LIST_MAP_KEYS.get(mkey, (mkey,))
