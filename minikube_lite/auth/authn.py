"""Authentication: who sent a request (kube-apiserver's union of authenticators).

In kube-apiserver's order: a client certificate signed by the cluster CA (CN the user, O the
groups), then a bearer token (the static token file, then ServiceAccount JWTs), else the
anonymous user ``system:anonymous`` in ``system:unauthenticated``. Bootstrap tokens
(``<id>.<secret>``, auth/bootstrap.py) are checked against their Secret in ``kube-system``.
A bearer token that is not valid is a 401, never a fallback to anonymous. Authenticated users are also in
``system:authenticated``. A WebSocket client may send its token as the subprotocol
``base64url.bearer.authorization.k8s.io.<token>``, as browsers cannot set headers there.

Impersonation (``Impersonate-User``, ``-Group``, ``-Uid``, ``-Extra-*``: kubectl's ``--as``,
``--as-group``) is applied after authentication by the middleware, each header authorised as
the ``impersonate`` verb on users, groups, serviceaccounts, uids or userextras.
"""

from __future__ import annotations

import base64
from pathlib import Path

from . import pki
from .rbac import UserInfo
from .tokens import Lookup, Verifier

ANONYMOUS = UserInfo("system:anonymous", "", ("system:unauthenticated",))
AUTHENTICATED = "system:authenticated"
_WS_TOKEN_PREFIX = "base64url.bearer.authorization.k8s.io."


def with_authenticated(name: str, uid: str, groups: tuple[str, ...],
                       extra: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> UserInfo:
    if AUTHENTICATED not in groups and name != ANONYMOUS.name:
        groups = (*groups, AUTHENTICATED)
    return UserInfo(name, uid, groups, extra)


class Authenticator:
    def __init__(self, state_dir: Path, lookup: Lookup | None = None) -> None:
        p = pki.paths(state_dir)
        self._static = {token: with_authenticated(user, uid, groups)
                        for token, (user, uid, groups) in pki.read_token_file(p.token_file).items()}
        self._verifier = Verifier(p.sa_pub, lookup) if p.sa_pub.exists() else None
        self._lookup = lookup

    def user_for_certificate(self, who: tuple[str, tuple[str, ...]] | None) -> UserInfo | None:
        if who is None:
            return None
        return with_authenticated(who[0], "", who[1])

    def user_for_token(self, token: str) -> UserInfo | None:
        """The token's user; None when the token is not valid (a 401)."""
        user = self._static.get(token)
        if user is not None:
            return user
        if self._verifier is not None and token.count(".") == 2:
            return self._verifier.verify(token)
        if self._lookup is not None and len(token) == 23 and token[6:7] == ".":
            from .bootstrap import authenticate

            return authenticate(token, self._lookup)
        return None


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The bearer token of a request: ``Authorization: Bearer``, or a WebSocket subprotocol."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"sec-websocket-protocol":
            for proto in value.decode("latin-1").split(","):
                proto = proto.strip()
                if proto.startswith(_WS_TOKEN_PREFIX):
                    encoded = proto[len(_WS_TOKEN_PREFIX):]
                    try:
                        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
                    except (ValueError, UnicodeDecodeError):
                        return ""
    return None
