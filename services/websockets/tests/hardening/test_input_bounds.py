"""Out-of-range input over HTTP gets a clear 4xx or a per-point refusal, never a 500.

Each test sends the attack of the adversarial report to the real server
process and asserts the documented answer, then that the service still
answers the next honest request.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import aiohttp
import pytest
from wskit import Server, hello, new_race, points, receive_type


async def test_starts_at_outside_2000_2100_is_422(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Year 1 with a +14:00 offset is refused with 422 and nothing is stored."""
    body = {"name": "x", "starts_at": "0001-01-01T00:00:00+14:00"}
    async with http.post(server.url + "/api/races", json=body) as r:
        assert r.status == 422, await r.text()
        problem = await r.json()
    assert "starts_at must be in the years 2000-2100" in problem["detail"]
    async with http.get(server.url + "/api/races") as r:
        assert r.status == 200


async def test_stored_out_of_range_start_does_not_break_listing(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A race row whose starts_at no datetime holds still lists and reads (200)."""
    race = await new_race(http, server, starts_at="2030-01-01T00:00:00Z")
    with sqlite3.connect(server.db_path) as db:
        db.execute(
            "UPDATE races SET starts_at = ? WHERE id = ?", (-62135647200000, race.id)
        )
    async with http.get(server.url + "/api/races") as r:
        assert r.status == 200, await r.text()
    body = await race.get()
    assert body["starts_at"] == "0001-01-01T00:00:00.000Z"


DEEP = "[" * 30_000 + "]" * 30_000
"""60 KB of nesting: deeper than the decoder's recursion limit."""


async def test_deep_json_on_the_runner_socket_is_bad_json(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A points frame with a deeply nested extra field gets bad_json, stays open."""
    race = await new_race(http, server)
    ws, _ = await hello(http, server, (await race.add())["token"])
    await ws.send_str('{"type":"points","x":' + DEEP + ',"points":[]}')

    error = await receive_type(ws, "error")

    assert error["code"] == "bad_json"
    await ws.send_str(json.dumps({"type": "points", "points": points(1, 1)}))
    assert (await receive_type(ws, "ack"))["seq"] == 1
    await ws.close()


@pytest.mark.parametrize("path", ["/ingest/owntracks", "/ingest/osmand"])
async def test_deep_json_on_tracker_endpoints_is_400(
    http: aiohttp.ClientSession, server: Server, path: str
) -> None:
    """A deeply nested tracker body is a 400 problem (not the protocol), not a 500."""
    race = await new_race(http, server)
    token = (await race.add())["token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    url = f"{server.url}{path}?id={token}"
    async with http.post(url, data=DEEP, headers=headers) as r:
        assert r.status == 400, await r.text()
        assert r.content_type == "application/problem+json"
        assert (await r.json())["code"] in ("bad_json", "bad_point")


async def test_nul_byte_in_a_static_path_is_404(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """/static/%00 is not found (404), not a 500 from the filesystem call."""
    async with http.get(server.url + "/static/%00") as r:
        assert r.status == 404


async def test_results_csv_neutralises_formulas(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A name starting with = is written with a leading quote in the CSV."""
    race = await new_race(http, server)
    await race.add('=HYPERLINK("http://evil.example","x")')
    await race.add("-1+1")
    url = f"{server.url}/api/races/{race.id}/results?format=csv"
    async with http.get(url) as r:
        assert r.status == 200, await r.text()
        rows = list(csv.reader(io.StringIO(await r.text())))
    names = sorted(row[1] for row in rows[1:])
    assert names == ["'-1+1", '\'=HYPERLINK("http://evil.example","x")']
