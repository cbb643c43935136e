"""The API server's filter chain: authentication, impersonation, authorization, before any route.

kube-apiserver answers every request through the same filters, in this order, and so does this
ASGI middleware (a plain ASGI callable: no per-request task or body copy, so it costs a few
microseconds). A request that fails is answered here with kube-apiserver's ``Status``: 401
``Unauthorized`` for a bad token, 403 with RBAC's wording (``pods is forbidden: User "..."
cannot list resource "pods" in API group "" in the namespace "default"``), then a node's identity
passes NodeRestriction (``noderestriction.py``). The user who passed is
put in ``scope["state"]["user"]`` for the handlers that need it (SelfSubjectReview ...) and, with
the request's attributes, in the context variable ``escalation.REQUESTER`` for the RBAC kinds'
privilege-escalation checks.

The dashboard's static files (``/dashboard/``) are served to anyone: they hold no cluster data,
the page then calls the API with the token it is given, as the Kubernetes Dashboard's login.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..api.errors import ApiError, BadRequest, Forbidden, Unauthorized
from .authn import ANONYMOUS, Authenticator, bearer_token, with_authenticated
from .escalation import REQUESTER, Requester
from .noderestriction import PREFIX as NODE_PREFIX
from .noderestriction import check as node_check
from .rbac import RBACAuthorizer, UserInfo, forbidden_message
from .requestinfo import Attributes, request_attributes
from .tls import peer_of

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
PUBLIC_PREFIXES = ("/dashboard",)
_WS_CREATE = ("exec", "attach", "portforward")


def forbidden(user: UserInfo, attrs: Attributes, reason: str = "") -> Forbidden:
    message, resource, group, name = forbidden_message(user, attrs, reason)
    err = Forbidden(message)
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if resource:
        details["kind"] = resource
    err.details = details or None
    return err


class AuthMiddleware:
    def __init__(self, app: ASGIApp, authenticator: Authenticator, authorizer: RBACAuthorizer, *,
                 anonymous: bool = True) -> None:
        self.app = app
        self.authenticator = authenticator
        self.authorizer = authorizer
        #: kube-apiserver's ``--anonymous-auth``: without it a request with no credentials is a 401
        self.anonymous = anonymous

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        attrs: Attributes | None = None
        try:
            user = self.authenticate(scope)
            user = self.impersonate(user, scope["headers"])
            method = scope.get("method", "GET")
            path = scope.get("path", "")
            if not (method in ("GET", "HEAD") and path.startswith(PUBLIC_PREFIXES)):
                attrs = request_attributes(method, path, scope.get("query_string", b""))
                if kind == "websocket" and attrs.subresource in _WS_CREATE:
                    attrs = Attributes(**{**attrs.__dict__, "verb": "create"})
                allowed, reason = self.authorizer.authorize(user, attrs)
                if not allowed:
                    raise forbidden(user, attrs, reason)
                if user.name.startswith(NODE_PREFIX):
                    node_check(user, attrs, self.authorizer.node_lookup)
        except ApiError as err:
            await _refuse(kind, send, err)
            return
        scope.setdefault("state", {})["user"] = user
        token = REQUESTER.set(Requester(user, self.authorizer, attrs))  # the request's context, as Go's ctx
        try:
            await self.app(scope, receive, send)
        finally:
            REQUESTER.reset(token)

    def check(self, scope: Scope, verb: str | None = None) -> UserInfo:
        """Authenticate and authorise a request outside ASGI (the SPDY upgrades of exec, attach,
        port-forward: ``create`` on the subresource, as kube-apiserver asks); raises ApiError."""
        user = self.impersonate(self.authenticate(scope), scope["headers"])
        attrs = request_attributes(scope.get("method", "GET"), scope.get("path", ""), scope.get("query_string", b""))
        if verb is not None:
            attrs = Attributes(**{**attrs.__dict__, "verb": verb})
        allowed, reason = self.authorizer.authorize(user, attrs)
        if not allowed:
            raise forbidden(user, attrs, reason)
        if user.name.startswith(NODE_PREFIX):
            node_check(user, attrs, self.authorizer.node_lookup)
        return user

    def authenticate(self, scope: Scope) -> UserInfo:
        user = self.authenticator.user_for_certificate(peer_of(scope))
        if user is not None:
            return user
        token = bearer_token(scope["headers"])
        if token is None:
            if not self.anonymous and not (scope.get("method", "GET") in ("GET", "HEAD")
                                           and scope.get("path", "").startswith(PUBLIC_PREFIXES)):
                raise Unauthorized()
            return ANONYMOUS
        user = self.authenticator.user_for_token(token)
        if user is None:
            raise Unauthorized()
        return user

    def impersonate(self, user: UserInfo, headers: list[tuple[bytes, bytes]]) -> UserInfo:
        name = uid = None
        groups: list[str] = []
        extra: dict[str, list[str]] = {}
        for key, value in headers:
            if not key.startswith(b"impersonate-"):
                continue
            v = value.decode("latin-1")
            if key == b"impersonate-user":
                name = v
            elif key == b"impersonate-group":
                groups.append(v)
            elif key == b"impersonate-uid":
                uid = v
            elif key.startswith(b"impersonate-extra-"):
                from urllib.parse import unquote

                extra.setdefault(unquote(key[len(b"impersonate-extra-"):].decode("latin-1")), []).append(v)
        if name is None:
            if groups or extra or uid:
                raise BadRequest("requested impersonation of groups, extra or uid without impersonating a user")
            return user
        checks: list[Attributes] = []
        if name.startswith("system:serviceaccount:") and name.count(":") == 3:
            _, _, ns, sa = name.split(":")
            checks.append(Attributes("impersonate", True, resource="serviceaccounts", namespace=ns, name=sa))
            implied: tuple[str, ...] = ("system:serviceaccounts", f"system:serviceaccounts:{ns}")
        else:
            checks.append(Attributes("impersonate", True, resource="users", name=name))
            implied = ()
        checks += [Attributes("impersonate", True, resource="groups", name=g) for g in groups]
        if uid is not None:
            checks.append(Attributes("impersonate", True, api_group="authentication.k8s.io", resource="uids",
                                     name=uid))
        for key, values in extra.items():
            checks += [Attributes("impersonate", True, api_group="authentication.k8s.io", resource="userextras",
                                  subresource=key, name=v) for v in values]
        for attrs in checks:
            allowed, reason = self.authorizer.authorize(user, attrs)
            if not allowed:
                raise forbidden(user, attrs, reason)
        all_groups = tuple(dict.fromkeys((*groups, *implied)))
        if name == ANONYMOUS.name:
            return UserInfo(name, uid or "", all_groups or ANONYMOUS.groups)
        return with_authenticated(name, uid or "", all_groups,
                                  tuple(sorted((k, tuple(v)) for k, v in extra.items())))


async def _refuse(kind: str, send: Any, err: ApiError) -> None:
    body = json.dumps(err.status(), separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if err.code == 401:
        headers.append((b"www-authenticate", b'Basic realm="kubernetes-master"'))
    if kind == "http":
        await send({"type": "http.response.start", "status": err.code, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await send({"type": "websocket.http.response.start", "status": err.code, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})
