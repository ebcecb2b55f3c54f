"""Predicted passing times, their bands, and who arrives next at a spot."""

from __future__ import annotations

import random

from pace_core.course import Course
from pace_core.course_simulation import Noise, RunPlan, SimulatedRun, simulate
from pace_core.course_tracker import CourseTracker
from pace_core.engine import Fix
from pace_core.prediction import arrivals_at
from pace_core.standings import rank

from .conftest import T0

QUIET = Noise(sigma_m=4.0, jump_probability=0.0, gap_probability=0.0)


def _upto(course: Course, run: SimulatedRun, metres: float) -> CourseTracker:
    """A tracker fed with the run's fixes until the truth reaches ``metres``."""
    tracker = CourseTracker(course)
    for fix, truth in zip(run.fixes, run.true_progress, strict=True):
        if truth > metres:
            break
        tracker.add(fix)
    return tracker


def _last_time(tracker: CourseTracker) -> int:
    assert tracker.state.last_time is not None
    return tracker.state.last_time


def test_even_pace_finish_is_predicted_within_its_band(gatchina: Course) -> None:
    """At halfway, an even-paced runner's finish is predicted within 1 %."""
    plan = RunPlan(T0, speed_mps=3.3, variation=0.0, fade=0.0)
    run = simulate(gatchina, plan, QUIET, random.Random(1))
    tracker = _upto(gatchina, run, 5000.0)
    view = tracker.view(_last_time(tracker))
    finish = view.predictions[-1]
    truth = run.crossings[-1]
    assert view.predicted_finish_time == finish.time
    assert abs(finish.time - truth) < 0.01 * (truth - T0)
    assert finish.earliest <= truth <= finish.latest


def test_a_fading_runner_stays_inside_the_band(gatchina: Course) -> None:
    """A runner slowing by 20 % over the race is inside the band at 7 km."""
    plan = RunPlan(T0, speed_mps=3.5, fade=0.2)
    run = simulate(gatchina, plan, QUIET, random.Random(2))
    tracker = _upto(gatchina, run, 7000.0)
    finish = tracker.view(_last_time(tracker)).predictions[-1]
    assert finish.earliest <= run.crossings[-1] <= finish.latest


def test_the_band_narrows_as_the_runner_approaches(gatchina: Course) -> None:
    """The finish band is wider at 3 km than at 9 km."""
    run = simulate(gatchina, RunPlan(T0), QUIET, random.Random(3))
    widths = []
    for metres in (3000.0, 9000.0):
        tracker = _upto(gatchina, run, metres)
        finish = tracker.view(_last_time(tracker)).predictions[-1]
        widths.append(finish.latest - finish.earliest)
    assert widths[1] < widths[0] / 3


def test_only_checkpoints_ahead_are_predicted(gatchina: Course) -> None:
    """At 4.5 km, predictions start at km 5 and end at the finish."""
    run = simulate(gatchina, RunPlan(T0), QUIET, random.Random(4))
    tracker = _upto(gatchina, run, 4500.0)
    names = [p.name for p in tracker.view(_last_time(tracker)).predictions]
    assert names == ["km 5", "km 6", "km 7", "km 8", "km 9", "Finish"]


def test_a_finished_runner_has_the_finish_as_prediction(gatchina: Course) -> None:
    """Once finished, predicted_finish_time is the finish time, nothing ahead."""
    run = simulate(gatchina, RunPlan(T0), QUIET, random.Random(5))
    tracker = CourseTracker(gatchina)
    tracker.add_many(run.fixes)
    view = tracker.view(run.fixes[-1].time)
    assert view.predictions == ()
    assert view.predicted_finish_time == view.finish_time is not None


def test_a_prediction_is_never_in_the_past(gatchina: Course) -> None:
    """A runner who has gone quiet is predicted no earlier than now."""
    run = simulate(gatchina, RunPlan(T0), QUIET, random.Random(6))
    tracker = _upto(gatchina, run, 2000.0)
    later = _last_time(tracker) + 3_600_000
    prediction = tracker.predict_at(2500.0, later)
    assert prediction is not None
    assert prediction.time >= later
    assert prediction.earliest >= later


def test_before_any_fix_there_is_no_prediction(gatchina: Course) -> None:
    """A runner never seen cannot be predicted."""
    assert CourseTracker(gatchina).predict_at(1000.0, T0) is None


def test_a_runner_near_the_start_is_predicted_at_typical_pace(
    gatchina: Course,
) -> None:
    """Just started: typical speed, and the widest band."""
    tracker = CourseTracker(gatchina)
    lat, lon = gatchina.point_at(10.0)
    tracker.add(Fix(1, T0, lat, lon, accuracy=5.0))
    prediction = tracker.predict_at(1010.0, T0)
    assert prediction is not None
    typical = tracker.settings.typical_speed_mps
    assert prediction.time == T0 + round(1000.0 / typical * 1000)
    assert prediction.latest - prediction.time > 100_000


def test_arrivals_at_a_spot_are_soonest_first(gatchina: Course) -> None:
    """Who reaches 6 km next: the fast runner, then the slow; not one already past."""
    trackers = {}
    for name, speed, seed in (("slow", 2.6, 1), ("fast", 3.6, 2), ("gone", 5.0, 3)):
        run = simulate(
            gatchina, RunPlan(T0, speed_mps=speed), QUIET, random.Random(seed)
        )
        cut = T0 + 1_500_000
        trackers[name] = CourseTracker(gatchina)
        trackers[name].add_many(f for f in run.fixes if f.time <= cut)
    arrivals = arrivals_at(6000.0, trackers, T0 + 1_500_000)
    assert [a.participant_id for a in arrivals] == ["fast", "slow"]
    assert arrivals[0].prediction.time < arrivals[1].prediction.time


def test_course_standings_rank_by_progress_then_finish(gatchina: Course) -> None:
    """rank() on course entries puts finishers first, then the furthest along."""
    trackers = {}
    for name, speed, seed in (("slow", 2.6, 1), ("fast", 3.6, 2), ("done", 5.0, 3)):
        run = simulate(
            gatchina, RunPlan(T0, speed_mps=speed), QUIET, random.Random(seed)
        )
        trackers[name] = CourseTracker(gatchina)
        trackers[name].add_many(f for f in run.fixes if f.time <= T0 + 2_200_000)
    views = {name: t.view(T0 + 2_200_000) for name, t in trackers.items()}
    order = rank(view.entry(name) for name, view in views.items())
    assert [e.participant_id for e in order] == ["done", "fast", "slow"]
    assert views["done"].finished and not views["done"].provisional
    assert views["fast"].provisional
