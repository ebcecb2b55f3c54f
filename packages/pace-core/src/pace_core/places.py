"""Where a runner is: the geometry and timing helpers of the race engine.

:class:`Place` is the running centroid of the fixes since the last anchor,
which :class:`pace_core.engine.Tracker` uses to tell standing from moving;
:func:`passing_time` says when a mark inside a hop between anchors was
passed. Both are internal to the engine, kept apart to keep it readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pace_core.geodesy import distance_m

if TYPE_CHECKING:
    from pace_core.engine import Fix

__all__ = ["Place", "passing_time"]


def passing_time(anchor: Fix, via: Fix | None, fix: Fix, fraction: float) -> int:
    """When the runner passed ``fraction`` of the hop from anchor to fix.

    Linear in time along the hop, except that a runner who lingered near
    the anchor until ``via`` is taken along anchor → via → fix: a mark just
    past a drinks station is passed after the stop, not during it.
    """
    if via is None:
        return _interpolate(anchor.time, fix.time, fraction)
    first = distance_m(anchor.lat, anchor.lon, via.lat, via.lon)
    second = distance_m(via.lat, via.lon, fix.lat, fix.lon)
    at = fraction * (first + second)
    if at <= first and first > 0.0:
        return _interpolate(anchor.time, via.time, at / first)
    if second <= 0.0:
        return via.time
    return _interpolate(via.time, fix.time, (at - first) / second)


def _interpolate(start: int, end: int, fraction: float) -> int:
    """The time a fraction of the way from ``start`` to ``end``, in whole ms."""
    return start + round((end - start) * fraction)


class Place:
    """The fixes since the last anchor: centroid, mean accuracy, the latest.

    Mutated in place (one per tracker) so that adding a fix allocates
    nothing. Offsets are summed relative to the first fix, with longitude
    wrapped, so a place astride the antimeridian averages correctly.
    """

    __slots__ = (
        "accuracy",
        "last",
        "lat",
        "lat0",
        "lon",
        "lon0",
        "n",
        "sum_accuracy",
        "sum_dlat",
        "sum_dlon",
    )

    def __init__(self) -> None:
        self.lat = self.lat0 = self.lon = self.lon0 = 0.0
        self.sum_dlat = self.sum_dlon = 0.0
        self.accuracy = self.sum_accuracy = 0.0
        self.n = 0
        self.last: Fix | None = None

    def reset(self, fix: Fix) -> None:
        """Start the place over with one fix."""
        self.lat = self.lat0 = fix.lat
        self.lon = self.lon0 = fix.lon
        self.sum_dlat = self.sum_dlon = 0.0
        self.accuracy = self.sum_accuracy = fix.accuracy or 0.0
        self.n = 1
        self.last = fix

    def add(self, fix: Fix) -> None:
        """One more fix at this place: move the centroid, extend the span."""
        dlon = fix.lon - self.lon0
        if dlon > 180.0:
            dlon -= 360.0
        elif dlon < -180.0:
            dlon += 360.0
        n = self.n + 1
        self.n = n
        self.sum_dlat += fix.lat - self.lat0
        self.sum_dlon += dlon
        self.sum_accuracy += fix.accuracy or 0.0
        self.lat = self.lat0 + self.sum_dlat / n
        self.lon = _wrap(self.lon0 + self.sum_dlon / n)
        self.accuracy = self.sum_accuracy / n
        self.last = fix


def _wrap(lon: float) -> float:
    """A longitude folded back into [-180, 180]."""
    if lon > 180.0:
        return lon - 360.0
    if lon < -180.0:
        return lon + 360.0
    return lon
