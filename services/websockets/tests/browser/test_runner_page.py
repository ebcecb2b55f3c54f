"""The runner page in Chromium, moved along a real run recorded by a Garmin eTrex.

Chromium stamps each emulated position with its own clock, so the fixes are fed in
real time, spaced so that the implied speed stays a fast runner's (the server
refuses fixes faster than 12 m/s as impossible): about 2.5 s per recorded step.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from pace_core.geodesy import distance_m
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN = "runalyze_etrex_run_first_point_no_latlon.gpx"
SPEED_MPS = 7.0
"""Emulated speed between fixes: well under the server's 12 m/s limit."""


def geo(fix: Any) -> dict[str, float]:
    return {"latitude": fix.lat, "longitude": fix.lon, "accuracy": 5}


def open_runner(context: BrowserContext, join_url: str) -> Page:
    page = context.new_page()
    page.goto(join_url)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    return page


def page_seqs(page: Page) -> list[int]:
    seqs: list[int] = page.evaluate("window.paceRunner.state.seqs")
    return seqs


def move(context: BrowserContext, page: Page, fixes: list[Any], start: int) -> None:
    """Move the phone through ``fixes``; each must become a new recorded point."""
    for i, fix in enumerate(fixes):
        if i:
            a, b = fixes[i - 1], fix
            time.sleep(max(0.3, distance_m(a.lat, a.lon, b.lat, b.lon) / SPEED_MPS))
        context.set_geolocation(geo(fix))
        page.wait_for_function(
            "n => window.paceRunner.state.seqs.length >= n", arg=start + i + 1
        )


def wait_all_sent(page: Page) -> None:
    expect(page.locator("#pending")).to_have_attribute("data-count", "0")


def wait_page_matches_server(page: Page, server: Any, race_id: str) -> Any:
    """Poll until the page's distance and rank equal the server's standings."""
    deadline = time.monotonic() + 15
    while True:
        standing = server.standings(race_id)[0]
        want = (f"{standing['distance_m'] / 1000:.2f}", f"{standing['rank']}/1")
        shown = (page.inner_text("#distance"), page.inner_text("#rank"))
        if shown == want or time.monotonic() > deadline:
            assert shown == want, f"page shows {shown}, server says {want}"
            return standing
        time.sleep(0.3)


def test_runner_page_tracks_a_real_run(
    server: Any, phone: Any, recording: Any, shot: Any
) -> None:
    """Marker follows the recording, stats update and match the server's standings."""
    fixes = recording(RUN)[:24]
    race = server.create_race("Aachen evening run", 5000)
    runner = server.add_runner(race, "eTrex")
    context = phone(geolocation=fixes[0])
    page = open_runner(context, runner["join_url"])

    page.click("#start")
    move(context, page, fixes, 0)
    marker = page.evaluate("window.paceRunner.markerLatLng()")
    assert marker == pytest.approx({"lat": fixes[-1].lat, "lng": fixes[-1].lon})

    wait_all_sent(page)
    standing = wait_page_matches_server(page, server, race["id"])
    assert standing["distance_m"] > 200, standing
    assert ":" in page.inner_text("#avg-pace")
    assert page.inner_text("#status") == "Recording"
    shot(page, "runner")

    page.click("#stop")
    expect(page.locator("#stop")).to_have_text("Tap again to stop")
    page.click("#stop")
    expect(page.locator("#status")).to_have_text("Stopped")
    expect(page.locator("#start")).to_be_enabled()


def test_offline_stretch_reaches_the_server_exactly_once(
    server: Any, phone: Any, recording: Any, shot: Any
) -> None:
    """A reload and an offline stretch lose no point and store none twice."""
    fixes = recording(RUN)[30:54]
    race = server.create_race("Tunnel run", None)
    runner = server.add_runner(race, "Offline")
    context = phone(geolocation=fixes[0])
    page = open_runner(context, runner["join_url"])
    page.click("#start")
    move(context, page, fixes[:8], 0)
    before_reload = page_seqs(page)

    page.reload()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    move(context, page, fixes[8:12], 0)

    context.set_offline(True)
    expect(page.locator("#conn")).to_have_attribute("data-state", "offline")
    move(context, page, fixes[12:], 4)
    expect(page.locator("#pending")).not_to_have_attribute("data-count", "0")
    waiting = int(page.get_attribute("#pending", "data-count") or 0)
    assert waiting >= len(fixes) - 12, waiting
    shot(page, "runner-offline")

    context.set_offline(False)
    wait_all_sent(page)
    generated = before_reload + page_seqs(page)
    assert generated == sorted(set(generated)), generated
    assert server.stored_seqs(runner["id"]) == generated


def test_server_killed_mid_run_loses_nothing(
    server: Any, phone: Any, recording: Any, shot: Any
) -> None:
    """After a SIGKILL and restart the page resumes; every point is stored once."""
    fixes = recording(RUN)[60:76]
    race = server.create_race("Crash run", None)
    runner = server.add_runner(race, "Crash")
    context = phone(geolocation=fixes[0])
    page = open_runner(context, runner["join_url"])
    page.click("#start")
    move(context, page, fixes[:8], 0)

    server.kill()
    expect(page.locator("#conn")).not_to_have_attribute("data-state", "live")
    move(context, page, fixes[8:12], 8)
    expect(page.locator("#pending")).not_to_have_attribute("data-count", "0")

    server.start()
    expect(page.locator("#conn")).to_have_attribute(
        "data-state", "live", timeout=60_000
    )
    move(context, page, fixes[12:], 12)
    wait_all_sent(page)
    # Chromium may repeat a position with a new timestamp: at least one per fix.
    generated = page_seqs(page)
    assert generated == list(range(1, len(generated) + 1)), generated
    assert len(generated) >= len(fixes)
    assert server.stored_seqs(runner["id"]) == generated


def test_denied_location_is_explained(
    server: Any, phone: Any, recording: Any, shot: Any
) -> None:
    """With location refused the page says so plainly instead of staying blank."""
    race = server.create_race("No GPS", None)
    runner = server.add_runner(race, "Denied")
    context = phone(granted=False)
    page = context.new_page()
    page.goto(runner["join_url"])

    page.click("#start")
    problem = page.locator("#problem")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("Location is blocked")
    expect(page.locator("#start")).to_be_enabled()
    shot(page, "runner-denied")


def test_second_tab_of_a_link_waits_for_the_first(server: Any, phone: Any) -> None:
    """Two tabs never record one link at once: the second takes over on close."""
    race = server.create_race("Two tabs", None)
    runner = server.add_runner(race, "Twice")
    context = phone()
    first = open_runner(context, runner["join_url"])
    second = context.new_page()
    second.goto(runner["join_url"])
    expect(second.locator("#problem")).to_contain_text("already open in another tab")
    expect(second.locator("#conn")).not_to_have_attribute("data-state", "live")

    first.close()
    expect(second.locator("#conn")).to_have_attribute("data-state", "live")
    expect(second.locator("#problem")).to_be_hidden()
