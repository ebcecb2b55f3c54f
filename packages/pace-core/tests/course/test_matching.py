"""Matching fixes onto a course: progress, passes, flags, crossings."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pace_core.course import Course
from pace_core.course_simulation import Detour, Noise, RunPlan, simulate
from pace_core.course_tracker import CourseTracker
from pace_core.engine import Fix
from pace_core.matching import MatchSettings

from .conftest import T0

# 1 km east, then straight back on the very same street: the hard case.
OUT_AND_BACK = [(59.0, 30.0), (59.0, 30.0175), (59.0, 30.0)]
STRAIGHT = [(59.0, 30.0), (59.0, 30.1)]
QUIET = Noise(sigma_m=3.0, jump_probability=0.0, gap_probability=0.0)


def _run(course: Course, plan: RunPlan, noise: Noise, seed: int) -> CourseTracker:
    tracker = CourseTracker(course)
    run = simulate(course, plan, noise, random.Random(seed))
    for fix in run.fixes:
        tracker.add(fix)
    return tracker


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), speed=st.floats(1.5, 6.0))
def test_out_and_back_on_one_street_is_matched_to_the_right_pass(
    seed: int, speed: float
) -> None:
    """On a street run both ways, progress follows the truth on both legs."""
    course = Course(OUT_AND_BACK)
    run = simulate(course, RunPlan(T0, speed_mps=speed), QUIET, random.Random(seed))
    tracker = CourseTracker(course)
    for fix, truth in zip(run.fixes, run.true_progress, strict=True):
        tracker.add(fix)
        progress = min(max(tracker.state.progress_m, 0.0), course.length_m)
        assert abs(progress - truth) < 25.0
    assert tracker.view(run.fixes[-1].time).finished


def test_progress_never_decreases_under_noise(gatchina: Course) -> None:
    """With jumps, gaps and scatter, reported progress only grows."""
    run = simulate(gatchina, RunPlan(T0), Noise(), random.Random(3))
    tracker = CourseTracker(gatchina)
    previous = 0.0
    for fix in run.fixes:
        tracker.add(fix)
        progress = tracker.view(fix.time).progress_m
        assert progress >= previous
        previous = progress


def test_laps_are_counted_not_confused(hyde_park_laps: Course) -> None:
    """On a three-lap loop, each lap checkpoint is passed once, in order."""
    run = simulate(
        hyde_park_laps, RunPlan(T0, speed_mps=3.5), Noise(), random.Random(5)
    )
    tracker = CourseTracker(hyde_park_laps)
    tracker.add_many(run.fixes)
    passages = tracker.view(run.fixes[-1].time).checkpoints
    times = [p.time for p in passages]
    assert None not in times
    assert times == sorted(times)
    for passage, truth in zip(passages, run.crossings, strict=True):
        assert passage.time is not None
        assert abs(passage.time - truth) < 6_000


def test_a_jump_ahead_along_the_course_is_not_believed(gatchina: Course) -> None:
    """A single fix 400 m further along the course does not move progress there."""
    tracker = CourseTracker(gatchina)
    for second in range(60):
        tracker.add(_fix_at(gatchina, 3.0 * second, T0 + second * 1000))
    before = tracker.state.progress_m
    tracker.add(_fix_at(gatchina, before + 400.0, T0 + 60_000))
    assert tracker.state.progress_m < before + 20.0


def test_off_course_is_flagged_held_and_cleared() -> None:
    """150 m off a straight course for 1 km: flagged, held, cleared on return."""
    course = Course(STRAIGHT)
    plan = RunPlan(T0, speed_mps=3.0, detour=Detour(2000.0, 3000.0, 150.0))
    run = simulate(course, plan, QUIET, random.Random(1))
    tracker = CourseTracker(course)
    flagged = 0
    for fix, truth in zip(run.fixes, run.true_progress, strict=True):
        tracker.add(fix)
        view = tracker.view(fix.time)
        if 2100.0 < truth < 2990.0:
            assert view.off_course
            assert view.progress_m < 2010.0
            flagged += 1
        if truth > 3100.0:
            assert not view.off_course
    kinds = [e.kind for e in tracker.drain_events()]
    assert flagged > 250
    assert kinds.count("off_course") == 1
    assert kinds.count("back_on_course") == 1
    assert kinds[-1] == "finished"


def test_progress_is_held_while_off_a_city_course(gatchina: Course) -> None:
    """While flagged off course, progress does not move; the flag ends cleared."""
    plan = RunPlan(T0, speed_mps=3.0, detour=Detour(3000.0, 5000.0, 150.0))
    run = simulate(gatchina, plan, QUIET, random.Random(1))
    tracker = CourseTracker(gatchina)
    held: set[float] = set()
    for fix in run.fixes:
        tracker.add(fix)
        view = tracker.view(fix.time)
        if view.off_course:
            held.add(round(view.progress_m, 6))
    assert 1 <= len(held) <= 3
    assert "off_course" in [e.kind for e in tracker.drain_events()]
    assert tracker.view(T0).finished
    assert not tracker.view(T0).off_course


def test_a_short_excursion_is_not_off_course(gatchina: Course) -> None:
    """Off the line for less than off_course_s raises no flag."""
    plan = RunPlan(T0, speed_mps=3.0, detour=Detour(3000.0, 3060.0, 100.0))
    tracker = _run(gatchina, plan, QUIET, 2)
    assert "off_course" not in [e.kind for e in tracker.drain_events()]


def test_stalled_is_flagged_and_cleared(gatchina: Course) -> None:
    """Standing still for 4 minutes mid-race flags stalled, moving on clears it."""
    plan = RunPlan(T0, speed_mps=3.0, stop_at_m=2000.0, stop_s=240.0)
    tracker = _run(gatchina, plan, QUIET, 4)
    events = tracker.drain_events()
    kinds = [e.kind for e in events]
    assert kinds.count("stalled") == 1
    assert kinds.count("moving") == 1
    stalled = next(e for e in events if e.kind == "stalled")
    assert stalled.distance_m == pytest.approx(2000.0, abs=30.0)
    assert not tracker.view(0).stalled


def test_a_steady_runner_is_never_stalled(gatchina: Course) -> None:
    """A runner who keeps moving is never flagged, whatever the noise."""
    tracker = _run(gatchina, RunPlan(T0, speed_mps=2.0), Noise(), 9)
    assert "stalled" not in [e.kind for e in tracker.drain_events()]


def test_mass_start_passes_the_start_at_the_gun(gatchina: Course) -> None:
    """With starts_at, the start is passed at the gun, not at the first fix."""
    gun = T0 + 120_000
    tracker = CourseTracker(gatchina, starts_at=gun)
    for second in range(0, 300):
        metres = max(0.0, 3.0 * (second - 120))
        tracker.add(_fix_at(gatchina, metres, T0 + second * 1000))
    view = tracker.view(T0)
    assert view.checkpoints[0].time == gun
    assert view.progress_m == pytest.approx(3.0 * 179, abs=10.0)


def test_fixes_before_the_gun_do_not_advance(gatchina: Course) -> None:
    """A mass-start runner warming up 200 m along the course stays at 0."""
    tracker = CourseTracker(gatchina, starts_at=T0 + 600_000)
    for second in range(100):
        tracker.add(_fix_at(gatchina, 2.0 * second, T0 + second * 1000))
    assert tracker.view(T0).progress_m == 0.0
    assert not tracker.view(T0).started


def test_time_trial_start_is_interpolated_at_the_line(gatchina: Course) -> None:
    """Without a gun, the start is when the runner crossed distance 0."""
    tracker = CourseTracker(gatchina)
    for second in range(40):
        tracker.add(_fix_at(gatchina, 4.0 * second - 50.0, T0 + second * 1000))
    start = tracker.view(T0).checkpoints[0].time
    # Smoothing lags a runner faster than the 3 m/s assumed at first by ~1 m.
    assert start == pytest.approx(T0 + 12_500, abs=500)


def test_finish_is_interpolated_between_straddling_fixes(gatchina: Course) -> None:
    """Fixes every 20 s still give the finish time to within a second."""
    tracker = CourseTracker(gatchina)
    length = gatchina.length_m
    for step in range(0, 200):
        metres = length - 1000.0 + 5.0 * step * 4
        tracker.add(_fix_at(gatchina, metres, T0 + step * 20_000))
    finish = tracker.view(T0).finish_time
    assert finish is not None
    assert finish == pytest.approx(T0 + 1000.0 / 1.0 * 1000, abs=1000)


def test_first_fix_far_along_leaves_earlier_checkpoints_unknown(
    gatchina: Course,
) -> None:
    """A runner first seen at 150 m has a start time but no fabricated splits."""
    tracker = CourseTracker(gatchina)
    for second in range(400):
        tracker.add(_fix_at(gatchina, 150.0 + 3.0 * second, T0 + second * 1000))
    checkpoints = tracker.view(T0).checkpoints
    assert checkpoints[0].time == T0
    assert checkpoints[1].time is not None


def test_settings_must_be_positive() -> None:
    """A zero or negative threshold is a ValueError naming it."""
    with pytest.raises(ValueError, match="off_course_m must be positive"):
        MatchSettings(off_course_m=0.0)


def _fix_at(course: Course, metres: float, time: int) -> Fix:
    lat, lon = course.point_at(metres, clamp=False)
    return Fix(time // 1000, time, lat, lon, accuracy=5.0)


@st.composite
def _wandering_course(draw: st.DrawFn) -> Course:
    """A random polyline of 150 to 400 m legs that may cross and retrace itself."""
    lat, lon = 59.0, 30.0
    points = [(lat, lon)]
    for _ in range(draw(st.integers(3, 8))):
        heading = draw(st.floats(0.0, 2.0 * math.pi))
        leg = draw(st.floats(150.0, 400.0))
        lat += leg * math.cos(heading) / 111_320.0
        lon += leg * math.sin(heading) / (111_320.0 * math.cos(math.radians(lat)))
        points.append((lat, lon))
    return Course(points)


@settings(max_examples=10, deadline=None)
@given(course=_wandering_course(), seed=st.integers(0, 1000))
def test_self_crossing_courses_are_followed(course: Course, seed: int) -> None:
    """On random courses that cross and retrace themselves, progress tracks truth."""
    run = simulate(course, RunPlan(T0, speed_mps=3.0), QUIET, random.Random(seed))
    tracker = CourseTracker(course)
    for fix, truth in zip(run.fixes, run.true_progress, strict=True):
        tracker.add(fix)
        progress = min(max(tracker.state.progress_m, 0.0), course.length_m)
        assert abs(progress - truth) < 30.0
    assert tracker.view(run.fixes[-1].time).finished
