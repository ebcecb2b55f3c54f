"""HTTP helpers: problem details become ProblemError, whatever the body."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from pace_client import api
from pace_client.errors import PaceClientError, ProblemError


async def _problem(_request: web.Request) -> web.Response:
    body = '{"type": "https://pace.dev/problems/bad_token", "title": "Unauthorized",'
    body += ' "status": 401, "detail": "wrong organizer token"}'
    return web.Response(status=401, text=body, content_type="application/problem+json")


async def _gateway(_request: web.Request) -> web.Response:
    return web.Response(status=502, text="<html>bad gateway</html>")


async def _created(request: web.Request) -> web.Response:
    seen = {"auth": request.headers.get("Authorization"), **(await request.json())}
    return web.json_response({"id": "p1", "token": "t", "seen": seen}, status=201)


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/api/races/bad/participants", _problem)
    app.router.add_get("/api/races/proxy", _gateway)
    app.router.add_post("/api/races/r1/participants", _created)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_problem_details_are_carried_in_the_error(base_url: str) -> None:
    """A problem+json answer keeps its type, title and detail."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ProblemError) as caught:
            await api.add_participant(session, base_url, "bad", "Eve", "nope")

    error = caught.value
    assert (error.status, error.title, error.detail) == (
        401,
        "Unauthorized",
        "wrong organizer token",
    )
    assert error.type == "https://pace.dev/problems/bad_token"
    assert str(error) == "401 Unauthorized: wrong organizer token"


async def test_a_body_that_is_not_a_problem_still_names_the_status(
    base_url: str,
) -> None:
    """A proxy's HTML error page becomes a ProblemError with the status line."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ProblemError, match=r"^502 Bad Gateway$"):
            await api.get_race(session, base_url, "proxy")


async def test_organizer_token_is_sent_as_bearer(base_url: str) -> None:
    """add_participant sends the name and ``Authorization: Bearer <token>``."""
    async with aiohttp.ClientSession() as session:
        body = await api.add_participant(session, base_url, "r1", "Ada", "org")

    assert body["seen"] == {"auth": "Bearer org", "name": "Ada"}


async def test_unreachable_server_is_a_client_error() -> None:
    """A refused connection is a PaceClientError naming the URL."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(
            PaceClientError, match=r"cannot reach http://127\.0\.0\.1:9/"
        ):
            await api.get_race(session, "http://127.0.0.1:9", "x")
