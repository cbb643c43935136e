"""How a kind is named on the wire (the naming part of a kind's declaration, ``api/kind.py``).

One ``Resource`` per kind: group/version, plural (the URL segment), singular, kind, whether
it lives in a namespace, short names and categories for kubectl, verbs and subresources for
discovery. The kinds served are those of the register (``api/register.py``); discovery,
OpenAPI, routing and the client look them up there. A leaf module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(ALL_VERBS)
    subresources: tuple[str, ...] = ()  # e.g. ("status", "log")
    # per subresource: (kind, group, version) when it differs from the parent (scale -> autoscaling/v1)
    subresource_kinds: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path of the collection or of one object."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        return base
