"""The web app's routes: three pages and their static files, served by the service.

Pace's browser pages are plain HTML and JavaScript modules under ``static/``; they
use only the public HTTP and WebSocket API, like any other client. This module
maps the page URLs onto those files and serves ``/static/`` with cache headers
chosen per kind of file:

- pages and Pace's own scripts and styles: ``no-cache`` (the browser revalidates
  with the ETag/Last-Modified that aiohttp sends, so a deploy is seen at once and
  an unchanged file costs a 304);
- ``static/vendor/`` (Leaflet, the QR library: files that change only when a
  version is bumped in ``web/package.json``): cached for a day;
- ``/static/config.js``: generated from the environment, never cached.

Map tiles come from OpenStreetMap unless ``PACE_TILE_URL`` (a Leaflet URL template)
and ``PACE_TILE_ATTRIBUTION`` say otherwise; ``PACE_TILE_URL=none`` turns tiles
off. The pages keep working without tiles (markers, trails and the leaderboard
are drawn on a blank map).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler
from pace_servicekit.settings import env_str

__all__ = ["STATIC_DIR", "WebConfig", "add_web_routes"]

STATIC_DIR = Path(__file__).with_name("static")

OSM_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">'
    "OpenStreetMap</a> contributors"
)

PAGES = {
    "/": "index.html",
    "/run": "run.html",
    "/races/{race_id}": "race.html",
    "/races/{race_id}/results": "results.html",
}

NO_CACHE = "no-cache"
VENDOR_CACHE = "public, max-age=86400"

# Tokens travel in URL fragments, which browsers never send. Cross-origin requests
# (map tiles) carry only the origin, never a page path with a race id; the origin
# is still sent because OpenStreetMap's tile policy refuses requests without one.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


class WebConfig:
    """What the pages need to know about this deployment, read from ``PACE_*``.

    >>> WebConfig.from_env({"PACE_TILE_URL": "none"}).tile_url
    ''
    """

    def __init__(self, tile_url: str, tile_attribution: str) -> None:
        self.tile_url = tile_url
        self.tile_attribution = tile_attribution

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebConfig:
        """Tile settings from the environment, OpenStreetMap by default."""
        url = env_str("TILE_URL", OSM_TILE_URL, environ)
        attribution = env_str("TILE_ATTRIBUTION", OSM_ATTRIBUTION, environ)
        return cls("" if url.lower() == "none" else url, attribution)

    def to_module(self) -> str:
        """The config as an ES module, so pages ``import config from ...``."""
        body = {"tileUrl": self.tile_url, "tileAttribution": self.tile_attribution}
        return "export default " + json.dumps(body, indent=2) + ";\n"


def add_web_routes(
    app: web.Application, environ: Mapping[str, str] | None = None
) -> None:
    """Serve ``/``, ``/run``, ``/races/{race_id}`` and ``/static/`` on ``app``."""
    config_js = WebConfig.from_env(environ).to_module()

    for path, filename in PAGES.items():
        app.router.add_get(path, _page_handler(filename), name=f"page:{filename}")

    async def config_module(request: web.Request) -> web.Response:
        headers = {"Cache-Control": "no-store", **SECURITY_HEADERS}
        return web.Response(
            text=config_js, content_type="text/javascript", headers=headers
        )

    app.router.add_get("/static/config.js", config_module)
    app.router.add_get("/static/{path:.+}", _static_file)


def _page_handler(filename: str) -> Handler:
    """A handler returning one HTML page (the page reads its ids from the URL)."""

    async def page(request: web.Request) -> web.StreamResponse:
        return _file_response(STATIC_DIR / filename, NO_CACHE)

    return page


async def _static_file(request: web.Request) -> web.StreamResponse:
    """A file under ``static/``, refusing anything that resolves outside it."""
    root = STATIC_DIR.resolve()
    path = request.match_info["path"]
    if "\x00" in path:  # the OS refuses such a path: ValueError, not a 404
        raise web.HTTPNotFound()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise web.HTTPNotFound()

    vendor = target.is_relative_to(root / "vendor")
    return _file_response(target, VENDOR_CACHE if vendor else NO_CACHE)


def _file_response(path: Path, cache_control: str) -> web.FileResponse:
    headers = {"Cache-Control": cache_control, **SECURITY_HEADERS}
    return web.FileResponse(path, headers=headers)
