"""One course race on the real server, run once per module and shared by tests.

The race: the Gatchina 10 km course from ``../shared/data/gpx`` with
checkpoints every 2.5 km, and simulated runners (pace_core.course_simulation
gives the truth) sent through real WebSockets:

- Ann runs cleanly;
- Bob's phone loses a block of fixes around 5 km and flushes it later, with
  higher seqs than the fixes sent meanwhile (late data);
- Cat leaves the course sideways between 3.0 and 3.5 km;
- Dan stops for five minutes at 4 km;
- Eve never sends a point (DNS).

Mid-race observations (flags, progress) are taken while sending and kept in
``CourseRace.seen`` for the tests.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pace_core.course import Course
from pace_core.course_simulation import Detour, Noise, RunPlan, SimulatedRun, simulate
from pace_core.engine import Fix
from wskit import Server

REPO = Path(__file__).resolve().parents[4]
COURSE_FILE = (
    REPO.parent
    / "shared"
    / "data"
    / "gpx"
    / "course_gatchina_half_marathon_2024_10k.gpx"
)
MARKS = [("2.5 km", 2500.0), ("5 km", 5000.0), ("7.5 km", 7500.0)]
LATE_AT_M = 5000.0
BATCH = 250


@dataclass
class CourseRace:
    """What the scenario created, sent and saw."""

    server: Server
    race: dict[str, Any]
    course: Course
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, SimulatedRun] = field(default_factory=dict)
    frames: list[dict[str, Any]] = field(default_factory=list)
    seen: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] = field(default_factory=dict)

    def standing(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        body = body or self.final
        return next(s for s in body["standings"] if s["name"] == name)

    def events(self, kind: str, name: str) -> list[dict[str, Any]]:
        return [
            f
            for f in self.frames
            if f["type"] == "event" and f["event"] == kind and f.get("name") == name
        ]


def wire(fix: Fix, seq: int) -> dict[str, Any]:
    time = datetime.fromtimestamp(fix.time / 1000, UTC).isoformat()
    return {
        "seq": seq,
        "time": time,
        "lat": fix.lat,
        "lon": fix.lon,
        "accuracy": fix.accuracy,
    }


def _plans(start: int) -> dict[str, RunPlan]:
    return {
        "Ann": RunPlan(start, speed_mps=3.5),
        "Bob": RunPlan(start + 20_000, speed_mps=3.3),
        "Cat": RunPlan(start + 40_000, speed_mps=3.2, detour=Detour(3000.0, 3500.0)),
        "Dan": RunPlan(start + 60_000, speed_mps=3.4, stop_at_m=4000.0, stop_s=300.0),
    }


def _index_at(run: SimulatedRun, metres: float) -> int:
    return next(i for i, p in enumerate(run.true_progress) if p >= metres)


def _stop_end(run: SimulatedRun, metres: float) -> int:
    """The index of the last fix of a stop at ``metres`` (progress unchanged)."""
    first = _index_at(run, metres)
    held = run.true_progress[first]
    return max(i for i, p in enumerate(run.true_progress) if p <= held + 0.01)


class _Sender:
    def __init__(self, http: aiohttp.ClientSession, scene: CourseRace) -> None:
        self.http, self.scene = http, scene

    async def connect(self, name: str) -> aiohttp.ClientWebSocketResponse:
        ws = await self.http.ws_connect(self.scene.server.ws_url + "/ws/runner")
        token = self.scene.people[name]["token"]
        await ws.send_str(json.dumps({"type": "hello", "token": token}))
        welcome = json.loads(await ws.receive_str(timeout=10))
        assert welcome["type"] == "welcome", welcome
        return ws

    async def send(
        self, ws: aiohttp.ClientWebSocketResponse, points: list[dict[str, Any]]
    ) -> None:
        for first in range(0, len(points), BATCH):
            chunk = points[first : first + BATCH]
            await ws.send_str(json.dumps({"type": "points", "points": chunk}))
            while True:
                frame = json.loads(await ws.receive_str(timeout=30))
                if frame["type"] == "ack" and frame["seq"] >= chunk[-1]["seq"]:
                    break

    async def arrivals(self, distance_m: float) -> Any:
        url = f"{self.scene.server.url}/api/races/{self.scene.race['id']}/arrivals"
        async with self.http.get(url, params={"distance_m": distance_m}) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def race_body(self) -> dict[str, Any]:
        await asyncio.sleep(0.6)
        url = f"{self.scene.server.url}/api/races/{self.scene.race['id']}"
        async with self.http.get(url) as r:
            assert r.status == 200
            body: dict[str, Any] = await r.json()
            return body


async def _run_in_order(
    sender: _Sender, name: str, cut: int | None = None
) -> dict[str, Any] | None:
    """Send a run in seq order; with ``cut``, look at the race after that many."""
    run = sender.scene.runs[name]
    points = [wire(f, i) for i, f in enumerate(run.fixes, 1)]
    ws = await sender.connect(name)
    seen = None
    if cut is not None:
        await sender.send(ws, points[:cut])
        seen = await sender.race_body()
        seen["cut_index"] = cut - 1
        seen["arrivals"] = await sender.arrivals(8000.0)
        points = points[cut:]
    await sender.send(ws, points)
    await ws.close()
    return seen


async def _run_late(sender: _Sender, name: str) -> dict[str, Any]:
    """A block around LATE_AT_M is held back and flushed later with new seqs."""
    run = sender.scene.runs[name]
    at = _index_at(run, LATE_AT_M)
    held = set(range(at - 60, at + 60))
    order = [i for i in range(len(run.fixes)) if i not in held]
    resume = order.index(at + 60) + 240
    order = [*order[:resume], *sorted(held), *order[resume:]]
    points = [wire(run.fixes[i], seq) for seq, i in enumerate(order, 1)]
    ws = await sender.connect(name)
    split = resume
    await sender.send(ws, points[:split])
    before = await sender.race_body()
    await sender.send(ws, points[split:])
    await ws.close()
    return before


async def _spectate(scene: CourseRace, http: aiohttp.ClientSession) -> None:
    url = f"{scene.server.ws_url}/ws/races/{scene.race['id']}"
    async with http.ws_connect(url) as ws:
        async for msg in ws:
            scene.frames.append(json.loads(msg.data))


async def _scenario(scene: CourseRace) -> None:
    async with aiohttp.ClientSession() as http:
        body = {
            "name": "Gatchina 10k",
            "course": COURSE_FILE.read_text(),
            "checkpoints": [{"name": n, "distance_m": d} for n, d in MARKS],
        }
        async with http.post(scene.server.url + "/api/races", json=body) as r:
            assert r.status == 201, await r.text()
            scene.race = await r.json()
        auth = {"Authorization": f"Bearer {scene.race['organizer_token']}"}
        url = f"{scene.server.url}/api/races/{scene.race['id']}/participants"
        for name in ("Ann", "Bob", "Cat", "Dan", "Eve"):
            async with http.post(url, json={"name": name}, headers=auth) as r:
                scene.people[name] = await r.json()
        watcher = asyncio.create_task(_spectate(scene, http))
        await asyncio.sleep(0.5)
        sender = _Sender(http, scene)
        runs = scene.runs
        ann_cut = _index_at(runs["Ann"], 6000.0)
        scene.seen["Ann"] = await _run_in_order(sender, "Ann", ann_cut)
        scene.seen["Bob"] = await _run_late(sender, "Bob")
        cat_cut = _index_at(runs["Cat"], 3400.0)
        scene.seen["Cat"] = await _run_in_order(sender, "Cat", cat_cut)
        dan_cut = _stop_end(runs["Dan"], 4000.0) - 5
        scene.seen["Dan"] = await _run_in_order(sender, "Dan", dan_cut)
        scene.final = await sender.race_body()
        await asyncio.sleep(0.5)
        watcher.cancel()


@pytest.fixture(scope="module")
def course_race(server: Server) -> Iterator[CourseRace]:
    """The whole scenario, run once against the module's server."""
    course = Course.from_gpx(COURSE_FILE.read_text(), marks=MARKS)
    now = int(datetime.now(UTC).timestamp()) * 1000
    scene = CourseRace(server, {}, course)
    rng = random.Random(8)
    for name, plan in _plans(now - 2 * 3600 * 1000).items():
        scene.runs[name] = simulate(course, plan, Noise(), rng)
    asyncio.run(_scenario(scene))
    yield scene
