"""Kubernetes-style API errors.

Every failure the API server reports is one of these; the HTTP layer turns it into a
``Status`` object (``kind: Status``) and the in-process client raises it unchanged, so
controllers and the kubelet handle the same errors kubectl sees.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A failure with an HTTP code, a Kubernetes ``reason`` and a message a person can act on."""

    code: int = 500
    reason: str = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason
        self.details = details

    def status(self) -> dict[str, Any]:
        """The ``Status`` object Kubernetes would answer with, its fields in kube-apiserver's order
        (metav1.Status: kind, apiVersion, metadata, status, message, reason, details, code)."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> ApiError:
        """Rebuild the matching error class from a ``Status`` body (used by the HTTP client)."""
        code = int(status.get("code") or 500)
        for sub in (NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Gone, MethodNotAllowed,
                    UnsupportedMediaType, NotAcceptable, RequestEntityTooLarge):
            if sub.code == code and sub.reason == status.get("reason"):
                err = sub.__new__(sub)
                ApiError.__init__(err, status.get("message", ""), details=status.get("details"))
                if sub is Invalid:
                    err.causes = (status.get("details") or {}).get("causes", [])
                return err
        return ApiError(status.get("message", ""), code=code, reason=status.get("reason", "Unknown"),
                        details=status.get("details"))


def _details(resource: str | None, name: str | None, group: str = "") -> dict[str, Any] | None:
    if resource is None:
        return None
    d: dict[str, Any] = {"kind": resource}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    return d


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


class PageNotFound(ApiError):
    """A path no handler serves (an unknown group-version, ``/foo``): kube-apiserver's not-found
    handler answers Go's plain-text ``404 page not found``, not a Status."""

    code = 404
    reason = "NotFound"
    text = "404 page not found\n"

    def __init__(self) -> None:
        super().__init__("404 page not found")


class RouteNotFound(ApiError):
    """A path under a served group-version that names no resource or subresource: go-restful's
    404 turned into a Status by kube-apiserver (NewGenericServerResponse), with no group/kind."""

    code = 404
    reason = "NotFound"

    def __init__(self) -> None:
        super().__init__("the server could not find the requested resource", details={
            "causes": [{"reason": "UnexpectedServerResponse", "message": "404: Page Not Found"}]})


class NotFound(ApiError):
    code = 404
    reason = "NotFound"

    def __init__(self, resource: str, name: str, group: str = "") -> None:
        super().__init__(f'{_qualified(resource, group)} "{name}" not found',
                         details=_details(resource, name, group))


class AlreadyExists(ApiError):
    code = 409
    reason = "AlreadyExists"

    def __init__(self, resource: str, name: str, group: str = "") -> None:
        super().__init__(f'{_qualified(resource, group)} "{name}" already exists',
                         details=_details(resource, name, group))


class Conflict(ApiError):
    code = 409
    reason = "Conflict"

    def __init__(self, resource: str, name: str, why: str, group: str = "") -> None:
        super().__init__(f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
                         details=_details(resource, name, group))


class Invalid(ApiError):
    """422: the object breaks validation. ``causes`` name each bad field.

    Each cause is ``{"reason": "FieldValueRequired", "message": "Required value",
    "field": "spec.containers[0].image"}``; the message reads as kubectl prints it.
    """

    code = 422
    reason = "Invalid"

    def __init__(self, kind: str, name: str, causes: list[dict[str, str]], group: str = "") -> None:
        self.causes = causes
        parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
        if len(parts) == 1:
            summary = parts[0]
        else:
            summary = "[" + ", ".join(parts) + "]"
        super().__init__(
            f'{kind}{"." + group if group else ""} "{name}" is invalid: {summary}',
            details={"name": name, "kind": kind, **({"group": group} if group else {}), "causes": causes},
        )


class BadRequest(ApiError):
    code = 400
    reason = "BadRequest"


class Gone(ApiError):
    """410: a watch asked to resume from a resourceVersion the server no longer keeps."""

    code = 410
    reason = "Expired"


class MethodNotAllowed(ApiError):
    code = 405
    reason = "MethodNotAllowed"


class UnsupportedMediaType(ApiError):
    code = 415
    reason = "UnsupportedMediaType"


class NotAcceptable(ApiError):
    code = 406
    reason = "NotAcceptable"


class RequestEntityTooLarge(ApiError):
    code = 413
    reason = "RequestEntityTooLarge"


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    """One entry of ``Invalid.causes``."""
    return {"reason": reason, "message": message, "field": field}


class Unauthorized(ApiError):
    """401: the credentials presented (a token, a certificate) are not valid."""

    code = 401
    reason = "Unauthorized"

    def __init__(self, message: str = "Unauthorized") -> None:
        super().__init__(message)


class Forbidden(ApiError):
    """403, worded as kube-apiserver's authorization filter words it."""

    code = 403
    reason = "Forbidden"

    def __init__(self, message: str, *, resource: str = "", group: str = "", name: str = "") -> None:
        super().__init__(message, details=_details(resource, name, group) if resource or name else None)
