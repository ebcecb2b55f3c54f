"""Smaller findings of the adversarial report, each against the real server."""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
from wskit import Server, hello, new_race


async def test_replay_speed_below_a_tenth_is_422(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """speed=1e-300 would never finish: refused with 422 before the upgrade."""
    race = await new_race(http, server)
    url = f"{server.url}/api/races/{race.id}/replay?speed=1e-300"
    async with http.get(url) as r:
        assert r.status == 422
        assert "speed must be a number from 0.1" in (await r.json())["detail"]


def _spectator_bytes_in(metrics: str) -> float:
    pattern = r'pace_ws_bytes_total\{direction="in",role="spectator"\} (\S+)'
    match = re.search(pattern, metrics)
    return 0.0 if match is None else float(match.group(1))


async def test_spectator_bytes_in_are_counted(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Text a spectator sends adds its bytes to pace_ws_bytes_total{in,spectator}."""
    race = await new_race(http, server)
    async with http.get(server.url + "/metrics") as r:
        before = _spectator_bytes_in(await r.text())
    ws = await http.ws_connect(f"{server.ws_url}/ws/races/{race.id}")
    await ws.receive(timeout=10)  # the snapshot
    await ws.send_str("x" * 100)
    await ws.close()

    async with http.get(server.url + "/metrics") as r:
        after = _spectator_bytes_in(await r.text())
    assert after - before >= 100


async def test_failed_hello_logs_no_runner_left(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A bad-token hello never joined: only the real runner logs "runner left"."""
    race = await new_race(http, server)
    before = server.logs().count('"runner left"')
    bad = await http.ws_connect(server.ws_url + "/ws/runner")
    await bad.send_str(json.dumps({"type": "hello", "token": "nope"}))
    async for _ in bad:
        pass
    good, _ = await hello(http, server, (await race.add())["token"])
    await good.close()

    for _ in range(100):  # until the good runner's line is written
        if server.logs().count('"runner left"') > before:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    assert bad.close_code == 1008
    assert server.logs().count('"runner left"') == before + 1
