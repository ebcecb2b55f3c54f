"""Helpers for the scale-out tests: instances, a private Redis, runner and spectator.

The scale-out conftest puts this directory on ``sys.path``; tests import
``scaleout_kit`` by name.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

Frame = dict[str, Any]
BATCH = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Instance:
    """One ``python -m pace_websockets`` on a free port, killable with SIGKILL."""

    def __init__(self, name: str, workdir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}.log"
        self.env = {
            **os.environ,
            "PACE_HOST": "127.0.0.1",
            "PACE_PORT": str(self.port),
            "PACE_INSTANCE_ID": name,
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pace_websockets"],
                env=self.env,
                stdout=log,
                stderr=log,
            )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until ``/readyz`` answers 200: storage and broker both reachable."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.logs()
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.1)
        raise AssertionError(f"{self.name} never became ready:\n{self.logs()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)

    def logs(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


class RedisProcess:
    """A throwaway redis-server on a free port that a test may kill and restart."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.workdir),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_listening(self.port)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def wait_listening(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


class Spectator:
    """A spectator socket whose frames are collected with their arrival time."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[tuple[float, Frame]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.frames.append((time.monotonic(), json.loads(msg.data)))

    def seen_fix_at(self, participant_id: str, fix_ms: int) -> float | None:
        """When a frame first showed the participant at (or past) ``fix_ms``."""
        for at, frame in self.frames:
            for standing in frame.get("standings", ()):
                position = standing.get("position")
                if (
                    standing["participant_id"] == participant_id
                    and position is not None
                    and position[2] >= fix_ms
                ):
                    return at
        return None

    async def wait_fix(
        self, participant_id: str, fix_ms: int, timeout_s: float
    ) -> float:
        deadline = time.monotonic() + timeout_s
        while (at := self.seen_fix_at(participant_id, fix_ms)) is None:
            assert time.monotonic() < deadline, f"no frame with fix {fix_ms}"
            await asyncio.sleep(0.01)
        return at

    def events(self, kind: str) -> list[Frame]:
        return [
            f for _, f in self.frames if f["type"] == "event" and f["event"] == kind
        ]


class Runner:
    """A runner socket speaking the protocol: hello, points, acks."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, welcome: Frame) -> None:
        self.ws, self.welcome = ws, welcome
        self.acked = 0

    @classmethod
    async def connect(
        cls, http: aiohttp.ClientSession, base: str, token: str
    ) -> Runner:
        ws = await http.ws_connect(base + "/ws/runner")
        await ws.send_json({"type": "hello", "token": token})
        welcome = await ws.receive_json(timeout=10)
        assert welcome["type"] == "welcome", welcome
        return cls(ws, welcome)

    async def send(self, batch: list[Frame]) -> None:
        await self.ws.send_json({"type": "points", "points": batch})

    async def wait_ack(self, seq: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.acked < seq:
            frame = await self.ws.receive_json(timeout=deadline - time.monotonic())
            if frame["type"] == "ack":
                assert not frame.get("rejected"), frame
                self.acked = max(self.acked, frame["seq"])
            assert frame["type"] != "error", frame


def batches(points: list[Frame]) -> list[list[Frame]]:
    return [points[i : i + BATCH] for i in range(0, len(points), BATCH)]


def fix_ms(point: Frame) -> int:
    return int(datetime.fromisoformat(point["time"]).timestamp() * 1000)


async def post(http: aiohttp.ClientSession, url: str, body: Frame, **kw: Any) -> Frame:
    async with http.post(url, json=body, **kw) as response:
        assert response.status == 201, await response.text()
        result: Frame = await response.json()
        return result


async def stored_seqs(pg_url: str, participant_id: str) -> list[int]:
    server, schema = pg_url.split("?schema=")
    conn = await asyncpg.connect(server, server_settings={"search_path": schema})
    try:
        rows = await conn.fetch(
            "SELECT seq FROM points WHERE participant_id = $1 ORDER BY seq",
            participant_id,
        )
    finally:
        await conn.close()
    return [row[0] for row in rows]


def synthetic_points(count: int) -> list[Frame]:
    """``count`` fixes one second apart, heading north at about 3.3 m/s."""
    start = datetime.now(UTC) - timedelta(seconds=count + 60)
    return [
        {
            "seq": seq,
            "time": (start + timedelta(seconds=seq)).isoformat(),
            "lat": 48.85 + seq * 0.00003,
            "lon": 2.35,
            "accuracy": 5.0,
        }
        for seq in range(1, count + 1)
    ]


async def race_with_runner(
    http: aiohttp.ClientSession, base: str
) -> tuple[Frame, Frame]:
    """A race (no target distance) and its one participant, created through ``base``."""
    race = await post(http, base + "/api/races", {"name": "Scale-out"})
    participant = await post(
        http,
        f"{base}/api/races/{race['id']}/participants",
        {"name": "Ann"},
        headers={"Authorization": f"Bearer {race['organizer_token']}"},
    )
    return race, participant


def status_of(url: str) -> int:
    """The HTTP status of GET ``url`` (0 if nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


async def wait_status(url: str, status: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (seen := await asyncio.to_thread(status_of, url)) != status:
        assert time.monotonic() < deadline, f"{url} answered {seen}, not {status}"
        await asyncio.sleep(0.1)


async def metric(http: aiohttp.ClientSession, base: str, sample: str) -> float:
    """The value of one sample (name and labels exactly) from ``/metrics``."""
    async with http.get(base + "/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
