"""/openapi.json and the app's router describe the same routes."""

from __future__ import annotations

import aiohttp
from pace_websockets.app import create_app
from pace_websockets.openapi import spec
from pace_websockets.settings import Settings
from wskit import Server

SERVICE_PREFIXES = ("/api/", "/ws/", "/ingest/")
SERVICE_PATHS = {"/healthz", "/readyz", "/metrics", "/openapi.json"}


def _router_routes() -> set[tuple[str, str]]:
    app = create_app(Settings(database_url="sqlite:///unused.db"))
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method == "HEAD":
            continue
        if path.startswith(SERVICE_PREFIXES) or path in SERVICE_PATHS:
            routes.add((route.method, path))
    return routes


def test_every_router_route_is_in_the_spec_and_back() -> None:
    """The route table in openapi.py matches the app's router exactly."""
    documented = {
        (method.upper(), path)
        for path, operations in spec()["paths"].items()
        for method in operations
    }
    assert _router_routes() == documented


def test_request_schemas_come_from_the_structs() -> None:
    """POST /api/races documents the CreateRace struct's fields."""
    document = spec()
    body = document["paths"]["/api/races"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[1]
    fields = document["components"]["schemas"][name]["properties"]
    assert set(fields) == {
        "name",
        "distance_m",
        "starts_at",
        "visibility",
        "course",
        "laps",
        "checkpoints",
    }


async def test_served_spec_is_the_generated_one(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """GET /openapi.json serves the same document as spec()."""
    async with http.get(server.url + "/openapi.json") as r:
        assert r.status == 200
        assert await r.json() == spec()
