"""Tracker apps resend every non-2xx forever: an absurd time or number is a
refused point (200) or a 400, never a 500, and one fix is refused once."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
from trackerkit import owntracks_location, post_owntracks, traccar_query
from wskit import Server, new_race


async def _token(http: aiohttp.ClientSession, server: Server) -> str:
    race = await new_race(http, server)
    token: str = (await race.add("Tess"))["token"]
    return token


async def _osmand(
    http: aiohttp.ClientSession, server: Server, **params: str
) -> tuple[int, Any]:
    async with http.get(server.url + "/ingest/osmand", params=params) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize(
    ("stamp", "reason"),
    [
        ("99999999999999999999999", "future"),
        ("1e300", "future"),
        (str(2**62), "future"),
        ("0001-01-01T00:00:00+14:00", "too_old"),
    ],
)
async def test_osmand_absurd_timestamp_is_refused_with_200(
    http: aiohttp.ClientSession, server: Server, stamp: str, reason: str
) -> None:
    """Times past year 9999 or before 1970 answer 200 with the fix refused."""
    token = await _token(http, server)
    params = traccar_query(token, 0, int(time.time()) - 60, timestamp=stamp)

    status, body = await _osmand(http, server, **params)

    assert status == 200, body
    assert body["stored"] == 0 and body["duplicates"] == 0
    assert [r["reason"] for r in body["refused"]] == [reason]


async def test_osmand_json_huge_timestamp_is_refused_with_200(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A JSON location whose timestamp is 10^30 is refused as future, not a 500."""
    token = await _token(http, server)
    body = {
        "device_id": token,
        "location": {
            "timestamp": 10**30,
            "coords": {"latitude": 48.85, "longitude": 2.35},
        },
    }
    async with http.post(server.url + "/ingest/osmand", json=body) as r:
        assert r.status == 200, await r.text()
        answer = await r.json()
    assert [x["reason"] for x in answer["refused"]] == ["future"]


@pytest.mark.parametrize("tst", [10**20, 2**53, -(10**12), 1e306])
async def test_owntracks_absurd_tst_is_never_500(
    http: aiohttp.ClientSession, server: Server, tst: float
) -> None:
    """tst far in the future or past is a refused fix (200) or a 400."""
    token = await _token(http, server)
    location = {**owntracks_location(0, int(time.time()) - 60), "tst": tst}

    status, _, headers = await post_owntracks(http, server, token, location)

    assert status in (200, 400)
    if status == 200:
        assert headers["Pace-Refused"] in ("future", "too_old")


async def test_osmand_zero_timestamp_after_a_fix_is_refused_once(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """timestamp=0 after a fix: one too_old refusal and no negative counter."""
    token = await _token(http, server)
    start = int(time.time()) - 60
    status, _ = await _osmand(http, server, **traccar_query(token, 0, start))
    assert status == 200

    status, body = await _osmand(
        http, server, **traccar_query(token, 1, start, timestamp="0")
    )

    assert status == 200
    assert body["stored"] == 0 and body["duplicates"] == 0
    assert [r["reason"] for r in body["refused"]] == ["too_old"]
