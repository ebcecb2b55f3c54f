"""Losing Redis degrades fan-out between instances, never the stored points."""

from __future__ import annotations

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
    wait_status,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


async def test_redis_outage_keeps_acking_and_recovers(
    cluster: Any, pg_url: str, own_redis: RedisProcess
) -> None:
    """With Redis down, points are still acked and stored; fan-out resumes after."""
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
        runner = await Runner.connect(http, a.ws_url, who["token"])
        for batch in first:
            await runner.send(batch)
        await runner.wait_ack(first[-1][-1]["seq"])
        await spectator.wait_fix(who["id"], fix_ms(first[-1][-1]), 30)

        own_redis.kill()
        await wait_status(a.url + "/readyz", 503)
        async with http.get(a.url + "/readyz") as response:
            assert (await response.json())["type"].endswith("/broker_unavailable")
        for batch in during:
            await runner.send(batch)
        await runner.wait_ack(during[-1][-1]["seq"])
        assert await stored_seqs(pg_url, who["id"]) == list(range(1, 41))

        own_redis.start()
        await wait_status(a.url + "/readyz", 200)
        await wait_status(b.url + "/readyz", 200)
        for batch in after:
            await runner.send(batch)
        await runner.wait_ack(points[-1]["seq"])
        await spectator.wait_fix(who["id"], fix_ms(points[-1]), 30)
        assert await metric(http, a.url, "pace_broker_errors_total") >= 1
        await runner.ws.close()
        await spectator.ws.close()
        await spectator.task

    assert await stored_seqs(pg_url, who["id"]) == [p["seq"] for p in points]
