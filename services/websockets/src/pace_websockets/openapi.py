"""``/openapi.json``: the HTTP API described from the same structs that parse it.

:data:`ROUTES` is the route table of the API, kept beside the handlers;
a test fails when it and the app's router disagree. Schemas come from
``msgspec.json.schema_components`` over the request and response structs, so
a field added to a struct shows up here without editing this file.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec
from aiohttp import web
from pace_core.messages import RaceInfo

from pace_websockets.http_ingest import IngestResult
from pace_websockets.results import Results
from pace_websockets.schemas import (
    Arrivals,
    CreateParticipant,
    CreateRace,
    Health,
    ParticipantCreated,
    ParticipantInfo,
    Problem,
    RaceCreated,
    RaceDetail,
)

__all__ = ["ROUTES", "Route", "openapi_handler", "spec"]


class Route(NamedTuple):
    method: str
    path: str
    summary: str
    status: int = 200
    response: Any = None
    request: Any = None
    auth: bool = False
    content_type: str = "application/json"


_RACE = "/api/races/{race_id}"
_PARTICIPANT = _RACE + "/participants/{participant_id}"

ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/races", "Create a race", 201, RaceCreated, CreateRace),
    Route("GET", "/api/races", "List races, newest first", 200, list[RaceInfo]),
    Route("GET", _RACE, "A race with its live standings", 200, RaceDetail),
    Route("POST", _RACE + "/end", "End a race", 200, RaceInfo, auth=True),
    Route(
        "POST",
        _RACE + "/participants",
        "Add a participant",
        201,
        ParticipantCreated,
        CreateParticipant,
        auth=True,
    ),
    Route(
        "GET",
        _RACE + "/participants",
        "List participants",
        200,
        list[ParticipantInfo],
    ),
    Route("DELETE", _PARTICIPANT, "Revoke a participant's token", 204, auth=True),
    Route(
        "GET",
        _PARTICIPANT + "/track.gpx",
        "Counted points as GPX 1.1",
        200,
        content_type="application/gpx+xml",
    ),
    Route(
        "GET",
        _PARTICIPANT + "/track.geojson",
        "Counted points as a GeoJSON LineString Feature (times in ms)",
        200,
        content_type="application/geo+json",
    ),
    Route(
        "GET",
        _RACE + "/course",
        "The course as GeoJSON: line and checkpoints (course races)",
        200,
        content_type="application/geo+json",
    ),
    Route(
        "GET",
        _RACE + "/arrivals",
        "Who reaches ?distance_m= on the course next, and when",
        200,
        Arrivals,
    ),
    Route(
        "GET",
        _RACE + "/results",
        "Results from stored points (?format=csv or Accept: text/csv for CSV)",
        200,
        Results,
    ),
    Route(
        "GET",
        _RACE + "/replay",
        "Replay WebSocket: the race from stored points at ?speed= (docs/protocol.md)",
        101,
        content_type="",
    ),
    Route(
        "GET",
        "/ingest/osmand",
        "A fix from Traccar Client, OsmAnd query (docs/clients.md)",
        200,
        IngestResult,
    ),
    Route(
        "POST",
        "/ingest/osmand",
        "Fixes from Traccar Client: query, form or JSON (docs/clients.md)",
        200,
        IngestResult,
    ),
    Route(
        "POST",
        "/ingest/owntracks",
        "Fixes from OwnTracks in HTTP mode (docs/clients.md)",
        200,
        list[Any],
    ),
    Route("GET", "/healthz", "Liveness", 200, Health),
    Route("GET", "/readyz", "Readiness: storage and broker answer", 200, Health),
    Route(
        "GET",
        "/metrics",
        "Prometheus metrics",
        200,
        content_type="text/plain; version=0.0.4",
    ),
    Route("GET", "/openapi.json", "This document", 200),
    Route(
        "GET",
        "/ws/runner",
        "Runner WebSocket (docs/protocol.md)",
        101,
        content_type="",
    ),
    Route(
        "GET",
        "/ws/races/{race_id}",
        "Spectator WebSocket (docs/protocol.md)",
        101,
        content_type="",
    ),
)

_TEMPLATE = "#/components/schemas/{name}"


def spec() -> dict[str, Any]:
    """The OpenAPI 3.1 document of :data:`ROUTES`."""
    kinds = [k for r in ROUTES for k in (r.request, r.response) if k is not None]
    kinds.append(Problem)
    refs, components = msgspec.json.schema_components(kinds, ref_template=_TEMPLATE)
    schema_of = dict(zip(map(_key, kinds), refs, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, schema_of
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Pace live race service", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"organizer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _key(kind: Any) -> str:
    return repr(kind)


def _operation(route: Route, schema_of: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {"description": route.summary}
    if route.content_type:
        body = schema_of.get(_key(route.response), {"type": "string"})
        response["content"] = {route.content_type: {"schema": body}}
    problem = {
        "description": "Problem details (RFC 9457)",
        "content": {"application/problem+json": {"schema": schema_of[_key(Problem)]}},
    }
    op: dict[str, Any] = {
        "summary": route.summary,
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_params(route.path)
        ],
        "responses": {str(route.status): response, "default": problem},
    }
    if route.request is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema_of[_key(route.request)]}},
        }
    if route.auth:
        op["security"] = [{"organizer": []}]
    return op


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


async def openapi_handler(_request: web.Request) -> web.Response:
    return web.json_response(spec())
