"""Which fixes count, and why the others do not.

A fix goes through two gates before it can add distance:

1. :func:`check_point` (here) needs no runner state: the numbers are finite
   and in range, the fix is not at null island, and its time is plausible
   against the server clock ``now_ms``. A fix that fails it is refused with
   its reason and **not stored**: it carries no usable position or time.
2. :meth:`pace_core.engine.Tracker.add` judges the fix against what the
   runner has already done (older than the last counted fix, same time, poor
   accuracy, impossible speed, before the start, after the finish). A fix that
   fails it is **stored** (it is a real recording, exported in the GPX track
   and kept for later analysis) but does not count towards the distance.

:data:`STORED_REASONS` is the list of the second kind. The reasons, as they
appear in an ``ack``'s ``rejected`` list and in the
``pace_points_rejected_total{reason}`` metric:

==================  ======  ==========================================================
reason              stored  meaning
==================  ======  ==========================================================
``out_of_range``    no      lat outside [-90, 90], lon outside [-180, 180], negative
                            accuracy or speed, heading outside [0, 360]
``not_finite``      no      a coordinate or an optional number is NaN or infinite
``null_island``     no      lat and lon both within 1e-4 degrees (~11 m) of 0, the
                            position a device reports when it has none
``no_offset``       no      a time without a UTC offset (the decoder refuses these
                            first, so the engine never returns it)
``future``          no      more than ``Limits.max_future_s`` after the server clock
``too_old``         no      more than ``Limits.max_past_s`` before the server clock
``race_ended``      no      the organiser ended the race (decided by the service)
``stale``           yes     older than the runner's last counted fix
``duplicate_time``  yes     same time as the runner's last counted fix
``low_accuracy``    yes     reported accuracy worse than ``Limits.max_accuracy_m``
``impossible_speed`` yes    reaching it from the last counted fix needs more than
                            ``Limits.max_speed_mps`` (beyond the jitter allowance)
``before_start``    yes     earlier than the race's ``starts_at``
``after_finish``    yes     the runner had already finished
==================  ======  ==========================================================
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pace_core.messages import Point

__all__ = [
    "NULL_ISLAND_DEG",
    "STORED_REASONS",
    "Limits",
    "Reason",
    "check_point",
    "check_values",
    "epoch_ms",
]


class Reason(enum.StrEnum):
    """Why a fix does not count. The values are public: they go on the wire."""

    OUT_OF_RANGE = "out_of_range"
    NOT_FINITE = "not_finite"
    NULL_ISLAND = "null_island"
    NO_OFFSET = "no_offset"
    FUTURE = "future"
    TOO_OLD = "too_old"
    STALE = "stale"
    DUPLICATE_TIME = "duplicate_time"
    LOW_ACCURACY = "low_accuracy"
    IMPOSSIBLE_SPEED = "impossible_speed"
    BEFORE_START = "before_start"
    AFTER_FINISH = "after_finish"
    RACE_ENDED = "race_ended"


STORED_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.STALE,
        Reason.DUPLICATE_TIME,
        Reason.LOW_ACCURACY,
        Reason.IMPOSSIBLE_SPEED,
        Reason.BEFORE_START,
        Reason.AFTER_FINISH,
    }
)
"""Reasons whose fixes are stored though not counted: exactly those the
:class:`~pace_core.engine.Tracker` gives. The others are refused outright."""

NULL_ISLAND_DEG = 1e-4
"""Half-width of the box around (0, 0) treated as "no position" (~11 m)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Thresholds of the filters and the engine, one object per race.

    The defaults suit a running race sampled at about 1 Hz by a phone::

        Limits()                                 # a foot race
        Limits(max_speed_mps=25.0)               # a bike race
        Limits(max_past_s=30 * 86400)            # importing an old recording
    """

    max_future_s: float = 120.0
    """A fix may be this far ahead of the server clock (phone clocks drift)."""
    max_past_s: float = 2 * 86400.0
    """A fix may be this old: long enough for a phone that was offline for a
    whole ultra-marathon to flush its buffer, short enough to refuse the 1970
    and 1901 times of devices without a clock fix."""
    max_accuracy_m: float = 50.0
    """Fixes reporting a worse accuracy (68 % radius, metres) do not count."""
    max_speed_mps: float = 12.0
    """Faster than any runner (100 m world record pace is 10.4 m/s)."""
    min_move_m: float = 5.0
    """The least jitter allowance: a fix closer than this to where the runner
    stands never counts as moving, whatever accuracy it reports (and this is
    the whole allowance for devices that report none)."""
    relocate_after: int = 5
    """After this many consecutive fixes that agree with each other but not
    with the last counted one, the tracker believes them and moves there
    without adding the impossible hop (a wrong first fix, a long glitch)."""
    pace_window_s: float = 60.0
    """Current pace is measured over this rolling window of counted fixes."""

    def __post_init__(self) -> None:
        for name in ("max_future_s", "max_past_s", "max_accuracy_m"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("max_speed_mps", "pace_window_s"):
            value = getattr(self, name)
            if not (value > 0.0 and math.isfinite(value)):
                raise ValueError(f"{name} must be positive and finite, got {value!r}")
        if not (self.min_move_m >= 0.0 and math.isfinite(self.min_move_m)):
            raise ValueError(f"min_move_m must be >= 0, got {self.min_move_m!r}")
        if self.relocate_after < 1:
            raise ValueError(f"relocate_after must be >= 1, got {self.relocate_after}")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime, rounded down.

    Exact integer arithmetic: ``timestamp() * 1000`` would round some
    millisecond times one down through binary floating point.
    """
    return (moment - _EPOCH) // _ONE_MS


