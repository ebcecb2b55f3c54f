"""OwnTracks in HTTP mode against the real server: ``/ingest/owntracks``."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest
from trackerkit import owntracks_location, post_owntracks, stored
from wskit import Race, Server, new_race


async def runner(http: aiohttp.ClientSession, server: Server) -> tuple[Race, Any]:
    race = await new_race(http, server)
    return race, await race.add("Otto")


async def test_location_with_basic_auth_is_stored_and_answered_with_an_array(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """The password is the token; the answer is ``[]`` once the row is on disk."""
    _, who = await runner(http, server)
    start = int(time.time()) - 60
    status, body, _ = await post_owntracks(
        http, server, who["token"], owntracks_location(0, start)
    )
    assert (status, body) == (200, [])
    rows = stored(server.db_path, who["id"])
    assert [seq for seq, _, _, _ in rows] == [start * 1000]


@pytest.mark.parametrize("where", ["bearer", "query"])
async def test_token_as_bearer_or_query(
    http: aiohttp.ClientSession, server: Server, where: str
) -> None:
    """``Authorization: Bearer`` and ``?token=`` work as well as Basic auth."""
    _, who = await runner(http, server)
    body = json.dumps(owntracks_location(0, int(time.time()) - 60))
    url = server.url + "/ingest/owntracks"
    if where == "bearer":
        kwargs: dict[str, Any] = {
            "headers": {"Authorization": f"Bearer {who['token']}"}
        }
    else:
        kwargs = {"params": {"token": who["token"]}}
    async with http.post(url, data=body, **kwargs) as r:
        assert (r.status, await r.json()) == (200, [])
    assert len(stored(server.db_path, who["id"])) == 1


async def test_buffered_list_after_an_outage_is_stored_in_order(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A list of queued locations (oldest first) is stored whole, in one 200."""
    race, who = await runner(http, server)
    start = int(time.time()) - 300
    batch = [owntracks_location(i, start) for i in range(30)]
    status, body, _ = await post_owntracks(http, server, who["token"], batch)
    assert (status, body) == (200, [])
    seqs = [seq for seq, _, _, _ in stored(server.db_path, who["id"])]
    assert seqs == [(start + i) * 1000 for i in range(30)]
    standing = (await race.get())["standings"][0]
    assert standing["status"] == "running"
    assert standing["distance_m"] > 50


async def test_resent_batch_is_stored_once(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """The same locations posted again (the 200 was lost) are not stored twice."""
    _, who = await runner(http, server)
    batch = [owntracks_location(i, int(time.time()) - 300) for i in range(5)]
    for _ in range(2):
        status, _, _ = await post_owntracks(http, server, who["token"], batch)
        assert status == 200
    assert len(stored(server.db_path, who["id"])) == 5


async def test_other_message_types_are_ignored_with_an_empty_array(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Transitions, waypoints and status messages get 200 ``[]``, nothing stored."""
    _, who = await runner(http, server)
    for message in (
        {"_type": "transition", "event": "enter", "tst": int(time.time())},
        {"_type": "status", "android": {}},
        {"_type": "waypoints", "waypoints": []},
    ):
        status, body, _ = await post_owntracks(http, server, who["token"], message)
        assert (status, body) == (200, [])
    assert stored(server.db_path, who["id"]) == []


async def test_refused_location_is_named_in_a_header(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A location from ten days ago: 200 ``[]`` with ``Pace-Refused: too_old``."""
    _, who = await runner(http, server)
    old = owntracks_location(0, int(time.time()) - 10 * 86_400)
    status, body, headers = await post_owntracks(http, server, who["token"], old)
    assert (status, body) == (200, [])
    assert headers["Pace-Refused"] == "too_old"
    assert stored(server.db_path, who["id"]) == []


async def test_wrong_password_is_403_and_none_is_401(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A password that is no token is refused; no credentials ask for Basic."""
    location = owntracks_location(0, int(time.time()) - 60)
    status, body, _ = await post_owntracks(http, server, "wrong", location)
    assert (status, body["code"]) == (403, "bad_token")
    url = server.url + "/ingest/owntracks"
    async with http.post(url, data=json.dumps(location)) as r:
        assert r.status == 401
        assert r.headers["WWW-Authenticate"].startswith("Basic")
        assert (await r.json(content_type=None))["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("body", "code"),
    [("{not json", "bad_json"), ('{"_type": "location", "lat": 1}', "bad_point")],
)
async def test_unreadable_bodies_are_400_problems(
    http: aiohttp.ClientSession, server: Server, body: str, code: str
) -> None:
    """Broken JSON, or a location without its fields, is a 400 with its code."""
    _, who = await runner(http, server)
    url = server.url + "/ingest/owntracks"
    headers = {"Authorization": f"Bearer {who['token']}"}
    async with http.post(url, data=body, headers=headers) as r:
        assert r.status == 400
        assert r.content_type == "application/problem+json"
        assert (await r.json(content_type=None))["code"] == code


async def test_wrong_token_is_refused_even_without_a_location(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A status message with a wrong password is 403, so the app shows it early."""
    message = {"_type": "status", "android": {}}
    status, body, _ = await post_owntracks(http, server, "wrong", message)
    assert (status, body["code"]) == (403, "bad_token")


async def test_queue_sent_after_a_newer_live_fix_is_stored(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Older queued fixes after a newer one are kept (as late), not taken as resends."""
    _, who = await runner(http, server)
    start = int(time.time()) - 300
    before = [owntracks_location(i, start) for i in range(5)]
    assert (await post_owntracks(http, server, who["token"], before))[0] == 200
    live = owntracks_location(30, start)
    assert (await post_owntracks(http, server, who["token"], live))[0] == 200
    queue = [owntracks_location(i, start) for i in range(5, 30)]
    for message in queue:
        assert (await post_owntracks(http, server, who["token"], message))[0] == 200
    rows = stored(server.db_path, who["id"])
    assert [seq for seq, _, _, _ in rows] == [(start + i) * 1000 for i in range(31)]
    assert {reason for seq, _, _, reason in rows if seq < (start + 30) * 1000} >= {
        "stale"
    }
    # The queue again (its 200s were lost): nothing more is stored.
    assert (await post_owntracks(http, server, who["token"], queue))[0] == 200
    assert len(stored(server.db_path, who["id"])) == 31
