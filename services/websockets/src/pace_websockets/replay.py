"""Replaying a race from stored points, through the same frames as live.

``GET /api/races/{race_id}/replay?speed=N`` is a WebSocket: the server sends
a ``snapshot``, then every tick the ``event`` frames and the ``update`` of
what changed, exactly as the live feed does (the frames are built by the same
:class:`~pace_websockets.hub.RaceView`), and closes with 1000 when the last
stored point has been played. ``speed`` is race seconds per wall second
(default 60); ``server_time`` in the frames is the replay's race clock, so a
page can draw the race as it was at that moment.

Each runner's stored points are fed in seq order, as they arrived live, and
each is released at the latest fix time seen so far in that order. A block
flushed late (higher seqs, older times) is therefore replayed just after the
fixes that overtook it, as it happened: the distance tracker refuses it as
stale again, the course tracker merges it and a ``corrected`` event is sent.
The final standings are those of the live race.

The whole race is loaded in memory for the replay (about 100 bytes a point),
which bounds it to races of a few million points.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Iterator

import msgspec
from aiohttp import WSMsgType, web
from pace_core.course_tracker import CourseTracker
from pace_core.engine import Fix, RaceRules, Tracker
from pace_core.filtering import Limits
from pace_core.messages import (
    Event,
    Snapshot,
    Split,
    Update,
    decode_spectator_message,
    encode,
)

from pace_websockets.access import check_reader
from pace_websockets.courses import CourseRunner, course_of, decorate
from pace_websockets.hub import RaceView
from pace_websockets.live import (
    DeltaEntry,
    RaceDelta,
    event_of,
    split_of,
    standing_of,
    waiting,
)
from pace_websockets.problems import ApiError
from pace_websockets.service import SERVICE
from pace_websockets.storage import ParticipantRecord, PointRow, RaceRecord, Storage

__all__ = ["Replay", "replay_ws"]

log = logging.getLogger("pace.replay")

TICK_S = 0.5
"""Wall seconds between replay ticks."""
MIN_SPEED = 0.1
"""Slowest replay: 1e-300 would open a socket that never finishes."""
MAX_SPEED = 100_000.0


class _Runner:
    """One participant's trackers during a replay."""

    def __init__(
        self,
        participant: ParticipantRecord,
        rules: RaceRules,
        limits: Limits,
        course: CourseRunner | None,
    ) -> None:
        self.participant = participant
        self.tracker = Tracker(rules, limits)
        self.course = course
        self.splits: list[Split] = []

    def play(self, rows: list[PointRow], clock: int) -> tuple[DeltaEntry, list[Event]]:
        """Feed one tick's rows; the new standing and events, as live."""
        for r in rows:
            self.tracker.add(
                Fix(r.seq, r.time, r.lat, r.lon, r.alt, r.accuracy, r.speed, r.heading)
            )
        p = self.participant
        events = [event_of(p.id, p.name, e) for e in self.tracker.drain_events()]
        view = self.tracker.view()
        self.splits.extend(split_of(s) for s in view.splits[len(self.splits) :])
        standing = standing_of(p.id, p.name, view, self.splits)
        finish = view.finish_time
        if self.course is not None:
            self.course.feed(rows)
            events.extend(self.course.events(clock))
            standing, finish = decorate(standing, self.course.tracker.view(clock))
        return DeltaEntry(standing, finish, time.time()), events


class Replay:
    """A race's stored points as a timeline, played into a :class:`RaceView`."""

    def __init__(self, race: RaceRecord, speed: float) -> None:
        self.race, self.speed = race, speed
        self.view = RaceView(race)
        self.runners: dict[str, _Runner] = {}
        self._timeline: list[tuple[int, str, int, PointRow]] = []
        self.clock = 0

    async def load(self, db: Storage, limits: Limits) -> None:
        """Participants and their points from storage, ordered for playing."""
        course = course_of(self.race)
        rules = RaceRules(None if course else self.race.distance_m, self.race.starts_at)
        for p in await db.list_participants(self.race.id):
            follower = None
            if course is not None:
                tracker = CourseTracker(course, starts_at=self.race.starts_at)
                follower = CourseRunner(p.id, p.name, tracker)
            self.runners[p.id] = _Runner(p, rules, limits, follower)
            self.view.entries[p.id] = waiting(p.id, p.name)
            self._timeline.extend(_released(p.id, await db.load_points(p.id)))
        heapq.heapify(self._timeline)
        first = self._timeline[0][0] if self._timeline else 0
        self.clock = first - 1000

    @property
    def done(self) -> bool:
        return not self._timeline

    def snapshot(self) -> bytes:
        """The first frame: everyone waiting, at the replay clock."""
        return _at_clock(self.view.snapshot_frame(), self.clock)

    def tick(self) -> list[bytes]:
        """Advance the clock one tick; this tick's frames, as live."""
        self.clock += round(self.speed * TICK_S * 1000.0)
        due: dict[str, list[PointRow]] = {}
        while self._timeline and self._timeline[0][0] <= self.clock:
            _, pid, _, row = heapq.heappop(self._timeline)
            due.setdefault(pid, []).append(row)
        delta = RaceDelta("replay", [], [])
        for pid, rows in due.items():
            entry, events = self.runners[pid].play(rows, self.clock)
            delta.entries.append(entry)
            delta.events.extend(events)
        self.view.apply(delta)
        frames = [_at_clock(f, self.clock) for f in self.view.frames()]
        for _ in self.view.settle():
            pass
        return frames


def _released(
    pid: str, rows: list[PointRow]
) -> Iterator[tuple[int, str, int, PointRow]]:
    """Each row with its release time: the latest fix time so far in seq order."""
    latest = 0
    for row in rows:
        latest = max(latest, row.time)
        yield latest, pid, row.seq, row


def _at_clock(frame: bytes, clock: int) -> bytes:
    """The frame with ``server_time`` set to the replay clock (events unchanged)."""
    if not frame.startswith(b'{"type":"snapshot"') and not frame.startswith(
        b'{"type":"update"'
    ):
        return frame
    message = decode_spectator_message(frame)
    if isinstance(message, Snapshot | Update):
        message = msgspec.structs.replace(message, server_time=clock)
    return encode(message)


def _speed(request: web.Request) -> float:
    text = request.query.get("speed", "60")
    try:
        speed = float(text)
    except ValueError:
        speed = float("nan")
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ApiError(
            422,
            f"speed must be a number from {MIN_SPEED} to {MAX_SPEED:.0f}, got {text!r}",
        )
    return speed


async def replay_ws(request: web.Request) -> web.WebSocketResponse:
    """Play the race to one WebSocket client (see the module docstring)."""
    service = request.app[SERVICE]
    race = await service.db.get_race(request.match_info["race_id"])
    if race is None:
        raise ApiError(404, f"no race {request.match_info['race_id']!r}")
    check_reader(request, race)
    replay = Replay(race, _speed(request))
    await replay.load(service.db, service.limits)
    ws = web.WebSocketResponse(heartbeat=service.settings.heartbeat_s, compress=False)
    await ws.prepare(request)
    reader = asyncio.create_task(_drain(ws))
    log.info("replay started", extra={"race_id": race.id})
    try:
        await _play(replay, ws)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return ws


async def _play(replay: Replay, ws: web.WebSocketResponse) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(replay.snapshot().decode())
        while not replay.done and not ws.closed:
            await asyncio.sleep(TICK_S)
            for frame in replay.tick():
                await ws.send_str(frame.decode())
        await ws.close(code=1000, message=b"replay_done")


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, so its close is noticed."""
    async for msg in ws:
        if msg.type is WSMsgType.ERROR:
            return
