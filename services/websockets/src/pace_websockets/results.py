"""Race results from stored points: ranks, statuses, checkpoint splits, tracks.

Results are recomputed from storage, never from the live view: every runner's
distance tracker is rebuilt from their stored points in seq order (as a
reconnecting runner's is), and in a course race their course tracker is fed
the counted and late points, so late data is merged exactly as it was live.

Statuses: ``finished`` (past the finish), ``DNF`` (started, not finished),
``DNS`` (no counted point). While the race is still open, ``DNF`` means "not
finished yet".
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec
from pace_core.course import Course
from pace_core.course_tracker import CourseTracker
from pace_core.engine import Fix, RaceRules, Tracker
from pace_core.filtering import Limits
from pace_core.messages import RaceInfo, Standing
from pace_core.standings import Entry, rank

from pace_websockets.courses import course_of, decorate, fixes_of
from pace_websockets.live import split_of, standing_of
from pace_websockets.storage import ParticipantRecord, PointRow, RaceRecord, Storage
from pace_websockets.times import from_rfc3339, rfc3339

__all__ = [
    "Rebuilt",
    "Result",
    "ResultSplit",
    "Results",
    "rebuild_race",
    "results_csv",
    "results_of",
    "track_geojson",
]

ResultStatus = Literal["finished", "DNF", "DNS"]


class ResultSplit(msgspec.Struct):
    """A checkpoint (course race) or a whole kilometre (plain race) and its time."""

    name: str
    distance_m: float
    time: str | None
    elapsed_s: float | None
    """Seconds since the runner's start, or null if not passed."""


class Result(msgspec.Struct):
    """One participant's result."""

    rank: int
    participant_id: str
    name: str
    status: ResultStatus
    finish_time: str | None
    elapsed_s: float | None
    distance_m: float
    progress_m: float | None
    splits: list[ResultSplit]
    km_splits: list[ResultSplit]
    """Every whole kilometre (along the course in a course race), for pace."""


class Results(msgspec.Struct):
    """``GET /api/races/{race_id}/results``."""

    race: RaceInfo
    results: list[Result]


@dataclass(slots=True)
class Rebuilt:
    """A participant's trackers rebuilt from storage, and their standing."""

    participant: ParticipantRecord
    rows: list[PointRow]
    tracker: Tracker
    course: CourseTracker | None
    standing: Standing
    finish_ms: int | None
    km_splits: list[ResultSplit]


async def rebuild_race(
    db: Storage, race: RaceRecord, limits: Limits, now: int
) -> list[Rebuilt]:
    """Every participant of ``race`` rebuilt from their stored points."""
    course = course_of(race)
    km_course = _km_course(race, course)
    rules = RaceRules(None if course else race.distance_m, race.starts_at)
    rebuilt = []
    for p in await db.list_participants(race.id):
        rows = await db.load_points(p.id)
        fixes = (
            Fix(r.seq, r.time, r.lat, r.lon, r.alt, r.accuracy, r.speed, r.heading)
            for r in rows
        )
        tracker = Tracker.rebuild(rules, fixes, limits)
        view = tracker.view()
        splits = [split_of(s) for s in view.splits]
        standing = standing_of(p.id, p.name, view, splits)
        finish, follower = view.finish_time, None
        kms = _splits(standing)
        if course is not None:
            follower = CourseTracker(course, starts_at=race.starts_at)
            follower.add_many(fixes_of(rows))
            standing, finish = decorate(standing, follower.view(now))
            kms = _course_kms(km_course, race, rows, now)
        rebuilt.append(Rebuilt(p, rows, tracker, follower, standing, finish, kms))
    return rebuilt


