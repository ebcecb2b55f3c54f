"""Recordings (GPX, TCX, FIT) turned into the fixes a runner would have sent.

A recording is read into :class:`RecordedFix` values in file order, numbered
``seq`` 1, 2, ... as a phone would number them. Real files are full of faults
(see ``../shared/data/gpx/SOURCES.md``); the loader only drops what cannot be
sent at all (a point with no position, or no time in a file that has times)
and keeps everything else as recorded, absurd times included, because judging
a fix is the server's job and a replay should show what the server does with it.

GPX and TCX are read with :mod:`xml.etree` rather than gpxpy: gpxpy refuses the
whole file when one ``<trkpt>`` lacks ``lat``/``lon``, and real devices write
such points. The files are the user's own, so entity-expansion attacks are not
defended against here. FIT needs ``fitdecode`` (a dev dependency), imported
only when a FIT file is read.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from pace_core import messages

from pace_client.errors import RecordingError

__all__ = [
    "RecordedFix",
    "Recording",
    "load_recording",
    "shift_by",
    "shift_to_now",
    "to_point",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEMICIRCLE_DEG = 180.0 / 2**31


class RecordedFix(NamedTuple):
    """One fix of a recording; ``time_ms`` is milliseconds since the epoch (UTC)."""

    seq: int
    time_ms: int
    lat: float
    lon: float
    alt: float | None = None
    speed: float | None = None


@dataclass(frozen=True)
class Recording:
    """A loaded recording and what the loader had to leave out of it."""

    path: Path
    fixes: list[RecordedFix]
    skipped_no_position: int
    skipped_no_time: int

    @property
    def duration_ms(self) -> int:
        """Span from the first fix to the latest time in the file."""
        return max(f.time_ms for f in self.fixes) - self.fixes[0].time_ms


class _Raw(NamedTuple):
    time_ms: int | None
    lat: float | None
    lon: float | None
    alt: float | None
    speed: float | None


def load_recording(path: str | Path) -> Recording:
    """Read a GPX, TCX or FIT file, chosen by its suffix.

    Raises :class:`RecordingError` when the file cannot be read, holds no
    positioned point, or has no timestamps at all (a route or a planned course
    cannot be replayed in time, and inventing times would invent a pace).
    """
    path = Path(path)
    readers = {".gpx": _read_gpx, ".tcx": _read_tcx, ".fit": _read_fit}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise RecordingError(f"unsupported recording format: {path.name}")
    try:
        raws = list(reader(path))
    except (OSError, ET.ParseError) as exc:
        raise RecordingError(f"cannot read {path.name}: {exc}") from exc
    return _to_recording(path, raws)


def _to_recording(path: Path, raws: Sequence[_Raw]) -> Recording:
    positioned = [r for r in raws if r.lat is not None and r.lon is not None]
    if not positioned:
        raise RecordingError(f"recording has no positions: {path.name}")
    timed = [r for r in positioned if r.time_ms is not None]
    if not timed:
        raise RecordingError(f"recording has no timestamps: {path.name}")

    fixes = [
        RecordedFix(i, r.time_ms, r.lat, r.lon, r.alt, r.speed)  # type: ignore[arg-type]
        for i, r in enumerate(timed, start=1)
    ]
    return Recording(
        path=path,
        fixes=fixes,
        skipped_no_position=len(raws) - len(positioned),
        skipped_no_time=len(positioned) - len(timed),
    )


def shift_by(fixes: Sequence[RecordedFix], offset_ms: int) -> list[RecordedFix]:
    """Move every fix by ``offset_ms``; intervals (and their faults) are kept."""
    return [f._replace(time_ms=f.time_ms + offset_ms) for f in fixes]


def shift_to_now(fixes: Sequence[RecordedFix], start_ms: int) -> list[RecordedFix]:
    """Move the recording so its first fix is at ``start_ms``, keeping intervals."""
    if not fixes:
        return []
    return shift_by(fixes, start_ms - fixes[0].time_ms)


def to_point(fix: RecordedFix) -> messages.Point:
    """The wire form of a fix."""
    return messages.Point(
        seq=fix.seq,
        time=_EPOCH + timedelta(milliseconds=fix.time_ms),
        lat=fix.lat,
        lon=fix.lon,
        alt=fix.alt,
        speed=fix.speed,
    )


# --- GPX and TCX ------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(elem: ET.Element, name: str) -> str | None:
    for child in elem:
        if _local(child.tag) == name:
            return child.text.strip() if child.text else None
    return None


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in elem if _local(c.tag) == name), None)


def _read_gpx(path: Path) -> Iterator[_Raw]:
    """Every ``<trkpt>`` in file order, across all tracks and segments."""
    for elem in ET.parse(path).getroot().iter():
        if _local(elem.tag) != "trkpt":
            continue
        yield _Raw(
            time_ms=_parse_time(_child_text(elem, "time")),
            lat=_number(elem.get("lat")),
            lon=_number(elem.get("lon")),
            alt=_number(_child_text(elem, "ele")),
            speed=_number(_child_text(elem, "speed")),
        )


def _read_tcx(path: Path) -> Iterator[_Raw]:
    """Every ``<Trackpoint>`` in file order (activities and courses alike)."""
    for elem in ET.parse(path).getroot().iter():
        if _local(elem.tag) != "Trackpoint":
            continue
        position = _child(elem, "Position")
        lat = lon = None
        if position is not None:
            lat = _number(_child_text(position, "LatitudeDegrees"))
            lon = _number(_child_text(position, "LongitudeDegrees"))
        yield _Raw(
            time_ms=_parse_time(_child_text(elem, "Time")),
            lat=lat,
            lon=lon,
            alt=_number(_child_text(elem, "AltitudeMeters")),
            speed=None,
        )


def _number(text: str | None) -> float | None:
    """A finite float, or None for a missing or unreadable value."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _parse_time(text: str | None) -> int | None:
    """RFC 3339 / ISO 8601 to epoch ms; a time with no offset is UTC, as GPX says."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return _to_ms(moment)


def _to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


# --- FIT --------------------------------------------------------------------


def _read_fit(path: Path) -> Iterator[_Raw]:
    """Every ``record`` message; positions are in semicircles on the wire."""
    try:
        import fitdecode
    except ImportError as exc:
        raise RecordingError("reading FIT files needs the fitdecode package") from exc

    try:
        with fitdecode.FitReader(str(path)) as reader:
            for frame in reader:
                is_data = isinstance(frame, fitdecode.FitDataMessage)
                if is_data and frame.name == "record":
                    yield _fit_record(frame)
    except fitdecode.FitError as exc:
        raise RecordingError(f"cannot read {path.name}: {exc}") from exc


def _fit_record(frame: Any) -> _Raw:
    def value(*names: str) -> Any:
        for name in names:
            if frame.has_field(name):
                found = frame.get_value(name)
                if found is not None:
                    return found
        return None

    stamp = value("timestamp")
    lat, lon = value("position_lat"), value("position_long")
    return _Raw(
        time_ms=_to_ms(stamp) if isinstance(stamp, datetime) else None,
        lat=None if lat is None else lat * _SEMICIRCLE_DEG,
        lon=None if lon is None else lon * _SEMICIRCLE_DEG,
        alt=_number(_str(value("enhanced_altitude", "altitude"))),
        speed=_number(_str(value("enhanced_speed", "speed"))),
    )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
