"""The HTTP API: races, participants, standings, GPX, readiness.

Every route here is listed in :data:`pace_websockets.openapi.ROUTES`; a test
keeps the two in step. Errors are problem details (problems.py).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
from aiohttp import web

from pace_websockets.access import PRIVATE, check_reader
from pace_websockets.courses import course_geojson
from pace_websockets.gpx import track_gpx
from pace_websockets.hub import race_info
from pace_websockets.live import DeltaEntry, waiting
from pace_websockets.problems import ApiError
from pace_websockets.runner import token_hash
from pace_websockets.schemas import (
    CreateParticipant,
    CreateRace,
    ParticipantCreated,
    ParticipantInfo,
    RaceCreated,
    RaceDetail,
)
from pace_websockets.service import SERVICE, Service
from pace_websockets.storage import ParticipantRecord, RaceRecord, StorageError
from pace_websockets.times import epoch_ms, now_ms

__all__ = ["add_api_routes", "new_id"]

log = logging.getLogger("pace.http")
T = TypeVar("T")
_encoder = msgspec.json.Encoder()


def new_id() -> str:
    """A short random URL-safe id (72 bits)."""
    return secrets.token_urlsafe(9)


def _json(body: object, status: int = 200) -> web.Response:
    data = _encoder.encode(body)
    return web.Response(body=data, status=status, content_type="application/json")


async def _body(request: web.Request, kind: type[T]) -> T:
    raw = await request.read()
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise ApiError(422, str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"body is not JSON: {exc}") from exc
    except RecursionError:
        raise ApiError(400, "body is JSON nested too deep") from None


async def _race(service: Service, request: web.Request) -> RaceRecord:
    race = await service.db.get_race(request.match_info["race_id"])
    if race is None:
        raise ApiError(404, f"no race {request.match_info['race_id']!r}")
    return race


def _authorize(request: web.Request, race: RaceRecord) -> None:
    """The organiser's Bearer token, compared in constant time."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "organizer token required", headers={"WWW-Authenticate": "Bearer"}
        )
    if not hmac.compare_digest(token_hash(token.strip()), race.organizer_token_hash):
        raise ApiError(403, "not the organizer token of this race")


