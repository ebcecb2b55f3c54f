"""Losing Redis degrades fan-out between instances, never the stored points."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from scaleout_kit import (
    RedisProcess,
    Runner,
    Spectator,
    batches,
    fix_ms,
    metric,
    race_with_runner,
    stored_seqs,
    synthetic_points,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


async def test_redis_outage_keeps_acking_and_recovers(
    cluster: Any, pg_url: str, own_redis: RedisProcess
) -> None:
    """Redis down: points acked and stored, local spectators live, fan-out resumes."""
    a, b = cluster("A", "B", PACE_BROKER_URL=own_redis.url, PACE_TICK_S="0.25")
    points = synthetic_points(60)
    first, during, after = (
        batches(points)[:2],
        batches(points)[2:4],
        batches(points)[4:],
    )
    async with aiohttp.ClientSession() as http:
        race, who = await race_with_runner(http, a.url)
        spectator = Spectator(
            await http.ws_connect(f"{b.ws_url}/ws/races/{race['id']}")
        )
        local = Spectator(await http.ws_connect(f"{a.ws_url}/ws/races/{race['id']}"))
        runner = await Runner.connect(http, a.ws_url, who["token"])
        for batch in first:
            await runner.send(batch)
        await runner.wait_ack(first[-1][-1]["seq"])
        await spectator.wait_fix(who["id"], fix_ms(first[-1][-1]), 30)

        own_redis.kill()
        body = await wait_readiness(http, a.url + "/readyz", "degraded")
        assert body["storage"] == "ok" and body["broker"].startswith("unavailable")
        for batch in during:
            await runner.send(batch)
        await runner.wait_ack(during[-1][-1]["seq"])
        assert await stored_seqs(pg_url, who["id"]) == list(range(1, 41))
        await wait_broker_error(http, a.url)
        # The runner's own instance keeps its spectators live without Redis.
        await local.wait_fix(who["id"], fix_ms(during[-1][-1]), 30)

        own_redis.start()
        await wait_readiness(http, a.url + "/readyz", "ready")
        await wait_readiness(http, b.url + "/readyz", "ready")
        for batch in after:
            await runner.send(batch)
        await runner.wait_ack(points[-1]["seq"])
        await spectator.wait_fix(who["id"], fix_ms(points[-1]), 30)
        await runner.ws.close()
        await spectator.ws.close()
        await spectator.task
        await local.ws.close()
        await local.task

    assert await stored_seqs(pg_url, who["id"]) == [p["seq"] for p in points]


async def wait_readiness(
    http: aiohttp.ClientSession, url: str, status: str, timeout_s: float = 30.0
) -> dict[str, Any]:
    """Poll ``/readyz`` until its body says ``status`` (it answers 200 either way)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        async with http.get(url) as response:
            assert response.status == 200, await response.text()
            body: dict[str, Any] = await response.json()
        if body["status"] == status:
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.1)


async def wait_broker_error(
    http: aiohttp.ClientSession, url: str, timeout_s: float = 30.0
) -> None:
    """Poll until the instance has counted a failed publish (its flush is async)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while await metric(http, url, "pace_broker_errors_total") < 1:
        assert asyncio.get_running_loop().time() < deadline, "no broker error counted"
        await asyncio.sleep(0.1)
