"""The engine's place centroid and passing-time helpers."""

from __future__ import annotations

from pace_core.engine import Fix
from pace_core.geodesy import destination
from pace_core.places import Place, passing_time

T0 = 1_718_460_000_000
LAT, LON = 53.55, 9.99


def at(seq: int, seconds: int, metres_east: float) -> Fix:
    lat, lon = destination(LAT, LON, 90.0, metres_east)
    return Fix(seq, T0 + seconds * 1000, lat, lon, accuracy=4.0)


def test_without_a_stop_the_time_is_linear_along_the_hop() -> None:
    """Half way along anchor → fix is half way in time."""
    assert passing_time(at(1, 0, 0.0), None, at(2, 10, 100.0), 0.5) == T0 + 5000


def test_a_mark_after_a_stop_is_passed_after_it() -> None:
    """Stood at 2 m from 0 s to 300 s, then 98 m in 30 s: 50 m at ~315 s."""
    time = passing_time(at(1, 0, 0.0), at(2, 300, 2.0), at(3, 330, 100.0), 0.5)
    assert T0 + 314_000 <= time <= T0 + 316_000


def test_a_mark_within_the_stop_is_passed_during_it() -> None:
    """A mark in the first 2 m falls between the anchor and the stop's end."""
    time = passing_time(at(1, 0, 0.0), at(2, 300, 2.0), at(3, 330, 100.0), 0.01)
    assert T0 < time < T0 + 300_000


def test_a_hop_of_no_length_gives_the_via_time() -> None:
    """Anchor, via and fix at one spot: the via's time, no division by zero."""
    via = at(2, 300, 0.0)
    assert passing_time(at(1, 0, 0.0), via, at(3, 330, 0.0), 0.5) == via.time


def test_a_place_averages_its_fixes() -> None:
    """The centroid of fixes at 0 m and 10 m east lies at 5 m east."""
    place = Place()
    place.reset(at(1, 0, 0.0))
    place.add(at(2, 1, 10.0))
    lat, lon = destination(LAT, LON, 90.0, 5.0)
    assert abs(place.lat - lat) < 1e-9 and abs(place.lon - lon) < 1e-9
    assert place.n == 2 and place.accuracy == 4.0 and place.last == at(2, 1, 10.0)
