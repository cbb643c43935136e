"""What a request asks to do, in authorization's terms (kube-apiserver's RequestInfo).

Authorization runs before routing, on the path alone, as in kube-apiserver: ``/api/v1/...`` and
``/apis/<group>/<version>/...`` are resource requests (verb, API group, resource, subresource,
namespace, name); everything else, discovery roots included, is a non-resource URL with the
HTTP method as verb. The verbs are Kubernetes': ``get list watch create update patch delete
deletecollection``; a ``watch=true`` list is ``watch``, a DELETE on a collection
``deletecollection``; ``/api/v1/watch/...`` is the old watch prefix.

``impersonate`` (``Impersonate-User`` ...) is checked by the middleware with its own
attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

_METHOD_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}
_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class Attributes:
    """One authorization question: may this user do ``verb`` on this resource (or path)?"""

    verb: str
    resource_request: bool
    path: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def _watch_requested(query: bytes | str) -> bool:
    if not query:
        return False
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    if "watch" not in text:
        return False
    values = parse_qs(text).get("watch", [])
    return any(v.lower() in ("true", "1") for v in values)


def _field_selected_name(query: bytes | str) -> str:
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    if "fieldSelector" not in text:
        return ""
    for sel in parse_qs(text).get("fieldSelector", []):
        for part in sel.split(","):
            key, _, value = part.partition("=")
            if key.strip() == "metadata.name" and value and not value.startswith("="):
                return value.strip()
    return ""


def request_attributes(method: str, path: str, query: bytes | str = b"") -> Attributes:
    """The authorization attributes of one HTTP request."""
    parts = [p for p in path.split("/") if p]
    verb = _METHOD_VERBS.get(method.upper(), method.lower())
    if not parts or parts[0] not in ("api", "apis"):
        return Attributes(verb=method.lower() if method.upper() != "HEAD" else "get",
                          resource_request=False, path=path)
    if parts[0] == "api":
        if len(parts) < 3:  # /api, /api/v1: discovery
            return Attributes(verb="get" if verb == "get" else method.lower(), resource_request=False, path=path)
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 4:  # /apis, /apis/g, /apis/g/v
            return Attributes(verb="get" if verb == "get" else method.lower(), resource_request=False, path=path)
        group, version, rest = parts[1], parts[2], parts[3:]
    watch_prefix = False
    if rest and rest[0] == "watch":
        watch_prefix, rest = True, rest[1:]
    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if watch_prefix:
        verb = "watch"
    elif verb == "get" and not name:
        verb = "watch" if _watch_requested(query) else "list"
    elif verb == "delete" and not name:
        verb = "deletecollection"
    if verb in ("list", "watch") and not name:
        # a list or watch by metadata.name is authorised as that one object, as kube-apiserver does
        selected = _field_selected_name(query)
        if selected:
            name = selected
    return Attributes(verb=verb, resource_request=True, path=path, api_group=group, api_version=version,
                      resource=resource, subresource=subresource, namespace=namespace, name=name)
