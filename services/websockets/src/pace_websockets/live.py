"""Turning a runner's tracker into wire values: standings, splits, events.

Kept apart from the session code so the hub, the HTTP API and the runner
session build the same :class:`~pace_core.messages.Standing` the same way.
"""

from __future__ import annotations

import msgspec
from pace_core.engine import EngineEvent, SplitRecord, TrackerView
from pace_core.messages import Event, LivePosition, Split, Standing, Status

from pace_websockets.times import rfc3339

__all__ = ["DeltaEntry", "RaceDelta", "event_of", "split_of", "standing_of", "waiting"]


class DeltaEntry(msgspec.Struct, array_like=True):
    """One participant's new state, as the runner's instance computed it."""

    standing: Standing
    finish_ms: int | None
    """The finish time in ms (the standing carries it as text), for ranking."""
    arrived_at: float
    """Wall-clock seconds when the oldest point behind this state arrived."""


class RaceDelta(msgspec.Struct):
    """What one instance tells the others about a race, through the broker.

    Encoded with msgpack: it never reaches a client, only other instances.
    """

    origin: str
    entries: list[DeltaEntry] = []
    events: list[Event] = []
    ended: bool = False


def _tenth(value: float | None) -> float | None:
    """Times, paces and distances to 0.1 (s or m): finer is GPS noise on the wire."""
    return None if value is None else round(value, 1)


def split_of(record: SplitRecord) -> Split:
    return Split(
        record.km,
        rfc3339(record.time),
        round(record.elapsed_s, 1),
        round(record.split_s, 1),
    )


def standing_of(
    participant_id: str,
    name: str,
    view: TrackerView,
    splits: list[Split],
    status: Status | None = None,
) -> Standing:
    """The standing of a tracker's view (rank 0: ranks are given at the tick).

    Floats are rounded here, at the boundary to the wire: distances to 0.1 m,
    times and paces to 0.1 s, positions to 6 decimals (about 0.1 m), which
    roughly halves an ``update`` entry.
    """
    if status is None:
        status = (
            "finished" if view.finished else "running" if view.started else "waiting"
        )
    last = view.last_fix
    return Standing(
        participant_id=participant_id,
        name=name,
        rank=0,
        status=status,
        distance_m=round(view.distance_m, 1),
        elapsed_s=_tenth(view.elapsed_s),
        pace_s_per_km=_tenth(view.pace_s_per_km),
        avg_pace_s_per_km=_tenth(view.avg_pace_s_per_km),
        finish_time=None if view.finish_time is None else rfc3339(view.finish_time),
        splits=splits,
        position=None if last is None else _position(last.lat, last.lon, last.time),
    )


def _position(lat: float, lon: float, time_ms: int) -> LivePosition:
    """Six decimals of a degree are about 0.1 m: the rest is noise on the wire."""
    return LivePosition(round(lat, 6), round(lon, 6), time_ms)


def waiting(participant_id: str, name: str) -> Standing:
    """A participant who has not sent a counted point yet."""
    return Standing(
        participant_id, name, 0, "waiting", 0.0, None, None, None, None, [], None
    )


def event_of(participant_id: str, name: str, event: EngineEvent) -> Event:
    return Event(
        event=event.kind,
        participant_id=participant_id,
        time=event.time,
        name=name,
        km=event.km,
        elapsed_s=event.elapsed_s,
        distance_m=event.distance_m,
    )