async def create_race(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    body = await _body(request, CreateRace)
    course, distance = _course(body)
    token = secrets.token_urlsafe(32)
    starts = _starts(body)
    private = body.visibility == PRIVATE
    reader = secrets.token_urlsafe(32) if private else None
    race = RaceRecord(
        new_id(),
        body.name,
        distance,
        starts,
        now_ms(),
        token_hash(token),
        "open",
        course=course,
        visibility=body.visibility,
        spectator_token_hash=None if reader is None else token_hash(reader),
    )
    await service.db.create_race(race)
    log.info("race created", extra={"race_id": race.id})
    info = msgspec.structs.asdict(race_info(race, 0))
    base = service.settings.public_url or str(request.url.origin())
    link = None if reader is None else f"{base}/races/{race.id}#key={reader}"
    created = RaceCreated(
        **info, organizer_token=token, spectator_token=reader, spectator_url=link
    )
    return _json(created, 201)


STARTS_AT_RANGE = (
    epoch_ms(datetime(2000, 1, 1, tzinfo=UTC)),
    epoch_ms(datetime(2101, 1, 1, tzinfo=UTC)),
)
"""A race's ``starts_at`` must fall in the years 2000-2100 (UTC): else a typo."""


def _starts(body: CreateRace) -> int | None:
    """The start in ms, refused (422) outside :data:`STARTS_AT_RANGE`."""
    if body.starts_at is None:
        return None
    starts = epoch_ms(body.starts_at)
    first, end = STARTS_AT_RANGE
    if not first <= starts < end:
        raise ApiError(
            422, f"starts_at must be in the years 2000-2100, got {body.starts_at}"
        )
    return starts


def _course(body: CreateRace) -> tuple[str | None, float | None]:
    """The course as stored and the race distance (the course's unless given)."""
    if body.course is None:
        if body.laps is not None or body.checkpoints is not None:
            raise ApiError(422, "laps and checkpoints need a course", "bad_course")
        return None, body.distance_m
    marks = [(c.name, c.distance_m) for c in body.checkpoints or ()]
    try:
        geojson, length = course_geojson(body.course, body.laps, marks)
    except ValueError as exc:
        raise ApiError(422, f"bad course: {exc}", "bad_course") from exc
    return geojson, body.distance_m or round(length, 1)


async def list_races(request: web.Request) -> web.Response:
    """Public races, newest first, without standings (one count query per race)."""
    db = request.app[SERVICE].db
    races = [r for r in await db.list_races() if r.visibility != PRIVATE]
    infos = [race_info(r, len(await db.list_participants(r.id))) for r in races]
    return _json(infos)


async def get_race(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    race = await _race(service, request)
    check_reader(request, race)
    info, standings = await service.fanout.standings(race)
    return _json(RaceDetail(**msgspec.structs.asdict(info), standings=standings))


async def end_race(request: web.Request) -> web.Response:
    """Stop the race: from now on its points are refused with ``race_ended``."""
    service = request.app[SERVICE]
    race = await _race(service, request)
    _authorize(request, race)
    if race.status != "ended":
        await service.db.end_race(race.id, now_ms())
        view = service.fanout.views.get(race.id)
        if view is not None:
            view.race = view.race._replace(status="ended")
        service.fanout.publish(race.id, ended=True)
        log.info("race ended", extra={"race_id": race.id})
    race = await _race(service, request)
    count = len(await service.db.list_participants(race.id))
    return _json(race_info(race, count))


async def add_participant(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    race = await _race(service, request)
    _authorize(request, race)
    body = await _body(request, CreateParticipant)
    token = secrets.token_urlsafe(32)
    record = ParticipantRecord(
        new_id(), race.id, body.name, token_hash(token), now_ms()
    )
    await service.db.add_participant(record)
    service.fanout.publish(
        race.id, DeltaEntry(waiting(record.id, record.name), None, time.time())
    )
    base = service.settings.public_url or str(request.url.origin())
    log.info(
        "participant added", extra={"race_id": race.id, "participant_id": record.id}
    )
    created = ParticipantCreated(
        record.id, race.id, record.name, token, f"{base}/run#token={token}"
    )
    return _json(created, 201)


async def list_participants(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    race = await _race(service, request)
    check_reader(request, race)
    people = await service.db.list_participants(race.id)
    return _json([ParticipantInfo(p.id, p.race_id, p.name, p.revoked) for p in people])


async def revoke_participant(request: web.Request) -> web.Response:
    """Revoke a participant's token; a connected runner is closed (``bad_token``)."""
    service = request.app[SERVICE]
    race = await _race(service, request)
    _authorize(request, race)
    participant = await _participant(service, request, race)
    await service.db.revoke_participant(participant.id)
    session = service.sessions.get(participant.id)
    if session is not None:
        await session.revoke()
    return web.Response(status=204)


async def _participant(
    service: Service, request: web.Request, race: RaceRecord
) -> ParticipantRecord:
    pid = request.match_info["participant_id"]
    participant = await service.db.get_participant(pid)
    if participant is None or participant.race_id != race.id:
        raise ApiError(404, f"no participant {pid!r} in race {race.id!r}")
    return participant


async def get_track(request: web.Request) -> web.Response:
    """Counted points as GPX; ``?all=1`` adds the stored points that did not count."""
    service = request.app[SERVICE]
    race = await _race(service, request)
    check_reader(request, race)
    participant = await _participant(service, request, race)
    rows = await service.db.load_points(participant.id)
    every = request.query.get("all", "") in {"1", "true", "yes"}
    text = track_gpx(race, participant, rows, include_uncounted=every)
    return web.Response(
        text=text,
        content_type="application/gpx+xml",
        headers={"Content-Disposition": f'attachment; filename="{participant.id}.gpx"'},
    )


async def readyz(request: web.Request) -> web.Response:
    """Ready while storage answers; a broker outage only degrades fan-out.

    An instance whose broker is down still stores and acknowledges every point,
    so it stays in the load balancer (``degraded``); when every instance shares
    the same Redis, answering 503 would route runners to nobody.
    """
    service = request.app[SERVICE]
    if service.shutting_down:
        raise ApiError(503, "shutting down", "shutting_down")
    try:
        await service.db.ping()
    except StorageError as exc:
        raise ApiError(503, f"storage: {exc}", "storage_unavailable") from exc
    broker = "ok"
    try:
        if service.broker is not None:
            await service.broker.ping()
    except Exception as exc:
        broker = f"unavailable: {exc}"
    status = "ready" if broker == "ok" else "degraded"
    return web.json_response({"status": status, "storage": "ok", "broker": broker})


def add_api_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/races", create_race)
    r.add_get("/api/races", list_races)
    r.add_get("/api/races/{race_id}", get_race)
    r.add_post("/api/races/{race_id}/end", end_race)
    r.add_post("/api/races/{race_id}/participants", add_participant)
    r.add_get("/api/races/{race_id}/participants", list_participants)
    r.add_delete(
        "/api/races/{race_id}/participants/{participant_id}", revoke_participant
    )
    r.add_get("/api/races/{race_id}/participants/{participant_id}/track.gpx", get_track)
    r.add_get("/readyz", readyz)
