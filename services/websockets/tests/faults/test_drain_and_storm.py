"""SIGTERM drains pending commits; a reconnect storm leaves health checks answered."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from wskit import Server, hello, new_race, points, receive_type

pytestmark = pytest.mark.faults


@pytest.fixture
def draining(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "pace.db", PACE_SHUTDOWN_GRACE_S="6")
    srv.start()
    yield srv
    if srv.proc is not None:
        srv.stop(signal.SIGKILL)


async def test_sigterm_commits_pending_points_then_sends_clients_away(
    http: aiohttp.ClientSession, draining: Server
) -> None:
    """Points waiting on a locked database at SIGTERM are committed and acked."""
    race = await new_race(http, draining)
    ann = await race.add()
    ws, _ = await hello(http, draining, ann["token"])
    held = sqlite3.connect(draining.db_path, isolation_level=None)
    held.execute("BEGIN EXCLUSIVE")
    await ws.send_str(json.dumps({"type": "points", "points": points(1, 20)}))
    await asyncio.sleep(0.3)
    assert draining.proc is not None
    draining.proc.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.5)
    with pytest.raises((aiohttp.ClientError, ConnectionError)):
        await http.ws_connect(draining.ws_url + "/ws/runner")
    held.execute("COMMIT")
    held.close()
    ack = await receive_type(ws, "ack")
    assert ack["seq"] == 20
    reconnect = await receive_type(ws, "reconnect")
    assert reconnect["reason"] == "shutting_down"
    assert await asyncio.to_thread(draining.proc.wait, 30) == 0
    draining.proc = None
    with sqlite3.connect(draining.db_path) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM points").fetchone()
    assert count == 20


async def test_sigterm_exits_within_the_grace_period_when_storage_hangs(
    http: aiohttp.ClientSession, draining: Server
) -> None:
    """With the database locked throughout, SIGTERM still ends the process."""
    race = await new_race(http, draining)
    ann = await race.add()
    ws, _ = await hello(http, draining, ann["token"])
    held = sqlite3.connect(draining.db_path, isolation_level=None)
    held.execute("BEGIN EXCLUSIVE")
    try:
        await ws.send_str(json.dumps({"type": "points", "points": points(1, 5)}))
        await asyncio.sleep(0.3)
        assert draining.proc is not None
        started = time.monotonic()
        draining.proc.send_signal(signal.SIGTERM)
        status = await asyncio.to_thread(draining.proc.wait, 30)
        waited = time.monotonic() - started
    finally:
        held.execute("ROLLBACK")
        held.close()
    draining.proc = None
    assert status == 0
    assert waited < 6 + 5, "exit took longer than the grace period plus a margin"
    frames = [json.loads(m.data) async for m in ws if m.type is aiohttp.WSMsgType.TEXT]
    assert not any(f["type"] == "ack" for f in frames), "acked a point never committed"


STORM = 1500


async def connect(
    http: aiohttp.ClientSession, url: str, hello_token: str | None
) -> aiohttp.ClientWebSocketResponse:
    """Connect with jittered backoff until welcomed (or sent the snapshot)."""
    attempts = 0
    while True:
        attempts += 1
        try:
            ws = await http.ws_connect(url)
            if hello_token is not None:
                await ws.send_str(json.dumps({"type": "hello", "token": hello_token}))
            first = json.loads(await ws.receive_str(timeout=30))
            assert first["type"] in ("welcome", "snapshot"), first
            return ws
        except (aiohttp.ClientError, ConnectionError, TimeoutError):
            await asyncio.sleep(random.uniform(0, min(5.0, 0.2 * 2**attempts)))


async def probe_health(
    http: aiohttp.ClientSession, url: str, stop: asyncio.Event
) -> list[int]:
    """GET /healthz every 100 ms until ``stop``; the statuses (0: no answer in 5 s)."""
    statuses = []
    while not stop.is_set():
        try:
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as r:
                statuses.append(r.status)
        except (aiohttp.ClientError, TimeoutError):
            statuses.append(0)
        await asyncio.sleep(0.1)
    return statuses


async def test_reconnect_storm_is_absorbed_and_health_stays_answered(
    tmp_path: Path,
) -> None:
    """Thousands of clients reconnecting at once all get in; /healthz answers."""
    srv = Server(tmp_path / "pace.db", PACE_LOG_LEVEL="WARNING")
    srv.start()
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            race = await new_race(http, srv)
            tokens = [(await race.add(f"R{i}"))["token"] for i in range(200)]
            clients = [(srv.ws_url + "/ws/runner", t) for t in tokens]
            feed = f"{srv.ws_url}/ws/races/{race.id}"
            clients += [(feed, None)] * (STORM - len(clients))
            stop = asyncio.Event()
            health = asyncio.create_task(probe_health(http, srv.url + "/healthz", stop))
            for _ in range(2):  # everyone in, a blip drops them all, all back
                sockets = await asyncio.wait_for(
                    asyncio.gather(*(connect(http, u, t) for u, t in clients)), 240
                )
                assert len(sockets) == STORM
                await asyncio.gather(*(ws.close() for ws in sockets))
            stop.set()
            statuses = await health
    finally:
        srv.stop(signal.SIGKILL)
    assert statuses and set(statuses) == {200}, sorted(set(statuses))
