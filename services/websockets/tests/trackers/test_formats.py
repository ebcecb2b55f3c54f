"""Reading Traccar Client's and OwnTracks' payloads, without a server."""

from __future__ import annotations

import pytest
from pace_core.filtering import epoch_ms
from pace_websockets.trackers import (
    KNOT_MPS,
    BadTrackerData,
    osmand_json,
    osmand_query,
    owntracks,
    parse_time,
)
from trackerkit import owntracks_location, traccar_json, traccar_query

START = 1_780_000_000


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1780000000", 1_780_000_000_000),
        ("1780000000.25", 1_780_000_000_250),
        ("1780000000123", 1_780_000_000_123),
        ("2026-05-28T20:26:40Z", 1_780_000_000_000),
        ("2026-05-28T20:26:40.123Z", 1_780_000_000_123),
        ("2026-05-28T22:26:40+02:00", 1_780_000_000_000),
        ("2026-05-28 20:26:40+00:00", 1_780_000_000_000),
    ],
)
def test_timestamps_in_every_form_traccar_accepts(text: str, ms: int) -> None:
    """Unix seconds, milliseconds and ISO 8601 all read as the same instant."""
    assert parse_time(text) == ms


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-05-28T20:26:40", "has no UTC offset"),
        ("yesterday", "is not a time"),
        ("-5", "is not a time"),
        ("nan", "is not a time"),
    ],
)
def test_unreadable_timestamps_are_named(text: str, message: str) -> None:
    """A time Pace cannot place is refused with the value in the message."""
    with pytest.raises(BadTrackerData, match=message):
        parse_time(text)


def test_osmand_query_reads_knots_as_mps() -> None:
    """Traccar Client's query: seq is the fix time in ms, speed knots to m/s."""
    token, [p] = osmand_query(traccar_query("tok", 3, START), now_ms=0)
    assert token == "tok"
    assert p.seq == epoch_ms(p.time) == (START + 3) * 1000
    assert p.speed == pytest.approx(6.4795 * KNOT_MPS)
    assert p.speed == pytest.approx(3.333, abs=0.001)
    assert (p.alt, p.accuracy, p.heading) == (35.0, 4.0, 0.0)


def test_osmand_unknown_sentinels_become_none() -> None:
    """-1 for speed, bearing or accuracy means unknown, not out of range."""
    params = traccar_query("t", 0, START, speed="-1", bearing="-1", accuracy="-1")
    _, [p] = osmand_query(params, now_ms=0)
    assert (p.speed, p.heading, p.accuracy) == (None, None, None)


def test_osmand_without_timestamp_is_now() -> None:
    """No timestamp means the server's now, as Traccar reads it."""
    params = traccar_query("t", 0, START)
    del params["timestamp"]
    _, [p] = osmand_query(params, now_ms=1_780_000_000_500)
    assert p.seq == 1_780_000_000_500


def test_osmand_location_pair_and_deviceid() -> None:
    """``deviceid`` and ``location=lat,lon`` are accepted like id, lat, lon."""
    params = {"deviceid": "t", "location": "48.5,2.25", "timestamp": str(START)}
    token, [p] = osmand_query(params, now_ms=0)
    assert (token, p.lat, p.lon) == ("t", 48.5, 2.25)


@pytest.mark.parametrize(
    ("change", "message"),
    [({"lat": ""}, "lat is required"), ({"lon": "east"}, "lon 'east' is not")],
)
def test_osmand_bad_values_are_named(change: dict[str, str], message: str) -> None:
    """A missing or non-numeric coordinate names the parameter."""
    with pytest.raises(BadTrackerData, match=message):
        osmand_query({**traccar_query("t", 0, START), **change}, now_ms=0)


def test_traccar_json_reads_the_location_template() -> None:
    """Traccar Client 9's JSON: device_id, ISO time, speed already in m/s."""
    token, [p] = osmand_json(traccar_json("tok", 2, START))
    assert token == "tok"
    assert p.seq == (START + 2) * 1000
    assert (p.speed, p.heading, p.accuracy, p.alt) == (3.33, 0.5, 4.7, 35.2)


def test_traccar_json_batch_of_locations() -> None:
    """A batch sync sends ``location`` as a list, oldest first."""
    body = traccar_json("tok", 0, START)
    body["location"] = [traccar_json("tok", i, START)["location"] for i in range(3)]
    _, fixes = osmand_json(body)
    assert [p.seq for p in fixes] == [(START + i) * 1000 for i in range(3)]


def test_traccar_json_without_coords_is_bad() -> None:
    """A location with no coords object is not the protocol."""
    with pytest.raises(BadTrackerData, match="coords"):
        osmand_json({"device_id": "t", "location": {"timestamp": "x"}})


def test_owntracks_reads_kmh_and_skips_other_types() -> None:
    """vel km/h becomes m/s; waypoints, cards and transitions are skipped."""
    body = [
        owntracks_location(0, START),
        {"_type": "transition", "event": "leave", "tst": START},
        owntracks_location(1, START),
    ]
    fixes = owntracks(body)
    assert [p.seq for p in fixes] == [START * 1000, (START + 1) * 1000]
    assert fixes[0].speed == pytest.approx(12 / 3.6)
    assert (fixes[0].accuracy, fixes[0].alt, fixes[0].heading) == (5.0, 35.0, 0.0)


def test_owntracks_location_without_tst_is_bad() -> None:
    """A location without ``tst`` cannot be placed in time."""
    body = owntracks_location(0, START)
    del body["tst"]
    with pytest.raises(BadTrackerData, match="tst"):
        owntracks(body)


def test_owntracks_string_latitude_is_bad() -> None:
    """A latitude that is not a number is named."""
    body = {**owntracks_location(0, START), "lat": "48.8"}
    with pytest.raises(BadTrackerData, match="lat must be a number"):
        owntracks(body)
