"""A hand-written malicious client against the real server process.

Every bad message of issue 7 is sent over real sockets and must get its
documented code (docs/protocol.md), while an honest runner in the same race
keeps streaming and ends with every point stored and counted.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from wskit import Race, Server, closed_with, hello, new_race, points, receive_type

NOW = datetime.now(UTC)


def point(seq: int, **fields: Any) -> dict[str, Any]:
    """A valid point at ``seq``, with ``fields`` replaced."""
    base = {
        "seq": seq,
        "time": (NOW - timedelta(seconds=300 - seq)).isoformat(),
        "lat": 48.85 + seq * 0.00003,
        "lon": 2.35,
        "accuracy": 5.0,
    }
    return {**base, **fields}


async def honest_runner(
    http: aiohttp.ClientSession, server: Server, token: str, stop: asyncio.Event
) -> int:
    """Stream 5-point batches, one ack at a time, until told to stop; last seq.

    At least 30 points go out whenever the stop comes, so the runner has
    moved far enough for the engine to count distance."""
    ws, welcome = await hello(http, server, token)
    assert welcome["type"] == "welcome"
    seq = 0
    # One point a second of recorded time: an hour back leaves room for 3,600.
    start = datetime.now(UTC) - timedelta(hours=1)
    while (not stop.is_set() or seq < 30) and seq < 3000:
        batch = points(seq + 1, 5, start=start)
        await ws.send_str(json.dumps({"type": "points", "points": batch}))
        ack = await receive_type(ws, "ack")
        assert ack["seq"] == seq + 5 and "rejected" not in ack, ack
        seq += 5
        await asyncio.sleep(0.1)
    await ws.close()
    return seq


INF = "__inf__"
"""Stands for the JSON number 1e999, which json.dumps cannot write."""


async def send_points(
    ws: aiohttp.ClientWebSocketResponse, batch: list[dict[str, Any]]
) -> dict[str, Any]:
    frame = json.dumps({"type": "points", "points": batch})
    await ws.send_str(frame.replace(f'"{INF}"', "1e999"))
    return await receive_type(ws, "ack")


async def error_of(ws: aiohttp.ClientWebSocketResponse) -> str:
    frame = await receive_type(ws, "error")
    return str(frame["code"])


async def closing_error(
    http: aiohttp.ClientSession, server: Server, token: str | None, frame: Any
) -> tuple[str, int]:
    """Open a socket, say hello with ``token`` (if any), send ``frame``."""
    ws = await http.ws_connect(server.ws_url + "/ws/runner")
    if token is not None:
        await ws.send_str(json.dumps({"type": "hello", "token": token}))
        await receive_type(ws, "welcome")
    if isinstance(frame, bytes):
        await ws.send_bytes(frame)
    else:
        await ws.send_str(frame)
    code = await error_of(ws)
    return code, await closed_with(ws)


async def attack_open_socket(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Bad frames after which the socket stays open, each with its code."""
    expected = {
        "{not json": "bad_json",
        json.dumps({"type": "points", "points": [point(1, lat=float("nan"))]}): (
            "bad_json"
        ),
        json.dumps({"type": "teleport"}): "unknown_type",
        json.dumps({"points": []}): "unknown_type",
        json.dumps({"type": "points"}): "bad_message",
        json.dumps({"type": "points", "points": "many"}): "bad_message",
        json.dumps({"type": "points", "points": [{"lat": 1}]}): "bad_message",
        json.dumps({"type": "hello", "token": "again"}): "already_hello",
    }
    for frame, code in expected.items():
        await ws.send_str(frame)
        assert await error_of(ws) == code, frame


