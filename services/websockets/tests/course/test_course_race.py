"""A course race end to end on the real server: progress, splits, flags, events."""

from __future__ import annotations

from datetime import datetime

from .conftest import CourseRace

SPLIT_TOLERANCE_S = 6.0
"""The finish-time error bound of pace-core's accuracy tests (docs/accuracy.md)."""
PROGRESS_TOLERANCE_M = 25.0


def _ms(text: str) -> float:
    return datetime.fromisoformat(text).timestamp() * 1000.0


def test_race_distance_is_the_course_length(course_race: CourseRace) -> None:
    """A course race without distance_m takes the course's length."""
    assert abs(course_race.race["distance_m"] - course_race.course.length_m) < 0.1


def test_checkpoint_times_match_the_truth(course_race: CourseRace) -> None:
    """Every finisher's checkpoint times are within the accuracy bound of truth."""
    for name in ("Ann", "Bob", "Cat", "Dan"):
        standing = course_race.standing(name)
        truth = course_race.runs[name].crossings
        assert standing["status"] == "finished", standing
        for passage, true_ms in zip(standing["checkpoints"], truth, strict=True):
            error_s = abs(_ms(passage["time"]) - true_ms) / 1000.0
            assert error_s < SPLIT_TOLERANCE_S, (name, passage, error_s)


def test_finish_is_the_finish_checkpoint(course_race: CourseRace) -> None:
    """finish_time equals the finish checkpoint's time and progress is the length."""
    standing = course_race.standing("Ann")
    assert standing["finish_time"] == standing["checkpoints"][-1]["time"]
    assert abs(standing["progress_m"] - course_race.course.length_m) < 1.0


def test_ranks_follow_finish_times(course_race: CourseRace) -> None:
    """Finishers are ranked by their finish checkpoint time, the DNS last."""
    standings = course_race.final["standings"]
    finished = [s for s in standings if s["status"] == "finished"]
    times = [_ms(s["finish_time"]) for s in finished]
    assert times == sorted(times)
    assert standings[-1]["name"] == "Eve"
    assert standings[-1]["status"] == "waiting"


def test_progress_mid_race_is_near_the_truth(course_race: CourseRace) -> None:
    """Halfway through Ann's run, progress_m is the true progress within 25 m."""
    seen = course_race.seen["Ann"]
    ann = course_race.standing("Ann", seen)
    truth = course_race.runs["Ann"].true_progress[seen["cut_index"]]
    assert abs(ann["progress_m"] - truth) < PROGRESS_TOLERANCE_M
    assert ann["status"] == "running"
    assert ann["predicted_finish_time"] is not None
    assert ann["checkpoints"][3]["time"] is None
    assert ann["checkpoints"][3]["predicted"] is not None


def test_off_course_runner_is_flagged_and_held(course_race: CourseRace) -> None:
    """Cat, 150 m off the course, is flagged and her progress held near 3 km."""
    cat = course_race.standing("Cat", course_race.seen["Cat"])
    assert cat["off_course"] is True
    assert cat["progress_m"] < 3100.0
    assert course_race.events("off_course", "Cat")
    assert course_race.events("back_on_course", "Cat")
    assert course_race.standing("Cat")["off_course"] is False


def test_stopped_runner_is_flagged_stalled(course_race: CourseRace) -> None:
    """Dan, standing still for four minutes, is flagged stalled, then moves on."""
    dan = course_race.standing("Dan", course_race.seen["Dan"])
    assert dan["stalled"] is True
    assert course_race.events("stalled", "Dan")
    assert course_race.standing("Dan")["stalled"] is False


def test_late_block_is_merged_and_announced(course_race: CourseRace) -> None:
    """Bob's flushed block changes his 5 km split, and a corrected event says so."""
    before = course_race.standing("Bob", course_race.seen["Bob"])
    after = course_race.standing("Bob")
    assert course_race.events("corrected", "Bob")
    truth = course_race.runs["Bob"].crossings[2]
    old = abs(_ms(before["checkpoints"][2]["time"]) - truth)
    new = abs(_ms(after["checkpoints"][2]["time"]) - truth)
    assert before["checkpoints"][2]["time"] != after["checkpoints"][2]["time"]
    assert new <= old


def test_checkpoint_events_reach_spectators(course_race: CourseRace) -> None:
    """Each finisher's checkpoints arrive on the feed as checkpoint events."""
    for name in ("Ann", "Cat"):
        names = [e["checkpoint"] for e in course_race.events("checkpoint", name)]
        assert names == ["Start", "2.5 km", "5 km", "7.5 km"], names
        assert course_race.events("finished", name)


def test_bad_course_is_a_422_problem(course_race: CourseRace) -> None:
    """A course that is not GPX, TCX or GeoJSON is refused with a clear problem."""
    import json
    import urllib.error
    import urllib.request

    body = json.dumps({"name": "x", "course": "<html>no</html>"}).encode()
    request = urllib.request.Request(
        course_race.server.url + "/api/races",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("accepted a bad course")
    except urllib.error.HTTPError as exc:
        problem = json.loads(exc.read())
        assert exc.code == 422
        assert exc.headers["Content-Type"].startswith("application/problem+json")
        assert problem["code"] == "bad_course"
        assert "neither GPX" in problem["detail"]
