"""The replay WebSocket plays the stored race through the live frames."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import aiohttp

from .conftest import CourseRace

FIELDS = ("rank", "status", "finish_time", "progress_m", "checkpoints", "off_course")


async def _replay(scene: CourseRace, speed: float) -> tuple[list[dict[str, Any]], int]:
    url = f"{scene.server.ws_url}/api/races/{scene.race['id']}/replay?speed={speed}"
    frames = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        async for msg in ws:
            frames.append(json.loads(msg.data))
        return frames, int(ws.close_code or 0)


def _latest(frames: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each participant's last standing, applying the snapshot then the updates."""
    state: dict[str, dict[str, Any]] = {}
    for frame in frames:
        if frame["type"] in ("snapshot", "update"):
            for s in frame["standings"]:
                state[s["participant_id"]] = s
    return state


def test_replay_ends_with_the_live_standings(course_race: CourseRace) -> None:
    """At full speed the replay's last standings equal the live race's."""
    frames, code = asyncio.run(_replay(course_race, 100_000))
    assert code == 1000
    assert frames[0]["type"] == "snapshot"
    assert {s["status"] for s in frames[0]["standings"]} == {"waiting"}
    replayed = _latest(frames)
    for live in course_race.final["standings"]:
        again = replayed[live["participant_id"]]
        assert {k: again.get(k) for k in FIELDS} == {k: live.get(k) for k in FIELDS}


def test_replay_repeats_the_events(course_race: CourseRace) -> None:
    """The replay sends the checkpoint, flag and corrected events of the race.

    At 400x a tick is 200 s of race: Bob's late block is played in a later
    tick than the fixes that overtook it, as live (at a speed where one tick
    holds the whole race, nothing is late and no correction is sent).
    """
    frames, _ = asyncio.run(_replay(course_race, 400))
    kinds = {(f["event"], f["name"]) for f in frames if f["type"] == "event"}
    assert ("corrected", "Bob") in kinds
    assert ("off_course", "Cat") in kinds
    assert ("stalled", "Dan") in kinds
    assert ("finished", "Ann") in kinds


def test_replay_clock_runs_at_the_chosen_speed(course_race: CourseRace) -> None:
    """server_time advances by speed x tick (0.5 s) of race time per update."""
    frames, _ = asyncio.run(_replay(course_race, 20_000))
    times = [f["server_time"] for f in frames if f["type"] in ("snapshot", "update")]
    steps = {b - a for a, b in itertools.pairwise(times)}
    assert steps and all(step % 10_000_000 == 0 for step in steps)
    first_fix = min(f.time for run in course_race.runs.values() for f in run.fixes)
    assert times[0] == first_fix - 1000
