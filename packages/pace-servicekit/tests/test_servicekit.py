"""The shared service plumbing: logs, settings, /metrics, /healthz."""

from __future__ import annotations

import io
import json
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pace_servicekit import configure_logging, healthz, metrics_handler, new_registry
from pace_servicekit.settings import SettingsError, env_float, env_list, port
from prometheus_client import Counter


def test_log_line_is_one_json_object_with_extra_fields() -> None:
    """A log call becomes one JSON line carrying the ``extra`` ids."""
    stream = io.StringIO()
    configure_logging("INFO", stream)
    logging.getLogger("pace.test").info("joined %s", "x", extra={"race_id": "r1"})
    entry = json.loads(stream.getvalue().strip())
    assert entry["msg"] == "joined x"
    assert entry["race_id"] == "r1"
    assert entry["logger"] == "pace.test"
    logging.getLogger().handlers.clear()


def test_port_falls_back_to_platform_port() -> None:
    """``PORT`` is honoured when ``PACE_PORT`` is unset; ``PACE_PORT`` wins."""
    assert port(8000, {"PORT": "9001"}) == 9001
    assert port(8000, {"PORT": "9001", "PACE_PORT": "9002"}) == 9002
    assert port(8000, {}) == 8000


def test_bad_number_names_the_variable() -> None:
    """A malformed value fails with the variable name in the message."""
    with pytest.raises(SettingsError, match="PACE_TICK_S"):
        env_float("TICK_S", 1.0, {"PACE_TICK_S": "fast"})


def test_list_drops_blanks() -> None:
    """Comma lists ignore empty items."""
    assert env_list("X", (), {"PACE_X": "a, ,b"}) == ("a", "b")


async def test_metrics_and_healthz_are_served() -> None:
    """/metrics serves the app's own counters and process metrics; /healthz is ok."""
    registry = new_registry()
    Counter("pace_test_things_total", "things", registry=registry).inc(3)
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(registry))
    app.router.add_get("/healthz", healthz)
    async with TestClient(TestServer(app)) as client:
        text = await (await client.get("/metrics")).text()
        health = await (await client.get("/healthz")).json()
    assert "pace_test_things_total 3.0" in text
    assert "process_cpu_seconds_total" in text
    assert health == {"status": "ok"}


async def test_serve_runs_shutdown_hooks_once_stopped() -> None:
    """serve() answers requests, and on stop runs on_shutdown before returning."""
    import asyncio
    import socket

    import aiohttp
    from pace_servicekit.server import serve

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    calls: list[str] = []
    app = web.Application()
    app.router.add_get("/healthz", healthz)

    async def on_shutdown(_app: web.Application) -> None:
        calls.append("shutdown")

    app.on_shutdown.append(on_shutdown)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(
        serve(app, "127.0.0.1", port, 1, stop)
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    assert r.status == 200
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("serve() never answered")
    stop.set()
    await asyncio.wait_for(task, 10)
    assert calls == ["shutdown"]
