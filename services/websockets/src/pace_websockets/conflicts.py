"""Spotting a seq that comes back with different content.

A client that resends a point it already sent (after a reconnect, or an ack
it missed) is normal, and the resend is acknowledged without being stored
twice. A seq that comes back with a different time or position is a client
bug (a counter reset, two devices on one token): it is refused with
``seq_conflict`` so the client stops resending it, and the first content
stays. Only the last ``size`` points of the same connection are remembered,
so a conflict with an older point, or one sent over an earlier connection,
passes as a plain resend (see docs/limitations.md).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from pace_core.messages import Point, Rejected

__all__ = ["SEQ_CONFLICT", "RecentPoints"]

SEQ_CONFLICT = "seq_conflict"
"""Rejection reason of a resent seq whose content differs from the first."""

_Content = tuple[datetime, float, float]


class RecentPoints:
    """The content of a connection's latest points, by seq."""

    __slots__ = ("_by_seq", "size")

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._by_seq: OrderedDict[int, _Content] = OrderedDict()

    def check(self, points: list[Point], seen: int) -> list[Rejected]:
        """Conflicting resends among ``points``; remember the new ones."""
        conflicts: list[Rejected] = []
        for p in points:
            content = (p.time, p.lat, p.lon)
            if p.seq > seen:
                self._by_seq[p.seq] = content
            elif self._by_seq.get(p.seq, content) != content:
                conflicts.append(Rejected(p.seq, SEQ_CONFLICT))
        while len(self._by_seq) > self.size:
            self._by_seq.popitem(last=False)
        return conflicts
