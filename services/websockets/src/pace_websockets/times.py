"""Time on the wire (RFC 3339) and inside Pace (int ms since the epoch, UTC)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from pace_core.filtering import epoch_ms

__all__ = ["epoch_ms", "from_rfc3339", "now_ms", "rfc3339"]


def now_ms() -> int:
    """The server clock, which judges every point's time."""
    return time.time_ns() // 1_000_000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_MS = epoch_ms(datetime.min.replace(tzinfo=UTC))
_LAST_MS = epoch_ms(datetime.max.replace(tzinfo=UTC))


def rfc3339(ms: int) -> str:
    """``1700000000000`` -> ``2023-11-14T22:13:20.000Z``; never raises.

    A time outside years 1-9999 (a row stored before the API bounded its
    input) is clamped to the nearest one, so one bad row cannot break a
    listing of every race.
    """
    ms = min(max(ms, _FIRST_MS), _LAST_MS)
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_rfc3339(text: str) -> int:
    """The inverse of :func:`rfc3339` for any RFC 3339 time with an offset."""
    return epoch_ms(datetime.fromisoformat(text))
