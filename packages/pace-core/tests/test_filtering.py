"""The stateless checks of a point, the reasons and the limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pace_core.filtering import (
    STORED_REASONS,
    Limits,
    Reason,
    check_point,
    check_values,
    epoch_ms,
)
from pace_core.messages import Point

NOW = datetime(2024, 6, 15, 14, 0, tzinfo=UTC)
NOW_MS = epoch_ms(NOW)
LIMITS = Limits()


def point(**changes: object) -> Point:
    """A valid point in Hamburg at NOW, with some fields changed."""
    fields: dict[str, object] = {"seq": 1, "time": NOW, "lat": 53.55, "lon": 9.99}
    fields.update(changes)
    return Point(**fields)  # type: ignore[arg-type]


def test_a_plain_point_passes() -> None:
    """A finite, in-range point at the server's time has no reason."""
    assert (
        check_point(point(accuracy=4.0, speed=3.1, heading=270.0), NOW_MS, LIMITS)
        is None
    )


@pytest.mark.parametrize("field", ["lat", "lon", "alt", "accuracy", "speed", "heading"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_any_non_finite_number_is_not_finite(field: str, value: float) -> None:
    """NaN or ±inf in any numeric field gives not_finite."""
    assert check_point(point(**{field: value}), NOW_MS, LIMITS) is Reason.NOT_FINITE


@pytest.mark.parametrize(
    "changes",
    [
        {"lat": 90.0001},
        {"lat": -91.0},
        {"lon": 180.5},
        {"lon": -200.0},
        {"accuracy": -1.0},
        {"speed": -1.0},
        {"heading": 361.0},
        {"heading": -1.0},
    ],
)
def test_values_outside_their_range_are_out_of_range(changes: dict[str, float]) -> None:
    """Coordinates off the globe, negative accuracy or speed, odd headings."""
    assert check_point(point(**changes), NOW_MS, LIMITS) is Reason.OUT_OF_RANGE


def test_the_poles_and_the_antimeridian_are_in_range() -> None:
    """lat ±90 and lon ±180 are real places."""
    for lat, lon in [(90.0, 0.0), (-90.0, 180.0), (10.0, -180.0)]:
        assert check_point(point(lat=lat, lon=lon), NOW_MS, LIMITS) is None


@pytest.mark.parametrize("lat, lon", [(0.0, 0.0), (0.00005, -0.00009), (-0.0, 0.0)])
def test_zero_zero_is_null_island(lat: float, lon: float) -> None:
    """(0, 0) and its ~11 m box mean "no position"."""
    assert check_point(point(lat=lat, lon=lon), NOW_MS, LIMITS) is Reason.NULL_ISLAND


def test_the_equator_away_from_zero_is_a_place() -> None:
    """lat 0 alone is not null island (Quito, Libreville)."""
    assert check_point(point(lat=0.0, lon=9.45), NOW_MS, LIMITS) is None


def test_a_point_beyond_the_future_limit_is_future() -> None:
    """More than max_future_s ahead of the server clock gives future."""
    later = NOW + timedelta(seconds=LIMITS.max_future_s + 1)
    assert check_point(point(time=later), NOW_MS, LIMITS) is Reason.FUTURE


def test_a_point_just_inside_the_future_limit_passes() -> None:
    """A phone clock a little fast is tolerated."""
    later = NOW + timedelta(seconds=LIMITS.max_future_s)
    assert check_point(point(time=later), NOW_MS, LIMITS) is None


def test_a_point_beyond_the_past_limit_is_too_old() -> None:
    """Older than max_past_s gives too_old."""
    earlier = NOW - timedelta(seconds=LIMITS.max_past_s + 1)
    assert check_point(point(time=earlier), NOW_MS, LIMITS) is Reason.TOO_OLD


def test_a_late_flush_within_the_past_limit_passes() -> None:
    """A fix recorded an hour ago, flushed after a dead zone, is fine."""
    earlier = NOW - timedelta(hours=1)
    assert check_point(point(time=earlier), NOW_MS, LIMITS) is None


def test_the_int32_minimum_timestamp_is_too_old() -> None:
    """1901-12-13T20:45:52Z (Unix time -2**31) is refused as too_old."""
    absurd = datetime(1901, 12, 13, 20, 45, 52, tzinfo=UTC)
    assert check_point(point(time=absurd), NOW_MS, LIMITS) is Reason.TOO_OLD


def test_check_values_agrees_with_check_point() -> None:
    """The plain-values form gives the same answer for the same numbers."""
    assert check_values(NOW_MS, 0.0, 0.0, NOW_MS, LIMITS) is Reason.NULL_ISLAND


def test_epoch_ms_honours_the_offset() -> None:
    """14:00+02:00 is 12:00Z: the offset is applied, not dropped."""
    cest = timezone(timedelta(hours=2))
    assert epoch_ms(datetime(2024, 6, 15, 14, 0, tzinfo=cest)) == NOW_MS - 7_200_000


def test_epoch_ms_is_exact_to_the_millisecond() -> None:
    """.123 s is 123 ms exactly (floating point would give 122 for some times)."""
    moment = datetime(2024, 6, 15, 14, 0, 0, 123000, tzinfo=UTC)
    assert epoch_ms(moment) - NOW_MS == 123


def test_epoch_ms_before_1970_is_negative() -> None:
    """Times before the epoch map to negative milliseconds."""
    assert epoch_ms(datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)) == -1000


def test_stored_reasons_are_exactly_the_trackers() -> None:
    """Stored reasons are the stateful ones; the stateless ones are refused."""
    assert {r.value for r in STORED_REASONS} == {
        "stale",
        "duplicate_time",
        "low_accuracy",
        "impossible_speed",
        "before_start",
        "after_finish",
    }


def test_reason_values_are_the_wire_strings() -> None:
    """A reason compares and formats as its wire string."""
    assert Reason.NULL_ISLAND == "null_island"
    assert f"{Reason.TOO_OLD}" == "too_old"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"max_speed_mps": 0.0}, "max_speed_mps must be positive and finite, got 0.0"),
        ({"pace_window_s": float("inf")}, "pace_window_s must be positive and"),
        ({"max_accuracy_m": -1.0}, "max_accuracy_m must be >= 0, got -1.0"),
        ({"min_move_m": float("nan")}, "min_move_m must be >= 0, got nan"),
        ({"relocate_after": 0}, "relocate_after must be >= 1, got 0"),
    ],
)
def test_nonsense_limits_are_refused(changes: dict[str, float], message: str) -> None:
    """Limits that would disable a filter silently raise ValueError instead."""
    with pytest.raises(ValueError, match=message):
        Limits(**changes)  # type: ignore[arg-type]
