"""Kubernetes' timestamps (``metav1.Time``): RFC 3339 in UTC to the second, ``2024-05-01T10:00:00Z``.

One place to write and read them: written from a datetime or now; read (an optional fraction,
``Z`` or an offset) as an aware datetime, anything else None. A leaf module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def rfc3339(t: datetime | float) -> str:
    """``t`` (an aware datetime, or seconds since the epoch) as a Time: UTC, to the second."""
    if not isinstance(t, datetime):
        t = datetime.fromtimestamp(t, UTC)
    return (t.astimezone(UTC) if t.tzinfo else t).strftime(FORMAT)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime(FORMAT)


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp ("2024-05-01T10:00:00Z", with optional fraction) as an aware datetime."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
