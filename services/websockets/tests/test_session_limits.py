"""Limits of the sessions, on an in-process server with short timeouts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pace_websockets.app import create_app
from pace_websockets.hub import RaceView
from pace_websockets.service import SERVICE, Service
from pace_websockets.settings import Settings
from pace_websockets.spectator import SpectatorSession
from pace_websockets.storage import RaceRecord
from wskit import closed_with


@pytest.fixture
async def app_server(tmp_path: Path) -> AsyncIterator[TestServer]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'pace.db'}",
        hello_timeout_s=0.3,
        allowed_origins=("https://pace.example",),
        spectator_queue_frames=2,
    )
    async with TestServer(create_app(settings)) as server:
        yield server


async def test_silent_connection_gets_hello_required(
    http: aiohttp.ClientSession, app_server: TestServer
) -> None:
    """A socket that sends nothing is told hello_required and closed 1008."""
    ws = await http.ws_connect(app_server.make_url("/ws/runner"))
    frame = json.loads(await ws.receive_str(timeout=5))
    assert frame["code"] == "hello_required"
    assert await closed_with(ws) == 1008


async def test_foreign_origin_is_refused_before_upgrade(
    http: aiohttp.ClientSession, app_server: TestServer
) -> None:
    """A browser origin outside PACE_ALLOWED_ORIGINS gets a 403 problem."""
    url = app_server.make_url("/ws/runner")
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await http.ws_connect(url, headers={"Origin": "https://evil.example"})
    assert caught.value.status == 403
    ws = await http.ws_connect(url, headers={"Origin": "https://pace.example"})
    await ws.close()


async def test_slow_spectator_is_resynchronised_not_queued(
    app_server: TestServer,
) -> None:
    """Past the queue limit a spectator's frames are dropped for one snapshot."""
    service: Service = app_server.app[SERVICE]
    race = RaceRecord("r", "race", None, None, 0, "x", "open")
    session = SpectatorSession(service, None, RaceView(race))  # type: ignore[arg-type]
    for frame in (b"1", b"2", b"3"):
        session.offer(frame)
    assert list(session._queue) == []
    assert session._resync
    session.offer(b"4")
    assert list(session._queue) == [b"4"]


def test_settings_read_pace_environment() -> None:
    """Settings come from PACE_* variables, PORT honoured, origins split."""
    env = {
        "PORT": "9100",
        "PACE_TICK_S": "0.5",
        "PACE_ALLOWED_ORIGINS": "https://a.example, https://b.example",
        "PACE_PUBLIC_URL": "https://pace.example/",
    }
    settings = Settings.from_env(env)
    assert settings.port == 9100
    assert settings.tick_s == 0.5
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.public_url == "https://pace.example"
    assert settings.database_url == "sqlite:///./pace.db"
