"""The HTTP API over real HTTP: races, participants, problem details, readiness."""

from __future__ import annotations

import aiohttp
from wskit import Server, new_race

PROBLEM = "application/problem+json"


async def test_create_race_returns_race_and_organizer_token(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """POST /api/races answers 201 with the race fields and a secret."""
    body = {
        "name": "Sunday 10k",
        "distance_m": 10000,
        "starts_at": "2030-01-01T09:00:00+01:00",
    }
    async with http.post(server.url + "/api/races", json=body) as r:
        assert r.status == 201
        race = await r.json()
    assert race["name"] == "Sunday 10k"
    assert race["distance_m"] == 10000
    assert race["starts_at"] == "2030-01-01T08:00:00.000Z"
    assert race["status"] == "open"
    assert len(race["organizer_token"]) >= 40


async def test_participant_gets_token_and_join_url(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A participant's join_url carries the token in the fragment of /run."""
    race = await new_race(http, server)
    runner = await race.add("Bea")
    assert runner["join_url"] == f"{server.url}/run#token={runner['token']}"
    assert runner["race_id"] == race.id
    detail = await race.get()
    assert [s["name"] for s in detail["standings"]] == ["Bea"]
    assert detail["standings"][0]["status"] == "waiting"


async def test_missing_organizer_token_is_401_problem(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """No Bearer token: 401 problem details with a WWW-Authenticate challenge."""
    race = await new_race(http, server)
    url = f"{server.url}/api/races/{race.id}/participants"
    async with http.post(url, json={"name": "x"}) as r:
        assert r.status == 401
        assert r.content_type == PROBLEM
        assert r.headers["WWW-Authenticate"] == "Bearer"
        problem = await r.json()
    assert problem["type"] == "https://pace.dev/problems/unauthorized"
    assert problem["status"] == 401


async def test_wrong_organizer_token_is_403_problem(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Another race's organizer token does not open this race."""
    race, other = await new_race(http, server), await new_race(http, server)
    url = f"{server.url}/api/races/{race.id}/participants"
    async with http.post(url, json={"name": "x"}, headers=other.auth) as r:
        assert r.status == 403
        assert (await r.json())["type"] == "https://pace.dev/problems/forbidden"


async def test_invalid_body_is_422_and_bad_json_is_400(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A schema violation is 422 naming the field; unparsable JSON is 400."""
    async with http.post(server.url + "/api/races", json={"name": ""}) as r:
        assert r.status == 422
        problem = await r.json()
    assert problem["code"] == "validation_error"
    assert "$.name" in problem["detail"]
    async with http.post(server.url + "/api/races", data=b"{nope") as r:
        assert r.status == 400
        assert (await r.json())["code"] == "bad_request"


async def test_naive_start_time_is_refused(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """starts_at without an offset is a 422, never guessed."""
    body = {"name": "x", "starts_at": "2030-01-01T09:00:00"}
    async with http.post(server.url + "/api/races", json=body) as r:
        assert r.status == 422


async def test_unknown_route_and_method_are_problems(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """404 and 405 from the router are problem details too."""
    async with http.get(server.url + "/api/nothing") as r:
        assert (r.status, r.content_type) == (404, PROBLEM)
    async with http.put(server.url + "/api/races") as r:
        assert (r.status, r.content_type) == (405, PROBLEM)
        assert (await r.json())["type"].endswith("/method_not_allowed")


async def test_unknown_race_is_404(http: aiohttp.ClientSession, server: Server) -> None:
    """GET of a race that does not exist is a 404 problem."""
    async with http.get(server.url + "/api/races/nope") as r:
        assert r.status == 404
        assert (await r.json())["detail"] == "no race 'nope'"


async def test_oversized_body_is_413(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A request body over the limit is refused with 413."""
    body = {"name": "x" * 100_000}
    async with http.post(server.url + "/api/races", json=body) as r:
        assert r.status == 413
        assert (await r.json())["code"] == "payload_too_large"


async def test_readyz_checks_storage(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """/readyz answers 200 while the SQLite file is reachable, naming each part."""
    async with http.get(server.url + "/readyz") as r:
        assert r.status == 200
        assert (await r.json()) == {"status": "ready", "storage": "ok", "broker": "ok"}


async def test_list_races_includes_new_race(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """GET /api/races lists a race just created, with its participant count."""
    race = await new_race(http, server)
    await race.add()
    async with http.get(server.url + "/api/races") as r:
        races = await r.json()
    mine = [x for x in races if x["id"] == race.id]
    assert mine and mine[0]["participants"] == 1
    assert "organizer_token" not in mine[0]


async def test_end_race_needs_organizer_and_sets_status(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """POST .../end is organiser-only and turns the race to ``ended``."""
    race = await new_race(http, server)
    url = f"{server.url}/api/races/{race.id}/end"
    async with http.post(url) as r:
        assert r.status == 401
    async with http.post(url, headers=race.auth) as r:
        assert r.status == 200
        assert (await r.json())["status"] == "ended"
    assert (await race.get())["status"] == "ended"
