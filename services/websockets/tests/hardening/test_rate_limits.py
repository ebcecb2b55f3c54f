"""Rate limits and heartbeats on real server processes with small limits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from pace_websockets.limits import Bucket, Rate, RateLimited
from wskit import Server, closed_with, hello, metric, new_race, points, receive_type


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with small limits and a half-second heartbeat."""
    srv = Server(
        tmp_path_factory.mktemp("tight") / "pace.db",
        PACE_MESSAGE_RATE="1",
        PACE_MESSAGE_BURST="5",
        PACE_POINT_RATE="10",
        PACE_POINT_BURST="100",
        PACE_ADDRESS_CONNECT_RATE="0.5",
        PACE_ADDRESS_CONNECT_BURST="40",
        PACE_HEARTBEAT_S="0.5",
    )
    srv.start()
    yield srv
    srv.stop()


def test_bucket_refuses_past_burst_and_refills_with_time() -> None:
    """A bucket spends its burst, says how long to wait, then refills."""
    bucket = Bucket(Rate(rate=2, burst=3), now=0.0)
    bucket.take("points", 3, now=0.0)
    with pytest.raises(RateLimited) as caught:
        bucket.take("points", 2, now=0.0)
    assert caught.value.retry_after_s == pytest.approx(1.0)
    bucket.take("points", 2, now=1.0)


async def test_message_flood_gets_rate_limited_and_1013(
    http: aiohttp.ClientSession, tight: Server
) -> None:
    """More messages than the burst allows: rate_limited, then close 1013."""
    race = await new_race(http, tight)
    ann = await race.add()
    ws, _ = await hello(http, tight, ann["token"])
    for _ in range(10):
        await ws.send_str("{}")
    frame = await receive_type(ws, "error")
    while frame["code"] != "rate_limited":
        frame = await receive_type(ws, "error")
    assert "messages" in frame["message"]
    assert await closed_with(ws) == 1013


async def test_too_many_points_at_once_get_rate_limited(
    http: aiohttp.ClientSession, tight: Server
) -> None:
    """A batch over the points burst is refused whole and nothing is stored."""
    race = await new_race(http, tight)
    ann = await race.add()
    ws, _ = await hello(http, tight, ann["token"])
    await ws.send_str(json.dumps({"type": "points", "points": points(1, 150)}))
    frame = await receive_type(ws, "error")
    assert frame["code"] == "rate_limited" and "points" in frame["message"]
    assert await closed_with(ws) == 1013
    ws, welcome = await hello(http, tight, ann["token"])
    assert welcome["last_seq"] == 0
    await ws.close()


async def test_dead_connection_is_closed_by_heartbeat(
    http: aiohttp.ClientSession, tight: Server
) -> None:
    """A spectator that never answers pings is closed within a few heartbeats."""
    race = await new_race(http, tight)
    ws = await http.ws_connect(
        f"{tight.ws_url}/ws/races/{race.id}", autoping=False, heartbeat=None
    )
    started = time.monotonic()
    kinds = []
    while not ws.closed and time.monotonic() - started < 20:
        msg = await ws.receive(timeout=20)
        kinds.append(msg.type)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            break
    assert aiohttp.WSMsgType.PING in kinds
    assert kinds[-1] in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    line = 'pace_connected_clients{role="spectator"}'
    for _ in range(50):
        if await metric(http, tight, line) == 0:
            break
        await asyncio.sleep(0.1)
    assert await metric(http, tight, line) == 0


async def test_an_hour_of_buffered_points_is_never_refused(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Default limits: 3,600 buffered 1 Hz points sent at once are all acked."""
    race = await new_race(http, server)
    ann = await race.add()
    ws, _ = await hello(http, server, ann["token"])
    start = datetime.now(UTC) - timedelta(hours=1, minutes=5)
    for first in range(1, 3601, 1000):
        batch = points(first, min(1000, 3601 - first), start=start)
        await ws.send_str(json.dumps({"type": "points", "points": batch}))
    acked = 0
    while acked < 3600:
        frame = await receive_type(ws, "ack", within_s=60)
        assert "rejected" not in frame, frame["rejected"][:3]
        acked = frame["seq"]
    await ws.close()
    assert acked == 3600


def test_address_table_is_capped(tmp_path: Path) -> None:
    """A scan from many addresses keeps at most ``max_addresses`` buckets."""
    from pace_websockets.limits import AddressLimits

    table = AddressLimits("connections", Rate(1000, 10), max_addresses=5)
    for i in range(20):
        table.take(f"10.0.0.{i}")
    assert len(table) == 5


async def test_connection_flood_gets_429_problem(
    http: aiohttp.ClientSession, tight: Server
) -> None:
    """Past the per-address connection burst the upgrade is a 429 problem."""
    statuses = []
    for _ in range(60):
        try:
            ws = await http.ws_connect(tight.ws_url + "/ws/runner")
            await ws.close()
            statuses.append(101)
        except aiohttp.WSServerHandshakeError as exc:
            statuses.append(exc.status)
            assert exc.headers is not None and int(exc.headers["Retry-After"]) >= 1
    assert 429 in statuses
    async with http.get(tight.url + "/healthz") as r:
        assert r.status == 200
