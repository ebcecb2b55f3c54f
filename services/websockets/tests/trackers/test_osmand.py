"""Traccar Client against the real server: ``/ingest/osmand`` over real HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest
from trackerkit import stored, traccar_json, traccar_query
from wskit import Race, Server, hello, metric, new_race, receive_type


async def runner(http: aiohttp.ClientSession, server: Server) -> tuple[Race, Any]:
    race = await new_race(http, server)
    return race, await race.add("Tess")


async def send_query(
    http: aiohttp.ClientSession, server: Server, params: dict[str, str], method: str
) -> tuple[int, Any]:
    """Traccar Client up to 8.x: the fix in the query string, empty body."""
    url = server.url + "/ingest/osmand"
    async with http.request(method, url, params=params) as r:
        return r.status, await r.json(content_type=None)


async def send_json(
    http: aiohttp.ClientSession, server: Server, body: dict[str, Any]
) -> tuple[int, Any]:
    """Traccar Client 9: one JSON location per POST."""
    async with http.post(server.url + "/ingest/osmand", json=body) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_query_fix_is_in_the_file_when_200_arrives(
    http: aiohttp.ClientSession, server: Server, method: str
) -> None:
    """A 200 means committed: the row is in the SQLite file already."""
    _, who = await runner(http, server)
    start = int(time.time()) - 60
    status, body = await send_query(
        http, server, traccar_query(who["token"], 0, start), method
    )
    assert (status, body) == (200, {"stored": 1, "duplicates": 0, "refused": []})
    rows = stored(server.db_path, who["id"])
    assert [(seq, t) for seq, t, _, _ in rows] == [(start * 1000, start * 1000)]


async def test_form_body_is_read_like_the_query(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """An OsmAnd POST with the fields form-encoded in the body is accepted."""
    _, who = await runner(http, server)
    start = int(time.time()) - 60
    form = traccar_query(who["token"], 0, start)
    async with http.post(server.url + "/ingest/osmand", data=form) as r:
        assert r.status == 200, await r.text()
    assert len(stored(server.db_path, who["id"])) == 1


async def test_json_fix_is_stored_with_speed_in_mps(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Traccar Client 9's JSON body is stored with its own m/s speed."""
    _, who = await runner(http, server)
    start = int(time.time()) - 60
    status, body = await send_json(http, server, traccar_json(who["token"], 0, start))
    assert (status, body["stored"]) == (200, 1)
    assert stored(server.db_path, who["id"])[0][0] == start * 1000


async def test_resent_fix_is_stored_once(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """The same fix sent twice (its 200 lost) is a duplicate the second time."""
    _, who = await runner(http, server)
    params = traccar_query(who["token"], 0, int(time.time()) - 60)
    assert (await send_query(http, server, params, "POST"))[1]["stored"] == 1
    status, body = await send_query(http, server, params, "POST")
    assert (status, body) == (200, {"stored": 0, "duplicates": 1, "refused": []})
    assert len(stored(server.db_path, who["id"])) == 1


async def test_buffer_flush_after_an_outage_counts_every_fix(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Fixes buffered offline arrive oldest first, one request each; all count."""
    race, who = await runner(http, server)
    start = int(time.time()) - 600
    assert (await send_json(http, server, traccar_json(who["token"], 0, start)))[
        0
    ] == 200
    # Offline for 60 s: the app kept 60 fixes and sends them in a row.
    for i in range(1, 61):
        status, body = await send_json(
            http, server, traccar_json(who["token"], i, start)
        )
        assert (status, body["stored"]) == (200, 1)
    rows = stored(server.db_path, who["id"])
    assert [seq for seq, _, _, _ in rows] == [(start + i) * 1000 for i in range(61)]
    assert all(reason == "" for _, _, _, reason in rows)
    standing = (await race.get())["standings"][0]
    assert standing["status"] == "running"
    assert standing["distance_m"] > 150


async def test_same_fixes_give_the_same_standing_as_the_socket(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """One pipeline: fixes over HTTP and over /ws/runner end at the same distance."""
    race = await new_race(http, server)
    tess, wes = await race.add("Tess"), await race.add("Wes")
    start = int(time.time()) - 600
    bodies = [traccar_json(tess["token"], i, start) for i in range(40)]
    for body in bodies:
        assert (await send_json(http, server, body))[0] == 200
    ws, _ = await hello(http, server, wes["token"])
    batch = [
        {
            "seq": i + 1,
            "time": b["location"]["timestamp"],
            "lat": c["latitude"],
            "lon": c["longitude"],
            "accuracy": c["accuracy"],
            "speed": c["speed"],
            "heading": c["heading"],
            "alt": c["altitude"],
        }
        for i, b in enumerate(bodies)
        for c in [b["location"]["coords"]]
    ]
    await ws.send_json({"type": "points", "points": batch})
    assert (await receive_type(ws, "ack"))["seq"] == 40
    await ws.close()
    by_id = {s["participant_id"]: s for s in (await race.get())["standings"]}
    assert by_id[tess["id"]]["distance_m"] > 100
    assert by_id[tess["id"]]["distance_m"] == by_id[wes["id"]]["distance_m"]
    assert by_id[tess["id"]]["position"][:2] == by_id[wes["id"]]["position"][:2]


async def test_too_old_fix_is_a_200_with_the_refusal(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A fix refused for good is answered 200 so the app's queue moves on."""
    _, who = await runner(http, server)
    old = int(time.time()) - 10 * 86_400
    status, body = await send_query(
        http, server, traccar_query(who["token"], 0, old), "POST"
    )
    assert status == 200
    assert body["stored"] == 0
    assert [r["reason"] for r in body["refused"]] == ["too_old"]
    assert stored(server.db_path, who["id"]) == []


async def test_out_of_range_latitude_is_refused_in_the_body(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """lat=91 is a refusal with its reason, not a stored point."""
    _, who = await runner(http, server)
    params = traccar_query(who["token"], 0, int(time.time()) - 60, lat="91")
    status, body = await send_query(http, server, params, "GET")
    assert status == 200
    assert [r["reason"] for r in body["refused"]] == ["out_of_range"]


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"lat": "north"}, "lat 'north' is not a number"),
        ({"timestamp": "2026-05-28T20:26:40"}, "has no UTC offset"),
    ],
)
async def test_unreadable_values_are_400_problems(
    http: aiohttp.ClientSession,
    server: Server,
    change: dict[str, str],
    detail: str,
) -> None:
    """A request that is not OsmAnd gets a problem naming the bad value."""
    _, who = await runner(http, server)
    params = {**traccar_query(who["token"], 0, int(time.time()) - 60), **change}
    status, body = await send_query(http, server, params, "GET")
    assert status == 400
    assert body["code"] == "bad_point"
    assert detail in body["detail"]


