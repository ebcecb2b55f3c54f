"""The engine's public names: the service codes against exactly these."""

from __future__ import annotations

import pytest
from pace_core import engine, filtering, geodesy, places, standings

EXPECTED = {
    engine: {
        "EngineEvent",
        "EventKind",
        "Fix",
        "RaceRules",
        "SplitRecord",
        "Tracker",
        "TrackerView",
    },
    filtering: {
        "NULL_ISLAND_DEG",
        "STORED_REASONS",
        "Limits",
        "Reason",
        "check_point",
        "check_values",
        "epoch_ms",
    },
    geodesy: {"EARTH_RADIUS_M", "bearing_deg", "destination", "distance_m"},
    places: {"Place", "passing_time"},
    standings: {"Entry", "Rankable", "rank", "sort_key"},
}


@pytest.mark.parametrize("module", EXPECTED, ids=lambda m: m.__name__)
def test_all_lists_exactly_the_public_names(module: object) -> None:
    """__all__ neither loses nor gains a name without this test changing."""
    assert set(module.__all__) == EXPECTED[module]  # type: ignore[attr-defined]


@pytest.mark.parametrize("module", EXPECTED, ids=lambda m: m.__name__)
def test_every_public_name_exists(module: object) -> None:
    """Each name in __all__ is defined in its module."""
    missing = [n for n in module.__all__ if not hasattr(module, n)]  # type: ignore[attr-defined]
    assert missing == []


def test_reason_values_are_stable() -> None:
    """The reason strings are on the wire and in metrics: they never change."""
    assert [r.value for r in filtering.Reason] == [
        "out_of_range",
        "not_finite",
        "null_island",
        "no_offset",
        "future",
        "too_old",
        "stale",
        "duplicate_time",
        "low_accuracy",
        "impossible_speed",
        "before_start",
        "after_finish",
        "race_ended",
    ]
