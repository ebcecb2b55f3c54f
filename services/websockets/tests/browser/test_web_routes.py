"""web.py over real HTTP (no browser): pages, static files, cache headers, config."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pace_websockets.web import OSM_TILE_URL, add_web_routes

Serve = Callable[[dict[str, str]], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts an app with only the web routes on a free port; returns its base URL."""
    servers: list[TestServer] = []

    async def start(environ: dict[str, str]) -> str:
        app = web.Application()
        add_web_routes(app, environ)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


async def fetch(url: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, dict(response.headers), await response.text()


@pytest.mark.parametrize("path", ["/", "/run", "/races/r4ce_id"])
async def test_pages_are_html_revalidated_every_time(serve: Serve, path: str) -> None:
    """Each page is served as HTML that the browser must revalidate."""
    base = await serve({})
    status, headers, body = await fetch(base + path)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-cache"
    assert "ETag" in headers or "Etag" in headers
    assert body.startswith("<!doctype html>")


@pytest.mark.parametrize("path", ["/", "/run", "/races/x"])
async def test_every_file_a_page_references_is_served(serve: Serve, path: str) -> None:
    """No page links a script or stylesheet that the server does not have."""
    base = await serve({})
    _, _, html = await fetch(base + path)
    refs = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert refs, html
    for ref in refs:
        status, _, _ = await fetch(base + ref)
        assert status == 200, ref


async def test_vendor_files_are_cached_and_own_files_revalidated(serve: Serve) -> None:
    """Leaflet is cached for a day; Pace's own modules are revalidated."""
    base = await serve({})
    _, vendor, _ = await fetch(base + "/static/vendor/leaflet/leaflet.js")
    _, own, _ = await fetch(base + "/static/js/runner.js")
    assert vendor["Cache-Control"] == "public, max-age=86400"
    assert own["Cache-Control"] == "no-cache"
    assert "javascript" in own["Content-Type"]


@pytest.mark.parametrize(
    "path", ["/static/..%2fweb.py", "/static/%2e%2e/web.py", "/static/nope.js"]
)
async def test_nothing_outside_static_is_served(serve: Serve, path: str) -> None:
    """Paths that escape static/ or name no file are 404."""
    base = await serve({})
    status, _, body = await fetch(base + path)
    assert status == 404
    assert "add_web_routes" not in body


async def test_tiles_default_to_openstreetmap(serve: Serve) -> None:
    """Without settings, config.js points Leaflet at OpenStreetMap's tiles."""
    base = await serve({})
    status, headers, body = await fetch(base + "/static/config.js")
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    config = json.loads(body.removeprefix("export default ").rstrip(";\n"))
    assert config["tileUrl"] == OSM_TILE_URL
    assert "OpenStreetMap" in config["tileAttribution"]


async def test_tiles_follow_the_environment(serve: Serve) -> None:
    """PACE_TILE_URL and PACE_TILE_ATTRIBUTION replace the defaults; none disables."""
    custom = await serve(
        {
            "PACE_TILE_URL": "https://t.example/{z}/{x}/{y}.png",
            "PACE_TILE_ATTRIBUTION": "Ex",
        }
    )
    off = await serve({"PACE_TILE_URL": "none"})
    _, _, custom_body = await fetch(custom + "/static/config.js")
    _, _, off_body = await fetch(off + "/static/config.js")
    assert '"tileUrl": "https://t.example/{z}/{x}/{y}.png"' in custom_body
    assert '"tileAttribution": "Ex"' in custom_body
    assert '"tileUrl": ""' in off_body
