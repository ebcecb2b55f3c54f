"""After failed commits and reconnects the live distance equals storage's.

The fault wrapper of ``test_commit_failures`` refuses every tenth commit
while a runner streams one point per batch; the runner reconnects and
resends as its client would. The live standing must then show the distance
a tracker rebuilt from the stored points gives, not less.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from pace_core.engine import Fix, RaceRules, Tracker
from pace_websockets.service import Service
from test_commit_failures import FlakyWrites, _hello, _runner, live
from wskit import points

__all__ = ["live"]


async def test_live_distance_matches_storage_after_failed_commits(
    http: aiohttp.ClientSession, live: tuple[TestServer, Service, FlakyWrites]
) -> None:
    """200 points, every tenth commit failed and resent: live == rebuilt distance."""
    server, service, flaky = live
    runner = await _runner(server, http)
    start = datetime.now(UTC) - timedelta(seconds=600)
    sent = {p["seq"]: p for p in points(1, 200, start=start)}
    for p in sent.values():
        del p["accuracy"]
    ws, welcome = await _hello(server, http, runner["token"])
    acked, failed = welcome["last_seq"], set[int]()
    while acked < 200:
        seq = acked + 1
        flaky.failing = seq % 10 == 0 and seq not in failed
        failed.add(seq)
        await ws.send_str(json.dumps({"type": "points", "points": [sent[seq]]}))
        frames = [json.loads(m.data) async for m in _until_ack(ws)]
        if ws.closed:
            flaky.failing = False
            ws, welcome = await _hello(server, http, runner["token"])
            acked = welcome["last_seq"]
        else:
            acked = frames[-1]["seq"]

    rows = await service.db.load_points(runner["id"])
    fixes = [Fix(r.seq, r.time, r.lat, r.lon, r.alt, r.accuracy) for r in rows]
    expected = Tracker.rebuild(RaceRules(), fixes, service.limits).view().distance_m
    assert len(rows) == 200
    assert await _live_distance(http, server, runner, round(expected, 1)) == round(
        expected, 1
    )
    await ws.close()


async def _live_distance(
    http: aiohttp.ClientSession,
    server: TestServer,
    runner: dict[str, Any],
    expected: float,
) -> float:
    """The live distance once the last ack's standing was published (or 5 s)."""
    url = server.make_url(f"/api/races/{runner['race_id']}")
    for _ in range(50):  # the view follows an ack by a publish interval (0.1 s)
        async with http.get(url) as r:
            distance: float = (await r.json())["standings"][0]["distance_m"]
        if distance == expected:
            break
        await asyncio.sleep(0.1)
    return distance


async def _until_ack(ws: aiohttp.ClientWebSocketResponse):  # type: ignore[no-untyped-def]
    async for msg in ws:
        yield msg
        if json.loads(msg.data)["type"] == "ack":
            return