def check_point(point: Point, now_ms: int, limits: Limits) -> Reason | None:
    """The stateless checks of one decoded point; None if it may go on.

    A point with any reason from here is refused and not stored (see the
    module docstring). ``now_ms`` is the server clock when the point arrived.
    """
    return check_values(
        epoch_ms(point.time),
        point.lat,
        point.lon,
        now_ms,
        limits,
        point.alt,
        point.accuracy,
        point.speed,
        point.heading,
    )


def check_values(
    time: int,
    lat: float,
    lon: float,
    now_ms: int,
    limits: Limits,
    alt: float | None = None,
    accuracy: float | None = None,
    speed: float | None = None,
    heading: float | None = None,
) -> Reason | None:
    """:func:`check_point` on plain values (a stored row, a GPX point, a Fix)."""
    if not _all_finite(lat, lon, alt, accuracy, speed, heading):
        return Reason.NOT_FINITE
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return Reason.OUT_OF_RANGE
    if _optional_out_of_range(accuracy, speed, heading):
        return Reason.OUT_OF_RANGE
    if abs(lat) < NULL_ISLAND_DEG and abs(lon) < NULL_ISLAND_DEG:
        return Reason.NULL_ISLAND

    if time > now_ms + limits.max_future_s * 1000.0:
        return Reason.FUTURE
    if time < now_ms - limits.max_past_s * 1000.0:
        return Reason.TOO_OLD
    return None


def _all_finite(*values: float | None) -> bool:
    isfinite = math.isfinite
    return all(v is None or isfinite(v) for v in values)


def _optional_out_of_range(
    accuracy: float | None, speed: float | None, heading: float | None
) -> bool:
    """Negative accuracy or speed and headings past a full turn are nonsense.

    Browsers send ``null`` for an unknown speed or heading; a native app that
    sends iOS's -1 sentinel instead gets ``out_of_range`` and should send null.
    """
    return (
        (accuracy is not None and accuracy < 0.0)
        or (speed is not None and speed < 0.0)
        or (heading is not None and not 0.0 <= heading <= 360.0)
    )
