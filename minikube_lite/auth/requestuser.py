"""Who sent the request being served: Go's ``request.UserFrom(ctx)``.

kube-apiserver passes the authenticated user down to the REST strategies in the request's
context; a CertificateSigningRequest's ``spec.username/uid/groups/extra`` are filled from it on
create, whatever the body says. The request's context is ``escalation.REQUESTER``, set by the
auth middleware for the request's task and by the in-process client for its calls.
"""

from __future__ import annotations

from .escalation import REQUESTER
from .rbac import UserInfo


def current_user() -> UserInfo | None:
    req = REQUESTER.get()
    return req.user if req is not None else None
