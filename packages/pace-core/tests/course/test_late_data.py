"""Late fixes: merged in time order, results recomputed, corrections reported."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pace_core.course import Course
from pace_core.course_simulation import Noise, RunPlan, SimulatedRun, simulate
from pace_core.course_tracker import SNAPSHOT_EVERY, CourseTracker
from pace_core.engine import Fix

from .conftest import T0, km_marks

# A 3 km course with a checkpoint every kilometre keeps each example short.
SHORT = [(59.0, 30.0), (59.0, 30.03), (59.008, 30.03)]


@pytest.fixture(scope="module")
def short_course() -> Course:
    return Course(SHORT, marks=km_marks(3))


@pytest.fixture(scope="module")
def short_run(short_course: Course) -> SimulatedRun:
    return simulate(
        short_course, RunPlan(T0, speed_mps=3.5), Noise(), random.Random(11)
    )


@pytest.fixture(scope="module")
def short_in_order(short_course: Course, short_run: SimulatedRun) -> CourseTracker:
    return _in_order(short_course, short_run.fixes)


def _in_order(course: Course, fixes: list[Fix]) -> CourseTracker:
    tracker = CourseTracker(course)
    for fix in fixes:
        tracker.add(fix)
    return tracker


def _same_results(a: CourseTracker, b: CourseTracker) -> None:
    assert a.state.passages == b.state.passages
    assert a.state.progress_m == b.state.progress_m
    assert (a.state.off_course, a.state.stalled) == (
        b.state.off_course,
        b.state.stalled,
    )


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_late_batches_give_the_in_order_result(
    short_course: Course,
    short_run: SimulatedRun,
    short_in_order: CourseTracker,
    data: st.DataObject,
) -> None:
    """Dead zones flushed minutes later end exactly as if sent in order."""
    fixes = short_run.fixes
    starts = sorted(data.draw(st.sets(st.integers(1, len(fixes) - 2), max_size=4)))
    held: list[list[Fix]] = []
    delivery: list[list[Fix]] = []
    taken = set()
    for start in starts:
        length = data.draw(st.integers(1, 200))
        zone = [
            i for i in range(start, min(start + length, len(fixes))) if i not in taken
        ]
        taken.update(zone)
        if zone:
            held.append([fixes[i] for i in zone])
    delivery = [[fix] for i, fix in enumerate(fixes) if i not in taken]
    for zone in held:
        # A dead zone is flushed after it, at any later moment.
        after = [i for i, batch in enumerate(delivery) if batch[0].time > zone[-1].time]
        first = after[0] if after else len(delivery)
        delivery.insert(data.draw(st.integers(first, len(delivery))), zone)

    tracker = CourseTracker(short_course)
    for batch in delivery:
        tracker.add_many(batch)
    _same_results(tracker, short_in_order)


def test_a_shuffled_batch_equals_the_ordered_one(
    short_course: Course, short_run: SimulatedRun
) -> None:
    """One batch in reverse order is sorted by fix time before matching."""
    tracker = CourseTracker(short_course)
    tracker.add_many(reversed(short_run.fixes))
    _same_results(tracker, _in_order(short_course, short_run.fixes))


def test_a_late_gap_corrects_the_checkpoint_time(short_course: Course) -> None:
    """A dead zone over km 2 is interpolated first, then corrected when flushed."""
    run = simulate(
        short_course,
        RunPlan(T0, speed_mps=3.0, variation=0.3),
        Noise(sigma_m=2.0, jump_probability=0.0, gap_probability=0.0),
        random.Random(2),
    )
    crossing = run.crossings[2]
    zone = [f for f in run.fixes if crossing - 200_000 < f.time < crossing + 200_000]
    live = [f for f in run.fixes if f not in zone]
    tracker = CourseTracker(short_course)
    assert not tracker.add_many(live)
    before = tracker.state.passages[2]

    assert tracker.add_many(zone)
    after = tracker.state.passages[2]
    assert before is not None and after is not None
    assert abs(after - crossing) < abs(before - crossing)
    assert abs(after - crossing) < 3_000
    correction = tracker.last_correction
    assert correction is not None
    changed = {c.name: (c.before, c.after) for c in correction.checkpoints}
    assert changed["km 2"] == (before, after)
    assert "km 1" not in changed


def test_late_fixes_that_change_nothing_published_are_no_correction(
    short_course: Course, short_run: SimulatedRun
) -> None:
    """A late fix between checkpoints, already covered, reports no correction."""
    fixes = short_run.fixes
    tracker = CourseTracker(short_course)
    missing = fixes[600]
    tracker.add_many(f for f in fixes if f is not missing)
    assert not tracker.add(missing)
    assert tracker.last_correction is None


def test_replay_starts_from_a_saved_state_near_the_late_fix(
    short_course: Course, short_run: SimulatedRun
) -> None:
    """A late fix near the end replays a few hundred fixes, not the whole race."""
    fixes = short_run.fixes
    tracker = CourseTracker(short_course)
    late = fixes[-20]
    tracker.add_many(f for f in fixes if f is not late)
    tracker.add(late)
    assert 0 < tracker.replayed <= SNAPSHOT_EVERY + 20
    assert tracker.replayed < len(fixes) // 2


def test_a_fix_at_a_time_already_held_is_ignored(
    short_course: Course, short_run: SimulatedRun
) -> None:
    """A second fix with an existing time is a duplicate: nothing is replayed."""
    fixes = short_run.fixes[:300]
    tracker = _in_order(short_course, fixes)
    moved = replace(fixes[100], lat=fixes[100].lat + 0.01)
    assert not tracker.add(moved)
    assert tracker.replayed == 0
    _same_results(tracker, _in_order(short_course, fixes))


def test_recompute_of_unchanged_fixes_changes_nothing(
    short_course: Course, short_run: SimulatedRun
) -> None:
    """A full recompute over the same fixes reports no change."""
    tracker = _in_order(short_course, short_run.fixes)
    assert not tracker.recompute()


def test_events_are_not_repeated_by_a_replay(
    short_course: Course, short_run: SimulatedRun
) -> None:
    """After late data, each checkpoint is still announced exactly once."""
    fixes = short_run.fixes
    tracker = CourseTracker(short_course)
    late = fixes[1000:1100]
    tracker.add_many(f for f in fixes if f not in late)
    tracker.add_many(late)
    names = [e.name for e in tracker.drain_events() if e.kind != "moving"]
    assert sorted(names, key=str) == sorted(
        (c.name for c in short_course.checkpoints), key=str
    )


def test_a_flag_raised_by_late_data_is_announced_once(short_course: Course) -> None:
    """A stop revealed only by late fixes raises one stalled event, at the end."""
    run = simulate(
        short_course,
        RunPlan(T0, speed_mps=3.0, stop_at_m=1500.0, stop_s=300.0),
        Noise(sigma_m=2.0, jump_probability=0.0, gap_probability=0.0),
        random.Random(4),
    )
    tracker = CourseTracker(short_course)
    cut = next(i for i, p in enumerate(run.true_progress) if p >= 1500.0) + 200
    tracker.add_many(run.fixes[:50])
    tracker.add_many(run.fixes[cut : cut + 1])
    tracker.drain_events()
    tracker.add_many(run.fixes[50:cut])
    kinds = [e.kind for e in tracker.drain_events()]
    assert kinds.count("stalled") == 1


def test_a_nudge_under_a_second_is_no_correction(
    short_course: Course, short_run: SimulatedRun
) -> None:
    """A late fix two seconds before km 1 moves it by milliseconds: not reported."""
    fixes = short_run.fixes
    crossing = short_run.crossings[1]
    missing = next(f for f in fixes if f.time >= crossing - 2_000)
    tracker = CourseTracker(short_course)
    tracker.add_many(f for f in fixes if f is not missing)
    before = tracker.state.passages[1]
    assert not tracker.add(missing)
    after = tracker.state.passages[1]
    assert before is not None and after is not None
    assert abs(after - before) <= 1000