def _km_course(race: RaceRecord, course: Course | None) -> Course | None:
    """The race's course with a mark at every whole kilometre (for pace)."""
    if course is None or race.course is None:
        return None
    marks = [
        (f"{k} km", k * 1000.0) for k in range(1, int(course.length_m // 1000) + 1)
    ]
    return Course.from_geojson(race.course, marks=marks)


def _course_kms(
    km_course: Course | None, race: RaceRecord, rows: list[PointRow], now: int
) -> list[ResultSplit]:
    """Passing times of each whole kilometre of the course, start first."""
    if km_course is None:
        return []
    tracker = CourseTracker(km_course, starts_at=race.starts_at)
    tracker.add_many(fixes_of(rows))
    view = tracker.view(now)
    start = view.checkpoints[0].time
    return [
        ResultSplit(
            c.name,
            round(c.distance_m, 1),
            None if c.time is None else rfc3339(c.time),
            None if c.time is None or start is None else (c.time - start) / 1000.0,
        )
        for i, c in enumerate(view.checkpoints)
        if i in (0, len(view.checkpoints) - 1) or _whole_km(c.distance_m)
    ]


def _whole_km(metres: float) -> bool:
    return abs(metres / 1000.0 - round(metres / 1000.0)) < 1e-6


def ranked(rebuilt: Sequence[Rebuilt]) -> list[Rebuilt]:
    """In race order: finishers by time, then by progress (as live)."""
    by_id = {r.participant.id: r for r in rebuilt}
    order = rank(
        Entry(
            r.participant.id,
            r.standing.distance_m
            if r.standing.progress_m is None
            else r.standing.progress_m,
            r.finish_ms,
            r.standing.position.time if r.standing.position else None,
        )
        for r in rebuilt
    )
    return [by_id[e.participant_id] for e in order]


def results_of(info: RaceInfo, rebuilt: Sequence[Rebuilt]) -> Results:
    """The results document: DNS last, everyone else in race order."""
    order = ranked(rebuilt)
    order.sort(key=lambda r: _status(r.standing) == "DNS")
    rows = [_result(i, r.standing, r.km_splits) for i, r in enumerate(order, 1)]
    return Results(info, rows)


def _status(standing: Standing) -> ResultStatus:
    if standing.status == "finished":
        return "finished"
    return "DNS" if standing.position is None else "DNF"


def _result(place: int, s: Standing, km_splits: list[ResultSplit]) -> Result:
    status = _status(s)
    splits = _splits(s)
    start = splits[0].time if s.checkpoints else None
    elapsed = s.elapsed_s if s.status == "finished" else None
    if start is not None and s.finish_time is not None:
        elapsed = (from_rfc3339(s.finish_time) - from_rfc3339(start)) / 1000.0
    return Result(
        place,
        s.participant_id,
        s.name,
        status,
        s.finish_time,
        elapsed,
        round(s.distance_m, 1),
        s.progress_m,
        splits,
        km_splits,
    )


def _splits(s: Standing) -> list[ResultSplit]:
    if s.checkpoints is None:
        return [
            ResultSplit(f"{k.km} km", k.km * 1000.0, k.time, k.elapsed_s)
            for k in s.splits
        ]
    start = s.checkpoints[0].time
    base = None if start is None else from_rfc3339(start)
    return [
        ResultSplit(
            c.name,
            c.distance_m,
            c.time,
            None
            if c.time is None or base is None
            else (from_rfc3339(c.time) - base) / 1000.0,
        )
        for c in s.checkpoints
    ]


def results_csv(results: Results) -> str:
    """One row per participant; one column per checkpoint (elapsed h:mm:ss)."""
    names = _split_names(results.results)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header = ["rank", "name", "status", "finish_time", "elapsed"]
    writer.writerow([*header, *(_cell(n) for n in names)])
    for r in results.results:
        by_name = {s.name: s.elapsed_s for s in r.splits}
        writer.writerow(
            [
                r.rank,
                _cell(r.name),
                r.status,
                r.finish_time or "",
                _clock(r.elapsed_s),
                *(_clock(by_name.get(n)) for n in names),
            ]
        )
    return out.getvalue()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """``text`` that a spreadsheet shows as text, never runs as a formula.

    A name starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    gets a leading single quote (OWASP's advice against CSV injection).
    """
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _split_names(results: Sequence[Result]) -> list[str]:
    names: dict[str, float] = {}
    for r in results:
        for s in r.splits:
            names.setdefault(s.name, s.distance_m)
    return sorted(names, key=lambda n: names[n])


def _clock(seconds: float | None) -> str:
    """``h:mm:ss.s``, or empty for a time not reached."""
    if seconds is None:
        return ""
    minutes, secs = divmod(seconds, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}"


def track_geojson(participant: ParticipantRecord, rows: Sequence[PointRow]) -> str:
    """The counted points as a GeoJSON Feature (LineString), times in ms."""
    counted = [r for r in rows if r.reason is None]
    line = {"type": "LineString", "coordinates": [[r.lon, r.lat] for r in counted]}
    feature = {
        "type": "Feature",
        "geometry": line if len(counted) > 1 else None,
        "properties": {
            "participant_id": participant.id,
            "name": participant.name,
            "times": [r.time for r in counted],
        },
    }
    return json.dumps(feature)
