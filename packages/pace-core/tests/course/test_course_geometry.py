"""Course geometry: reading files, length, laps, checkpoints, positions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pace_core.course import EXTENSION_M, Course, CourseError
from pyproj import Geod

from .conftest import read

GATCHINA = "course_gatchina_half_marathon_2024_10k.gpx"
LINE = [(59.0, 30.0), (59.0, 30.01), (59.005, 30.01)]

_geod = Geod(ellps="WGS84")


def _geodesic_length(course_points: list[tuple[float, float]]) -> float:
    lats = [p[0] for p in course_points]
    lons = [p[1] for p in course_points]
    return float(_geod.line_length(lons, lats))


def _gpx(body: str) -> str:
    return (
        '<?xml version="1.0"?><gpx version="1.1" '
        f'xmlns="http://www.topografix.com/GPX/1/1">{body}</gpx>'
    )


def test_gpx_course_length_matches_the_ellipsoid(gatchina: Course) -> None:
    """The projected length of the 10 km course is within 1 m of the geodesic."""
    points = [(float(p[0]), float(p[1])) for p in json_points(gatchina)]
    assert gatchina.length_m == pytest.approx(_geodesic_length(points), abs=1.0)
    assert 10_000 < gatchina.length_m < 10_100


def json_points(course: Course) -> list[list[float]]:
    """One lap's ``(lat, lon)`` from the course's own GeoJSON."""
    document = json.loads(course.to_geojson())
    line = document["features"][0]["geometry"]["coordinates"]
    return [[lat, lon] for lon, lat in line]


def test_tcx_route_reads_every_positioned_trackpoint(thursride: Course) -> None:
    """The 56.8 km TCX route measures what its file says (56,818 m) within 0.2 %."""
    assert thursride.length_m == pytest.approx(56_818.0, rel=0.002)
    assert thursride.name == "ThursRide"


def test_start_and_finish_are_always_checkpoints(gatchina: Course) -> None:
    """A course without marks still has Start at 0 and Finish at its length."""
    plain = Course(LINE)
    assert [c.name for c in plain.checkpoints] == ["Start", "Finish"]
    assert plain.finish.distance_m == plain.length_m
    assert gatchina.start.distance_m == 0.0
    assert [c.name for c in gatchina.checkpoints][1] == "km 1"


def test_laps_repeat_the_line_and_mark_each_lap(hyde_park_laps: Course) -> None:
    """Three laps are three times one lap long, with a checkpoint per lap end."""
    one = Course.from_gpx(read("cmpgpx_hyde_park_loop_recording_1.gpx"))
    assert hyde_park_laps.lap_length_m == pytest.approx(one.length_m, rel=0.01)
    assert hyde_park_laps.length_m == pytest.approx(3 * one.length_m, rel=0.01)
    names = [c.name for c in hyde_park_laps.checkpoints]
    assert names == ["Start", "Lap 1", "Lap 2", "Finish"]


def test_lap_checkpoint_returns_to_the_start_position(hyde_park_laps: Course) -> None:
    """The end of lap 1 is where the course started (a loop)."""
    lap = hyde_park_laps.checkpoints[1].distance_m
    start = hyde_park_laps.project(*hyde_park_laps.point_at(0.0))
    end = hyde_park_laps.project(*hyde_park_laps.point_at(lap))
    assert abs(start[0] - end[0]) + abs(start[1] - end[1]) < 1.0


def test_waypoints_snap_onto_the_course_in_order() -> None:
    """GPX waypoints become checkpoints at their distance along the course."""
    text = _gpx(
        '<wpt lat="59.0001" lon="30.005"><name>Bridge</name></wpt>'
        '<wpt lat="59.0025" lon="30.0101"><name>Church</name></wpt>'
        "<trk><trkseg>"
        + "".join(f'<trkpt lat="{a}" lon="{b}"/>' for a, b in LINE)
        + "</trkseg></trk>"
    )
    course = Course.from_gpx(text)
    names = [c.name for c in course.checkpoints]
    assert names == ["Start", "Bridge", "Church", "Finish"]
    leg = _geodesic_length(LINE[:2])
    assert course.checkpoints[1].distance_m == pytest.approx(leg / 2, abs=2.0)
    assert course.checkpoints[2].distance_m == pytest.approx(leg + 278.0, abs=3.0)


def test_waypoints_on_a_lap_course_appear_once_per_lap() -> None:
    """A waypoint on a three-lap course is a checkpoint on every lap."""
    loop = [*LINE, (59.005, 30.0), LINE[0]]
    course = Course(loop, laps=3, waypoints=[("Gate", 59.0, 30.005)])
    gates = [c for c in course.checkpoints if c.name.startswith("Gate")]
    assert [c.name for c in gates] == ["Gate (lap 1)", "Gate (lap 2)", "Gate (lap 3)"]
    lap = course.lap_length_m
    assert [round(c.distance_m - gates[0].distance_m) for c in gates] == [
        0,
        round(lap),
        round(2 * lap),
    ]


def test_a_waypoint_far_from_the_course_is_refused() -> None:
    """A waypoint 1 km off the course is an error naming it, not a silent snap."""
    with pytest.raises(CourseError, match="'Car park' is 1"):
        Course(LINE, waypoints=[("Car park", 59.01, 29.99)])


def test_a_mark_outside_the_course_is_refused() -> None:
    """A checkpoint distance beyond the finish names the course's range."""
    with pytest.raises(CourseError, match="outside the course"):
        Course(LINE, marks=[("Far", 5_000.0)])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_gpx("<trk><trkseg><trkpt lat='59' lon='30'/></trkseg></trk>"), "2 distinct"),
        ("<gpx><trk>", "not valid gpx"),
        (_gpx(""), "2 distinct"),
    ],
)
def test_bad_gpx_is_a_course_error(text: str, message: str) -> None:
    """Unusable GPX raises CourseError with a reason, never a parser exception."""
    with pytest.raises(CourseError, match=message):
        Course.from_gpx(text)


