"""What the hot-path savings keep: latest stats, rounded numbers, whole ticks."""

from __future__ import annotations

import json

import aiohttp
from wskit import Server, hello, new_race, points, receive_type


async def send_points(
    ws: aiohttp.ClientWebSocketResponse, batch: list[dict[str, object]]
) -> None:
    await ws.send_str(json.dumps({"type": "points", "points": batch}))


async def test_stats_inside_the_interval_are_sent_at_its_end(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A batch acked inside the stats interval still gets stats, with its distance."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    await send_points(ws, points(1, 20))
    first = await receive_type(ws, "stats")
    await send_points(ws, points(21, 20))
    await receive_type(ws, "ack")
    trailing = await receive_type(ws, "stats")
    assert trailing["standing"]["distance_m"] > first["standing"]["distance_m"] + 50
    await ws.close()
