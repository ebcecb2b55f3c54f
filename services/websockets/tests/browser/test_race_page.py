"""The race page in Chromium, watching two boats of the 2024 Gin Sul regatta.

The boats are driven by real WebSocket clients (aiohttp, in a thread with its own
event loop) speaking the runner protocol; their recorded times are shifted to
just before now, keeping every interval, so the server counts them as live.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BOATS = {
    "Alex": "regatta_gin_sul_2024_participant_alex.gpx",
    "Richard": "regatta_gin_sul_2024_participant_richard.gpx",
}
TARGET_M = 400.0
ROUNDS = 8


class LoopThread:
    """An asyncio loop in a thread, so sync Playwright and async clients coexist."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.boats: list[Boat] = []

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        for boat in self.boats:
            self.run(boat.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


class Boat:
    """One runner connection: hello, then batches of points, each awaited to its ack."""

    def __init__(self, base_url: str, token: str, fixes: list[Any], t0: float):
        self.url = base_url.replace("http", "ws", 1) + "/ws/runner"
        self.token = token
        self.fixes = fixes
        self.t0 = t0
        self.sent = 0

    async def connect(self) -> None:
        self.session = aiohttp.ClientSession()
        self.ws: aiohttp.ClientWebSocketResponse
        self.ws = await self.session.ws_connect(self.url)
        await self.ws.send_json({"type": "hello", "token": self.token})
        welcome = await self.receive("welcome")
        assert welcome["last_seq"] == 0, welcome

    async def receive(self, kind: str) -> Any:
        while True:
            message = json.loads((await self.ws.receive(timeout=10)).data)
            assert message["type"] != "error", message
            if message["type"] == kind:
                return message

    async def send_until(self, count: int) -> None:
        batch = [self.wire(i) for i in range(self.sent, count)]
        if not batch:
            return
        await self.ws.send_json({"type": "points", "points": batch})
        self.sent = count
        ack = await self.receive("ack")
        assert ack["seq"] == count and not ack.get("rejected"), ack

    def wire(self, i: int) -> dict[str, Any]:
        fix = self.fixes[i]
        stamp = datetime.fromtimestamp(self.t0 + fix.time_s, UTC).isoformat()
        return {"seq": i + 1, "time": stamp, "lat": fix.lat, "lon": fix.lon}

    async def close(self) -> None:
        if hasattr(self, "ws"):
            await self.ws.close()
        await self.session.close()


def prefix_over(fixes: list[Any], metres: float) -> list[Any]:
    """The first fixes of a recording covering at least ``metres``."""
    from pace_core.geodesy import distance_m

    total = 0.0
    for i in range(1, len(fixes)):
        a, b = fixes[i - 1], fixes[i]
        total += distance_m(a.lat, a.lon, b.lat, b.lon)
        if total >= metres:
            return fixes[: i + 1]
    return fixes


def board_ids(page: Page) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        "#board tbody tr", "rows => rows.map(r => r.dataset.id)"
    )
    return ids


def marker_positions(page: Page) -> dict[str, Any]:
    positions: dict[str, Any] = page.evaluate(
        """() => Object.fromEntries([...window.paceRace.race.markers]
             .map(([id, m]) => [id, m.getLatLng()]))"""
    )
    return positions


def test_race_page_follows_two_live_boats(
    server: Any, phone: Any, recording: Any, shot: Any, loop: LoopThread
) -> None:
    """Markers move, the board's order is the server's, and the finish shows up."""
    race = server.create_race("Gin Sul regatta", TARGET_M)
    # Alex sails past the finish line; Richard stops short of it.
    lengths = {"Alex": TARGET_M * 1.6, "Richard": TARGET_M * 0.6}
    boats = {}
    for name, file in BOATS.items():
        runner = server.add_runner(race, name)
        fixes = prefix_over(recording(file), lengths[name])
        t0 = time.time() - fixes[-1].time_s - 5
        boat = Boat(server.base_url, runner["token"], fixes, t0)
        loop.boats.append(boat)
        loop.run(boat.connect())
        boats[runner["id"]] = boat

    page = phone().new_page()
    page.set_viewport_size({"width": 1100, "height": 700})
    page.goto(f"{server.base_url}/races/{race['id']}")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(page.locator("#race-name")).to_contain_text("Gin Sul regatta")

    seen: dict[str, list[Any]] = {pid: [] for pid in boats}
    for step in range(1, ROUNDS + 1):
        for boat in boats.values():
            loop.run(boat.send_until(len(boat.fixes) * step // ROUNDS))
        page.wait_for_function(
            "n => window.paceRace.race.markers.size === n", arg=len(boats)
        )
        time.sleep(0.8)
        for pid, at in marker_positions(page).items():
            seen[pid].append(at)

    for pid, positions in seen.items():
        assert len({(p["lat"], p["lng"]) for p in positions}) >= ROUNDS // 2, pid

    # The marker sits on the last fix the server counted, as its standings say.
    for standing in server.standings(race["id"]):
        lat, lon, _ = standing["position"]
        page.wait_for_function(
            "([id, lat, lon]) => { const p = window.paceRace.race.markers"
            ".get(id).getLatLng(); return p.lat === lat && p.lng === lon; }",
            arg=[standing["participant_id"], lat, lon],
        )

    finished = page.locator("#feed li[data-event=finished]")
    expect(finished).to_have_count(1)
    expect(finished).to_contain_text("Alex finished")

    standings = server.standings(race["id"])
    assert [s["status"] for s in standings] == ["finished", "running"], standings
    want = [s["participant_id"] for s in standings]
    page.wait_for_function(
        "want => JSON.stringify([...document.querySelectorAll('#board tbody tr')]"
        ".map(r => r.dataset.id)) === JSON.stringify(want)",
        arg=want,
    )
    assert board_ids(page) == want
    expect(page.locator("#board tbody tr").first).to_contain_text("finished")

    shot(page, "race")

    # The page notices a dead server and comes back by itself with a new snapshot.
    server.kill()
    expect(page.locator("#live")).to_have_attribute("data-state", "offline")
    expect(page.locator("#live")).to_contain_text("Disconnected")
    server.start()
    expect(page.locator("#live")).to_have_attribute(
        "data-state", "live", timeout=60_000
    )
    assert board_ids(page) == [
        s["participant_id"] for s in server.standings(race["id"])
    ]
    page.click(f"#board tbody tr[data-id='{want[1]}']")
    expect(page.locator(f"#board tbody tr[data-id='{want[1]}']")).to_have_class(
        "following"
    )