def test_gpx_points_without_coordinates_are_skipped() -> None:
    """A trackpoint with no lat/lon (real devices write them) is ignored."""
    body = "<trk><trkseg><trkpt><ele>5</ele></trkpt>" + "".join(
        f'<trkpt lat="{a}" lon="{b}"/>' for a, b in LINE
    )
    course = Course.from_gpx(_gpx(body + "</trkseg></trk>"))
    assert course.length_m == pytest.approx(_geodesic_length(LINE), abs=0.5)


def test_gpx_route_points_are_a_course_when_there_is_no_track() -> None:
    """A GPX route (rtept) works as well as a track."""
    body = (
        "<rte>" + "".join(f'<rtept lat="{a}" lon="{b}"/>' for a, b in LINE) + "</rte>"
    )
    assert Course.from_gpx(_gpx(body)).length_m > 1000


def test_geojson_collection_with_points_gives_named_checkpoints() -> None:
    """Point features become checkpoints: by distance_m, or snapped by position."""
    features = [
        {
            "type": "Feature",
            "properties": {"laps": 2},
            "geometry": {
                "type": "LineString",
                "coordinates": [[b, a] for a, b in LINE],
            },
        },
        {
            "type": "Feature",
            "properties": {"name": "Water", "distance_m": 300},
            "geometry": {"type": "Point", "coordinates": [30.0, 59.0]},
        },
        {
            "type": "Feature",
            "properties": {"name": "Turn"},
            "geometry": {"type": "Point", "coordinates": [30.01, 59.0]},
        },
    ]
    text = json.dumps({"type": "FeatureCollection", "features": features})
    course = Course.from_geojson(text)
    assert course.laps == 2
    by_name = {c.name: c.distance_m for c in course.checkpoints}
    assert by_name["Water"] == 300.0
    leg = _geodesic_length(LINE[:2])
    assert by_name["Turn (lap 1)"] == pytest.approx(leg, abs=1.0)


