"""What a runner has recorded but the server has not yet confirmed.

:class:`SendBuffer` is the client's memory of unconfirmed points, kept apart
from any socket so its rules can be tested on their own:

- a point stays until an ``ack`` covers its seq (it is then committed) or the
  server lists it as ``rejected`` (it will never be counted: resending it would
  loop forever);
- on every (re)connection the server's ``welcome.last_seq`` says what it holds
  durably; everything up to it is dropped and the rest is sent again, so a
  reconnect resends exactly what is missing.

The buffer lives in memory only. A client process that dies loses what it had
not yet sent; a phone app would persist it (see docs/limitations.md).

:class:`Backoff` spaces reconnection attempts: exponential growth with full
jitter, so thousands of clients cut off at once do not return in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from pace_core import messages

__all__ = ["Backoff", "SendBuffer"]


class SendBuffer:
    """Points not yet acknowledged, in seq order, plus the send position."""

    def __init__(self) -> None:
        self._pending: dict[int, messages.Point] = {}
        self._sent_upto = 0
        self.acked = 0
        """Points confirmed as held by the server (acked or covered by last_seq)."""
        self.rejected: dict[int, str] = {}
        """Seq to the server's reason, for points it will never count or store."""

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, points: Iterable[messages.Point]) -> None:
        """Queue points; a seq already queued is replaced by the newer point."""
        in_order = True
        for point in points:
            in_order = in_order and (not self._pending or point.seq > self._last())
            self._pending[point.seq] = point
        if not in_order:
            self._pending = dict(sorted(self._pending.items()))

    def _last(self) -> int:
        return next(reversed(self._pending))

    def restart(self, last_seq: int) -> None:
        """A new connection: the server holds everything up to ``last_seq``."""
        self._confirm_upto(last_seq)
        self._sent_upto = 0

    def next_batch(self, limit: int) -> list[messages.Point]:
        """Up to ``limit`` points not yet sent on this connection, marked sent."""
        batch = [p for seq, p in self._pending.items() if seq > self._sent_upto][:limit]
        if batch:
            self._sent_upto = batch[-1].seq
        return batch

    def in_flight(self) -> int:
        """Points sent on this connection and not yet answered."""
        return sum(1 for seq in self._pending if seq <= self._sent_upto)

    def ack(self, seq: int, rejected: Iterable[messages.Rejected] = ()) -> None:
        """Apply an ``ack``: rejected seqs are dropped for good, the rest confirmed."""
        for item in rejected:
            if self._pending.pop(item.seq, None) is not None:
                self.rejected[item.seq] = item.reason
        self._confirm_upto(seq)

    def reject(self, seq: int, reason: str) -> None:
        """Drop one point the server refused outside an ack (an ``error`` with seq)."""
        if self._pending.pop(seq, None) is not None:
            self.rejected[seq] = reason

    def _confirm_upto(self, seq: int) -> None:
        done = [s for s in self._pending if s <= seq]
        for s in done:
            del self._pending[s]
        self.acked += len(done)


class Backoff:
    """Exponential backoff with full jitter: a delay drawn from [0, min(cap, base·2ⁿ)].

    ``reset()`` after a connection succeeds, so the next outage starts small again.
    """

    def __init__(
        self,
        base_s: float = 0.5,
        cap_s: float = 12.0,
        rand: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self._rand = rand
        self.attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call widens the window."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.attempt, 30))
        self.attempt += 1
        return self._rand(0.0, ceiling)

    def reset(self) -> None:
        self.attempt = 0
