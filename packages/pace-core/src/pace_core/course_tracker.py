"""One runner on a course: fixes in time order, late ones merged, results kept.

Phones buffer fixes in a dead zone and flush them minutes later, after newer
fixes have already been counted. The course tracker keeps every fix it was
given, sorted by fix time, and when one arrives out of order it replays the
matcher from the most recent saved state that precedes it: states are saved
at every checkpoint crossing and every ``SNAPSHOT_EVERY`` fixes, so a late
batch costs a replay of the fixes since the last checkpoint before it, not of
the whole race. The result equals matching the same fixes in order.

The fixes are held for the whole race (measured: about 140 bytes a fix with
its share of the saved states, so a 5 h race at 1 Hz is 2.5 MB a runner); a
service with many thousands of runners would want to drop the fixes before
an old saved state.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from pace_core.course import Course
from pace_core.matching import (
    CourseEvent,
    CourseEventKind,
    CourseMatcher,
    MatchSettings,
    MatchState,
    Sample,
)
from pace_core.prediction import Prediction, predict, predict_checkpoints
from pace_core.standings import Entry

__all__ = [
    "SNAPSHOT_EVERY",
    "CheckpointChange",
    "CheckpointPassage",
    "Correction",
    "CourseStanding",
    "CourseTracker",
    "FixLike",
]

SNAPSHOT_EVERY = 64
_CORRECTION_M = 1.0
_CORRECTION_MS = 1000


class FixLike(Protocol):
    """What the tracker reads of a fix (``pace_core.engine.Fix`` has it)."""

    @property
    def time(self) -> int: ...
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def accuracy(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class CheckpointPassage:
    """A checkpoint and when the runner passed it (ms), or None if not yet."""

    name: str
    distance_m: float
    time: int | None


@dataclass(frozen=True, slots=True)
class CourseStanding:
    """A runner's place on the course, as the service shows it."""

    progress_m: float
    checkpoints: tuple[CheckpointPassage, ...]
    predictions: tuple[Prediction, ...]
    predicted_finish_time: int | None
    off_course: bool
    stalled: bool
    started: bool
    finished: bool
    finish_time: int | None
    provisional: bool
    """True between checkpoints: rank by GPS progress, confirmed at the next."""
    last_time: int | None
    """Time of the last matched fix (ms), the moment ``progress_m`` refers to."""

    def entry(self, participant_id: str) -> Entry:
        """This standing for :func:`pace_core.standings.rank`: by progress."""
        return Entry(participant_id, self.progress_m, self.finish_time, self.last_time)


@dataclass(frozen=True, slots=True)
class CheckpointChange:
    """A checkpoint time (ms) that late data changed; None is "not passed"."""

    name: str
    before: int | None
    after: int | None


@dataclass(frozen=True, slots=True)
class Correction:
    """What the last late batch changed in results already published."""

    checkpoints: tuple[CheckpointChange, ...]
    progress_before_m: float
    progress_after_m: float


_Results = tuple[tuple[int | None, ...], float, bool, bool]


