"""The send buffer's rules (ack, reject, resume) and the backoff's bounds."""

from __future__ import annotations

from datetime import UTC, datetime

from pace_client.buffer import Backoff, SendBuffer
from pace_core import messages

T0 = datetime(2024, 6, 15, 14, 0, tzinfo=UTC)


def _points(*seqs: int) -> list[messages.Point]:
    return [messages.Point(seq=s, time=T0, lat=53.5, lon=9.8) for s in seqs]


def test_batches_respect_the_limit_and_advance() -> None:
    """next_batch hands out unsent points in seq order, at most ``limit`` each."""
    buf = SendBuffer()
    buf.add(_points(1, 2, 3, 4, 5))

    assert [p.seq for p in buf.next_batch(2)] == [1, 2]
    assert [p.seq for p in buf.next_batch(2)] == [3, 4]
    assert [p.seq for p in buf.next_batch(2)] == [5]
    assert buf.next_batch(2) == []
    assert buf.in_flight() == 5


def test_ack_drops_everything_up_to_its_seq() -> None:
    """An ack for N confirms every pending point with seq <= N."""
    buf = SendBuffer()
    buf.add(_points(1, 2, 3))
    buf.next_batch(10)

    buf.ack(2)

    assert (len(buf), buf.acked, buf.in_flight()) == (1, 2, 1)


def test_rejected_points_are_recorded_and_never_resent() -> None:
    """Seqs listed as rejected leave the buffer with their reason."""
    buf = SendBuffer()
    buf.add(_points(1, 2, 3))
    buf.next_batch(10)

    buf.ack(3, [messages.Rejected(seq=2, reason="future")])
    buf.restart(last_seq=0)

    assert buf.rejected == {2: "future"}
    assert (buf.acked, len(buf), buf.next_batch(10)) == (2, 0, [])


def test_rejected_seq_above_the_ack_is_dropped_too() -> None:
    """A rejection for a seq beyond the ack's seq still removes that point."""
    buf = SendBuffer()
    buf.add(_points(1, 2, 3))

    buf.ack(1, [messages.Rejected(seq=3, reason="out_of_range")])

    assert [p.seq for p in buf.next_batch(10)] == [2]


def test_restart_resends_only_what_the_server_lacks() -> None:
    """After welcome.last_seq = 3, points 4.. are sent again from the start."""
    buf = SendBuffer()
    buf.add(_points(1, 2, 3, 4, 5))
    buf.next_batch(10)

    buf.restart(last_seq=3)

    assert buf.acked == 3
    assert [p.seq for p in buf.next_batch(10)] == [4, 5]


def test_points_added_out_of_order_are_sent_in_seq_order() -> None:
    """A late point with a lower seq is sent before the higher ones."""
    buf = SendBuffer()
    buf.add(_points(3, 1))
    buf.add(_points(2))

    assert [p.seq for p in buf.next_batch(10)] == [1, 2, 3]


def test_error_with_seq_rejects_that_point_only() -> None:
    """reject() removes one seq and keeps the reason."""
    buf = SendBuffer()
    buf.add(_points(1, 2))

    buf.reject(1, "invalid_point")
    buf.reject(9, "unknown")

    assert (buf.rejected, len(buf)) == ({1: "invalid_point"}, 1)


def test_backoff_draws_full_jitter_under_a_growing_ceiling() -> None:
    """Each delay is drawn from [0, min(cap, base * 2**n)]."""
    windows: list[tuple[float, float]] = []
    backoff = Backoff(
        base_s=0.5, cap_s=4.0, rand=lambda a, b: windows.append((a, b)) or b
    )

    delays = [backoff.next_delay() for _ in range(6)]

    assert windows == [(0.0, c) for c in (0.5, 1.0, 2.0, 4.0, 4.0, 4.0)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_backoff_reset_starts_small_again() -> None:
    """After a successful connection the next outage waits at most ``base``."""
    backoff = Backoff(base_s=0.5, cap_s=10.0, rand=lambda a, b: b)
    for _ in range(5):
        backoff.next_delay()

    backoff.reset()

    assert backoff.next_delay() == 0.5


def test_backoff_survives_thousands_of_attempts() -> None:
    """A server down for hours never overflows the exponent."""
    backoff = Backoff(base_s=0.5, cap_s=12.0, rand=lambda a, b: b)

    delays = [backoff.next_delay() for _ in range(5000)]

    assert max(delays) == 12.0
