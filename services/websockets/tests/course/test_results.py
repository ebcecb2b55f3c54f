"""Results, tracks, the course and arrivals of the shared course race over HTTP."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
from typing import Any

from .conftest import CourseRace


def _get(scene: CourseRace, path: str, accept: str = "*/*") -> tuple[str, str]:
    url = f"{scene.server.url}/api/races/{scene.race['id']}{path}"
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=30) as r:
        return r.headers["Content-Type"], r.read().decode()


def _json(scene: CourseRace, path: str) -> Any:
    return json.loads(_get(scene, path)[1])


def test_results_json_ranks_and_statuses(course_race: CourseRace) -> None:
    """Results list finishers in finish order, then the DNS, with their statuses."""
    body = _json(course_race, "/results")
    statuses = {r["name"]: r["status"] for r in body["results"]}
    assert statuses == {
        "Ann": "finished",
        "Bob": "finished",
        "Cat": "finished",
        "Dan": "finished",
        "Eve": "DNS",
    }
    live = [s["name"] for s in course_race.final["standings"]]
    assert [r["name"] for r in body["results"]] == live
    assert [r["rank"] for r in body["results"]] == [1, 2, 3, 4, 5]


def test_results_splits_equal_the_live_checkpoints(course_race: CourseRace) -> None:
    """Each result's checkpoint splits are the live standing's checkpoint times."""
    body = _json(course_race, "/results")
    for result in body["results"][:4]:
        live = course_race.standing(result["name"])
        assert [s["time"] for s in result["splits"]] == [
            c["time"] for c in live["checkpoints"]
        ]
        assert result["splits"][0]["elapsed_s"] == 0.0
        assert result["elapsed_s"] == result["splits"][-1]["elapsed_s"]


def test_results_csv_by_query_and_by_accept(course_race: CourseRace) -> None:
    """?format=csv and Accept: text/csv give the same table with a split column each."""
    kind, text = _get(course_race, "/results?format=csv")
    assert kind.startswith("text/csv")
    assert _get(course_race, "/results", accept="text/csv")[1] == text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "rank",
        "name",
        "status",
        "finish_time",
        "elapsed",
        "Start",
        "2.5 km",
        "5 km",
        "7.5 km",
        "Finish",
    ]
    eve = next(r for r in rows if r[1] == "Eve")
    assert eve[2] == "DNS" and eve[3] == "" and eve[9] == ""
    first = rows[1]
    assert first[2] == "finished" and first[4] == first[9] and first[5] == "0:00:00.0"


def test_track_geojson_is_the_counted_points(course_race: CourseRace) -> None:
    """track.geojson is a LineString of the counted points with their times."""
    pid = course_race.people["Ann"]["id"]
    kind, text = _get(course_race, f"/participants/{pid}/track.geojson")
    feature = json.loads(text)
    assert kind.startswith("application/geo+json")
    assert feature["geometry"]["type"] == "LineString"
    coords, times = feature["geometry"]["coordinates"], feature["properties"]["times"]
    assert len(coords) == len(times) > 0.9 * len(course_race.runs["Ann"].fixes)
    assert times == sorted(times)
    first = course_race.runs["Ann"].fixes[0]
    assert coords[0] == [first.lon, first.lat]


def test_course_geojson_has_line_and_checkpoints(course_race: CourseRace) -> None:
    """GET /course returns the line and a Point per checkpoint with its distance."""
    body = _json(course_race, "/course")
    line, *marks = body["features"]
    assert line["geometry"]["type"] == "LineString"
    assert [m["properties"]["name"] for m in marks] == [
        "Start",
        "2.5 km",
        "5 km",
        "7.5 km",
        "Finish",
    ]
    assert abs(marks[-1]["properties"]["distance_m"] - course_race.course.length_m) < 1


def test_arrivals_after_the_race_are_empty(course_race: CourseRace) -> None:
    """Everyone who started has passed 5 km: nobody is still to arrive there."""
    body = _json(course_race, "/arrivals?distance_m=5000")
    assert body["distance_m"] == 5000.0
    assert body["arrivals"] == []


def test_arrivals_distance_is_checked(course_race: CourseRace) -> None:
    """A distance off the course is a 422 problem naming the allowed range."""
    try:
        _get(course_race, "/arrivals?distance_m=99999")
        raise AssertionError("accepted a distance past the finish")
    except urllib.error.HTTPError as exc:
        assert exc.code == 422
        assert "from 0 to" in json.loads(exc.read())["detail"]


def test_arrivals_mid_race_predict_the_runner(course_race: CourseRace) -> None:
    """At 6 km, Ann is expected at 8 km, within her band, not before now.

    The simulated race ran two hours ago, so the prediction is clamped to the
    server time (a passing is never predicted in the past); its accuracy is
    measured in pace-core's prediction tests.
    """
    seen = course_race.seen["Ann"]["arrivals"]
    arrivals = seen["arrivals"]
    assert [a["name"] for a in arrivals] == ["Ann"]
    predicted = _ms(arrivals[0]["time"])
    assert _ms(arrivals[0]["earliest"]) <= predicted <= _ms(arrivals[0]["latest"])
    assert predicted >= _ms(seen["server_time"])


def _ms(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp() * 1000.0


def test_results_km_splits_follow_the_course(course_race: CourseRace) -> None:
    """km_splits pass every whole kilometre of the course near the true times."""
    body = _json(course_race, "/results")
    ann = next(r for r in body["results"] if r["name"] == "Ann")
    kms = ann["km_splits"]
    assert [k["distance_m"] for k in kms[1:-1]] == [k * 1000.0 for k in range(1, 11)]
    for k in (3, 7):
        truth = _true_time(course_race, "Ann", k * 1000.0)
        assert abs(_ms(kms[k]["time"]) - truth) < 6_000


def _true_time(scene: CourseRace, name: str, metres: float) -> float:
    """When the runner truly passed ``metres``, between the straddling fixes."""
    run = scene.runs[name]
    i = next(i for i, p in enumerate(run.true_progress) if p >= metres)
    p0, p1 = run.true_progress[i - 1], run.true_progress[i]
    t0, t1 = run.fixes[i - 1].time, run.fixes[i].time
    return t0 + (t1 - t0) * (metres - p0) / (p1 - p0)
