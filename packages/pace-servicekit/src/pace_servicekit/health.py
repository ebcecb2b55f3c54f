"""``/healthz``: the process is up and its event loop answers.

Liveness only: it never touches a database, so a slow disk does not get a
healthy process restarted. Readiness (``/readyz``) belongs to each service,
because only the service knows what it depends on.
"""

from __future__ import annotations

from aiohttp import web

__all__ = ["healthz"]


async def healthz(_request: web.Request) -> web.Response:
    """Answer 200 ``{"status": "ok"}`` while the event loop runs."""
    return web.json_response({"status": "ok"})
