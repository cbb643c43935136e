"""Max-in-flight limits, as kube-apiserver's ``--max-requests-inflight`` (400) and
``--max-mutating-requests-inflight`` (200).

Requests being served are counted in two pools, reads and writes (POST, PUT, PATCH, DELETE);
one beyond its pool's limit is answered at once with 429 ``TooManyRequests``, a ``Retry-After: 1``
header and the Status kube-apiserver sends ("Too many requests, please try again later."), so a
storm queues in the clients (client-go and kubectl retry on 429) rather than in the daemon.
Long-running requests are counted apart, as kube-apiserver's long-running check does: watches,
``log``, ``exec``, ``attach``, ``portforward`` and ``proxy`` (they would otherwise fill the pools
for as long as they stay open).

Request bodies being read are budgeted too (``max_body_bytes`` over all requests at once): the
limits bound how many requests run, the budget how much memory their bodies take (up to 600 at
the 3 MiB body limit would be 1.8 GB).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from ..api.errors import ApiError

Scope = dict[str, Any]
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LONG_RUNNING_SUBRESOURCES = frozenset({"log", "exec", "attach", "portforward", "proxy"})
RETRY_AFTER_SECONDS = 1


class TooManyRequests(ApiError):
    code = 429
    reason = "TooManyRequests"

    def __init__(self, message: str = "Too many requests, please try again later.") -> None:
        super().__init__(message, details={"retryAfterSeconds": RETRY_AFTER_SECONDS})
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


def is_long_running(scope: Scope) -> bool:
    """Watches and streaming subresources (kube-apiserver's BasicLongRunningRequestCheck)."""
    path: str = scope.get("path", "")
    parts = [p for p in path.split("/") if p]
    if len(parts) > 3 and (parts[0], parts[2]) == ("api", "watch") or len(parts) > 4 and (
            parts[0], parts[3]) == ("apis", "watch"):
        return True
    if parts and parts[-1] in _LONG_RUNNING_SUBRESOURCES and parts[0] in ("api", "apis"):
        return True
    raw = scope.get("query_string", b"")
    if b"watch" in raw:
        values = parse_qs(raw.decode("latin-1"), keep_blank_values=True).get("watch")
        if values and values[0] != "0" and values[0].lower() != "false":
            return True
    return False


class MaxInFlight:
    """ASGI middleware counting requests in flight (see the module docstring)."""

    def __init__(self, app: Any, *, max_requests_inflight: int = 400, max_mutating_requests_inflight: int = 200,
                 max_body_bytes: int = 64 * 1024 * 1024) -> None:
        self.app = app
        self.limits = {False: max_requests_inflight, True: max_mutating_requests_inflight}
        self.in_flight = {False: 0, True: 0}
        self.long_running = 0
        self.max_body_bytes = max_body_bytes
        self.body_bytes = 0
        self.rejected = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_long_running(scope):
            self.long_running += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.long_running -= 1
            return
        mutating = scope.get("method", "GET") in _MUTATING
        limit = self.limits[mutating]
        if limit > 0 and self.in_flight[mutating] >= limit:
            self.rejected += 1
            await _send_status(send, TooManyRequests())
            return
        self.in_flight[mutating] += 1
        held = 0

        async def counted_receive() -> Any:
            nonlocal held
            message = await receive()
            size = len(message.get("body", b"")) if message.get("type") == "http.request" else 0
            if size:
                if self.body_bytes + size > self.max_body_bytes:
                    self.rejected += 1
                    raise TooManyRequests("Too many requests, please try again later: the server is reading "
                                          f"{self.body_bytes} bytes of request bodies already")
                self.body_bytes += size
                held += size
            return message

        try:
            await self.app(scope, counted_receive, send)
        finally:
            self.in_flight[mutating] -= 1
            self.body_bytes -= held


async def _send_status(send: Any, err: ApiError) -> None:
    body = json.dumps(err.status(), separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in getattr(err, "headers", {}).items()]
    await send({"type": "http.response.start", "status": err.code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
