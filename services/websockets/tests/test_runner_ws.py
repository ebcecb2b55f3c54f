"""The runner WebSocket over real sockets: hello, acks after commit, refusals."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import aiohttp
from wskit import Server, closed_with, hello, new_race, points, receive_type


def stored(server: Server, participant_id: str) -> list[tuple[int, str | None]]:
    """(seq, reason) of the participant's rows, read straight from the SQLite file."""
    with sqlite3.connect(server.db_path) as db:
        rows = db.execute(
            "SELECT seq, reason FROM points WHERE participant_id = ? ORDER BY seq",
            (participant_id,),
        ).fetchall()
    return [(int(seq), reason) for seq, reason in rows]


async def send_points(ws: aiohttp.ClientWebSocketResponse, batch: list[dict]) -> None:  # type: ignore[type-arg]
    await ws.send_str(json.dumps({"type": "points", "points": batch}))


async def test_hello_gets_welcome_with_last_seq_zero(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A new participant is welcomed with its ids and last_seq 0."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, welcome = await hello(http, server, runner["token"])
    assert welcome == {
        "type": "welcome",
        "participant_id": runner["id"],
        "race_id": race.id,
        "last_seq": 0,
    }
    await ws.close()


async def test_bad_token_is_refused_and_closed_1008(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """An unknown token gets error bad_token, then a policy-violation close."""
    ws, error = await hello(http, server, "not-a-token")
    assert error["type"] == "error" and error["code"] == "bad_token"
    assert await closed_with(ws) == 1008


async def test_points_before_hello_are_refused(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """The first message must be hello: anything else closes with 1008."""
    ws = await http.ws_connect(server.ws_url + "/ws/runner")
    await send_points(ws, points(1, 1))
    error = await receive_type(ws, "error")
    assert error["code"] == "hello_required"
    assert await closed_with(ws) == 1008


async def test_ack_arrives_only_after_rows_are_in_sqlite(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """When the ack for seq N arrives, rows 1..N are already in the database file."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    await send_points(ws, points(1, 20))
    ack = await receive_type(ws, "ack")
    assert ack["seq"] == 20
    assert [seq for seq, _ in stored(server, runner["id"])] == list(range(1, 21))
    await ws.close()


async def test_resent_points_are_acked_not_stored_twice(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Resending seqs the server holds is acked, and the rows stay single."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    await send_points(ws, points(1, 10))
    await receive_type(ws, "ack")
    await ws.close()
    ws, welcome = await hello(http, server, runner["token"])
    assert welcome["last_seq"] == 10
    await send_points(ws, points(5, 10))  # 5..14: 5..10 are resends
    ack = await receive_type(ws, "ack")
    assert ack == {"type": "ack", "seq": 14}
    assert [seq for seq, _ in stored(server, runner["id"])] == list(range(1, 15))
    await ws.close()


async def test_bad_points_are_rejected_one_by_one(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Each unstorable point of a batch is listed with its reason; others stored."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    batch = points(1, 6)
    batch[1]["lat"] = 123.0
    batch[2]["time"] = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    batch[3]["time"] = "2026-01-01T10:00:00"
    batch[4]["lat"] = "north"
    await send_points(ws, batch)
    ack = await receive_type(ws, "ack")
    assert ack["seq"] == 6
    assert ack["rejected"] == [
        {"seq": 2, "reason": "out_of_range"},
        {"seq": 3, "reason": "future"},
        {"seq": 4, "reason": "no_offset"},
        {"seq": 5, "reason": "bad_point"},
    ]
    assert [seq for seq, _ in stored(server, runner["id"])] == [1, 6]
    await ws.close()


async def test_stored_but_uncounted_point_keeps_its_reason(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A low-accuracy fix is stored with its reason and not listed as rejected."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    batch = points(1, 3)
    batch[1]["accuracy"] = 500.0
    await send_points(ws, batch)
    ack = await receive_type(ws, "ack")
    assert ack == {"type": "ack", "seq": 3}
    assert stored(server, runner["id"]) == [(1, None), (2, "low_accuracy"), (3, None)]
    await ws.close()


async def test_malformed_frames_get_stable_codes(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """bad_json, unknown_type, bad_message and already_hello keep the socket open."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    frames = {
        "{not json": "bad_json",
        '{"type": "dance"}': "unknown_type",
        '{"type": "points", "points": 3}': "bad_message",
        json.dumps({"type": "hello", "token": runner["token"]}): "already_hello",
    }
    for frame, code in frames.items():
        await ws.send_str(frame)
        assert (await receive_type(ws, "error"))["code"] == code
    await send_points(ws, points(1, 1))
    assert (await receive_type(ws, "ack"))["seq"] == 1
    await ws.close()


async def test_binary_frame_is_refused_with_1003(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Binary frames get binary_not_supported and an unsupported-data close."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    await ws.send_bytes(b"\x00\x01")
    assert (await receive_type(ws, "error"))["code"] == "binary_not_supported"
    assert await closed_with(ws) == 1003


async def test_too_many_points_is_batch_too_large(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """More than 1000 points in one message is refused whole, close 1009."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    await send_points(ws, points(1, 1001))
    assert (await receive_type(ws, "error"))["code"] == "batch_too_large"
    assert await closed_with(ws) == 1009
    assert stored(server, runner["id"]) == []


async def test_oversized_frame_is_frame_too_large(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A frame over PACE_MAX_FRAME_BYTES gets frame_too_large and close 1009."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    await ws.send_str(
        json.dumps({"type": "points", "points": [], "pad": "x" * 600_000})
    )
    assert (await receive_type(ws, "error"))["code"] == "frame_too_large"
    assert await closed_with(ws) == 1009


async def test_second_connection_replaces_the_first(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A new hello for the same participant closes the older socket with replaced."""
    race = await new_race(http, server)
    runner = await race.add()
    first, _ = await hello(http, server, runner["token"])
    second, welcome = await hello(http, server, runner["token"])
    assert welcome["type"] == "welcome"
    assert (await receive_type(first, "error"))["code"] == "replaced"
    assert await closed_with(first) == 1008
    await send_points(second, points(1, 2))
    assert (await receive_type(second, "ack"))["seq"] == 2
    await second.close()


async def test_runner_gets_stats_with_rank(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """After counted points the runner is sent its own standing."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    await send_points(ws, points(1, 30))
    stats = await receive_type(ws, "stats")
    assert stats["participants"] == 1
    assert stats["standing"]["participant_id"] == runner["id"]
    assert stats["standing"]["status"] == "running"
    assert stats["standing"]["distance_m"] > 50
    await ws.close()


async def test_points_after_race_end_are_refused(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Once the organiser ends the race, points are rejected with race_ended."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    await send_points(ws, points(1, 2))
    await receive_type(ws, "ack")
    async with http.post(f"{server.url}/api/races/{race.id}/end", headers=race.auth):
        pass
    await send_points(ws, points(3, 1))
    ack = await receive_type(ws, "ack")
    assert ack["rejected"] == [{"seq": 3, "reason": "race_ended"}]
    assert (await receive_type(ws, "error"))["code"] == "race_ended"
    assert [seq for seq, _ in stored(server, runner["id"])] == [1, 2]


async def test_revoked_participant_is_disconnected(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Revoking a participant closes their socket and refuses their token."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    url = f"{server.url}/api/races/{race.id}/participants/{runner['id']}"
    async with http.delete(url, headers=race.auth) as r:
        assert r.status == 204
    assert (await receive_type(ws, "error"))["code"] == "bad_token"
    again, error = await hello(http, server, runner["token"])
    assert error["code"] == "bad_token"
    await again.close()
