"""Time on the wire (RFC 3339) and inside Pace (int ms since the epoch, UTC)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pace_core.filtering import epoch_ms

__all__ = ["epoch_ms", "from_rfc3339", "now_ms", "rfc3339"]


def now_ms() -> int:
    """The server clock, which judges every point's time."""
    return time.time_ns() // 1_000_000


def rfc3339(ms: int) -> str:
    """``1700000000000`` -> ``2023-11-14T22:13:20.000Z``."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_rfc3339(text: str) -> int:
    """The inverse of :func:`rfc3339` for any RFC 3339 time with an offset."""
    return epoch_ms(datetime.fromisoformat(text))
