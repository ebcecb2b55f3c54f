"""Properties of the engine that must hold for any input (hypothesis)."""

from __future__ import annotations

import math
import random
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pace_core.engine import Fix, RaceRules, Tracker
from pace_core.filtering import Limits, Reason
from pace_core.geodesy import destination

T0 = 1_718_460_000_000

finite = st.floats(allow_nan=False, allow_infinity=False)
times = st.integers(min_value=T0 - 10**12, max_value=T0 + 10**12)
optional = st.none() | finite

# The engine never reads alt, speed or heading, so they are left out to keep
# each example cheap.
wild_fixes = st.builds(
    Fix,
    seq=st.integers(min_value=-(2**63), max_value=2**63),
    time=times,
    lat=finite,
    lon=finite,
    accuracy=optional,
)

_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

rules = st.builds(
    RaceRules,
    target_distance_m=st.none() | st.floats(min_value=1.0, max_value=5000.0),
    starts_at=st.none() | st.integers(min_value=T0 - 60_000, max_value=T0 + 60_000),
)


@st.composite
def tracks(draw: st.DrawFn) -> list[Fix]:
    """A plausible, messy run: steps of 0-60 m every -2 to 20 s, glitches allowed.

    Hypothesis draws the shape (length, seed, how wild); a seeded generator
    lays out the fixes, which keeps each example cheap to draw.
    """
    n = draw(st.integers(min_value=0, max_value=200))
    rng = random.Random(draw(st.integers(min_value=0, max_value=2**32)))
    max_step = draw(st.sampled_from([2.0, 10.0, 60.0, 400.0]))
    no_accuracy = draw(st.booleans())
    lat, lon, time = 46.05, 14.5, T0
    fixes = []
    for seq in range(1, n + 1):
        time += rng.randint(-2000, 20_000)
        lat, lon = destination(lat, lon, rng.uniform(0, 360), rng.uniform(0, max_step))
        accuracy = None if no_accuracy else rng.uniform(0.0, 80.0)
        fixes.append(Fix(seq, time, lat, lon, accuracy=accuracy))
    return fixes


def run(tracker: Tracker, fixes: list[Fix]) -> list[float]:
    """Feed fixes; the distance after each one."""
    distances = []
    for fix in fixes:
        tracker.add(fix)
        distances.append(tracker.view().distance_m)
    return distances


@_SETTINGS
@given(rules, st.lists(wild_fixes, max_size=20))
def test_add_never_raises_on_finite_nonsense(
    rules: RaceRules, fixes: list[Fix]
) -> None:
    """Any finite fixes in any order give a reason or None, never an exception."""
    tracker = Tracker(rules)
    reasons = [tracker.add(f) for f in fixes]
    assert all(r is None or isinstance(r, Reason) for r in reasons)
    assert tracker.view().distance_m >= 0.0


@_SETTINGS
@given(rules, tracks())
def test_distance_never_decreases_nor_goes_negative(
    rules: RaceRules, fixes: list[Fix]
) -> None:
    """Distance after each fix is >= 0 and >= the distance before it."""
    distances = run(Tracker(rules), fixes)
    assert all(d >= 0.0 for d in distances)
    assert all(b >= a for a, b in pairwise(distances))


@_SETTINGS
@given(rules, tracks() | st.lists(wild_fixes, max_size=10))
def test_replaying_the_same_fixes_gives_the_same_race(
    rules: RaceRules, fixes: list[Fix]
) -> None:
    """Two trackers fed the same fixes agree on every reason, event and view."""
    first, second = Tracker(rules), Tracker(rules)
    assert [first.add(f) for f in fixes] == [second.add(f) for f in fixes]
    assert first.drain_events() == second.drain_events()
    assert first.view() == second.view()
    assert Tracker.rebuild(rules, fixes).view() == first.view()


@_SETTINGS
@given(rules, tracks())
def test_paces_are_none_or_positive_and_finite(
    rules: RaceRules, fixes: list[Fix]
) -> None:
    """Current and average pace are None or a positive finite number."""
    tracker = Tracker(rules)
    for fix in fixes:
        tracker.add(fix)
        view = tracker.view()
        for pace in (view.pace_s_per_km, view.avg_pace_s_per_km):
            assert pace is None or (pace > 0.0 and math.isfinite(pace))


@_SETTINGS
@given(rules, tracks())
def test_splits_are_consecutive_kilometres_strictly_later(
    rules: RaceRules, fixes: list[Fix]
) -> None:
    """Splits are km 1, 2, 3... at strictly increasing times, each positive."""
    tracker = Tracker(rules)
    run(tracker, fixes)
    splits = tracker.view().splits
    assert [s.km for s in splits] == list(range(1, len(splits) + 1))
    assert all(a.time < b.time for a, b in pairwise(splits))
    assert all(s.split_s > 0.0 for s in splits[1:])


@_SETTINGS
@given(rules, tracks())
def test_counted_fixes_are_strictly_later_than_each_other(
    rules: RaceRules, fixes: list[Fix]
) -> None:
    """The counted fixes form a strictly increasing sequence of times."""
    tracker = Tracker(rules)
    counted = [f.time for f in fixes if tracker.add(f) is None]
    assert all(a < b for a, b in pairwise(counted))


@_SETTINGS
@given(rules, tracks())
def test_every_refusal_is_counted_by_reason(rules: RaceRules, fixes: list[Fix]) -> None:
    """`rejected` holds exactly the reasons add returned."""
    tracker = Tracker(rules)
    reasons = [r for f in fixes if (r := tracker.add(f)) is not None]
    assert tracker.rejected.total() == len(reasons)
    assert all(tracker.rejected[r] >= 1 for r in reasons)


@_SETTINGS
@given(tracks())
def test_a_finish_is_at_the_target_and_last(fixes: list[Fix]) -> None:
    """Once finished: distance is the target and the finish is the last event."""
    tracker = Tracker(RaceRules(target_distance_m=300.0), Limits())
    run(tracker, fixes)
    view = tracker.view()
    events = tracker.drain_events()
    if view.finished:
        assert view.distance_m == 300.0
        assert events[-1].kind == "finished" and events[-1].time == view.finish_time
    else:
        assert view.distance_m < 300.0 and view.finish_time is None


@_SETTINGS
@given(rules, tracks())
def test_asking_for_views_does_not_change_the_race(
    rules: RaceRules, fixes: list[Fix]
) -> None:
    """A tracker viewed after every fix ends with the same view as one never viewed."""
    watched, unwatched = Tracker(rules), Tracker(rules)
    run(watched, fixes)
    for fix in fixes:
        unwatched.add(fix)
    assert watched.view() == unwatched.view()
