"""A failing commit is never acked: the runner is told to resend and closed.

The fault sits between the group committer and a real SQLite file, in a
wrapper that refuses ``write_batch`` while switched on; the service runs
in-process on a real socket so the test can reach the wrapper.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pace_websockets.app import create_app
from pace_websockets.service import SERVICE, Service
from pace_websockets.settings import Settings
from pace_websockets.storage import PointRow, Storage, StorageUnavailable
from wskit import points


class FlakyWrites:
    """Delegates to a real storage; ``write_batch`` fails while ``failing``."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.failing = False

    async def write_batch(
        self, rows: Sequence[PointRow], snapshots: Sequence[tuple[str, bytes]]
    ) -> None:
        if self.failing:
            raise StorageUnavailable("disk unplugged by the test")
        await self.inner.write_batch(rows, snapshots)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def live(
    tmp_path: Path,
) -> AsyncIterator[tuple[TestServer, Service, FlakyWrites]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'pace.db'}", tick_s=0.2)
    app = create_app(settings)
    async with TestServer(app) as server:
        service = app[SERVICE]
        assert service.committer is not None and service.storage is not None
        flaky = FlakyWrites(service.storage)
        service.committer.storage = flaky  # type: ignore[assignment]
        yield server, service, flaky


async def _runner(server: TestServer, http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.post(server.make_url("/api/races"), json={"name": "r"}) as r:
        race = await r.json()
    auth = {"Authorization": f"Bearer {race['organizer_token']}"}
    url = server.make_url(f"/api/races/{race['id']}/participants")
    async with http.post(url, json={"name": "Ann"}, headers=auth) as r:
        runner: dict[str, Any] = await r.json()
        return runner


async def _hello(
    server: TestServer, http: aiohttp.ClientSession, token: str
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await http.ws_connect(server.make_url("/ws/runner"))
    await ws.send_str(json.dumps({"type": "hello", "token": token}))
    return ws, json.loads(await ws.receive_str(timeout=10))


async def test_failed_commit_is_not_acked_and_client_resends(
    http: aiohttp.ClientSession, live: tuple[TestServer, Service, FlakyWrites]
) -> None:
    """storage_unavailable and close 1013, nothing stored; later a resend is acked."""
    server, service, flaky = live
    runner = await _runner(server, http)
    ws, _ = await _hello(server, http, runner["token"])
    await ws.send_str(json.dumps({"type": "points", "points": points(1, 5)}))
    assert json.loads(await ws.receive_str(timeout=10))["seq"] == 5

    flaky.failing = True
    await ws.send_str(json.dumps({"type": "points", "points": points(6, 5)}))
    frames = [json.loads(m.data) async for m in ws]
    assert [f["type"] for f in frames if f["type"] != "stats"] == ["error"]
    assert frames[-1]["code"] == "storage_unavailable"
    assert ws.close_code == 1013
    assert runner["id"] not in service.runners
    assert await service.db.last_seq(runner["id"]) == 5

    flaky.failing = False
    ws, welcome = await _hello(server, http, runner["token"])
    assert welcome["last_seq"] == 5
    await ws.send_str(json.dumps({"type": "points", "points": points(6, 5)}))
    assert json.loads(await ws.receive_str(timeout=10)) == {"type": "ack", "seq": 10}
    rows = await service.db.load_points(runner["id"])
    assert [r.seq for r in rows] == list(range(1, 11))
    await ws.close()
