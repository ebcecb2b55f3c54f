"""What the service exports: Prometheus counters and the GPX track."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET

import aiohttp
from wskit import Server, hello, metric, new_race, points, receive_type

GPX = "{http://www.topografix.com/GPX/1/1}"


class Counters:
    """Metric values relative to when the helper was made (the server is shared)."""

    def __init__(self, http: aiohttp.ClientSession, server: Server) -> None:
        self.http, self.server = http, server
        self.start: dict[str, float] = {}

    async def mark(self, *lines: str) -> None:
        for line in lines:
            self.start[line] = await metric(self.http, self.server, line)

    async def delta(self, line: str) -> float:
        now = await metric(self.http, self.server, line)
        return now - self.start.get(line, 0.0)


async def test_gpx_holds_every_counted_point(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """track.gpx has one trkpt per counted point, as many as points_accepted."""
    counters = Counters(http, server)
    await counters.mark("pace_points_accepted_total")
    race = await new_race(http, server)
    ann = await race.add("Ann")
    ws, _ = await hello(http, server, ann["token"])
    batch = points(1, 40)
    batch[3]["accuracy"] = 400.0  # stored, not counted
    batch[7]["lat"] = 100.0  # refused, not stored
    await ws.send_str(json.dumps({"type": "points", "points": batch}))
    await receive_type(ws, "ack")
    url = f"{server.url}/api/races/{race.id}/participants/{ann['id']}/track.gpx"
    async with http.get(url) as r:
        assert r.status == 200
        assert r.content_type == "application/gpx+xml"
        root = ET.fromstring(await r.text())
    trkpts = root.findall(f".//{GPX}trkpt")
    accepted = await counters.delta("pace_points_accepted_total")
    assert len(trkpts) == accepted == 38
    lats = [float(p.get("lat", "nan")) for p in trkpts]
    assert lats == [p["lat"] for i, p in enumerate(batch) if i not in (3, 7)]
    async with http.get(url + "?all=1") as r:
        every = ET.fromstring(await r.text()).findall(f".//{GPX}trkpt")
    assert len(every) == 39
    await ws.close()


async def test_metrics_count_points_and_clients(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Received, accepted, rejected by reason, clients and bytes are exported."""
    lines = (
        "pace_points_received_total",
        "pace_points_accepted_total",
        'pace_points_rejected_total{reason="out_of_range"}',
        'pace_ws_messages_total{direction="in",role="runner"}',
        'pace_ws_bytes_total{direction="out",role="runner"}',
        "pace_storage_commit_seconds_count",
        "pace_ack_latency_seconds_count",
    )
    counters = Counters(http, server)
    await counters.mark(*lines)
    race = await new_race(http, server)
    ann = await race.add("Ann")
    ws, _ = await hello(http, server, ann["token"])
    batch = points(1, 10)
    batch[0]["lat"] = 95.0
    await ws.send_str(json.dumps({"type": "points", "points": batch}))
    await receive_type(ws, "ack")

    value = counters.delta

    assert await value("pace_points_received_total") == 10
    assert await value("pace_points_accepted_total") == 9
    assert await value('pace_points_rejected_total{reason="out_of_range"}') == 1
    assert await metric(http, server, 'pace_connected_clients{role="runner"}') >= 1
    assert await value('pace_ws_messages_total{direction="in",role="runner"}') == 2
    assert await value('pace_ws_bytes_total{direction="out",role="runner"}') > 0
    assert await value("pace_storage_commit_seconds_count") >= 1
    assert await value("pace_ack_latency_seconds_count") == 1
    assert await metric(http, server, "process_cpu_seconds_total") > 0
    await ws.close()


async def test_ingest_to_broadcast_is_observed(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A point seen by a spectator's update is timed in the histogram."""
    race = await new_race(http, server)
    ann = await race.add("Ann")
    spectator = await http.ws_connect(f"{server.ws_url}/ws/races/{race.id}")
    ws, _ = await hello(http, server, ann["token"])
    await ws.send_str(json.dumps({"type": "points", "points": points(1, 5)}))
    await receive_type(ws, "ack")
    await receive_type(spectator, "update")
    await asyncio.sleep(0.1)
    count = await metric(http, server, "pace_ingest_to_broadcast_seconds_count")
    assert count >= 1
    assert await metric(http, server, "pace_active_races") >= 1
    await ws.close()
    await spectator.close()


async def test_group_commit_shares_commits_across_connections(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Thirty runners sending one point each at once need fewer commits than batches."""
    race = await new_race(http, server)
    runners = [await race.add(f"R{i}") for i in range(30)]
    sockets = [(await hello(http, server, r["token"]))[0] for r in runners]
    counters = Counters(http, server)
    await counters.mark(
        "pace_storage_batch_points_count", "pace_storage_batch_points_sum"
    )
    for round_ in range(3):
        batch = json.dumps({"type": "points", "points": points(1 + round_, 1)})
        await asyncio.gather(*(ws.send_str(batch) for ws in sockets))
        await asyncio.gather(*(receive_type(ws, "ack") for ws in sockets))
    commits = await counters.delta("pace_storage_batch_points_count")
    written = await counters.delta("pace_storage_batch_points_sum")
    assert written == 90
    assert commits < 90
    assert written / commits > 1
    for ws in sockets:
        await ws.close()
