"""A participant's stored track as GPX 1.1, written with gpxpy.

By default only *counted* points go in (stored with no reason): the track the
live distance was measured on. ``include_uncounted`` adds the points that were
stored though not counted (stale, duplicate time, low accuracy, impossible
speed, before start, after finish), each with its reason in ``<desc>``.
Points refused outright were never stored and cannot be exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import gpxpy.gpx

from pace_websockets.storage import ParticipantRecord, PointRow, RaceRecord

__all__ = ["track_gpx"]


def track_gpx(
    race: RaceRecord,
    participant: ParticipantRecord,
    rows: Sequence[PointRow],
    include_uncounted: bool = False,
) -> str:
    """The GPX document of ``rows`` (in seq order) for ``participant``."""
    doc = gpxpy.gpx.GPX()
    doc.creator = "Pace"
    track = gpxpy.gpx.GPXTrack(name=f"{participant.name} - {race.name}")
    segment = gpxpy.gpx.GPXTrackSegment()
    track.segments.append(segment)
    doc.tracks.append(track)
    for row in rows:
        if row.reason is not None and not include_uncounted:
            continue
        point = gpxpy.gpx.GPXTrackPoint(
            row.lat,
            row.lon,
            elevation=row.alt,
            time=datetime.fromtimestamp(row.time / 1000, UTC),
        )
        if row.reason is not None:
            point.description = row.reason
        segment.points.append(point)
    xml: str = doc.to_xml(version="1.1")
    return xml
