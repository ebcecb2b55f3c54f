"""A real Prometheus scraping the real service sees a simulated race's points.

Starts ``python -m pace_websockets`` and Debian's ``prometheus`` on free ports
(Prometheus with the shipped deploy/prometheus/prometheus.yml, re-targeted and
scraping every second), streams a runner's points with the reference client
(pace_client) over a real WebSocket, then polls Prometheus's HTTP API until
its numbers match what the service acked.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pace_client import RunnerClient, api
from pace_core import messages

POINTS = 60
BATCH = 10
BAD_SEQ = 30


def prometheus_config(repo: Path, target: str, tmp_path: Path) -> Path:
    """The shipped config, aimed at ``target``, scraping every second."""
    shipped = (repo / "deploy" / "prometheus" / "prometheus.yml").read_text()
    rules_dir = repo / "deploy" / "prometheus" / "rules"
    text = (
        shipped.replace("127.0.0.1:8000", target)
        .replace("scrape_interval: 5s", "scrape_interval: 1s")
        .replace("  - rules/", f"  - {rules_dir}/")
    )
    assert target in text and "scrape_interval: 1s" in text
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    return path


@pytest.fixture
def prometheus(repo: Path, service: str, ops: Any, tmp_path: Path) -> Iterator[str]:
    """A Prometheus server scraping ``service``; its base URL."""
    binary = ops.require_binary("/usr/bin/prometheus")
    port = ops.free_port()
    config = prometheus_config(repo, service.removeprefix("http://"), tmp_path)
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ops.wait_http(f"{base}/-/ready", timeout_s=60, proc=proc)
        yield base
    finally:
        ops.stop(proc)


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def wait_for_value(prometheus: str, promql: str, want: float) -> list[dict[str, Any]]:
    """Poll until ``promql`` yields exactly ``want``; fail with the last answer."""
    deadline = time.monotonic() + 60
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        result = query(prometheus, promql)
        if result and float(result[0]["value"][1]) == want:
            return result
        time.sleep(0.5)
    raise AssertionError(f"{promql} never reached {want}; last answer {result}")


def points(start: datetime) -> list[messages.Point]:
    """A runner heading north at 3 m/s, one fix a second; fix BAD_SEQ is vague."""
    return [
        messages.Point(
            seq=seq,
            time=start + timedelta(seconds=seq),
            lat=52.0 + seq * 3.0 / 111_195.0,
            lon=4.0,
            accuracy=500.0 if seq == BAD_SEQ else 5.0,
        )
        for seq in range(1, POINTS + 1)
    ]


async def run_race(base: str) -> dict[int, str]:
    """A race and one runner streaming through pace_client; the acks' rejections."""
    async with aiohttp.ClientSession() as http:
        race = await api.create_race(http, base, "scrape")
        runner = await api.add_participant(
            http, base, race["id"], "R", race["organizer_token"]
        )
        client = RunnerClient(base, runner["token"], session=http, batch_size=BATCH)
        client.add(points(datetime.now(UTC) - timedelta(seconds=POINTS + 5)))
        client.finish()
        await asyncio.wait_for(client.run(), timeout=60)

    assert client.acked == POINTS
    return client.rejected


@pytest.mark.slow
def test_prometheus_sees_every_point_of_a_simulated_race(
    service: str, prometheus: str, ops: Any
) -> None:
    """Prometheus counts the 60 points sent: 59 accepted, 1 rejected as vague."""
    rejected = asyncio.run(run_race(service))

    received = wait_for_value(prometheus, "pace_points_received_total", POINTS)
    wait_for_value(prometheus, "pace_points_accepted_total", POINTS - 1)
    low = 'pace_points_rejected_total{reason="low_accuracy"}'
    wait_for_value(prometheus, low, 1)

    assert received[0]["metric"]["job"] == "pace-websockets"
    assert set(rejected) <= {BAD_SEQ}
    _, body = ops.http_get(f"{service}/metrics")
    assert f"pace_points_accepted_total {POINTS - 1}.0" in body
