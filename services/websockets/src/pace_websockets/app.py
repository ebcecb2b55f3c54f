"""Build the aiohttp application: routes, lifecycle, WebSocket endpoints.

Start-up opens storage and the broker, then starts the group committer and the
hub. Shutdown (SIGTERM) first refuses new points, lets the committer finish
what it holds so those points are acked, then tells every client to reconnect
(``reconnect`` frame, close 1001); clean-up closes the rest in reverse order.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from pace_servicekit import healthz, metrics_handler, new_registry

from pace_websockets.access import check_reader
from pace_websockets.api import add_api_routes
from pace_websockets.broker import open_broker
from pace_websockets.committer import Committer
from pace_websockets.course_api import add_course_routes
from pace_websockets.http_ingest import add_ingest_routes
from pace_websockets.hub import Hub
from pace_websockets.limits import LIMITER, Limiter, RateLimited, RateLimits
from pace_websockets.metrics import Metrics
from pace_websockets.openapi import openapi_handler
from pace_websockets.problems import ApiError, problem_middleware
from pace_websockets.runner import RunnerSession
from pace_websockets.service import SERVICE, Service
from pace_websockets.settings import Settings
from pace_websockets.spectator import SpectatorSession
from pace_websockets.storage import open_storage

__all__ = ["create_app"]

log = logging.getLogger("pace.server")


def create_app(settings: Settings | None = None) -> web.Application:
    """The whole service as an aiohttp app (storage is opened on start-up)."""
    settings = settings or Settings.from_env()
    registry = new_registry()
    service = Service(settings, registry, Metrics(registry))
    app = web.Application(
        middlewares=[problem_middleware], client_max_size=settings.max_body_bytes
    )
    app[SERVICE] = service
    app[LIMITER] = Limiter(RateLimits.from_env())
    add_api_routes(app)
    add_course_routes(app)
    add_ingest_routes(app)
    app.router.add_get("/ws/runner", runner_ws)
    app.router.add_get("/ws/races/{race_id}", spectator_ws)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_handler(registry))
    app.router.add_get("/openapi.json", openapi_handler)
    _add_web_routes(app)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_shutdown)
    return app


def _add_web_routes(app: web.Application) -> None:
    """The browser pages live in ``pace_websockets.web`` when it is installed."""
    if importlib.util.find_spec("pace_websockets.web") is None:
        return
    module = importlib.import_module("pace_websockets.web")
    add = getattr(module, "add_web_routes", None)
    if callable(add):
        add(app)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]
    s = service.settings
    service.storage = await open_storage(s.database_url)
    try:
        service.broker = await open_broker(s.broker_url, s.broker_prefix)
        service.committer = Committer(
            service.storage, service.metrics, s.max_commit_points
        )
        service.committer.start()
        service.hub = Hub(
            service.storage,
            service.broker,
            service.metrics,
            s.instance_id,
            s.tick_s,
            s.publish_interval_s,
        )
        service.hub.start()
        log.info("service started", extra={"instance": s.instance_id})
        yield
    finally:
        await _close(service)


async def _close(service: Service) -> None:
    if service.hub is not None:
        await service.hub.stop()
    if service.committer is not None:
        await service.committer.stop()
    if service.broker is not None:
        await service.broker.close()
    if service.storage is not None:
        await service.storage.close()


async def _shutdown(app: web.Application) -> None:
    """Ack what is in flight, then send every client elsewhere."""
    service = app[SERVICE]
    service.shutting_down = True
    grace = service.settings.shutdown_grace_s
    if service.committer is not None:
        try:
            await asyncio.wait_for(service.committer.drain(), grace / 2)
        except TimeoutError:
            log.warning("commits still pending at shutdown: they will not be acked")
    # Let the sessions woken by the last commit send their acks; an ack lost
    # here only means the client resends points the server already holds.
    await asyncio.sleep(0.05)
    clients: list[RunnerSession | SpectatorSession] = [
        *service.sessions.values(),
        *service.spectators,
    ]
    await asyncio.gather(*(c.go_away() for c in clients), return_exceptions=True)
    if service.hub is not None:
        await service.hub.flush()
    log.info("clients sent away", extra={"clients": len(clients)})


def _check_origin(request: web.Request, service: Service) -> None:
    """Refuse browser WebSockets from origins not in PACE_ALLOWED_ORIGINS."""
    allowed = service.settings.allowed_origins
    origin = request.headers.get("Origin")
    if allowed and origin is not None and origin not in allowed and "*" not in allowed:
        raise ApiError(403, f"origin {origin!r} is not allowed", "origin_not_allowed")
    if service.shutting_down:
        raise ApiError(503, "shutting down, reconnect shortly", "shutting_down")
    try:
        request.app[LIMITER].connect(_address(request))
    except RateLimited as exc:
        wait = str(max(1, round(exc.retry_after_s)))
        raise ApiError(
            429, str(exc), "rate_limited", headers={"Retry-After": wait}
        ) from None


def _address(request: web.Request) -> str:
    """The peer address; a proxy in front makes it the proxy's."""
    return request.remote or "unknown"


def _socket(service: Service) -> web.WebSocketResponse:
    s = service.settings
    # Twice the frame limit here, so a frame just over it still gets a
    # frame_too_large error before the close; beyond that aiohttp closes 1009.
    return web.WebSocketResponse(
        max_msg_size=2 * s.max_frame_bytes, heartbeat=s.heartbeat_s, compress=False
    )


async def runner_ws(request: web.Request) -> web.WebSocketResponse:
    service = request.app[SERVICE]
    _check_origin(request, service)
    ws = _socket(service)
    await ws.prepare(request)
    meter = request.app[LIMITER].meter(_address(request))
    await RunnerSession(service, ws, meter).run()
    return ws


async def spectator_ws(request: web.Request) -> web.WebSocketResponse:
    service = request.app[SERVICE]
    _check_origin(request, service)
    race_id = request.match_info["race_id"]
    race = await service.db.get_race(race_id)
    if race is None:
        raise ApiError(404, f"no race {race_id!r}")
    check_reader(request, race)
    view = await service.fanout.acquire(race)  # before the upgrade: errors are 503s
    try:
        ws = _socket(service)
        await ws.prepare(request)
        transport = request.transport
        abort = transport.abort if transport is not None else None
        await SpectatorSession(service, ws, view, abort).run()
    finally:
        await service.fanout.release(view)
    return ws
