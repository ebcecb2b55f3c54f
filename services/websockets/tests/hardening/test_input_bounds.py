"""Out-of-range input over HTTP gets a clear 4xx or a per-point refusal, never a 500.

Each test sends the attack of the adversarial report to the real server
process and asserts the documented answer, then that the service still
answers the next honest request.
"""

from __future__ import annotations

import sqlite3

import aiohttp
from wskit import Server, new_race


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
