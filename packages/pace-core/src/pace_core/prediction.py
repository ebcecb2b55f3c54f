"""When a runner will reach a place on the course, and how sure that is.

The speed used is the mean of two: the runner's average over the course so
far, and their speed smoothed over about ten minutes. The first carries what
the whole race says about them; the second notices that they have slowed
(everyone does late in a race). Neither uses the course's elevation profile:
a hilly remaining section is predicted at the flat pace, which is the main
reason the band below is as wide as it is.

The band is a relative error on the remaining time: 4 %, plus 8 % times the
share of the course still ahead (pace drifts more over a longer stretch),
plus twice the relative disagreement between the two speeds, capped at 50 %.
It shrinks to nothing at the runner's current position, so it narrows as
they approach.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from pace_core.course import Course
from pace_core.matching import MatchSettings, MatchState

__all__ = ["Arrival", "Prediction", "Predictor", "arrivals_at", "predict"]

_BASE_ERROR = 0.04
_AHEAD_ERROR = 0.08
"""Extra relative error per share of the course still ahead: pace drifts."""
_MAX_ERROR = 0.5
_FLOOR_S = 5.0
_MIN_KNOWN_M = 200.0
"""Below this much progress the runner's own pace is too noisy to use alone."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """Predicted passing time (ms) of a place, with an uncertainty band."""

    distance_m: float
    time: int
    earliest: int
    latest: int
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Arrival:
    """Who is expected at a spot on the course, and when."""

    participant_id: str
    prediction: Prediction


class Predictor(Protocol):
    """Anything that predicts a runner's passing time at a distance."""

    def predict_at(self, distance_m: float, now: int) -> Prediction | None: ...


def predict(
    course: Course,
    state: MatchState,
    settings: MatchSettings,
    distance_m: float,
    now: int,
) -> Prediction | None:
    """The predicted passing of ``distance_m``; None if passed or unknowable."""
    start = state.passages[0] if state.passages else None
    if state.progress_time is None or state.progress_m >= distance_m:
        return None
    speed, error = _speed(state, settings, start)
    progress = max(state.progress_m, 0.0)
    remaining_s = (distance_m - progress) / speed
    base = state.progress_time
    time = max(base + round(remaining_s * 1000.0), now)
    ahead = min((distance_m - progress) / course.length_m, 1.0)
    error = min(error + _AHEAD_ERROR * ahead, _MAX_ERROR)
    band_ms = round((remaining_s * error + _FLOOR_S) * 1000.0)
    return Prediction(distance_m, time, max(time - band_ms, now), time + band_ms)


def predict_checkpoints(
    course: Course, state: MatchState, settings: MatchSettings, now: int
) -> list[Prediction]:
    """Predictions for every checkpoint not yet passed, the finish last."""
    predictions = []
    for checkpoint, passed in zip(course.checkpoints, state.passages, strict=True):
        if passed is not None:
            continue
        found = predict(course, state, settings, checkpoint.distance_m, now)
        if found is not None:
            predictions.append(
                Prediction(
                    found.distance_m,
                    found.time,
                    found.earliest,
                    found.latest,
                    checkpoint.name,
                )
            )
    return predictions


def arrivals_at(
    distance_m: float, trackers: Mapping[str, Predictor], now: int
) -> list[Arrival]:
    """Everyone who has yet to reach ``distance_m``, soonest first."""
    found: Iterable[Arrival] = (
        Arrival(pid, prediction)
        for pid, tracker in trackers.items()
        if (prediction := tracker.predict_at(distance_m, now)) is not None
    )
    return sorted(found, key=lambda a: (a.prediction.time, a.participant_id))


def _speed(
    state: MatchState, settings: MatchSettings, start: int | None
) -> tuple[float, float]:
    """Speed (m/s) to predict with, and the relative error of the prediction."""
    typical = settings.typical_speed_mps
    known = state.progress_m
    if start is None or known < _MIN_KNOWN_M or state.progress_time is None:
        return typical, _MAX_ERROR
    elapsed_s = (state.progress_time - start) / 1000.0
    average = known / elapsed_s if elapsed_s > 0.0 else typical
    recent = state.trend_mps if state.trend_mps > 0.0 else average
    speed = max(0.5 * (average + recent), 0.3)
    # Halfway between the two speeds, the truth is at least half their
    # disagreement away, and more if the change goes on: allow all of it twice.
    error = _BASE_ERROR + 2.0 * abs(average - recent) / speed
    return speed, min(error, _MAX_ERROR)