class CourseTracker:
    """Matches one runner's fixes onto a course, accepting them in any order."""

    def __init__(
        self,
        course: Course,
        settings: MatchSettings | None = None,
        starts_at: int | None = None,
    ) -> None:
        self.course = course
        self._matcher = CourseMatcher(course, settings, starts_at)
        self._samples: list[Sample] = []
        self._times: list[int] = []
        self._snapshots: list[tuple[int, MatchState]] = [(0, self.state.copy())]
        self._events: list[CourseEvent] = []
        self._reported: set[tuple[str, str | None]] = set()
        self._flags = (False, False)
        self.replayed = 0
        """Fixes matched again because of late data (for tests and metrics)."""
        self.last_correction: Correction | None = None
        """What the last :meth:`add_many` corrected (None if nothing)."""

    @property
    def state(self) -> MatchState:
        return self._matcher.state

    @property
    def settings(self) -> MatchSettings:
        return self._matcher.settings

    def add(self, fix: FixLike) -> bool:
        """Add one fix; True if it corrected a result already given (late data)."""
        return self.add_many((fix,))

    def add_many(self, fixes: Iterable[FixLike]) -> bool:
        """Add fixes in any order; True if results already given have changed.

        A fix with the same time as one already held is a duplicate and ignored.
        """
        before = self._results()
        last_time = self._times[-1] if self._times else None
        earliest_late: int | None = None
        for sample in sorted(self._samples_of(fixes), key=lambda s: s.time):
            index = bisect_left(self._times, sample.time)
            if index < len(self._times) and self._times[index] == sample.time:
                continue
            self._samples.insert(index, sample)
            self._times.insert(index, sample.time)
            if earliest_late is None and index < len(self._times) - 1:
                earliest_late = index
            elif earliest_late is None:
                self._step(index, live=True)
        self.last_correction = None
        if earliest_late is None:
            return False
        self._replay(earliest_late)
        self.last_correction = self._correction(before, last_time)
        return self.last_correction is not None

    def recompute(self) -> bool:
        """Match every fix again from the start; True if any result changed."""
        before = self._results()
        self._replay(0)
        return self._results() != before

    def drain_events(self) -> list[CourseEvent]:
        """Checkpoint, finish and flag events since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def predict_at(self, distance_m: float, now: int) -> Prediction | None:
        """When this runner should pass ``distance_m`` (None if passed)."""
        return predict(self.course, self.state, self.settings, distance_m, now)

    def view(self, now: int) -> CourseStanding:
        """The runner's standing; ``now`` (ms) only bounds the predictions."""
        state, course = self.state, self.course
        passages = tuple(
            CheckpointPassage(c.name, c.distance_m, t)
            for c, t in zip(course.checkpoints, state.passages, strict=True)
        )
        finished = passages[-1].time is not None
        predictions = tuple(predict_checkpoints(course, state, self.settings, now))
        at_finish = [p.time for p in predictions if p.distance_m >= course.length_m]
        return CourseStanding(
            progress_m=min(max(state.progress_m, 0.0), course.length_m),
            checkpoints=passages,
            predictions=predictions,
            predicted_finish_time=passages[-1].time if finished else _first(at_finish),
            off_course=state.off_course,
            stalled=state.stalled,
            started=passages[0].time is not None,
            finished=finished,
            finish_time=passages[-1].time,
            provisional=not finished,
            last_time=state.progress_time,
        )

    # --- matching and replay ------------------------------------------------

    def _samples_of(self, fixes: Iterable[FixLike]) -> list[Sample]:
        """The fixes in plane coordinates, projected in one call."""
        given = list(fixes)
        if not given:
            return []
        xs, ys = self.course.project_many(
            [f.lat for f in given], [f.lon for f in given]
        )
        return [
            Sample(f.time, x, y, f.accuracy)
            for f, x, y in zip(given, xs, ys, strict=True)
        ]

    def _step(self, index: int, *, live: bool) -> None:
        """Match the sample at ``index`` (all before it are matched)."""
        reached = self.state.reached
        self._matcher.step(self._samples[index])
        crossed = self.state.reached > reached
        if crossed or (index + 1) % SNAPSHOT_EVERY == 0:
            self._snapshots.append((index + 1, self.state.copy()))
        self._publish(self._matcher.drain_events(), live=live)

    def _replay(self, index: int) -> None:
        """Match again from the last saved state at or before ``index``."""
        keep = bisect_right(self._snapshots, index, key=lambda s: s[0])
        del self._snapshots[keep:]
        count, state = self._snapshots[-1]
        self._matcher.state = state.copy()
        for position in range(count, len(self._samples)):
            self._step(position, live=False)
        self.replayed += len(self._samples) - count
        self._publish_flags(self._samples[-1].time if self._samples else 0)

    def _publish(self, events: list[CourseEvent], *, live: bool) -> None:
        """Pass on each crossing once, and flag changes as they happen live.

        A replay re-derives crossings already announced (their corrected times
        reach spectators through the ``corrected`` result), and its flag
        changes are history: only the flags it ends with are announced.
        """
        for event in events:
            if event.kind in ("checkpoint", "finished"):
                key = (event.kind, event.name)
                if key not in self._reported:
                    self._reported.add(key)
                    self._events.append(event)
            elif live:
                self._events.append(event)
        if live:
            self._flags = (self.state.off_course, self.state.stalled)

    def _publish_flags(self, time: int) -> None:
        state = self.state
        progress = min(max(state.progress_m, 0.0), self.course.length_m)
        off_course, stalled = self._flags
        if state.off_course != off_course:
            kind: CourseEventKind = (
                "off_course" if state.off_course else "back_on_course"
            )
            self._events.append(CourseEvent(kind, time, progress))
        if state.stalled != stalled:
            self._events.append(
                CourseEvent("stalled" if state.stalled else "moving", time, progress)
            )
        self._flags = (state.off_course, state.stalled)

    def _results(self) -> _Results:
        state = self.state
        return (
            tuple(state.passages),
            state.progress_m,
            state.off_course,
            state.stalled,
        )

    def _correction(self, before: _Results, last_time: int | None) -> Correction | None:
        """What a replay changed that a spectator has already been told, if any.

        A checkpoint time already given that moved by more than a second (a
        late fix near a crossing nudges it by milliseconds through the
        smoothing, which is not worth telling anyone), or a checkpoint newly
        passed at a time before the last fix held (it should have been known
        earlier), or progress that went back by more than a metre.
        """
        old_passages, old_progress, *_ = before
        known = last_time if last_time is not None else -1
        changes = tuple(
            CheckpointChange(checkpoint.name, old, new)
            for checkpoint, old, new in zip(
                self.course.checkpoints, old_passages, self.state.passages, strict=True
            )
            if (old is not None and (new is None or abs(new - old) > _CORRECTION_MS))
            or (old is None and new is not None and new <= known)
        )
        progress = self.state.progress_m
        if not changes and progress >= old_progress - _CORRECTION_M:
            return None
        return Correction(
            changes, _clamp(old_progress, self.course), _clamp(progress, self.course)
        )


def _clamp(progress: float, course: Course) -> float:
    return min(max(progress, 0.0), course.length_m)


def _first(values: list[int]) -> int | None:
    return values[0] if values else None
