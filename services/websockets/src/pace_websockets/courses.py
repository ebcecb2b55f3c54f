"""Course races in the service: parsing uploads, one course tracker per runner.

A course race keeps, beside each runner's distance :class:`Tracker`, a
:class:`~pace_core.course_tracker.CourseTracker` fed the same stored fixes:
the counted ones and the ``stale`` ones (older than the last counted fix),
which are exactly the late data the course tracker merges in fix-time order.
Its standing decorates the runner's :class:`Standing` with progress,
checkpoint times, a predicted finish and the off-course and stalled flags,
and its events become spectator events.

The course itself is stored as GeoJSON text in ``RaceRecord.course`` and
parsed once per process (:func:`course_of` caches by race id and text).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import msgspec
from pace_core.course import Course, CourseError
from pace_core.course_tracker import CourseStanding, CourseTracker
from pace_core.engine import Fix
from pace_core.matching import CourseEvent
from pace_core.messages import CheckpointTime, Event, Standing

from pace_websockets.storage import PointRow, RaceRecord
from pace_websockets.times import rfc3339

__all__ = [
    "COURSE_REASONS",
    "CourseBook",
    "CourseRunner",
    "course_of",
    "decorate",
    "fixes_of",
    "parse_course",
]

log = logging.getLogger("pace.course")

COURSE_REASONS = frozenset({None, "stale"})
"""Stored points the course tracker takes: counted, and late (``stale``)."""

_cache: dict[str, tuple[str, Course]] = {}


def parse_course(
    text: str, laps: int | None = None, marks: Iterable[tuple[str, float]] = ()
) -> Course:
    """A course from GPX, TCX or GeoJSON text (told apart by their first tag).

    Raises :class:`CourseError` (a ``ValueError``) naming what is wrong.
    """
    head = text.lstrip()[:2000]
    marks = list(marks)
    if head.startswith(("{", "[")):
        return Course.from_geojson(text, laps=laps, marks=marks)
    if "<TrainingCenterDatabase" in head:
        return Course.from_tcx(text, laps=laps or 1, marks=marks)
    if "<gpx" in head:
        return Course.from_gpx(text, laps=laps or 1, marks=marks)
    raise CourseError("course is neither GPX, TCX nor GeoJSON")


def course_of(race: RaceRecord) -> Course | None:
    """The race's course, parsed once per process; None for a plain race."""
    if race.course is None:
        return None
    cached = _cache.get(race.id)
    if cached is not None and cached[0] == race.course:
        return cached[1]
    course = Course.from_geojson(race.course)
    _cache[race.id] = (race.course, course)
    return course


def fixes_of(rows: Iterable[PointRow]) -> list[Fix]:
    """The fixes a course tracker is fed: counted and late stored points."""
    return [
        Fix(r.seq, r.time, r.lat, r.lon, r.alt, r.accuracy, r.speed, r.heading)
        for r in rows
        if r.reason in COURSE_REASONS
    ]


@dataclass(slots=True)
class CourseRunner:
    """One participant's course tracker and the events not yet published."""

    participant_id: str
    name: str
    tracker: CourseTracker
    corrected: bool = False

    @property
    def finished(self) -> bool:
        """Past the finish checkpoint (no longer "disconnected" when they leave)."""
        return self.tracker.state.passages[-1] is not None

    def feed(self, rows: Sequence[PointRow]) -> None:
        """Add a batch's stored rows; note whether late data changed results."""
        fixes = fixes_of(rows)
        if fixes and self.tracker.add_many(fixes):
            self.corrected = True

    def events(self, now: int) -> list[Event]:
        """Course events since the last call, as spectator events."""
        wire = [self._event(e) for e in self.tracker.drain_events()]
        if self.corrected:
            self.corrected = False
            progress = self.tracker.view(now).progress_m
            wire.append(
                Event(
                    "corrected",
                    self.participant_id,
                    now,
                    self.name,
                    distance_m=round(progress, 1),
                )
            )
        return wire

    def _event(self, event: CourseEvent) -> Event:
        return Event(
            event.kind,
            self.participant_id,
            event.time,
            self.name,
            distance_m=round(event.distance_m, 1),
            checkpoint=event.name,
        )


@dataclass(slots=True)
class CourseBook:
    """Every course runner this instance holds, by participant id."""

    runners: dict[str, CourseRunner] = field(default_factory=dict)

    def rebuild(
        self, race: RaceRecord, participant_id: str, name: str, rows: list[PointRow]
    ) -> CourseRunner | None:
        """A fresh course runner from stored rows (None for a plain race)."""
        course = course_of(race)
        if course is None:
            self.runners.pop(participant_id, None)
            return None
        tracker = CourseTracker(course, starts_at=race.starts_at)
        tracker.add_many(fixes_of(rows))
        tracker.drain_events()
        runner = CourseRunner(participant_id, name, tracker)
        self.runners[participant_id] = runner
        return runner

    def get(self, participant_id: str) -> CourseRunner | None:
        return self.runners.get(participant_id)


def decorate(standing: Standing, view: CourseStanding) -> tuple[Standing, int | None]:
    """The standing with its course fields, and the finish time (ms) to rank by.

    In a course race the finish is the finish checkpoint, so the status and
    the finish time come from the course, not from the distance tracker.
    """
    status = standing.status
    if view.finished and status != "disconnected":
        status = "finished"
    elif status == "finished":
        status = "running"
    predicted = {p.name: p.time for p in view.predictions if p.name is not None}
    checkpoints = [
        CheckpointTime(
            c.name,
            round(c.distance_m, 1),
            None if c.time is None else rfc3339(c.time),
            None if c.name not in predicted else rfc3339(predicted[c.name]),
        )
        for c in view.checkpoints
    ]
    finish = view.finish_time
    pft = view.predicted_finish_time
    elapsed, avg = _course_time(view)
    return (
        msgspec.structs.replace(
            standing,
            status=status,
            elapsed_s=elapsed if elapsed is not None else standing.elapsed_s,
            avg_pace_s_per_km=avg if avg is not None else standing.avg_pace_s_per_km,
            finish_time=None if finish is None else rfc3339(finish),
            progress_m=round(view.progress_m, 1),
            checkpoints=checkpoints,
            predicted_finish_time=None if pft is None else rfc3339(pft),
            off_course=view.off_course,
            stalled=view.stalled,
            provisional=view.provisional,
        ),
        finish,
    )


def _course_time(view: CourseStanding) -> tuple[float | None, float | None]:
    """Seconds from the start line to the finish (or the last matched fix), and
    the average pace over the course's progress: the course, not the GPS path
    (whose length grows with every metre of noise), is what was run."""
    start = view.checkpoints[0].time
    end = view.finish_time if view.finish_time is not None else view.last_time
    if start is None or end is None or end <= start:
        return None, None
    elapsed = round((end - start) / 1000.0, 1)
    if view.progress_m < 100.0:
        return elapsed, None
    return elapsed, round(elapsed / (view.progress_m / 1000.0), 1)


def course_geojson(
    text: str, laps: int | None, marks: Iterable[tuple[str, float]]
) -> tuple[str, float]:
    """The uploaded course as stored (GeoJSON) and its length in metres.

    Raises :class:`CourseError` for a file that is not a usable course.
    """
    course = parse_course(text, laps, marks)
    log.info(
        "course parsed: %.0f m, %d checkpoints",
        course.length_m,
        len(course.checkpoints),
    )
    return course.to_geojson(), course.length_m