async def attack_points(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Bad points inside valid batches are rejected one by one with a reason."""
    naive = (NOW - timedelta(seconds=100)).replace(tzinfo=None).isoformat()
    cases = [
        (point(1, lat=91.0), "out_of_range"),
        (point(2, lon=-181.0), "out_of_range"),
        (point(3, lat=INF), "bad_point"),
        (point(4, lat="north"), "bad_point"),
        (point(5, time=naive), "no_offset"),
        (point(6, time=(NOW + timedelta(hours=2)).isoformat()), "future"),
        (point(7, time="1995-06-01T00:00:00+00:00"), "too_old"),
        (point(8, lat=0.0, lon=0.0), "null_island"),
    ]
    ack = await send_points(ws, [p for p, _ in cases] + [point(9)])
    assert ack["seq"] == 9
    assert {r["seq"]: r["reason"] for r in ack["rejected"]} == {
        p["seq"]: reason for p, reason in cases
    }


async def attack_sequences(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Seqs going backwards, jumping, and repeating with other content."""
    ack = await send_points(ws, [point(5)])  # backwards: already seen, acked
    assert ack["seq"] == 9 and "rejected" not in ack
    ack = await send_points(ws, [point(9, lat=10.0)])  # same seq, other place
    assert ack["rejected"] == [{"seq": 9, "reason": "seq_conflict"}]
    ack = await send_points(ws, [point(200)])  # a jump is allowed
    assert ack["seq"] == 200 and "rejected" not in ack


async def test_every_bad_message_gets_its_code_while_the_race_goes_on(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Each malicious frame gets its documented code; an honest runner is unharmed."""
    race = await new_race(http, server)
    honest, evil = await race.add("Honest"), await race.add("Evil")
    stop = asyncio.Event()
    streaming = asyncio.get_running_loop().create_task(
        honest_runner(http, server, honest["token"], stop)
    )

    await attack_before_hello(http, server)
    await attack_closing_frames(http, server, evil["token"])
    ws, _ = await hello(http, server, evil["token"])
    await attack_open_socket(ws)
    await attack_points(ws)
    await attack_sequences(ws)
    await ws.close()
    await attack_foreign_tokens(http, server, race, evil["token"])

    stop.set()
    last = await streaming
    assert last >= 30
    assert stored_seqs(server, honest["id"]) == list(range(1, last + 1))
    assert await distance_of(race, honest["id"]) > 0
    assert "Traceback" not in server.logs()


async def attack_before_hello(http: aiohttp.ClientSession, server: Server) -> None:
    """Points before hello, garbage before hello, an unknown token."""
    batch = json.dumps({"type": "points", "points": [point(1)]})
    assert await closing_error(http, server, None, batch) == ("hello_required", 1008)
    assert await closing_error(http, server, None, "{oops") == ("bad_json", 1008)
    bad = json.dumps({"type": "hello", "token": "guessed"})
    assert await closing_error(http, server, None, bad) == ("bad_token", 1008)


async def attack_closing_frames(
    http: aiohttp.ClientSession, server: Server, token: str
) -> None:
    """Binary, huge and over-full frames close the socket with their code."""
    assert await closing_error(http, server, token, b"\x00\x01") == (
        "binary_not_supported",
        1003,
    )
    huge = json.dumps({"type": "points", "points": [], "pad": "x" * 600_000})
    assert await closing_error(http, server, token, huge) == ("frame_too_large", 1009)
    full = json.dumps({"type": "points", "points": [point(i) for i in range(1, 1002)]})
    assert await closing_error(http, server, token, full) == ("batch_too_large", 1009)


async def attack_foreign_tokens(
    http: aiohttp.ClientSession, server: Server, race: Race, runner_token: str
) -> None:
    """Another race's organiser token and a runner token manage nothing here."""
    other = await new_race(http, server, visibility="private")
    url = f"{server.url}/api/races/{race.id}/participants"
    for token in (other.token, runner_token, str(other.body["spectator_token"])):
        headers = {"Authorization": f"Bearer {token}"}
        async with http.post(url, json={"name": "Mallory"}, headers=headers) as r:
            assert r.status == 403
            assert (await r.json())["type"] == "https://pace.dev/problems/forbidden"
    feed = f"{server.ws_url}/ws/races/{other.id}?key={runner_token}"
    try:
        await http.ws_connect(feed)
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 403
    else:
        raise AssertionError("a runner token opened a private race's feed")


async def test_points_for_an_ended_race_are_refused_and_closed(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """After the organiser ends the race, points get race_ended and close 1000."""
    race = await new_race(http, server)
    ann = await race.add()
    ws, _ = await hello(http, server, ann["token"])
    async with http.post(
        f"{server.url}/api/races/{race.id}/end", headers=race.auth
    ) as r:
        assert r.status == 200
    ack = await send_points(ws, [point(1)])
    assert ack["rejected"] == [{"seq": 1, "reason": "race_ended"}]
    assert await error_of(ws) == "race_ended"
    assert await closed_with(ws) == 1000


async def distance_of(race: Race, participant_id: str) -> float:
    """The runner's distance once the standings show it (they follow ticks)."""
    for _ in range(100):
        standings = (await race.get())["standings"]
        distance = float(
            next(
                s["distance_m"]
                for s in standings
                if s["participant_id"] == participant_id
            )
        )
        if distance > 0:
            break
        await asyncio.sleep(0.1)
    return distance


def stored_seqs(server: Server, participant_id: str) -> list[int]:
    with sqlite3.connect(server.db_path) as db:
        rows = db.execute(
            "SELECT seq FROM points WHERE participant_id = ? ORDER BY seq",
            (participant_id,),
        ).fetchall()
    return [int(seq) for (seq,) in rows]
