"""``/ingest/osmand`` and ``/ingest/owntracks``: fixes from tracker apps over HTTP.

Each request goes through the runner socket's pipeline: the same
``judge`` (``check_point`` against the server clock, then the participant's
tracker), the same seq dedupe, the same group commit and the same fan-out.
The 200 is sent only after the commit returned: a 200 means stored.

What a tracker app does with the status decides the answers. Traccar Client
and OwnTracks keep a fix and resend it until they get a 2xx, oldest first,
so a fix refused for good (too old, out of range, race ended) is answered
200 with the refusal in the body (OsmAnd) or the ``Pace-Refused`` header
(OwnTracks, whose body must stay a JSON array): a 4xx there would block
the app's queue forever. Only what resending can fix gets a non-2xx:
401/403 for a missing or unknown token, 400 for a request that is not the
protocol at all, 429 and 503 (storage, shutdown) with ``Retry-After``.

A participant's requests are handled one at a time (a lock per
participant), so a flush of buffered fixes is judged in arrival order.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
import weakref
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qsl

import msgspec
from aiohttp import web
from pace_core.messages import Point, Standing, encode

from pace_websockets.ingest import Judged, judge
from pace_websockets.limits import LIMITER, RateLimited
from pace_websockets.pipeline import feed_course, live_standing, publish, rebuild
from pace_websockets.problems import ApiError
from pace_websockets.runner import token_hash
from pace_websockets.service import SERVICE, RunnerState, Service
from pace_websockets.storage import (
    ParticipantRecord,
    RaceRecord,
    StorageError,
    StorageFull,
)
from pace_websockets.times import now_ms, rfc3339
from pace_websockets.trackers import BadTrackerData, osmand_json, osmand_query
from pace_websockets.trackers import owntracks as read_owntracks

__all__ = ["IngestResult", "add_ingest_routes"]

log = logging.getLogger("pace.ingest")
T = TypeVar("T")

RETRY_AFTER_S = 30
"""What a tracker is told to wait after a 503: a few of its own intervals."""


class Refusal(msgspec.Struct):
    time: str
    reason: str


class IngestResult(msgspec.Struct):
    """The body of a 200 from ``/ingest/osmand``: what became of each fix."""

    stored: int
    duplicates: int
    refused: list[Refusal]


_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


async def osmand(request: web.Request) -> web.Response:
    """Traccar Client: a query string, a form body, or its JSON body.

    The body is told apart by its first byte rather than its Content-Type,
    which senders of this protocol do not all set.
    """
    params = dict(request.query)
    raw = await request.read() if request.can_read_body else b""
    if raw.lstrip()[:1] == b"{":
        body = _decode(raw)
        device = body.get("device_id") if isinstance(body, dict) else None
        who = await _authenticate(request, _text(device) or params.get("id"))
        _, fixes = _read(lambda: osmand_json(body))
    else:
        params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        who = await _authenticate(request, params.get("id") or params.get("deviceid"))
        _, fixes = _read(lambda: osmand_query(params, now_ms()))
    result = await _ingest(request, who, fixes)
    return web.Response(
        body=msgspec.json.encode(result), content_type="application/json"
    )


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None


async def owntracks(request: web.Request) -> web.Response:
    """OwnTracks HTTP mode: JSON in, a JSON array out (``[]``: no commands)."""
    # The token first, even for a message with nothing to store: a wrong
    # password then shows in the app at once.
    who = await _authenticate(request, _owntracks_token(request))
    body = await _json_body(request)
    fixes = _read(lambda: read_owntracks(body))
    headers: dict[str, str] = {}
    if fixes:
        result = await _ingest(request, who, fixes)
        if result.refused:
            reasons = sorted({r.reason for r in result.refused})
            headers["Pace-Refused"] = ",".join(reasons)
    return web.Response(body=b"[]", content_type="application/json", headers=headers)


async def _json_body(request: web.Request) -> object:
    return _decode(await request.read())


def _decode(raw: bytes) -> object:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"body is not JSON: {exc}", "bad_json") from exc
    except RecursionError:
        raise ApiError(400, "body is JSON nested too deep", "bad_json") from None


def _read(parse: Callable[[], T]) -> T:
    try:
        return parse()
    except BadTrackerData as exc:
        raise ApiError(400, str(exc), "bad_point") from exc


def _owntracks_token(request: web.Request) -> str | None:
    """The Basic auth password (OwnTracks' user/password), a Bearer or ?token=."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "malformed Basic credentials", "unauthorized") from None
        return decoded.partition(":")[2] or None
    return request.query.get("token")


# --- the pipeline ---------------------------------------------------------------


_Who = tuple[ParticipantRecord, RaceRecord]


async def _ingest(request: web.Request, who: _Who, fixes: list[Point]) -> IngestResult:
    service = request.app[SERVICE]
    if service.shutting_down:
        raise _unavailable("shutting down, resend shortly", "shutting_down")
    _meter(request, len(fixes))
    if len(fixes) > service.settings.max_batch_points:
        raise ApiError(
            413,
            f"{len(fixes)} fixes, limit {service.settings.max_batch_points}",
            "batch_too_large",
        )
    participant, race = who
    lock = _locks.setdefault(participant.id, asyncio.Lock())
    async with lock:
        try:
            return await _process(service, participant, race, fixes)
        except StorageError as exc:
            code = "storage_full" if isinstance(exc, StorageFull) else None
            raise _unavailable(
                f"not stored, resend: {exc}", code or "storage_unavailable"
            ) from exc


async def _authenticate(request: web.Request, token: str | None) -> _Who:
    """The token's participant and race, before anything of the body is judged."""
    service = request.app[SERVICE]
    if not token:
        raise ApiError(
            401,
            "participant token required",
            "unauthorized",
            headers={"WWW-Authenticate": 'Basic realm="pace"'},
        )
    participant = await service.db.participant_by_token_hash(token_hash(token))
    if participant is None or participant.revoked:
        raise ApiError(403, "unknown or revoked token", "bad_token")
    race = await service.db.get_race(participant.race_id)
    if race is None:
        raise ApiError(403, "the token's race is gone", "bad_token")
    return participant, race


def _meter(request: web.Request, points: int) -> None:
    """Charge the per-address message and point buckets the sockets use."""
    limiter = request.app[LIMITER]
    address = request.remote or "unknown"
    try:
        limiter.messages.take(address)
        limiter.points.take(address, points)
    except RateLimited as exc:
        wait = str(max(1, round(exc.retry_after_s)))
        raise ApiError(
            429, str(exc), "rate_limited", headers={"Retry-After": wait}
        ) from None


def _unavailable(detail: str, code: str) -> ApiError:
    return ApiError(503, detail, code, headers={"Retry-After": str(RETRY_AFTER_S)})


async def _process(
    service: Service,
    participant: ParticipantRecord,
    race: RaceRecord,
    fixes: list[Point],
) -> IngestResult:
    arrived = time.time()
    state = await _state(service, participant, race)
    before, now, ended = len(fixes), now_ms(), race.status == "ended"
    late = await _late(service, state, fixes)
    # Late fixes first, as the tracker would have met them in fix-time order.
    judged, _ = judge(
        late, 0, state.tracker, participant.id, now, service.limits, ended
    )
    fresh, state.seen = judge(
        fixes, state.seen, state.tracker, participant.id, now, service.limits, ended
    )
    _merge(judged, fresh)
    _count(service, before, judged)
    events = state.tracker.drain_events()
    feed_course(service, state, judged.rows)
    live = live_standing(service, state) if judged.rows else None
    await _commit(service, state, judged, live)
    if live is not None:
        _back(service, state)
        publish(service, state, live, events, arrived)
    refused = [Refusal(rfc3339(r.seq), r.reason) for r in judged.rejected]
    duplicates = before - len(judged.rows) - len(refused)
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "tracker request of %d: %d stored, %d duplicate, %d refused",
            before,
            len(judged.rows),
            duplicates,
            len(refused),
            extra={"race_id": race.id, "participant_id": participant.id},
        )
    return IngestResult(len(judged.rows), duplicates, refused)


