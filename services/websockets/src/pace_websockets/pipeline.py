"""A runner's state between judging and fan-out, for ingest paths without a socket.

``runner.py`` does these steps inside its session; the tracker-app endpoints
(``http_ingest.py``) have no session, so the same steps live here as plain
functions over the :class:`Service` and a :class:`RunnerState`: rebuild a
runner from storage (with its course tracker in a course race), feed a
batch's stored rows to the course tracker, build the live standing, and
queue it for the spectators. ``RunnerSession`` calls these too, so a
change to how a runner is rebuilt or shown is made once, here.
"""

from __future__ import annotations

from pace_core.engine import EngineEvent, Fix, RaceRules, Tracker
from pace_core.messages import Event, Standing, Status

from pace_websockets.courses import decorate
from pace_websockets.live import DeltaEntry, event_of, split_of, standing_of
from pace_websockets.service import RunnerState, Service
from pace_websockets.storage import ParticipantRecord, PointRow, RaceRecord
from pace_websockets.times import now_ms

__all__ = ["feed_course", "live_standing", "publish", "rebuild"]


async def rebuild(
    service: Service, participant: ParticipantRecord, race: RaceRecord, stored: int
) -> RunnerState:
    """The runner's trackers replayed from every stored point, kept in service."""
    rows = await service.db.load_points(participant.id)
    # A course race finishes at the course's finish, not at a GPS distance.
    course = service.courses.rebuild(race, participant.id, participant.name, rows)
    rules = RaceRules(None if course else race.distance_m, race.starts_at)
    fixes = (
        Fix(r.seq, r.time, r.lat, r.lon, r.alt, r.accuracy, r.speed, r.heading)
        for r in rows
    )
    tracker = Tracker.rebuild(rules, fixes, service.limits)
    splits = [split_of(s) for s in tracker.view().splits]
    state = RunnerState(participant, tracker, stored, stored, splits)
    service.runners[participant.id] = state
    return state


def feed_course(service: Service, state: RunnerState, rows: list[PointRow]) -> None:
    """Give a batch's stored rows to the runner's course tracker, if any."""
    course = service.courses.get(state.participant.id)
    if course is not None:
        course.feed(rows)


def live_standing(
    service: Service, state: RunnerState, status: Status | None = None
) -> tuple[Standing, int | None]:
    """The runner's standing and finish time (ms), new splits recorded."""
    view = state.tracker.view()
    if len(view.splits) > len(state.splits):
        state.splits.extend(split_of(s) for s in view.splits[len(state.splits) :])
    p = state.participant
    standing = standing_of(p.id, p.name, view, state.splits, status)
    course = service.courses.get(p.id)
    if course is not None:
        return decorate(standing, course.tracker.view(now_ms()))
    return standing, view.finish_time


def publish(
    service: Service,
    state: RunnerState,
    live: tuple[Standing, int | None],
    events: list[EngineEvent],
    arrived: float,
) -> None:
    """Queue the standing and the engine's and course's events for the feed."""
    p = state.participant
    wire: list[Event] = [event_of(p.id, p.name, e) for e in events]
    course = service.courses.get(p.id)
    if course is not None:
        wire.extend(course.events(now_ms()))
    standing, finish = live
    if standing.status == "disconnected":
        wire.append(Event("disconnected", p.id, now_ms(), p.name))
    service.fanout.publish(p.race_id, DeltaEntry(standing, finish, arrived), wire)
