"""Decoding a runner's frame and judging its points: the allocation-light hot path.

A ``points`` batch in which one point does not even decode (a time without an
offset, a string for a latitude) is decoded again point by point, so the good
points still count and the bad one is refused with its ``seq``. Only a batch
whose bad point has no readable ``seq`` is refused whole (``bad_message``).
"""

from __future__ import annotations

import itertools

import msgspec
from pace_core.engine import Fix, Tracker
from pace_core.filtering import STORED_REASONS, Limits, Reason, check_point
from pace_core.messages import Hello, Point, Points, Rejected, decode_client_message

from pace_websockets.storage import PointRow

__all__ = ["BAD_POINT", "MAX_SEQ", "Judged", "decode", "judge"]

BAD_POINT = "bad_point"
"""Rejection reason of a point that does not decode (the service's own)."""

MAX_SEQ = 2**53 - 1
"""The highest seq taken: every JavaScript client can count to it exactly, and
every database column holds it; a higher one is refused as ``bad_point``."""


class _LooseBatch(msgspec.Struct):
    points: list[msgspec.Raw]


class _SeqOnly(msgspec.Struct):
    seq: int


_loose_batch = msgspec.json.Decoder(_LooseBatch).decode
_point = msgspec.json.Decoder(Point).decode
_seq_only = msgspec.json.Decoder(_SeqOnly).decode


class BadFrame(Exception):
    """A frame that is not a valid message; ``code`` is its protocol error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def decode(data: str | bytes) -> tuple[Hello | Points, list[Rejected]]:
    """The message in ``data`` and the points refused while decoding it."""
    try:
        return _decode(data)
    except RecursionError:  # msgspec skips unknown fields recursively
        raise BadFrame("bad_json", "JSON nested too deep") from None


def _decode(data: str | bytes) -> tuple[Hello | Points, list[Rejected]]:
    try:
        return decode_client_message(data), []
    except msgspec.ValidationError as exc:
        text = str(exc)
        if text.endswith("at `$.type`") or "missing required field `type`" in text:
            raise BadFrame("unknown_type", text) from exc
        if "`$.points[" not in text:
            raise BadFrame("bad_message", text) from exc
        return _decode_pointwise(data, text)
    except msgspec.DecodeError as exc:
        raise BadFrame("bad_json", str(exc)) from exc


def _decode_pointwise(data: str | bytes, first: str) -> tuple[Points, list[Rejected]]:
    try:
        raws = _loose_batch(data).points
    except msgspec.DecodeError as exc:
        raise BadFrame("bad_message", first) from exc
    good: list[Point] = []
    bad: list[Rejected] = []
    for raw in raws:
        try:
            good.append(_point(raw))
        except msgspec.DecodeError as exc:
            bad.append(Rejected(_seq_of(raw, first), _reason_of(str(exc))))
    return Points(good), bad


def _seq_of(raw: msgspec.Raw, first: str) -> int:
    try:
        return _seq_only(raw).seq
    except msgspec.DecodeError as exc:
        raise BadFrame("bad_message", f"a point without a seq: {first}") from exc


def _reason_of(error: str) -> str:
    return Reason.NO_OFFSET.value if "timezone" in error else BAD_POINT


class Judged:
    """The outcome of one batch: rows to store and points refused outright."""

    __slots__ = ("accepted", "refused", "rejected", "rows", "stored_reasons")

    def __init__(self) -> None:
        self.rows: list[PointRow] = []
        self.rejected: list[Rejected] = []
        self.refused: list[str] = []
        """Reasons of points not stored (for the rejected-by-reason counter)."""
        self.stored_reasons: list[str] = []
        """Reasons of points stored though not counted."""
        self.accepted = 0


def judge(
    points: list[Point],
    seen: int,
    tracker: Tracker,
    participant_id: str,
    now: int,
    limits: Limits,
    ended: bool,
) -> tuple[Judged, int]:
    """Run a batch through the checks and the tracker, in seq order.

    Returns the outcome and the new highest seq seen. A point whose seq is not
    above ``seen`` was processed before: it is skipped (and will be acked).
    """
    out = Judged()
    if any(a.seq > b.seq for a, b in itertools.pairwise(points)):
        points = sorted(points, key=lambda p: p.seq)
    for p in points:
        # Seqs start at 1 (last_seq 0 means "nothing held") and stop at MAX_SEQ.
        if not 1 <= p.seq <= MAX_SEQ:
            out.rejected.append(Rejected(p.seq, BAD_POINT))
            out.refused.append(BAD_POINT)
            continue
        if p.seq <= seen:
            continue
        seen = p.seq
        reason = Reason.RACE_ENDED if ended else check_point(p, now, limits)
        if reason is not None:
            out.rejected.append(Rejected(p.seq, reason.value))
            out.refused.append(reason.value)
            continue
        fix = Fix.from_point(p)
        reason = tracker.add(fix)
        if reason is None:
            out.accepted += 1
        elif reason in STORED_REASONS:
            out.stored_reasons.append(reason.value)
        else:
            out.rejected.append(Rejected(p.seq, reason.value))
            out.refused.append(reason.value)
            continue
        out.rows.append(
            PointRow(
                participant_id,
                p.seq,
                fix.time,
                p.lat,
                p.lon,
                p.alt,
                p.accuracy,
                p.speed,
                p.heading,
                now,
                None if reason is None else reason.value,
            )
        )
    return out, seen