async def _late(
    service: Service, state: RunnerState, fixes: list[Point]
) -> list[Point]:
    """Fixes older than the newest one seen that storage does not hold.

    A seq is a fix time, so a fix recorded before the newest one received
    (a queue sent after a live fix) has a lower seq than ``seen`` and would
    pass for a resend. Storage tells the two apart; reading it costs a load
    of the runner's points, paid only when such a fix arrives.
    """
    older = [p for p in fixes if p.seq < state.seen]
    if not older:
        return []
    held = {row.seq for row in await service.db.load_points(state.participant.id)}
    return [p for p in older if p.seq not in held]


def _merge(into: Judged, other: Judged) -> None:
    into.rows.extend(other.rows)
    into.rejected.extend(other.rejected)
    into.refused.extend(other.refused)
    into.stored_reasons.extend(other.stored_reasons)
    into.accepted += other.accepted


async def _state(
    service: Service, participant: ParticipantRecord, race: RaceRecord
) -> RunnerState:
    """The participant's tracker, as the runner socket keeps it (runner.py).

    The one in memory is used only while storage agrees with it: requests
    through a load balancer may reach another instance between two fixes,
    and this instance must then rebuild from what that one committed.
    """
    state = service.runners.get(participant.id)
    if state is not None and state.pending is not None:
        await asyncio.wait([state.pending])
        state = service.runners.get(participant.id)
    stored = await service.db.last_seq(participant.id)
    if state is not None and state.committed_seq == stored:
        return state
    return await rebuild(service, participant, race, stored)


async def _commit(
    service: Service,
    state: RunnerState,
    judged: Judged,
    live: tuple[Standing, int | None] | None,
) -> None:
    """Wait until this request's rows, and every earlier batch, are committed."""
    if live is not None:
        snapshot = encode(live[0])
        state.pending = service.commits.submit(
            judged.rows, [(state.participant.id, snapshot)]
        )
    if state.pending is None:
        return
    try:
        await asyncio.shield(state.pending)
    except StorageError:
        # Forget the tracker: it counted points storage does not hold.
        if service.runners.get(state.participant.id) is state:
            del service.runners[state.participant.id]
        raise
    if judged.rows:
        newest = max(row.seq for row in judged.rows)
        state.committed_seq = max(state.committed_seq, newest)


def _back(service: Service, state: RunnerState) -> None:
    """A runner whose socket dropped is back, through a tracker app."""
    if state.disconnected:
        state.disconnected = False
        service.metrics.disconnected_clients.dec()


def _count(service: Service, received: int, judged: Judged) -> None:
    tally = service.metrics.tally
    tally.received += received
    tally.accepted += judged.accepted
    for reason in (*judged.refused, *judged.stored_reasons):
        tally.rejected[reason] = tally.rejected.get(reason, 0) + 1


def add_ingest_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/ingest/osmand", osmand)
    r.add_post("/ingest/osmand", osmand)
    r.add_post("/ingest/owntracks", owntracks)
