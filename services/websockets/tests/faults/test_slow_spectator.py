"""A spectator that stops reading is cut off; the others keep their ticks.

The stalled spectator is a raw TCP socket with a 4 KiB receive buffer that
completes the WebSocket handshake and then never reads, so the server's
writes to it really block.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from wskit import Server, hello, metric, new_race, points, receive_type

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def small_queues(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("slow") / "pace.db",
        PACE_SPECTATOR_QUEUE_FRAMES="2",
        PACE_TICK_S="0.05",
        PACE_PUBLISH_INTERVAL_S="0.02",
    )
    srv.start()
    yield srv
    srv.stop()


def stalled_spectator(server: Server, race_id: str) -> socket.socket:
    """Upgrade to a race feed over a raw socket that will never be read again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/races/{race_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert sock.recv(12) == b"HTTP/1.1 101"
    return sock


START = datetime.now(UTC) - timedelta(hours=1)


async def stream(ws: aiohttp.ClientWebSocketResponse, first: int) -> None:
    batch = points(first, 5, start=START)
    await ws.send_str(json.dumps({"type": "points", "points": batch}))
    await receive_type(ws, "ack")


async def test_stalled_spectator_is_disconnected_and_others_keep_up(
    http: aiohttp.ClientSession, small_queues: Server, tmp_path: Path
) -> None:
    """A spectator that never reads is dropped; a reading one sees every runner."""
    srv = small_queues
    race = await new_race(http, srv)
    people = [await race.add(f"Runner {i} " + "x" * 180) for i in range(40)]
    stalled = stalled_spectator(srv, race.id)
    watcher = await http.ws_connect(f"{srv.ws_url}/ws/races/{race.id}")
    line = 'pace_connected_clients{role="spectator"}'
    try:
        runners = [(await hello(http, srv, p["token"]))[0] for p in people]
        first, deadline = 1, time.monotonic() + 120
        while await metric(http, srv, line) > 1 and time.monotonic() < deadline:
            await asyncio.gather(*(stream(ws, first) for ws in runners))
            first += 5
            await asyncio.sleep(0.02)
        assert await metric(http, srv, line) == 1
        assert "spectator too slow: disconnected" in srv.logs()
        seen: set[str] = set()
        while len(seen) < len(people):
            frame = json.loads(await watcher.receive_str(timeout=10))
            for s in frame.get("standings", []):
                if s["distance_m"] > 0:
                    seen.add(s["participant_id"])
        for ws in runners:
            await ws.close()
    finally:
        stalled.close()
        await watcher.close()
