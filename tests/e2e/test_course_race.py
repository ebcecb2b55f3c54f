"""A course race survives a crash: course trackers are rebuilt from storage.

The server is SIGKILLed halfway through a runner's course; after a restart the
runner reconnects, resends from ``last_seq``, flushes a block it held back
(late data) and finishes. Its checkpoint times must equal those of a second
runner who sent the same points, in the same order, with no crash.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from pace_core.course import Course
from pace_core.course_simulation import Noise, RunPlan, simulate
from pace_core.engine import Fix

from .conftest import Service

REPO = Path(__file__).resolve().parents[2]
COURSE_FILE = (
    REPO.parent
    / "shared"
    / "data"
    / "gpx"
    / "course_gatchina_half_marathon_2024_10k.gpx"
)
MARKS = [("2.5 km", 2500.0), ("5 km", 5000.0), ("7.5 km", 7500.0)]


def _point(fix: Fix, seq: int) -> dict[str, Any]:
    time = datetime.fromtimestamp(fix.time / 1000, UTC).isoformat()
    return {"seq": seq, "time": time, "lat": fix.lat, "lon": fix.lon, "accuracy": 8.0}


async def _send(url: str, token: str, points: list[dict[str, Any]]) -> int:
    """Send from the server's last_seq on; the welcome's last_seq."""
    ws_url = url.replace("http", "ws") + "/ws/runner"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        await ws.send_str(json.dumps({"type": "hello", "token": token}))
        welcome = json.loads(await ws.receive_str(timeout=10))
        todo = [p for p in points if p["seq"] > welcome["last_seq"]]
        for first in range(0, len(todo), 300):
            chunk = todo[first : first + 300]
            await ws.send_str(json.dumps({"type": "points", "points": chunk}))
            while True:
                frame = json.loads(await ws.receive_str(timeout=30))
                if frame["type"] == "ack" and frame["seq"] >= chunk[-1]["seq"]:
                    break
        return int(welcome["last_seq"])


def _api(
    http_url: str, method: str, path: str, body: Any = None, token: str = ""
) -> Any:
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(http_url + path, data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


def _add(service: Service, race: dict[str, Any], name: str) -> dict[str, Any]:
    path = f"/api/races/{race['id']}/participants"
    body: dict[str, Any] = _api(
        service.url, "POST", path, {"name": name}, race["organizer_token"]
    )
    return body


def _times(standing: dict[str, Any]) -> list[str | None]:
    return [c["time"] for c in standing["checkpoints"]]


def test_course_results_survive_a_crash(own_service: Service) -> None:
    """Ann, cut by a SIGKILL, ends with Bob's checkpoints (same fixes, no crash)."""
    text = COURSE_FILE.read_text()
    checkpoints = [{"name": n, "distance_m": d} for n, d in MARKS]
    body = {"name": "Crash", "course": text, "checkpoints": checkpoints}
    race = _api(own_service.url, "POST", "/api/races", body)
    ann, bob = _add(own_service, race, "Ann"), _add(own_service, race, "Bob")
    course = Course.from_gpx(text, marks=MARKS)
    start = (int(datetime.now(UTC).timestamp()) - 2 * 3600) * 1000
    run = simulate(course, RunPlan(start), Noise(), random.Random(5))
    fixes = run.fixes

    # A block around 40 % is held back and flushed after the crash (late data).
    half, held = len(fixes) // 2, range(int(len(fixes) * 0.4), int(len(fixes) * 0.45))
    order = [i for i in range(len(fixes)) if i not in held]
    order = [*order[:half], *held, *order[half:]]
    points = [_point(fixes[i], seq) for seq, i in enumerate(order, 1)]
    asyncio.run(_send(own_service.url, ann["token"], points[: half - 10]))

    own_service.kill()
    own_service.start()
    resumed = asyncio.run(_send(own_service.url, ann["token"], points))
    asyncio.run(_send(own_service.url, bob["token"], points))

    standings = _api(own_service.url, "GET", f"/api/races/{race['id']}")["standings"]
    by_name = {s["name"]: s for s in standings}
    assert resumed == half - 10
    assert by_name["Ann"]["status"] == by_name["Bob"]["status"] == "finished"
    assert _times(by_name["Ann"]) == _times(by_name["Bob"])
    for passage, true_ms in zip(
        by_name["Ann"]["checkpoints"], run.crossings, strict=True
    ):
        passed = datetime.fromisoformat(passage["time"]).timestamp() * 1000
        assert abs(passed - true_ms) < 6_000
