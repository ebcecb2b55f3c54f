"""A private race's page works from its spectator link, and not without the key."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser]


def private_race(server: Any) -> Any:
    return server.api(
        "POST", "/api/races", {"name": "Club time trial", "visibility": "private"}
    )


def test_private_race_page_loads_with_the_spectator_link(
    server: Any, phone: Any
) -> None:
    """The #key= of the spectator link reaches the feed: the page goes live."""
    race = private_race(server)
    server.add_runner(race, "Ada")
    page = phone().new_page()
    page.goto(f"{server.base_url}/races/{race['id']}#key={race['spectator_token']}")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(page.locator("#race-name")).to_contain_text("Club time trial")


def test_private_race_page_without_the_key_never_goes_live(
    server: Any, phone: Any
) -> None:
    """Without the key the feed is refused, so the page cannot show the race."""
    race = private_race(server)
    request = urllib.request.Request(f"{server.base_url}/api/races/{race['id']}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["status"] == 401
    page = phone().new_page()
    page.goto(f"{server.base_url}/races/{race['id']}")
    page.wait_for_timeout(1500)
    expect(page.locator("#live")).not_to_have_attribute("data-state", "live")
