"""A race course: the line runners follow, its laps and its named checkpoints.

Geometry is done by shapely in a local metric plane: pyproj's azimuthal
equidistant projection centred on the course. Its scale error grows with the
square of the distance from the centre (about 4 ppm at 30 km), so a course of
a few tens of kilometres measures to within a few centimetres of its geodesic
length, and distances along it are plain metres.

Distances along the course ("progress") run from 0 at the start to
``length_m`` at the finish, over every lap. For matching, the line is extended
straight back from the start and straight on past the finish by
``EXTENSION_M``, so a fix just before the start line or just past the finish
still projects to a distance below 0 or above the length: that is what lets
the start and finish crossings be interpolated between fixes instead of
snapping to the line's ends.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer

from pace_core.course_formats import (
    CourseError,
    CourseSource,
    parse_geojson,
    parse_gpx,
    parse_tcx,
)

__all__ = ["EXTENSION_M", "Checkpoint", "Course", "CourseError"]

EXTENSION_M = 500.0
"""How far the matching line runs on before the start and past the finish."""

SNAP_MAX_M = 200.0
"""A waypoint further than this from the course is refused, not snapped."""

_SAME_POINT_M = 0.01
_HEADING_M = 50.0
_Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A named place on the course, by its distance from the start."""

    name: str
    distance_m: float


