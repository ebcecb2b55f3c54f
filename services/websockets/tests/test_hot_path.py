"""What the hot-path savings keep: latest stats, rounded numbers, whole ticks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pace_websockets.app import create_app
from pace_websockets.hub import RaceView
from pace_websockets.service import SERVICE, Service
from pace_websockets.settings import Settings
from pace_websockets.spectator import SpectatorSession
from pace_websockets.storage import RaceRecord
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


async def test_standings_are_rounded_at_the_boundary(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Distances and times carry one decimal, positions six."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    await send_points(ws, points(1, 30, step_deg=0.0000312345))
    standing = (await receive_type(ws, "stats"))["standing"]
    for field in ("distance_m", "elapsed_s", "pace_s_per_km", "avg_pace_s_per_km"):
        assert round(standing[field], 1) == standing[field], field
    lat, lon, _ = standing["position"]
    assert (round(lat, 6), round(lon, 6)) == (lat, lon)
    assert lat != round(lat, 4)
    await ws.close()


@pytest.fixture
async def two_tick_app(tmp_path: Path) -> AsyncIterator[TestServer]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'pace.db'}", spectator_queue_frames=2
    )
    async with TestServer(create_app(settings)) as server:
        yield server


async def test_a_mass_start_is_one_tick_in_a_spectator_queue(
    two_tick_app: TestServer,
) -> None:
    """A tick of 500 event frames fits a queue of two ticks; a third tick resyncs."""
    service: Service = two_tick_app.app[SERVICE]
    race = RaceRecord("r", "race", None, None, 0, "x", "open")
    session = SpectatorSession(service, None, RaceView(race))  # type: ignore[arg-type]
    mass_start = [b"event %d" % i for i in range(500)] + [b"update"]
    session.offer_tick(mass_start)
    session.offer_tick([b"next update"])
    assert list(session._queue) == [*mass_start, b"next update"]
    assert not session._resync
    session.offer_tick([b"third"])
    assert list(session._queue) == []
    assert session._resync
