"""Spotting a seq that comes back with different content.

A client that resends a point it already sent (after a reconnect, or an ack
it missed) is normal, and the resend is acknowledged without being stored
twice. A seq that comes back with a different time or position is a client
bug (a counter reset, two devices on one token): it is refused with
``seq_conflict`` so the client stops resending it, and the first content
stays. Only the last ``size`` (64) points of the same connection are remembered,
so a conflict with an older point, or one sent over an earlier connection,
passes as a plain resend (see docs/limitations.md).
"""

from __future__ import annotations

from pace_core.messages import Point, Rejected

__all__ = ["SEQ_CONFLICT", "RecentPoints"]

SEQ_CONFLICT = "seq_conflict"
"""Rejection reason of a resent seq whose content differs from the first."""


class RecentPoints:
    """A ring of the connection's latest points: slot ``seq % size`` holds the
    seq and a hash of its time and position.

    Two small lists per connection, allocated on first use: a soak with a
    dictionary of full tuples per point cost about 300 bytes a point, which
    a city race cannot afford for a rarely hit check.
    """

    __slots__ = ("_hashes", "_seqs", "size")

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._seqs: list[int] = []
        self._hashes: list[int] = []

    def check(self, points: list[Point], seen: int) -> list[Rejected]:
        """Conflicting resends among ``points``; remember the new ones."""
        if not self._seqs:
            self._seqs, self._hashes = [0] * self.size, [0] * self.size
        conflicts: list[Rejected] = []
        for p in points:
            slot, content = p.seq % self.size, hash((p.time, p.lat, p.lon))
            if p.seq > seen:
                self._seqs[slot], self._hashes[slot] = p.seq, content
            elif self._seqs[slot] == p.seq and self._hashes[slot] != content:
                conflicts.append(Rejected(p.seq, SEQ_CONFLICT))
        return conflicts
