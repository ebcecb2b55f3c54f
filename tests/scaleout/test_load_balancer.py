"""deploy/haproxy.cfg in front of two real instances: HTTP, WebSockets, failover."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from scaleout_kit import (
    Instance,
    Runner,
    Spectator,
    batches,
    fix_ms,
    free_port,
    metric,
    race_with_runner,
    stored_seqs,
    synthetic_points,
    wait_listening,
    wait_status,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"


class Balancer:
    def __init__(self, url: str, ws_url: str) -> None:
        self.url, self.ws_url = url, ws_url


@pytest.fixture
def balanced(cluster: Any, tmp_path: Path) -> Iterator[tuple[Balancer, list[Instance]]]:
    """Two instances and HAProxy with the repository's config, on free ports."""
    instances = cluster("A", "B", PACE_TICK_S="0.25")
    port = free_port()
    env = {
        **os.environ,
        "PACE_LB_BIND": f"127.0.0.1:{port}",
        "PACE_LB_STATS": f"127.0.0.1:{free_port()}",
        "PACE_A": f"127.0.0.1:{instances[0].port}",
        "PACE_B": f"127.0.0.1:{instances[1].port}",
    }
    with (tmp_path / "haproxy.log").open("ab") as log:
        proxy = subprocess.Popen(
            [shutil.which("haproxy") or "/usr/sbin/haproxy", "-db", "-f", str(CONFIG)],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        wait_listening(port)
        balancer = Balancer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")
        yield balancer, instances
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(10)


async def runner_host(
    http: aiohttp.ClientSession, instances: list[Instance]
) -> Instance:
    """The instance that holds the runner's socket, by its own metrics."""
    for instance in instances:
        sample = 'pace_connected_clients{role="runner"}'
        if await metric(http, instance.url, sample) == 1:
            return instance
    raise AssertionError("no instance reports the runner")


async def test_runner_fails_over_through_haproxy(
    balanced: tuple[Balancer, list[Instance]], pg_url: str
) -> None:
    """Through HAProxy, a runner whose instance is killed resumes on the other."""
    lb, instances = balanced
    points = synthetic_points(50)
    before, after = batches(points)[:2], batches(points)[2:]
    async with aiohttp.ClientSession() as http:
        await wait_status(lb.url + "/readyz", 200)
        race, who = await race_with_runner(http, lb.url)
        runner = await Runner.connect(http, lb.ws_url, who["token"])
        for batch in before:
            await runner.send(batch)
        await runner.wait_ack(before[-1][-1]["seq"])

        host = await runner_host(http, instances)
        survivor = next(i for i in instances if i is not host)
        host.kill()
        await runner.ws.close()
        spectator = Spectator(
            await http.ws_connect(f"{lb.ws_url}/ws/races/{race['id']}")
        )

        runner = await Runner.connect(http, lb.ws_url, who["token"])
        assert runner.welcome["last_seq"] == before[-1][-1]["seq"]
        assert await runner_host(http, [survivor]) is survivor
        for batch in after:
            await runner.send(batch)
        await runner.wait_ack(points[-1]["seq"])
        await spectator.wait_fix(who["id"], fix_ms(points[-1]), 30)
        await runner.ws.close()
        await spectator.ws.close()
        await spectator.task

    assert await stored_seqs(pg_url, who["id"]) == [p["seq"] for p in points]
