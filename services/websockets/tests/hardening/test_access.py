"""Who may do what, against the real server process: tokens and private races."""

from __future__ import annotations

import json
import sqlite3

import aiohttp
import pytest
from wskit import Race, Server, hello, new_race, points, receive_type


async def status_of(
    http: aiohttp.ClientSession, url: str, token: str | None = None
) -> tuple[int, str]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with http.get(url, headers=headers) as r:
        body = await r.read()
        code = json.loads(body).get("code", "") if r.status >= 400 else ""
        return r.status, code


async def private_race(http: aiohttp.ClientSession, server: Server) -> Race:
    race = await new_race(http, server, visibility="private")
    assert race.body["spectator_token"]
    assert race.body["spectator_url"].endswith(
        f"/races/{race.id}#key={race.body['spectator_token']}"
    )
    return race


async def test_private_race_needs_its_spectator_token_to_be_read(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Standings, participants and tracks of a private race need its token."""
    race = await private_race(http, server)
    ann = await race.add()
    base = f"{server.url}/api/races/{race.id}"
    reads = [
        base,
        base + "/participants",
        base + f"/participants/{ann['id']}/track.gpx",
    ]
    key = race.body["spectator_token"]
    for url in reads:
        assert await status_of(http, url) == (401, "spectator_token_required")
        assert await status_of(http, url, ann["token"]) == (403, "forbidden")
        assert (await status_of(http, url, key))[0] == 200
        assert (await status_of(http, url, race.token))[0] == 200
        assert (await status_of(http, f"{url}?key={key}"))[0] == 200


async def test_private_race_is_not_listed_and_public_one_is(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """GET /api/races lists public races only."""
    hidden, shown = await private_race(http, server), await new_race(http, server)
    async with http.get(server.url + "/api/races") as r:
        ids = {race["id"] for race in await r.json()}
    assert shown.id in ids and hidden.id not in ids


async def test_private_live_feed_needs_the_key(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """The spectator socket of a private race opens only with ``?key=``."""
    race = await private_race(http, server)
    feed = f"{server.ws_url}/ws/races/{race.id}"
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await http.ws_connect(feed)
    assert caught.value.status == 401
    ws = await http.ws_connect(f"{feed}?key={race.body['spectator_token']}")
    snapshot = await receive_type(ws, "snapshot")
    assert snapshot["race"]["id"] == race.id
    await ws.close()


async def test_organizer_token_manages_only_its_own_race(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Race A's organiser token cannot add, revoke or end in race B."""
    a, b = await new_race(http, server), await new_race(http, server)
    bob = await b.add("Bob")
    auth = a.auth
    base = f"{server.url}/api/races/{b.id}"
    async with http.post(base + "/participants", json={"name": "X"}, headers=auth) as r:
        assert r.status == 403
    async with http.delete(f"{base}/participants/{bob['id']}", headers=auth) as r:
        assert r.status == 403
    async with http.post(base + "/end", headers=auth) as r:
        assert r.status == 403
    assert (await b.get())["status"] == "open"


async def test_runner_writes_only_its_own_track(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Points sent with Ann's token land on Ann's track, never on Bob's."""
    race = await new_race(http, server)
    ann, bob = await race.add("Ann"), await race.add("Bob")
    ws, welcome = await hello(http, server, ann["token"])
    assert welcome["participant_id"] == ann["id"]
    await ws.send_str(json.dumps({"type": "points", "points": points(1, 3)}))
    await receive_type(ws, "ack")
    await ws.close()
    with sqlite3.connect(server.db_path) as db:
        owners = db.execute(
            "SELECT DISTINCT participant_id FROM points WHERE participant_id IN (?, ?)",
            (ann["id"], bob["id"]),
        ).fetchall()
    assert owners == [(ann["id"],)]


async def test_tokens_are_stored_hashed_and_never_logged(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """No token appears in the database or the server's log, only digests."""
    race = await private_race(http, server)
    ann = await race.add()
    ws, _ = await hello(http, server, ann["token"])
    await ws.close()
    secrets = [race.token, race.body["spectator_token"], ann["token"]]
    dump = "\n".join(sqlite3.connect(server.db_path).iterdump())
    logs = server.logs()
    for secret in secrets:
        assert secret not in dump
        assert secret not in logs
    assert "participant added" in logs
