"""Helpers for the service tests: the real server process, races, points, frames."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``python -m pace_websockets`` on a free port with its own SQLite file."""

    def __init__(self, db_path: Path, **env: str) -> None:
        self.db_path = db_path
        self.env = env
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = db_path.with_suffix(".log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "PACE_PORT": str(self.port),
            "PACE_HOST": "127.0.0.1",
            "PACE_DATABASE_URL": f"sqlite:///{self.db_path}",
            "PACE_TICK_S": "0.2",
            "PACE_PUBLISH_INTERVAL_S": "0.05",
            "PACE_LOG_LEVEL": "INFO",
            **self.env,
        }
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pace_websockets"], env=env, stdout=log, stderr=log
        )
        log.close()
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.logs()
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("server did not become healthy:\n" + self.logs())

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.proc = None


class Race:
    """A race created through the API, with helpers to add runners."""

    def __init__(self, http: aiohttp.ClientSession, server: Server, body: Any):
        self.http, self.server, self.body = http, server, body
        self.id: str = body["id"]
        self.token: str = body["organizer_token"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def add(self, name: str = "Ann") -> dict[str, Any]:
        url = f"{self.server.url}/api/races/{self.id}/participants"
        async with self.http.post(url, json={"name": name}, headers=self.auth) as r:
            assert r.status == 201, await r.text()
            body: dict[str, Any] = await r.json()
            return body

    async def get(self) -> dict[str, Any]:
        async with self.http.get(f"{self.server.url}/api/races/{self.id}") as r:
            assert r.status == 200
            body: dict[str, Any] = await r.json()
            return body


async def new_race(http: aiohttp.ClientSession, server: Server, **fields: Any) -> Race:
    body = {"name": "Test race", **fields}
    async with http.post(server.url + "/api/races", json=body) as r:
        assert r.status == 201, await r.text()
        return Race(http, server, await r.json())


def points(
    first_seq: int,
    count: int,
    start: datetime | None = None,
    lat0: float = 48.85,
    step_deg: float = 0.00003,
) -> list[dict[str, Any]]:
    """``count`` fixes one second apart going north about 3.3 m per second."""
    start = start or datetime.now(UTC) - timedelta(seconds=600)
    return [
        {
            "seq": first_seq + i,
            "time": (start + timedelta(seconds=first_seq + i)).isoformat(),
            "lat": lat0 + (first_seq + i) * step_deg,
            "lon": 2.35,
            "accuracy": 5.0,
        }
        for i in range(count)
    ]


async def hello(
    http: aiohttp.ClientSession, server: Server, token: str
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await http.ws_connect(server.ws_url + "/ws/runner")
    await ws.send_str(json.dumps({"type": "hello", "token": token}))
    welcome = json.loads(await ws.receive_str(timeout=10))
    return ws, welcome


async def receive_type(
    ws: aiohttp.ClientWebSocketResponse, kind: str, within_s: float = 10
) -> dict[str, Any]:
    """The next frame of type ``kind``, skipping others (e.g. stats)."""
    deadline = time.monotonic() + within_s
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {kind} frame in {within_s} s"
        msg = await ws.receive(timeout=left)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        frame: dict[str, Any] = json.loads(msg.data)
        if frame["type"] == kind:
            return frame


async def metric(http: aiohttp.ClientSession, server: Server, line: str) -> float:
    """The value of the metric sample whose name and labels are ``line``."""
    async with http.get(server.url + "/metrics") as r:
        text = await r.text()
    for row in text.splitlines():
        if row.startswith(line + " "):
            return float(row.rsplit(" ", 1)[1])
    return 0.0


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> int:
    """The code of the server's close frame (read before our reply may fail)."""
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type is aiohttp.WSMsgType.CLOSE:
            return int(msg.data)
        if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return int(ws.close_code or 1006)
