"""Course race pages in Chromium: the race page draws the course, the results chart.

Runners are simulated over the Gatchina 10 km course (pace_core.course_simulation)
and sent through real runner WebSockets from a thread with its own event loop
(the sync Playwright API holds this thread's).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pace_core.course import Course
from pace_core.course_simulation import Detour, Noise, RunPlan, simulate
from playwright.sync_api import Page, expect

from .conftest import Phones, Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[4]
COURSE_FILE = (
    REPO.parent
    / "shared"
    / "data"
    / "gpx"
    / "course_gatchina_half_marathon_2024_10k.gpx"
)
MARKS = [("2.5 km", 2500.0), ("5 km", 5000.0), ("7.5 km", 7500.0)]


def _points(fixes: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "seq": i,
            "time": datetime.fromtimestamp(f.time / 1000, UTC).isoformat(),
            "lat": f.lat,
            "lon": f.lon,
            "accuracy": f.accuracy,
        }
        for i, f in enumerate(fixes, 1)
    ]


async def _send(server: Server, token: str, points: list[dict[str, Any]]) -> None:
    ws_url = server.base_url.replace("http", "ws") + "/ws/runner"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        await ws.send_str(json.dumps({"type": "hello", "token": token}))
        await ws.receive_str(timeout=10)
        for first in range(0, len(points), 500):
            chunk = points[first : first + 500]
            await ws.send_str(json.dumps({"type": "points", "points": chunk}))
            while True:
                frame = json.loads(await ws.receive_str(timeout=30))
                if frame["type"] == "ack" and frame["seq"] >= chunk[-1]["seq"]:
                    break


def _in_thread(coro: Any) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert not errors, errors


@pytest.fixture
def course_race(server: Server) -> dict[str, Any]:
    """Ann and Bob finish; Cat is left 150 m off the course at 3.4 km."""
    text = COURSE_FILE.read_text()
    checkpoints = [{"name": n, "distance_m": d} for n, d in MARKS]
    race = server.api(
        "POST",
        "/api/races",
        {"name": "Gatchina", "course": text, "checkpoints": checkpoints},
    )
    course = Course.from_gpx(text, marks=MARKS)
    start = (int(datetime.now(UTC).timestamp()) - 3 * 3600) * 1000
    rng = random.Random(3)
    plans = {
        "Ann": RunPlan(start, speed_mps=3.5),
        "Bob": RunPlan(start + 30_000, speed_mps=3.3),
        "Cat": RunPlan(start + 60_000, speed_mps=3.2, detour=Detour(3000.0, 9000.0)),
    }
    for name, plan in plans.items():
        run = simulate(course, plan, Noise(), rng)
        fixes = run.fixes
        if name == "Cat":
            cut = next(i for i, p in enumerate(run.true_progress) if p >= 3400.0)
            fixes = fixes[:cut]
        runner = server.add_runner(race, name)
        _in_thread(_send(server, runner["token"], _points(fixes)))
    return {**race, "server": server.base_url}


def test_race_page_draws_the_course_and_flags(
    course_race: dict[str, Any], phone: Phones, shot: Callable[..., Path]
) -> None:
    """The course line, its five checkpoints, the off-course flag and arrivals show."""
    page: Page = phone().new_page()
    page.goto(f"{course_race['server']}/races/{course_race['id']}")
    expect(page.locator("path.course-line")).to_have_count(1)
    expect(page.locator("path.course-checkpoint")).to_have_count(5)
    expect(page.locator("#board tbody tr")).to_have_count(3)
    expect(page.locator("#board .flag.off-course")).to_have_count(1)
    expect(page.locator("#board tbody tr").first).to_contain_text("Ann")

    page.evaluate(
        """() => {
          const r = window.paceRace.race;
          const latlng = window.L.latLng(r.course.pointAt(5000));
          r.courseLayer.fire("click", { latlng });
        }"""
    )
    expect(page.locator(".arrivals")).to_contain_text("Cat")
    shot(page, "course-race-page")


def test_results_page_renders_the_charts(
    course_race: dict[str, Any], phone: Phones, shot: Callable[..., Path]
) -> None:
    """The results page lists everyone and draws the flow, pace and tracks."""
    page: Page = phone().new_page()
    page.goto(f"{course_race['server']}/races/{course_race['id']}/results")
    page.wait_for_function("() => window.paceResults.ready")
    assert page.evaluate("() => window.paceResults.error") is None
    expect(page.locator("#results tbody tr")).to_have_count(3)
    expect(page.locator("#results tbody tr").nth(2)).to_contain_text("DNF")
    expect(page.locator("#flow path.runner-line")).to_have_count(3)
    assert page.locator("#pace rect.bar").count() >= 10
    expect(page.locator("path.track-line")).to_have_count(3)
    shot(page, "course-results-page", full_page=True)


def test_race_page_replay_mode_plays_to_the_end(
    course_race: dict[str, Any], phone: Phones
) -> None:
    """?replay=N plays the stored race and ends with the live order."""
    live = [s["name"] for s in course_race_standings(course_race)]
    page: Page = phone().new_page()
    page.goto(f"{course_race['server']}/races/{course_race['id']}?replay=20000")
    expect(page.locator("#live")).to_have_text("Replay finished", timeout=30_000)
    names = page.locator("#board tbody tr td.name").all_inner_texts()
    assert [n.strip() for n in names] == live
    expect(page.locator("#feed li[data-event=checkpoint]").first).to_be_attached()


def course_race_standings(race: dict[str, Any]) -> list[dict[str, Any]]:
    import urllib.request

    url = f"{race['server']}/api/races/{race['id']}"
    with urllib.request.urlopen(url, timeout=10) as r:
        body: dict[str, Any] = json.loads(r.read())
    return sorted(body["standings"], key=lambda s: s["rank"])


def test_organiser_creates_a_course_race_from_a_file(
    server: Server, phone: Phones
) -> None:
    """The organise page uploads a GPX course; the race page then draws it."""
    page: Page = phone().new_page()
    page.goto(server.base_url + "/")
    page.fill("#name", "Gatchina from a file")
    page.set_input_files("#course", str(COURSE_FILE))
    page.click("#create button[type=submit]")
    expect(page.locator("#token-once")).to_be_visible()
    race_id = page.evaluate("JSON.parse(localStorage['pace.organiser.races'])[0].id")
    race = server.api("GET", f"/api/races/{race_id}")
    assert 10_000 < race["distance_m"] < 10_100

    page.goto(f"{server.base_url}/races/{race_id}")
    expect(page.locator("path.course-line")).to_have_count(1)
    expect(page.locator("path.course-checkpoint")).to_have_count(2)
