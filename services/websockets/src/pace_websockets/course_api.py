"""HTTP routes of course races and results: course, arrivals, results, tracks.

Every route is in :data:`pace_websockets.openapi.ROUTES` too. Reading routes
follow the race's visibility (:func:`~pace_websockets.access.check_reader`).
"""

from __future__ import annotations

from collections import OrderedDict

import msgspec
from aiohttp import web
from pace_core.course_tracker import CourseTracker
from pace_core.prediction import arrivals_at

from pace_websockets.access import check_reader
from pace_websockets.courses import course_of, fixes_of
from pace_websockets.hub import race_info
from pace_websockets.problems import ApiError
from pace_websockets.replay import replay_ws
from pace_websockets.results import (
    Results,
    rebuild_race,
    results_csv,
    results_of,
    track_geojson,
)
from pace_websockets.schemas import Arrival, Arrivals
from pace_websockets.service import SERVICE, Service
from pace_websockets.storage import ParticipantRecord, RaceRecord
from pace_websockets.times import now_ms, rfc3339

__all__ = ["add_course_routes"]

_encoder = msgspec.json.Encoder()


async def _race(service: Service, request: web.Request) -> RaceRecord:
    race = await service.db.get_race(request.match_info["race_id"])
    if race is None:
        raise ApiError(404, f"no race {request.match_info['race_id']!r}")
    check_reader(request, race)
    return race


async def get_course(request: web.Request) -> web.Response:
    """The course as GeoJSON: one lap's line, then a Point per checkpoint."""
    race = await _race(request.app[SERVICE], request)
    if race.course is None:
        raise ApiError(404, f"race {race.id!r} has no course")
    return web.Response(text=race.course, content_type="application/geo+json")


async def get_arrivals(request: web.Request) -> web.Response:
    """Who reaches ``distance_m`` next and when, soonest first."""
    service = request.app[SERVICE]
    race = await _race(service, request)
    course = course_of(race)
    if course is None:
        raise ApiError(404, f"race {race.id!r} has no course")
    distance = _distance(request, course.length_m)
    people = {p.id: p for p in await service.db.list_participants(race.id)}
    trackers = {pid: await _tracker(service, race, p) for pid, p in people.items()}
    now = now_ms()
    found = arrivals_at(distance, trackers, now)
    body = Arrivals(
        distance,
        rfc3339(now),
        [
            Arrival(
                a.participant_id,
                people[a.participant_id].name,
                rfc3339(a.prediction.time),
                rfc3339(a.prediction.earliest),
                rfc3339(a.prediction.latest),
            )
            for a in found
        ],
    )
    return web.Response(body=_encoder.encode(body), content_type="application/json")


def _distance(request: web.Request, length: float) -> float:
    text = request.query.get("distance_m")
    try:
        distance = float(text) if text is not None else float("nan")
    except ValueError:
        distance = float("nan")
    if not 0.0 <= distance <= length:
        raise ApiError(
            422, f"distance_m must be a number from 0 to {length:.1f}, got {text!r}"
        )
    return distance


async def _tracker(
    service: Service, race: RaceRecord, participant: ParticipantRecord
) -> CourseTracker:
    """The live course tracker if this instance holds it, else one from storage."""
    live = service.courses.get(participant.id)
    if live is not None:
        return live.tracker
    course = course_of(race)
    assert course is not None
    tracker = CourseTracker(course, starts_at=race.starts_at)
    tracker.add_many(fixes_of(await service.db.load_points(participant.id)))
    return tracker


async def get_results(request: web.Request) -> web.Response:
    """Results as JSON, or CSV with ``?format=csv`` or ``Accept: text/csv``."""
    service = request.app[SERVICE]
    race = await _race(service, request)
    results = await _results(service, race)
    fmt = request.query.get("format")
    if fmt == "csv" or (
        fmt is None and "text/csv" in request.headers.get("Accept", "")
    ):
        return web.Response(
            text=results_csv(results),
            content_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{race.id}-results.csv"'
            },
        )
    if fmt not in (None, "json"):
        raise ApiError(422, f"format must be json or csv, got {fmt!r}")
    return web.Response(body=_encoder.encode(results), content_type="application/json")


_cache: OrderedDict[str, tuple[object, Results]] = OrderedDict()
_CACHED_RACES = 32


async def _results(service: Service, race: RaceRecord) -> Results:
    """Results recomputed only when a point was stored since (or the race ended).

    Rebuilding costs about 0.4 ms a stored point (two course trackers a runner),
    so repeated downloads of a finished race are served from memory.
    """
    people = await service.db.list_participants(race.id)
    key = (
        race.status,
        tuple([(p.id, await service.db.last_seq(p.id)) for p in people]),
    )
    cached = _cache.get(race.id)
    if cached is not None and cached[0] == key:
        _cache.move_to_end(race.id)
        return cached[1]
    rebuilt = await rebuild_race(service.db, race, service.limits, now_ms())
    results = results_of(race_info(race, len(rebuilt)), rebuilt)
    _cache[race.id] = (key, results)
    while len(_cache) > _CACHED_RACES:
        _cache.popitem(last=False)
    return results


async def get_track_geojson(request: web.Request) -> web.Response:
    """A participant's counted points as a GeoJSON LineString Feature."""
    service = request.app[SERVICE]
    race = await _race(service, request)
    pid = request.match_info["participant_id"]
    participant = await service.db.get_participant(pid)
    if participant is None or participant.race_id != race.id:
        raise ApiError(404, f"no participant {pid!r} in race {race.id!r}")
    rows = await service.db.load_points(participant.id)
    return web.Response(
        text=track_geojson(participant, rows), content_type="application/geo+json"
    )


def add_course_routes(app: web.Application) -> None:
    r = app.router
    race = "/api/races/{race_id}"
    r.add_get(race + "/course", get_course)
    r.add_get(race + "/arrivals", get_arrivals)
    r.add_get(race + "/results", get_results)
    r.add_get(race + "/replay", replay_ws)
    r.add_get(race + "/participants/{participant_id}/track.geojson", get_track_geojson)
