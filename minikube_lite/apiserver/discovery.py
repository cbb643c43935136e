"""``/version`` and legacy API discovery (``/api``, ``/api/v1``, ``/apis``, ``/apis/<g>/<v>``).

Legacy discovery is what every kubectl 1.27–1.33 understands: newer ones ask for the
aggregated format first and fall back when the reply is plain ``application/json``.
"""

from __future__ import annotations

import platform
from typing import Any

from ..api.register import groups, resources

KUBERNETES_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0"}


def version() -> dict[str, Any]:
    from .. import __version__

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {
        **KUBERNETES_VERSION,
        "gitCommit": f"minikube-lite-{__version__}",
        "gitTreeState": "clean",
        "buildDate": "2026-11-27T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": f"linux/{arch}",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_entry(g, vs) for g, vs in groups().items() if g]}


def api_group(group: str) -> dict[str, Any] | None:
    versions = groups().get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


_SUBRESOURCE_VERBS = {
    "status": ["get", "patch", "update"],
    "log": ["get"],
    "exec": ["create", "get"],
    "attach": ["create", "get"],
    "portforward": ["create", "get"],
    "ephemeralcontainers": ["get", "patch", "update"],
    "binding": ["create"],
    "eviction": ["create"],
    "finalize": ["update"],
    "scale": ["get", "patch", "update"],
}
_SUBRESOURCE_KINDS = {"log": "Pod", "exec": "PodExecOptions", "attach": "PodAttachOptions",
                      "portforward": "PodPortForwardOptions", "ephemeralcontainers": "Pod", "binding": "Binding"}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    items: list[dict[str, Any]] = []
    for r in resources():
        if r.group != group or r.version != version:
            continue
        entry: dict[str, Any] = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                                 "kind": r.kind, "verbs": list(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        items.append(entry)
        for sub in r.subresources:
            sub_entry: dict[str, Any] = {"name": f"{r.plural}/{sub}", "singularName": "",
                                         "namespaced": r.namespaced,
                                         "kind": _SUBRESOURCE_KINDS.get(sub, r.kind),
                                         "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"])}
            if sub in r.subresource_kinds:
                kind, sub_group, sub_version = r.subresource_kinds[sub]
                sub_entry.update(kind=kind, group=sub_group, version=sub_version)
            items.append(sub_entry)
    if not items:
        return None
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items}
