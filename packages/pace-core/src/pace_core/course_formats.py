"""Reading course files: GPX, TCX and GeoJSON text into plain coordinates.

A course arrives as the text an organiser uploaded, so this module parses text
and nothing else: no files, no network. GPX and TCX are read with the standard
library's XML parser, matching tags in any namespace, because route planners
write GPX 1.0, GPX 1.1 and unnamespaced variants alike; Python's expat refuses
entity-expansion bombs, and no external entity is ever fetched.

A GPX course is its track points (every ``trk`` and ``trkseg`` in order) or,
when it has none, its route points; waypoints become checkpoints. Points
without coordinates (real devices write them) are skipped rather than refused.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CourseError", "CourseSource", "parse_geojson", "parse_gpx", "parse_tcx"]


class CourseError(ValueError):
    """A course that cannot be used: bad file, too few points, bad checkpoint.

    The root of the course errors (a ``ValueError`` so callers that validate
    input already catch it); :mod:`pace_core.course` re-exports it.
    """


@dataclass(slots=True)
class CourseSource:
    """What a course file says, before any geometry: points, marks and laps."""

    points: list[tuple[float, float, float | None]] = field(default_factory=list)
    """``(lat, lon, elevation or None)`` in file order."""
    waypoints: list[tuple[str, float, float]] = field(default_factory=list)
    """Named places to snap onto the course, in file order."""
    marks: list[tuple[str, float]] = field(default_factory=list)
    """Named distances along the whole course, when the file states them."""
    laps: int | None = None
    name: str | None = None


def parse_gpx(text: str) -> CourseSource:
    """Track points (or route points) and named waypoints of a GPX document."""
    root = _xml(text, "gpx")
    source = CourseSource(name=_text(root.find("{*}metadata/{*}name")))
    source.points = list(_gpx_points(root.iterfind(".//{*}trkpt")))
    if not source.points:
        source.points = list(_gpx_points(root.iterfind(".//{*}rtept")))
    for wpt in root.iterfind("{*}wpt"):
        position = _lat_lon(wpt.get("lat"), wpt.get("lon"))
        if position is not None:
            name = _text(wpt.find("{*}name")) or f"Waypoint {len(source.waypoints) + 1}"
            source.waypoints.append((name, *position))
    return source


def parse_tcx(text: str) -> CourseSource:
    """Trackpoint positions of a TCX course or activity, and its course points."""
    root = _xml(text, "tcx")
    source = CourseSource(name=_text(root.find(".//{*}Course/{*}Name")))
    for point in root.iterfind(".//{*}Trackpoint"):
        position = _lat_lon(
            _text(point.find("{*}Position/{*}LatitudeDegrees")),
            _text(point.find("{*}Position/{*}LongitudeDegrees")),
        )
        if position is not None:
            source.points.append((*position, _number(point.find("{*}AltitudeMeters"))))
    for mark in root.iterfind(".//{*}CoursePoint"):
        position = _lat_lon(
            _text(mark.find("{*}Position/{*}LatitudeDegrees")),
            _text(mark.find("{*}Position/{*}LongitudeDegrees")),
        )
        if position is not None:
            name = _text(mark.find("{*}Name")) or f"Point {len(source.waypoints) + 1}"
            source.waypoints.append((name, *position))
    return source


def parse_geojson(text: str) -> CourseSource:
    """A LineString (bare, in a Feature, or in a FeatureCollection) and its Points.

    A Point feature with a numeric ``distance_m`` property is a checkpoint at
    that distance; one without is snapped onto the course. A ``laps`` property
    on the collection or the line's feature sets the number of laps.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CourseError(f"course is not valid json: {exc.msg}") from exc
    source = CourseSource()
    for geometry, properties in _features(document):
        _take_feature(source, geometry, properties)
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        _take_properties(source, document.get("properties"))
    return source


def _take_feature(
    source: CourseSource, geometry: dict[str, Any], properties: dict[str, Any]
) -> None:
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "LineString":
        if source.points:
            raise CourseError("course has more than one LineString")
        source.points = [_geojson_position(c) for c in _sequence(coordinates)]
        _take_properties(source, properties)
    elif kind == "Point":
        lat, lon, _ = _geojson_position(coordinates)
        name = properties.get("name")
        name = str(name) if name else f"Checkpoint {len(source.marks) + 1}"
        distance = properties.get("distance_m")
        if isinstance(distance, int | float) and _is_number(distance):
            source.marks.append((name, float(distance)))
        else:
            source.waypoints.append((name, lat, lon))


def _take_properties(source: CourseSource, properties: object) -> None:
    if not isinstance(properties, dict):
        return
    laps = properties.get("laps")
    if laps is not None:
        if not isinstance(laps, int) or isinstance(laps, bool):
            raise CourseError(f"laps must be an integer, got {laps!r}")
        source.laps = laps
    if isinstance(properties.get("name"), str):
        source.name = properties["name"]


def _features(document: object) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (geometry, properties) pair, whatever GeoJSON wrapper holds them."""
    if not isinstance(document, dict):
        raise CourseError("geojson must be an object")
    kind = document.get("type")
    if kind == "FeatureCollection":
        for feature in _sequence(document.get("features")):
            yield from _features(feature)
    elif kind == "Feature":
        geometry = document.get("geometry")
        properties = document.get("properties") or {}
        if isinstance(geometry, dict) and isinstance(properties, dict):
            yield geometry, properties
    elif kind in ("LineString", "Point"):
        yield document, {}
    else:
        raise CourseError(f"unsupported geojson type {kind!r}")


def _geojson_position(value: object) -> tuple[float, float, float | None]:
    """GeoJSON order is [lon, lat, elevation?]; Pace's is (lat, lon, elevation)."""
    items = _sequence(value)
    if len(items) < 2 or not all(_is_number(v) for v in items[:3]):
        raise CourseError(f"bad geojson position {value!r}")
    position = _lat_lon(str(items[1]), str(items[0]))
    if position is None:
        raise CourseError(f"geojson position out of range {value!r}")
    return (*position, float(items[2]) if len(items) > 2 else None)


def _gpx_points(
    elements: Iterable[ET.Element],
) -> Iterator[tuple[float, float, float | None]]:
    for element in elements:
        position = _lat_lon(element.get("lat"), element.get("lon"))
        if position is not None:
            yield (*position, _number(element.find("{*}ele")))


def _xml(text: str, kind: str) -> ET.Element:
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise CourseError(f"course is not valid {kind}: {exc}") from exc


def _lat_lon(lat: str | None, lon: str | None) -> tuple[float, float] | None:
    """Valid finite degrees, or None for a point the file left without them."""
    try:
        la, lo = float(lat or "nan"), float(lon or "nan")
    except ValueError:
        return None
    if not (math.isfinite(la) and math.isfinite(lo)):
        return None
    if abs(la) > 90.0 or abs(lo) > 180.0 or (la == 0.0 and lo == 0.0):
        return None
    return la, lo


def _number(element: ET.Element | None) -> float | None:
    try:
        value = float(_text(element) or "nan")
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _text(element: ET.Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _sequence(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise CourseError(f"expected a json array, got {type(value).__name__}")
    return value


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
