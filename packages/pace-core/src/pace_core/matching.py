"""Matching one runner's fixes onto a course: progress, crossings and flags.

The nearest point of the whole course is the wrong answer wherever a course
uses a street twice (out and back, laps, a figure of eight): both passes are
equally near. So each fix is matched only inside a window of the course that
the runner can have reached since the last matched fix::

    low  = progress - back_tolerance_m
    high = progress + max_speed_mps * dt + slack_m + accuracy

and inside the window each segment offers its nearest point; the chosen one
minimises a score that adds the squared distance from the fix (in units of its
accuracy) and the squared distance along the course from where the runner's
recent speed puts them (in units that widen with the time since the last
match). A fix beyond the window's far end is a glitch, not a sprint: progress
is held until the window has grown to meet it. Between fixes a few seconds
apart the matched distance is blended halfway with where the runner's speed
predicted them, which halves the scatter and removes the forward bias that
keeping the largest raw match would have. Progress never goes back; a fix
behind it by less than the back tolerance is noise and reports the held value.

The state is one small :class:`MatchState`, copied by the course tracker so it
can replay late fixes from a recent state rather than from the start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from pace_core.course import EXTENSION_M, Course

__all__ = [
    "CourseEvent",
    "CourseEventKind",
    "CourseMatcher",
    "MatchSettings",
    "MatchState",
    "Sample",
]

CourseEventKind = Literal[
    "checkpoint", "finished", "off_course", "back_on_course", "stalled", "moving"
]

_INITIAL_WINDOW_M = 300.0
"""How far past the start a runner's first fix may be matched."""
_BEFORE_GUN_M = 0.001
"""Before a mass start, progress stays just short of the start line."""
_SPEED_TAU_S = 60.0
_SMOOTH_GAIN = 0.5
_SMOOTH_MAX_S = 5.0
_PACE_DOUBT = 0.25
"""Relative doubt in the runner's speed when predicting where a fix should be."""
_MIN_SIGMA_M = 10.0
"""Fix errors are correlated and reported accuracies optimistic: never trust
a fix's distance from the line to better than this."""
_TREND_TAU_S = 600.0


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """Thresholds of course matching, one object per race."""

    off_course_m: float = 50.0
    """Further than this from the course, a fix is not matched."""
    off_course_s: float = 30.0
    """Unmatched for this long, a runner is flagged off course."""
    stall_s: float = 120.0
    """A started runner whose progress has not grown for this long is stalled."""
    stall_move_m: float = 15.0
    """Progress must grow by more than this to count as moving (GPS noise)."""
    max_speed_mps: float = 12.0
    """The fastest plausible advance along the course (as ``Limits``)."""
    typical_speed_mps: float = 3.0
    """Speed assumed before the runner's own is known."""
    back_tolerance_m: float = 20.0
    """How far behind its progress a fix is still taken as noise, not a glitch."""
    slack_m: float = 30.0
    """Added to the window's far end for noise in the fix and in the progress."""
    default_accuracy_m: float = 10.0
    """Accuracy assumed for a fix that does not report one."""

    def __post_init__(self) -> None:
        for name in MatchSettings.__slots__:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"{name} must be positive and finite, got {value!r}")


@dataclass(frozen=True, slots=True)
class Sample:
    """One fix as the matcher needs it: time (ms), plane position, accuracy."""

    time: int
    x: float
    y: float
    accuracy: float | None = None


@dataclass(frozen=True, slots=True)
class CourseEvent:
    """Something that happened on the course at ``time`` (ms since the epoch)."""

    kind: CourseEventKind
    time: int
    distance_m: float
    name: str | None = None


@dataclass(slots=True)
class MatchState:
    """Everything the matcher knows about one runner; cheap to copy."""

    progress_m: float = -EXTENSION_M
    progress_time: int | None = None
    estimate_m: float | None = None
    """Smoothed distance along the course at ``progress_time``."""
    """Time of the last matched fix: the window grows from here."""
    first_time: int | None = None
    last_time: int | None = None
    speed_mps: float = 0.0
    trend_mps: float = 0.0
    """Speed smoothed over ten minutes, for predictions."""
    off_since: int | None = None
    off_course: bool = False
    stall_anchor: tuple[float, int] | None = None
    stalled: bool = False
    passages: list[int | None] = field(default_factory=list)
    reached: int = 0
    """How many checkpoints progress has reached (passed or skipped unseen)."""

    def copy(self) -> MatchState:
        return replace(self, passages=list(self.passages))