def test_bare_geojson_linestring_is_a_course() -> None:
    """A bare LineString geometry is accepted."""
    text = json.dumps({"type": "LineString", "coordinates": [[b, a] for a, b in LINE]})
    assert Course.from_geojson(text).length_m == pytest.approx(
        _geodesic_length(LINE), abs=0.5
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid json"),
        ('{"type": "Polygon", "coordinates": []}', "unsupported geojson type"),
        ('{"type": "LineString", "coordinates": [[1]]}', "bad geojson position"),
        ('{"type": "LineString", "coordinates": [[0, 95], [1, 1]]}', "out of range"),
        ('{"type": "FeatureCollection", "features": {}}', "expected a json array"),
    ],
)
def test_bad_geojson_is_a_course_error(text: str, message: str) -> None:
    """Unusable GeoJSON raises CourseError naming what is wrong."""
    with pytest.raises(CourseError, match=message):
        Course.from_geojson(text)


def test_non_integer_laps_are_refused() -> None:
    """A laps property that is not an integer is an error, as is laps below 1."""
    line = {"type": "LineString", "coordinates": [[b, a] for a, b in LINE]}
    feature = {"type": "Feature", "properties": {"laps": "two"}, "geometry": line}
    with pytest.raises(CourseError, match="laps must be an integer"):
        Course.from_geojson(json.dumps(feature))
    with pytest.raises(CourseError, match="at least 1"):
        Course(LINE, laps=0)


def test_geojson_round_trip_keeps_length_laps_and_checkpoints(
    hyde_park_laps: Course,
) -> None:
    """Reading back to_geojson gives the same course."""
    again = Course.from_geojson(hyde_park_laps.to_geojson())
    assert again.laps == 3
    assert again.length_m == pytest.approx(hyde_park_laps.length_m, abs=0.01)
    assert [(c.name, round(c.distance_m, 1)) for c in again.checkpoints] == [
        (c.name, round(c.distance_m, 1)) for c in hyde_park_laps.checkpoints
    ]


@settings(max_examples=60, deadline=None)
@given(distance=st.floats(min_value=0.0, max_value=1.0))
def test_a_point_on_the_course_matches_its_own_distance(
    gatchina: Course, distance: float
) -> None:
    """point_at(d) projected back, in a window around d, gives d again."""
    d = distance * gatchina.length_m
    x, y = gatchina.project(*gatchina.point_at(d))
    along, gap = gatchina.candidates(x, y, d - 5.0, d + 5.0)
    best = int(gap.argmin())
    assert gap[best] < 0.01
    assert along[best] == pytest.approx(d, abs=0.05)


def test_point_at_clamps_unless_asked_to_extend(gatchina: Course) -> None:
    """Beyond the finish, point_at stays at the finish unless clamp=False."""
    end = gatchina.project(*gatchina.point_at(gatchina.length_m))
    clamped = gatchina.project(*gatchina.point_at(gatchina.length_m + 100.0))
    free = gatchina.project(*gatchina.point_at(gatchina.length_m + 100.0, clamp=False))
    assert clamped == pytest.approx(end, abs=0.01)
    gone = ((free[0] - end[0]) ** 2 + (free[1] - end[1]) ** 2) ** 0.5
    assert gone == pytest.approx(100.0, abs=0.1)
    assert EXTENSION_M > 100.0


def test_distance_from_the_course(gatchina: Course) -> None:
    """A position 80 m sideways of the line is 80 m from the course."""
    x, y = gatchina.project(*gatchina.point_at(0.0))
    assert gatchina.distance_from(*gatchina.unproject(x, y)) < 0.01
    assert gatchina.distance_from(*gatchina.unproject(x + 80.0, y)) <= 80.0 + 0.01
