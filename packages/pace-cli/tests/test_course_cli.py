"""``pace race create --course`` and ``pace simulate --course`` on a real service."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from pace_cli.main import main

from .conftest import Service

REPO = Path(__file__).resolve().parents[3]
COURSE = (
    REPO.parent
    / "shared"
    / "data"
    / "gpx"
    / "course_gatchina_half_marathon_2024_10k.gpx"
)


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=30) as r:
        body: dict[str, object] = json.loads(r.read())
        return body


def test_race_create_with_a_course_and_laps(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    """--course makes a course race; --laps 2 doubles its distance."""
    argv = ["race", "create", "Two laps", "--course", str(COURSE), "--laps", "2"]
    assert main([*argv, "--server", service.url, "--json"]) == 0
    race = json.loads(capsys.readouterr().out)
    course = _get(f"{service.url}/api/races/{race['id']}/course")
    line = course["features"][0]  # type: ignore[index]
    assert line["properties"]["laps"] == 2
    assert 20_000 < race["distance_m"] < 20_200


def test_race_create_with_a_bad_course_fails(
    service: Service, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A course file that is not a course is the server's 422, exit status 1."""
    bad = tmp_path / "bad.gpx"
    bad.write_text("<gpx><trk><trkseg></trkseg></trk></gpx>")
    status = main(
        ["race", "create", "x", "--course", str(bad), "--server", service.url]
    )
    assert status == 1
    assert "course" in capsys.readouterr().err


def test_simulate_course_runs_synthetic_runners_to_the_finish(
    service: Service, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """simulate --course creates a course race; its runners all finish it."""
    report = tmp_path / "report.json"
    argv = ["simulate", "--course", str(COURSE), "--runners", "2", "--fast"]
    assert main([*argv, "--server", service.url, "--report", str(report)]) == 0
    race = json.loads(report.read_text())["race"]
    assert [s["status"] for s in race["standings"]] == ["finished", "finished"]
    assert all(
        s["progress_m"] == round(race["distance_m"], 1) for s in race["standings"]
    )
    assert "Runner 1" in capsys.readouterr().out


def test_simulate_course_shows_a_stop_and_a_detour(
    service: Service, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With four runners, the third stalls and the fourth goes off course."""
    report = tmp_path / "report.json"
    argv = ["simulate", "--course", str(COURSE), "--runners", "4", "--fast"]
    assert main([*argv, "--server", service.url, "--report", str(report)]) == 0
    race_id = json.loads(report.read_text())["race_id"]
    events = asyncio.run(_replayed_events(service.url, race_id))
    assert ("stalled", "Runner 3") in events
    assert ("off_course", "Runner 4") in events
    assert ("off_course", "Runner 3") not in events
    assert ("finished", "Runner 4") in events


async def _replayed_events(url: str, race_id: str) -> set[tuple[str, str]]:
    """The (event, name) pairs of the race, from the replay socket at full speed."""
    ws_url = url.replace("http", "ws") + f"/api/races/{race_id}/replay?speed=100000"
    found = set()
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        async for msg in ws:
            frame = json.loads(msg.data)
            if frame["type"] == "event":
                found.add((frame["event"], frame["name"]))
    return found
