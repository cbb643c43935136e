"""Who sent the request being served: Go's ``request.UserFrom(ctx)`` as a context variable.

kube-apiserver passes the authenticated user down to the REST strategies in the request's
context; a CertificateSigningRequest's ``spec.username/uid/groups/extra`` are filled from it on
create, whatever the body says. The auth middleware sets it for the request's task (and the
in-process client for its calls); a strategy reads it with ``current_user()``.
"""

from __future__ import annotations

import contextvars

from .rbac import UserInfo

_user: contextvars.ContextVar[UserInfo | None] = contextvars.ContextVar("minikube_lite_request_user", default=None)


def current_user() -> UserInfo | None:
    return _user.get()


def set_user(user: UserInfo | None) -> contextvars.Token[UserInfo | None]:
    return _user.set(user)


def reset(token: contextvars.Token[UserInfo | None]) -> None:
    _user.reset(token)
