"""Real boats over a course made from another boat's recording of the race.

The Gin Sul regatta's three boats sailed the same course round Hanskalbsand
on the Elbe. One boat's track is the course for the others. Boats tack
across a river several hundred metres wide, so the corridor is 300 m, not a
runner's 50 m; where another boat's tacks cross the course boat's zigzags,
matched progress catches up in bursts after a stretch outside the corridor.
"""

from __future__ import annotations

import functools
import itertools

import pytest
from pace_core.course import Course
from pace_core.course_tracker import CourseTracker
from pace_core.matching import MatchSettings

from .conftest import read, recording_fixes

CORRIDOR = MatchSettings(off_course_m=300.0)


def _name(boat: str) -> str:
    return f"regatta_gin_sul_2024_participant_{boat}.gpx"


Trace = list[tuple[int, float, int | None]]


@functools.cache
def _replay(course_boat: str, boat: str) -> tuple[Course, Trace]:
    """The course, and (fix time, progress, time of last match) after each fix."""
    course = Course.from_gpx(read(_name(course_boat)))
    tracker = CourseTracker(course, CORRIDOR)
    trace = []
    for fix in recording_fixes(_name(boat)):
        tracker.add(fix)
        view = tracker.view(fix.time)
        trace.append((fix.time, view.progress_m, view.last_time))
    return course, trace


PAIRS = [("alex", "richard"), ("alex", "yury"), ("richard", "alex")]


@pytest.mark.parametrize(("course_boat", "boat"), PAIRS)
def test_progress_is_monotonic_and_reaches_the_end(course_boat: str, boat: str) -> None:
    """Progress never goes back and ends within 1 % of the course's length."""
    course, trace = _replay(course_boat, boat)
    progress = [p for _, p, _ in trace]
    assert all(b >= a for a, b in itertools.pairwise(progress))
    assert progress[-1] >= 0.99 * course.length_m


@pytest.mark.parametrize(("course_boat", "boat"), PAIRS)
def test_progress_moves_in_small_steps(course_boat: str, boat: str) -> None:
    """Between matched fixes 4 to 5 s apart, 99 % of advances are under 70 m.

    A boat makes 15 to 25 m in that time; projecting its straight line onto
    another boat's zigzags stretches that, by up to 140 m measured (the max).
    """
    _, trace = _replay(course_boat, boat)
    steps = sorted(
        b[1] - a[1]
        for a, b in itertools.pairwise(trace)
        if a[2] == a[0] and b[2] == b[0] and a[1] > 0.0
    )
    assert len(steps) > 0.9 * len(trace)
    assert steps[int(0.99 * len(steps))] < 70.0
    assert steps[-1] < 200.0


@pytest.mark.parametrize(("course_boat", "boat"), PAIRS)
def test_large_advances_come_only_after_leaving_the_corridor(
    course_boat: str, boat: str
) -> None:
    """An advance over 200 m follows 15 s or more without a match, never a glitch."""
    _, trace = _replay(course_boat, boat)
    for before, after in itertools.pairwise(trace):
        advance = after[1] - before[1]
        if advance > 200.0 and before[1] > 0.0:
            assert before[2] is not None and after[2] is not None
            unmatched_s = (after[2] - before[2]) / 1000.0
            assert unmatched_s >= 15.0
            assert advance <= CORRIDOR.max_speed_mps * unmatched_s + 400.0