async def test_missing_token_is_401_unknown_is_403(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """No id: 401; an id that is no participant's token: 403 bad_token."""
    params = traccar_query("not-a-token", 0, int(time.time()) - 60)
    status, body = await send_query(http, server, params, "GET")
    assert (status, body["code"]) == (403, "bad_token")
    del params["id"]
    status, body = await send_query(http, server, params, "GET")
    assert (status, body["code"]) == (401, "unauthorized")


async def test_revoked_token_is_403(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """After the organiser revokes a participant their tracker is refused."""
    race, who = await runner(http, server)
    url = f"{server.url}/api/races/{race.id}/participants/{who['id']}"
    async with http.delete(url, headers=race.auth) as r:
        assert r.status == 204
    params = traccar_query(who["token"], 0, int(time.time()) - 60)
    status, body = await send_query(http, server, params, "GET")
    assert (status, body["code"]) == (403, "bad_token")


async def test_ended_race_refuses_in_a_200(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Fixes after the race ended are refused (race_ended), not retried forever."""
    race, who = await runner(http, server)
    async with http.post(f"{server.url}/api/races/{race.id}/end", headers=race.auth):
        pass
    params = traccar_query(who["token"], 0, int(time.time()) - 60)
    status, body = await send_query(http, server, params, "POST")
    assert status == 200
    assert [r["reason"] for r in body["refused"]] == ["race_ended"]


async def test_json_body_without_a_json_content_type_is_read(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A sender that labels its JSON text/plain is still understood."""
    _, who = await runner(http, server)
    body = json.dumps(traccar_json(who["token"], 0, int(time.time()) - 60))
    url = server.url + "/ingest/osmand"
    headers = {"Content-Type": "text/plain"}
    async with http.post(url, data=body, headers=headers) as r:
        assert r.status == 200, await r.text()
    assert len(stored(server.db_path, who["id"])) == 1


async def test_oversized_body_is_413(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A body over the configured maximum is refused before it is parsed."""
    _, who = await runner(http, server)
    body = traccar_json(who["token"], 0, int(time.time()) - 60)
    body["padding"] = "x" * 100_000
    status, problem = await send_json(http, server, body)
    assert (status, problem["code"]) == (413, "payload_too_large")


async def test_tracker_points_are_counted_in_the_metrics(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Tracker fixes add to pace_points_received_total like socket points."""
    _, who = await runner(http, server)
    before = await metric(http, server, "pace_points_received_total")
    for i in range(3):
        params = traccar_query(who["token"], i, int(time.time()) - 60)
        assert (await send_query(http, server, params, "GET"))[0] == 200
    after = await metric(http, server, "pace_points_received_total")
    assert after - before == 3
