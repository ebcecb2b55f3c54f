"""Accuracy against the truth: simulated runners on the real courses.

Each runner's true distance along the course is known at every fix, and so
are the true times they passed each checkpoint. The phones add 5 m Gaussian
scatter per axis, a 50 to 200 m jump on 1 % of fixes and a 30 to 120 s gap
after 0.4 % of fixes (see ``pace_core.course_simulation``). The slow test
prints the table quoted in ``docs/accuracy.md``::

    .venv/bin/pytest packages/pace-core/tests/course/test_accuracy.py -m slow -s
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from pace_core.course import Course
from pace_core.course_simulation import Noise, RunPlan, simulate
from pace_core.course_tracker import CourseTracker

from .conftest import T0, km_marks, read


@dataclass
class Errors:
    """Absolute errors against the truth: metres for progress, seconds for times."""

    progress_m: list[float] = field(default_factory=list)
    split_s: list[float] = field(default_factory=list)
    finish_s: list[float] = field(default_factory=list)
    predicted_s: dict[float, list[float]] = field(default_factory=dict)
    """Predicted finish error, by share of the course done when predicted."""
    inside: int = 0
    """Predictions whose band held the true finish time."""
    missing: int = 0

    def row(self, name: str) -> str:
        cells = [_stats(v) for v in (self.progress_m, self.split_s, self.finish_s)]
        cells += [_stats(self.predicted_s[share]) for share in SHARES]
        predictions = sum(len(v) for v in self.predicted_s.values())
        cells.append(f"{100.0 * self.inside / predictions:.0f} %")
        return f"| {name} | " + " | ".join(cells) + f" | {self.missing} |"


SHARES = (0.25, 0.5, 0.75)


def _stats(values: list[float]) -> str:
    ordered = sorted(values)
    median = ordered[len(ordered) // 2]
    p95 = ordered[min(int(0.95 * len(ordered)), len(ordered) - 1)]
    return f"{median:.1f} / {p95:.1f} / {ordered[-1]:.1f}"


def measure(course: Course, speed: float, runners: int, seed: int) -> Errors:
    """Run ``runners`` simulated runners over ``course`` and collect the errors."""
    rng = random.Random(seed)
    errors = Errors()
    for _ in range(runners):
        plan = RunPlan(T0, speed_mps=speed * rng.uniform(0.85, 1.15))
        run = simulate(course, plan, Noise(), rng)
        tracker = CourseTracker(course)
        shares = list(SHARES)
        for fix, truth in zip(run.fixes, run.true_progress, strict=True):
            tracker.add(fix)
            progress = min(max(tracker.state.progress_m, 0.0), course.length_m)
            errors.progress_m.append(abs(progress - truth))
            if shares and truth >= shares[0] * course.length_m:
                _predict(errors, tracker, shares.pop(0), fix.time, run.crossings[-1])
        passages = tracker.view(run.fixes[-1].time).checkpoints
        for index, (passage, truth_ms) in enumerate(
            zip(passages, run.crossings, strict=True)
        ):
            if passage.time is None:
                errors.missing += 1
                continue
            error = abs(passage.time - truth_ms) / 1000.0
            if index == len(passages) - 1:
                errors.finish_s.append(error)
            elif index > 0:
                errors.split_s.append(error)
    return errors


def _predict(
    errors: Errors, tracker: CourseTracker, share: float, now: int, truth: int
) -> None:
    predicted = tracker.predict_at(tracker.course.length_m, now)
    if predicted is None:
        errors.missing += 1
        return
    errors.predicted_s.setdefault(share, []).append(abs(predicted.time - truth) / 1e3)
    errors.inside += predicted.earliest <= truth <= predicted.latest


def _courses() -> dict[str, tuple[Course, float]]:
    gatchina = read("course_gatchina_half_marathon_2024_10k.gpx")
    hyde = read("cmpgpx_hyde_park_loop_recording_1.gpx")
    thurs = read("gpsbabel_tcx_course_thursride_56km.tcx")
    return {
        "10 km city, out and back (run 3.2 m/s)": (
            Course.from_gpx(gatchina, marks=km_marks(10)),
            3.2,
        ),
        "10 km city x 2 laps (run 3.0 m/s)": (
            Course.from_gpx(gatchina, laps=2, marks=km_marks(20)),
            3.0,
        ),
        "Hyde Park loop x 3 laps (run 3.5 m/s)": (
            Course.from_gpx(hyde, laps=3, marks=km_marks(18)),
            3.5,
        ),
        "56.8 km route (ride 7 m/s)": (
            Course.from_tcx(thurs, marks=km_marks(56)),
            7.0,
        ),
    }


def _assert_accurate(errors: Errors, coverage: float) -> None:
    progress = sorted(errors.progress_m)
    assert errors.missing == 0
    assert progress[len(progress) // 2] < 5.0
    assert progress[int(0.95 * len(progress))] < 15.0
    assert sorted(errors.split_s)[int(0.95 * len(errors.split_s))] < 5.0
    assert max(errors.finish_s) < 6.0
    predictions = sum(len(v) for v in errors.predicted_s.values())
    assert errors.inside >= coverage * predictions


def test_city_course_accuracy(gatchina: Course) -> None:
    """Three noisy runners on the 10 km course: progress, split and finish errors."""
    # Nine predictions: a band meant to hold most truths may miss a few here.
    _assert_accurate(measure(gatchina, 3.2, runners=3, seed=1), coverage=0.6)


@pytest.mark.slow
def test_accuracy_table() -> None:
    """Twenty runners on each course stay within the stated errors (prints them)."""
    predicted = " | ".join(f"finish predicted at {share:.0%}, s" for share in SHARES)
    print(
        "\n| course | progress m (median / p95 / max) | split s | finish s | "
        f"{predicted} | true finish in band | missing |"
    )
    print("|---" * (6 + len(SHARES)) + "|")
    for name, (course, speed) in _courses().items():
        errors = measure(course, speed, runners=20, seed=7)
        print(errors.row(name))
        _assert_accurate(errors, coverage=0.8)