class Course:
    """A course line with laps and checkpoints, and the geometry to match onto it.

    ``points`` are ``(lat, lon)`` or ``(lat, lon, elevation)`` of one lap; with
    ``laps`` above 1 the line is repeated (joined by a straight line from the
    lap's end to its start when they differ). ``marks`` are named distances
    along the whole course; ``waypoints`` are named ``(lat, lon)`` places that
    are snapped onto every lap in order. Start and finish are always present.
    """

    def __init__(
        self,
        points: Sequence[Sequence[float | None]],
        *,
        laps: int = 1,
        marks: Iterable[tuple[str, float]] = (),
        waypoints: Iterable[tuple[str, float, float]] = (),
        name: str | None = None,
    ) -> None:
        if laps < 1:
            raise CourseError(f"laps must be at least 1, got {laps}")
        self.name = name
        self.laps = laps
        self._lat_lon = _distinct(
            [(float(p[0] or 0), float(p[1] or 0)) for p in points]
        )
        if len(self._lat_lon) < 2:
            raise CourseError(
                f"course needs 2 distinct points, got {len(self._lat_lon)}"
            )
        self._make_projection()
        self._make_line()
        self.checkpoints = self._make_checkpoints(list(marks), list(waypoints))

    # --- construction from files --------------------------------------------

    @classmethod
    def from_gpx(
        cls, text: str, *, laps: int = 1, marks: Iterable[tuple[str, float]] = ()
    ) -> Course:
        """A course from GPX text: its track (or route), waypoints as checkpoints.

        ``marks`` adds named checkpoints by distance to those in the file.
        """
        return cls._from_source(parse_gpx(text), laps, marks)

    @classmethod
    def from_tcx(
        cls, text: str, *, laps: int = 1, marks: Iterable[tuple[str, float]] = ()
    ) -> Course:
        """A course from TCX text: its trackpoints, course points as checkpoints."""
        return cls._from_source(parse_tcx(text), laps, marks)

    @classmethod
    def from_geojson(
        cls,
        text: str,
        *,
        laps: int | None = None,
        marks: Iterable[tuple[str, float]] = (),
    ) -> Course:
        """A course from GeoJSON text (see :func:`parse_geojson`).

        ``laps`` overrides a ``laps`` property in the file; without either, 1.
        """
        source = parse_geojson(text)
        return cls._from_source(source, laps or source.laps or 1, marks)

    @classmethod
    def _from_source(
        cls, source: CourseSource, laps: int, marks: Iterable[tuple[str, float]]
    ) -> Course:
        return cls(
            source.points,
            laps=laps,
            marks=[*source.marks, *marks],
            waypoints=source.waypoints,
            name=source.name,
        )

    # --- public geometry -----------------------------------------------------

    @property
    def length_m(self) -> float:
        """Distance from start to finish over every lap, in metres."""
        return self._length

    @property
    def lap_length_m(self) -> float:
        """Length of one lap (including the join back to its start, if any)."""
        return self._lap_length

    @property
    def start(self) -> Checkpoint:
        return self.checkpoints[0]

    @property
    def finish(self) -> Checkpoint:
        return self.checkpoints[-1]

    def point_at(self, distance_m: float, *, clamp: bool = True) -> tuple[float, float]:
        """``(lat, lon)`` of the place ``distance_m`` along the course.

        Clamped to the course unless ``clamp`` is False; then distances below
        0 and above the length lie on the straight extensions (see above).
        """
        if clamp:
            distance_m = min(max(distance_m, 0.0), self._length)
        point = self._line.interpolate(distance_m + EXTENSION_M)
        return self.unproject(point.x, point.y)

    def project(self, lat: float, lon: float) -> tuple[float, float]:
        """Local plane coordinates ``(x, y)`` in metres of a position."""
        x, y = self._forward.transform(lon, lat)
        return float(x), float(y)

    def project_many(
        self, lats: Sequence[float], lons: Sequence[float]
    ) -> tuple[list[float], list[float]]:
        """Plane coordinates of many positions in one pyproj call (a rebuild)."""
        xs, ys = self._forward.transform(np.asarray(lons), np.asarray(lats))
        return np.atleast_1d(xs).tolist(), np.atleast_1d(ys).tolist()

    def unproject(self, x: float, y: float) -> tuple[float, float]:
        """``(lat, lon)`` of local plane coordinates (the inverse of project)."""
        lon, lat = self._inverse.transform(x, y)
        return float(lat), float(lon)

    def candidates(
        self, x: float, y: float, low_m: float, high_m: float
    ) -> tuple[_Floats, _Floats]:
        """Nearest place on each course segment within ``[low_m, high_m]``.

        Returns two arrays: each candidate's distance along the course and its
        distance from ``(x, y)``. One candidate per segment is what lets the
        caller choose between passes of a street run out and back, which a
        single nearest point on the whole line cannot tell apart.
        """
        low = max(low_m, -EXTENSION_M)
        high = min(high_m, self._length + EXTENSION_M)
        first = max(bisect_right(self._start_list, low) - 1, 0)
        last = bisect_left(self._start_list, high)
        segments = self._segments[first:last]
        starts = self._starts[first:last]
        target = shapely.Point(x, y)
        local = shapely.line_locate_point(segments, target)
        along = np.minimum(np.maximum(starts + local, low), high)
        nearest = shapely.line_interpolate_point(segments, along - starts)
        return along, shapely.distance(nearest, target)

    def distance_from(self, lat: float, lon: float) -> float:
        """Shortest distance in metres from a position to any part of the course."""
        x, y = self.project(lat, lon)
        return float(self._core.distance(shapely.Point(x, y)))

    def to_geojson(self) -> str:
        """A FeatureCollection: one lap's line, then one Point per checkpoint.

        Checkpoints carry ``distance_m``, so :meth:`from_geojson` reads the
        result back to the same course.
        """
        line = {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [[lon, lat] for lat, lon in self._lat_lon],
            },
            "properties": {"laps": self.laps, "length_m": round(self._length, 2)},
        }
        marks = [
            _point_feature(c, self.point_at(c.distance_m)) for c in self.checkpoints
        ]
        collection: dict[str, object] = {
            "type": "FeatureCollection",
            "features": [line, *marks],
        }
        if self.name:
            collection["properties"] = {"name": self.name}
        return json.dumps(collection)

    # --- building -------------------------------------------------------------

    def _make_projection(self) -> None:
        lats = [p[0] for p in self._lat_lon]
        lons = [p[1] for p in self._lat_lon]
        lat0 = (min(lats) + max(lats)) / 2.0
        lon0 = (min(lons) + max(lons)) / 2.0
        local = CRS.from_proj4(
            f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs"
        )
        self._forward = Transformer.from_crs("EPSG:4326", local, always_xy=True)
        self._inverse = Transformer.from_crs(local, "EPSG:4326", always_xy=True)

    def _make_line(self) -> None:
        """The full line over every lap, extended at both ends, cut in segments."""
        lons = np.array([p[1] for p in self._lat_lon])
        lats = np.array([p[0] for p in self._lat_lon])
        xs, ys = self._forward.transform(lons, lats)
        lap = np.column_stack([xs, ys])
        full = np.vstack([lap] * self.laps)
        core = shapely.LineString(full)
        if core.length <= 0.0:
            raise CourseError("course has zero length")
        self._core = core
        self._length = float(core.length)
        join = float(np.hypot(*(lap[0] - lap[-1])))
        self._lap_length = (self._length + join * (self.laps > 1)) / self.laps

        # Extend along the course's general heading at each end, not along
        # its last few metres, which route planners often leave as a hook.
        reach = min(_HEADING_M, self._length / 2.0)
        inner = shapely.line_interpolate_point(core, [reach, self._length - reach])
        heads = shapely.get_coordinates(inner)
        before = _extend(full[0], heads[0], EXTENSION_M)
        after = _extend(full[-1], heads[1], EXTENSION_M)
        coords = np.vstack([before, full, after])
        coords = coords[np.r_[True, np.any(np.diff(coords, axis=0) != 0.0, axis=1)]]
        self._line = shapely.LineString(coords)
        pairs = np.stack([coords[:-1], coords[1:]], axis=1)
        self._segments = shapely.linestrings(pairs)
        lengths = shapely.length(self._segments)
        self._starts = np.concatenate([[0.0], np.cumsum(lengths)[:-1]]) - EXTENSION_M
        self._start_list: list[float] = self._starts.tolist()

    def _make_checkpoints(
        self,
        marks: list[tuple[str, float]],
        waypoints: list[tuple[str, float, float]],
    ) -> list[Checkpoint]:
        start_name, finish_name = "Start", "Finish"
        found: list[Checkpoint] = []
        for name, distance in marks:
            if not -1.0 <= distance <= self._length + 1.0:
                raise CourseError(
                    f"checkpoint {name!r} at {distance} m is outside the course "
                    f"(0 to {self._length:.1f} m)"
                )
            if distance <= 1.0:
                start_name = name
            elif distance >= self._length - 1.0:
                finish_name = name
            else:
                found.append(Checkpoint(name, float(distance)))
        found.extend(self._snap(waypoints))
        found.extend(self._lap_marks())
        unique = {(c.name, round(c.distance_m, 1)): c for c in found}
        ordered = sorted(unique.values(), key=lambda c: c.distance_m)
        return [
            Checkpoint(start_name, 0.0),
            *ordered,
            Checkpoint(finish_name, self._length),
        ]

    def _lap_marks(self) -> list[Checkpoint]:
        lap = self.lap_length_m
        return [Checkpoint(f"Lap {k}", lap * k) for k in range(1, self.laps)]

    def _snap(self, waypoints: list[tuple[str, float, float]]) -> list[Checkpoint]:
        """Each waypoint onto each lap, in file order, never behind the previous."""
        snapped: list[Checkpoint] = []
        lap = self.lap_length_m
        for k in range(self.laps):
            floor = lap * k
            for name, lat, lon in waypoints:
                along, gap = self.candidates(
                    *self.project(lat, lon), floor, lap * (k + 1)
                )
                best = int(np.argmin(gap))
                if gap[best] > SNAP_MAX_M:
                    raise CourseError(
                        f"waypoint {name!r} is {gap[best]:.0f} m from the course "
                        f"(at most {SNAP_MAX_M:.0f} m)"
                    )
                floor = float(along[best])
                label = name if self.laps == 1 else f"{name} (lap {k + 1})"
                if 1.0 < floor < self._length - 1.0:
                    snapped.append(Checkpoint(label, floor))
        return snapped


def _distinct(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points without consecutive repeats (zero-length segments)."""
    kept: list[tuple[float, float]] = []
    for point in points:
        if not kept or _apart(kept[-1], point):
            kept.append(point)
    return kept


def _apart(a: tuple[float, float], b: tuple[float, float]) -> bool:
    # About a centimetre in latitude; only exact repeats matter here.
    return abs(a[0] - b[0]) > 1e-7 or abs(a[1] - b[1]) > 1e-7


def _extend(end: _Floats, previous: _Floats, length: float) -> _Floats:
    """The point ``length`` metres beyond ``end`` on the line from ``previous``."""
    direction = end - previous
    norm = float(np.hypot(direction[0], direction[1]))
    if norm < _SAME_POINT_M:
        return end.copy()
    result: _Floats = end + direction / norm * length
    return result


def _point_feature(checkpoint: Checkpoint, position: tuple[float, float]) -> object:
    lat, lon = position
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "name": checkpoint.name,
            "distance_m": round(checkpoint.distance_m, 3),
        },
    }