class CourseMatcher:
    """Matches one runner's fixes, in time order, onto a course.

    ``starts_at`` (ms) is a mass start: the start is passed at the gun and no
    fix before it advances progress. Without it, each runner's start is the
    interpolated moment they crossed the start line (a time trial).
    """

    def __init__(
        self,
        course: Course,
        settings: MatchSettings | None = None,
        starts_at: int | None = None,
        state: MatchState | None = None,
    ) -> None:
        self.course = course
        self.settings = settings or MatchSettings()
        self.starts_at = starts_at
        typical = self.settings.typical_speed_mps
        self.state = state or MatchState(speed_mps=typical, trend_mps=typical)
        if not self.state.passages:
            self.state.passages = [None] * len(course.checkpoints)
        self._events: list[CourseEvent] = []

    @property
    def finished(self) -> bool:
        return self.state.reached == len(self.course.checkpoints)

    @property
    def started(self) -> bool:
        return self.state.passages[0] is not None

    def drain_events(self) -> list[CourseEvent]:
        """The events since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def step(self, sample: Sample) -> float | None:
        """Match the next fix (later than every previous one).

        Returns the distance along the course it matched, or None when it was
        not matched (off course, a glitch ahead, or after the finish).
        """
        state = self.state
        if state.first_time is None:
            state.first_time = sample.time
        state.last_time = sample.time
        if self.finished:
            return None
        along, gap = self._locate(sample)
        self._judge_course(sample.time, gap)
        if along is not None:
            self._advance(sample.time, along)
        self._judge_stall(sample.time)
        return along

    # --- matching -------------------------------------------------------------

    def _locate(self, sample: Sample) -> tuple[float | None, float]:
        """The chosen distance along (None if not matched) and the nearest gap."""
        state, settings = self.state, self.settings
        accuracy = sample.accuracy or settings.default_accuracy_m
        dt = self._seconds_since(state.progress_time, sample.time)
        low, high = self._window(dt, accuracy)
        along, gap = self.course.candidates(sample.x, sample.y, low, high)

        # Before the first match there is no progress to expect anything from.
        sigma = max(accuracy, _MIN_SIGMA_M)
        score = (gap / sigma) ** 2
        if state.progress_time is not None:
            expected = state.progress_m + state.speed_mps * dt
            spread = settings.slack_m + _PACE_DOUBT * state.speed_mps * dt
            score = score + ((along - expected) / spread) ** 2
        best = int(score.argmin())
        nearest = float(gap.min())

        # A fix that only reaches the window at one of its ends is somewhere
        # else: ahead is a glitch; behind is the other pass of a hairpin or an
        # earlier match gone wrong. Neither may refresh the window's anchor.
        chosen = float(along[best])
        at_end = chosen >= high and high < self.course.length_m + EXTENSION_M
        at_start = chosen <= low and low > -EXTENSION_M
        if gap[best] > settings.off_course_m or at_end or at_start:
            return None, nearest
        return chosen, nearest

    def _window(self, dt: float, accuracy: float) -> tuple[float, float]:
        state, settings = self.state, self.settings
        if state.progress_time is None:
            return -EXTENSION_M, _INITIAL_WINDOW_M + settings.max_speed_mps * dt
        reach = settings.max_speed_mps * dt + settings.slack_m + accuracy
        return state.progress_m - settings.back_tolerance_m, state.progress_m + reach

    def _seconds_since(self, before: int | None, now: int) -> float:
        anchor = before if before is not None else self.state.first_time
        return max((now - (anchor if anchor is not None else now)) / 1000.0, 0.0)

    # --- progress and crossings -------------------------------------------------

    def _advance(self, time: int, along: float) -> None:
        state = self.state
        estimate = self._smooth(time, along)
        if self.starts_at is not None and time < self.starts_at:
            estimate = min(estimate, -_BEFORE_GUN_M)
        previous, previous_time = state.progress_m, state.progress_time
        progress = max(previous, estimate)
        if previous_time is not None:
            self._learn_speed(previous_time, time, progress - previous)
        self._cross(previous_time, previous, time, progress)
        state.progress_m, state.progress_time = progress, time

    def _smooth(self, time: int, along: float) -> float:
        """Blend the matched distance with where the runner's speed put them.

        Taking the largest raw match would ratchet progress forward on every
        fix that noise pushed ahead (about +2 m on average at 5 m of noise,
        half a second early at every checkpoint). Between close fixes the
        estimate moves halfway from the prediction to the match instead; after
        a gap the match is taken as it is.
        """
        state = self.state
        last = state.progress_time
        dt = (time - last) / 1000.0 if last is not None else _SMOOTH_MAX_S + 1.0
        if dt > _SMOOTH_MAX_S or state.estimate_m is None:
            state.estimate_m = along
        else:
            predicted = state.estimate_m + state.speed_mps * dt
            state.estimate_m = predicted + _SMOOTH_GAIN * (along - predicted)
        return state.estimate_m

    def _learn_speed(self, before: int, now: int, advance: float) -> None:
        """Exponentially weighted speeds over about a minute and ten minutes."""
        dt = (now - before) / 1000.0
        if dt <= 0.0:
            return
        speed = min(advance / dt, self.settings.max_speed_mps)
        state = self.state
        fast = 1.0 - math.exp(-dt / _SPEED_TAU_S)
        slow = 1.0 - math.exp(-dt / _TREND_TAU_S)
        state.speed_mps += fast * (speed - state.speed_mps)
        state.trend_mps += slow * (speed - state.trend_mps)

    def _cross(self, t0: int | None, p0: float, t1: int, p1: float) -> None:
        """Record every checkpoint between two matched fixes, interpolated."""
        state, checkpoints = self.state, self.course.checkpoints
        while state.reached < len(checkpoints):
            index, checkpoint = state.reached, checkpoints[state.reached]
            if checkpoint.distance_m > p1:
                break
            state.reached += 1
            when = self._crossing_time(index, t0, p0, t1, p1)
            state.passages[index] = when
            if index == 0:
                state.stall_anchor = (max(p1, 0.0), t1)
            if when is not None:
                self._announce(index, when)

    def _announce(self, index: int, when: int) -> None:
        checkpoint = self.course.checkpoints[index]
        last = index == len(self.course.checkpoints) - 1
        kind: CourseEventKind = "finished" if last else "checkpoint"
        self._events.append(
            CourseEvent(kind, when, checkpoint.distance_m, checkpoint.name)
        )
        if last:
            # The flags are about a runner still out on the course.
            self.state.off_course = self.state.stalled = False

    def _crossing_time(
        self, index: int, t0: int | None, p0: float, t1: int, p1: float
    ) -> int | None:
        if index == 0 and self.starts_at is not None:
            return self.starts_at
        if t0 is None:
            # First fix already past it: only the start is known (roughly).
            return t1 if index == 0 else None
        distance = self.course.checkpoints[index].distance_m
        fraction = (distance - p0) / (p1 - p0) if p1 > p0 else 1.0
        return t0 + round(min(max(fraction, 0.0), 1.0) * (t1 - t0))

    # --- flags ------------------------------------------------------------------

    def _judge_course(self, time: int, gap: float) -> None:
        state, settings = self.state, self.settings
        if gap <= settings.off_course_m:
            state.off_since = None
            if state.off_course:
                state.off_course = False
                self._flag("back_on_course", time)
            return
        if state.off_since is None:
            state.off_since = time
        late = (time - state.off_since) / 1000.0 >= settings.off_course_s
        if late and not state.off_course:
            state.off_course = True
            self._flag("off_course", time)

    def _judge_stall(self, time: int) -> None:
        state, settings = self.state, self.settings
        if state.stall_anchor is None or self.finished or state.off_course:
            return
        anchor_m, anchor_time = state.stall_anchor
        if state.progress_m > anchor_m + settings.stall_move_m:
            state.stall_anchor = (state.progress_m, time)
            if state.stalled:
                state.stalled = False
                self._flag("moving", time)
        elif (time - anchor_time) / 1000.0 >= settings.stall_s and not state.stalled:
            state.stalled = True
            self._flag("stalled", time)

    def _flag(self, kind: CourseEventKind, time: int) -> None:
        progress = min(max(self.state.progress_m, 0.0), self.course.length_m)
        self._events.append(CourseEvent(kind, time, progress))
