"""The tracker endpoints share the socket's pipeline: feed, failures, spec."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pace_websockets.app import create_app
from pace_websockets.openapi import spec
from pace_websockets.service import SERVICE
from pace_websockets.settings import Settings
from pace_websockets.storage import PointRow, Storage, StorageUnavailable
from trackerkit import (
    LAT0,
    LON0,
    STEP_DEG,
    fix_time,
    iso,
    owntracks_location,
    post_owntracks,
    stored,
    traccar_query,
)
from wskit import Server, hello, new_race, receive_type


async def test_spectator_feed_shows_a_tracker_runner(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A fix from OwnTracks reaches a race page's feed as a running standing."""
    race = await new_race(http, server)
    who = await race.add("Otto")
    feed = await http.ws_connect(f"{server.ws_url}/ws/races/{race.id}")
    snapshot = await receive_type(feed, "snapshot")
    assert [s["status"] for s in snapshot["standings"]] == ["waiting"]
    start = int(time.time()) - 60
    batch = [owntracks_location(i, start) for i in range(5)]
    assert (await post_owntracks(http, server, who["token"], batch))[0] == 200
    while True:
        update = await receive_type(feed, "update")
        mine = [s for s in update["standings"] if s["participant_id"] == who["id"]]
        if mine and mine[0]["status"] == "running":
            break
    assert mine[0]["position"][:2] == pytest.approx(  # the wire carries 6 decimals
        [batch[-1]["lat"], batch[-1]["lon"]], abs=1e-6
    )
    await feed.close()


def test_ingest_routes_match_the_spec() -> None:
    """The router's /ingest/ routes and those of /openapi.json are the same."""
    app = create_app(Settings(database_url="sqlite:///unused.db"))
    routed = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/ingest/")
        and route.method != "HEAD"
    }
    documented = {
        (method, path)
        for path, operations in spec()["paths"].items()
        if path.startswith("/ingest/")
        for method in operations
    }
    assert routed == documented
    assert len(routed) == 3


class FlakyWrites:
    """A real storage whose ``write_batch`` fails while ``failing`` is set."""

    def __init__(self, inner: Storage) -> None:
        self.inner, self.failing = inner, False

    async def write_batch(
        self, rows: Sequence[PointRow], snapshots: Sequence[tuple[str, bytes]]
    ) -> None:
        if self.failing:
            raise StorageUnavailable("disk unplugged by the test")
        await self.inner.write_batch(rows, snapshots)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def flaky(tmp_path: Path) -> AsyncIterator[tuple[TestServer, FlakyWrites]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'pace.db'}", tick_s=0.2)
    app = create_app(settings)
    async with TestServer(app) as server:
        service = app[SERVICE]
        assert service.committer is not None and service.storage is not None
        wrapper = FlakyWrites(service.storage)
        service.committer.storage = wrapper  # type: ignore[assignment]
        yield server, wrapper


async def test_failed_commit_is_503_with_retry_after_then_stored_on_resend(
    http: aiohttp.ClientSession,
    flaky: tuple[TestServer, FlakyWrites],
    tmp_path: Path,
) -> None:
    """Storage down: 503 + Retry-After and nothing stored; the resend is stored."""
    server, wrapper = flaky
    async with http.post(server.make_url("/api/races"), json={"name": "r"}) as r:
        race = await r.json()
    auth = {"Authorization": f"Bearer {race['organizer_token']}"}
    url = server.make_url(f"/api/races/{race['id']}/participants")
    async with http.post(url, json={"name": "Tess"}, headers=auth) as r:
        who = await r.json()
    params = traccar_query(who["token"], 0, int(time.time()) - 60)
    wrapper.failing = True
    async with http.post(server.make_url("/ingest/osmand"), params=params) as r:
        assert r.status == 503
        assert int(r.headers["Retry-After"]) > 0
        assert (await r.json(content_type=None))["code"] == "storage_unavailable"
    assert stored(tmp_path / "pace.db", who["id"]) == []
    wrapper.failing = False
    async with http.post(server.make_url("/ingest/osmand"), params=params) as r:
        assert r.status == 200
        assert (await r.json())["stored"] == 1
    assert len(stored(tmp_path / "pace.db", who["id"])) == 1


async def test_course_race_progress_from_a_tracker_app(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """In a course race, OwnTracks fixes move the runner along the course."""
    line = {
        "type": "LineString",
        "coordinates": [[LON0, LAT0], [LON0, LAT0 + 0.01]],
    }
    race = await new_race(http, server, course=json.dumps(line))
    who = await race.add("Otto")
    batch = [owntracks_location(i, int(time.time()) - 300) for i in range(60)]
    assert (await post_owntracks(http, server, who["token"], batch))[0] == 200
    standing = (await race.get())["standings"][0]
    assert standing["progress_m"] == pytest.approx(59 * 3.336, abs=25)
    assert standing["checkpoints"]


async def test_switching_from_the_socket_to_a_tracker_app_continues(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Socket seqs 1..20, then tracker fixes: all stored, last_seq is a time in ms."""
    race = await new_race(http, server)
    who = await race.add("Sam")
    start = int(time.time()) - 300
    ws, welcome = await hello(http, server, who["token"])
    assert welcome["last_seq"] == 0
    first = [
        {
            "seq": i + 1,
            "time": iso(fix_time(i, start)),
            "lat": LAT0 + i * STEP_DEG,
            "lon": LON0,
            "accuracy": 4.0,
        }
        for i in range(20)
    ]
    await ws.send_json({"type": "points", "points": first})
    assert (await receive_type(ws, "ack"))["seq"] == 20
    await ws.close()
    for i in range(20, 40):
        params = traccar_query(who["token"], i, start)
        async with http.get(server.url + "/ingest/osmand", params=params) as r:
            assert (await r.json())["stored"] == 1
    seqs = [seq for seq, _, _, _ in stored(server.db_path, who["id"])]
    assert seqs == [*range(1, 21), *((start + i) * 1000 for i in range(20, 40))]
    ws, welcome = await hello(http, server, who["token"])
    assert welcome["last_seq"] == (start + 39) * 1000
    await ws.close()
    standing = (await race.get())["standings"][0]
    assert standing["position"][0] == pytest.approx(LAT0 + 39 * STEP_DEG)
