"""The organise page in Chromium: from an empty form to a runner seen moving live.

This is the issue's walk-through: the organiser creates a race and a runner, the
runner opens the join link on a second "phone", and the race page, opened from
the organise page's link in a third context, shows the runner move.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from pace_core.geodesy import distance_m
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

START = "regatta_gin_sul_2024_participant_yury.gpx"


def test_organiser_creates_a_race_and_a_working_join_link(
    server: Any, phone: Any, recording: Any, shot: Any
) -> None:
    """A race and a runner made on the page; the runner's link opens a live tracker."""
    organiser = phone().new_page()
    organiser.goto(server.base_url + "/")
    organiser.fill("#name", "Saturday 5k")
    organiser.click("button[data-km='5']")
    organiser.click("#create button[type=submit]")

    token_box = organiser.locator("#token-once")
    expect(token_box).to_be_visible()
    token = organiser.inner_text("#token-value")
    assert len(token) >= 32, token
    stored = organiser.evaluate("JSON.parse(localStorage['pace.organiser.races'])")
    assert stored[0]["organizer_token"] == token
    race_id = stored[0]["id"]
    race = server.api("GET", f"/api/races/{race_id}")
    assert (race["name"], race["distance_m"]) == ("Saturday 5k", 5000)

    organiser.fill("#runner-name", "Yury")
    organiser.click("#add button[type=submit]")
    card = organiser.locator(".runner-card")
    expect(card).to_have_count(1)
    expect(card.locator(".qr svg")).to_be_visible()
    join_url = card.locator("a.join").get_attribute("href")
    assert join_url and "/run#token=" in join_url, join_url
    href = organiser.locator("#race-link").get_attribute("href")
    assert href == f"/races/{race_id}"
    shot(organiser, "organise", full_page=True)
    organiser.click("#token-ok")
    expect(token_box).to_be_hidden()

    fixes = recording(START)
    runner_context = phone(geolocation=fixes[0])
    runner = runner_context.new_page()
    runner.goto(join_url)
    expect(runner.locator("#conn")).to_have_attribute("data-state", "live")
    expect(runner.locator("#race-name")).to_contain_text("Saturday 5k")
    runner.click("#start")
    expect(runner.locator("#pending")).to_have_attribute("data-count", "0")
    runner.wait_for_function("window.paceRunner.state.seqs.length >= 1")
    expect(runner.locator("#pending")).to_have_attribute("data-count", "0")

    # The live view follows the ack by up to one publish interval (0.1 s,
    # docs/protocol.md), so wait for the position rather than read it once.
    deadline = time.monotonic() + 10
    while (standings := server.standings(race_id))[0]["position"] is None:
        assert time.monotonic() < deadline, standings
        time.sleep(0.05)
    assert [s["name"] for s in standings] == ["Yury"]
    assert server.stored_seqs(standings[0]["participant_id"]) == [1]
    lat, lon, _ = standings[0]["position"]
    assert (lat, lon) == pytest.approx((fixes[0].lat, fixes[0].lon))
    expect(runner.locator("#status")).to_have_text("Recording")

    spectator = phone().new_page()
    spectator.goto(server.base_url + href)
    expect(spectator.locator("#board tbody tr")).to_have_count(1)
    expect(spectator.locator("#board tbody tr")).to_contain_text("Yury")
    spectator.wait_for_function("window.paceRace.race.markers.size === 1")

    # A few fixes later (at 6 m/s, in real time) the marker has moved there.
    for a, b in itertools.pairwise(fixes[:6]):
        time.sleep(max(0.5, distance_m(a.lat, a.lon, b.lat, b.lon) / 6.0))
        runner_context.set_geolocation(
            {"latitude": b.lat, "longitude": b.lon, "accuracy": 5}
        )
    runner.wait_for_function("window.paceRunner.state.seqs.length >= 6")
    expect(runner.locator("#pending")).to_have_attribute("data-count", "0")
    spectator.wait_for_function(
        "([lat, lon]) => { const p = [...window.paceRace.race.markers.values()][0]"
        ".getLatLng(); return p.lat !== lat || p.lng !== lon; }",
        arg=[fixes[0].lat, fixes[0].lon],
    )
    lat, lon, _ = settled_position(server, race_id)
    spectator.wait_for_function(
        "([lat, lon]) => { const p = [...window.paceRace.race.markers.values()][0]"
        ".getLatLng(); return p.lat === lat && p.lng === lon; }",
        arg=[lat, lon],
    )


def settled_position(server: Any, race_id: str) -> Any:
    """The runner's live position once two reads 0.3 s apart agree.

    The live view follows an ack by up to one publish interval (0.1 s).
    """
    last = server.standings(race_id)[0]["position"]
    for _ in range(100):
        time.sleep(0.3)
        now = server.standings(race_id)[0]["position"]
        if now == last:
            return now
        last = now
    raise AssertionError(f"position never settled: {last}")
