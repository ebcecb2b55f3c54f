"""The race engine, one behaviour at a time, on synthetic tracks."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from pace_core.engine import EngineEvent, Fix, RaceRules, Tracker
from pace_core.filtering import Limits, Reason
from pace_core.geodesy import destination, distance_m
from pace_core.messages import Point

T0 = 1_718_460_000_000  # 2024-06-15T14:00:00Z
LAT, LON = 53.55, 9.99  # Hamburg


def straight(
    n: int,
    step_m: float,
    *,
    every_s: float = 1.0,
    accuracy: float | None = 5.0,
    start: tuple[float, float] = (LAT, LON),
    t0: int = T0,
    seq0: int = 1,
) -> list[Fix]:
    """``n`` fixes due east, ``step_m`` apart, one every ``every_s`` seconds."""
    fixes = []
    lat, lon = start
    for i in range(n):
        time = t0 + round(i * every_s * 1000)
        fixes.append(Fix(seq0 + i, time, lat, lon, accuracy=accuracy))
        lat, lon = destination(lat, lon, 90.0, step_m)
    return fixes


def feed(tracker: Tracker, fixes: list[Fix]) -> list[Reason | None]:
    """Add every fix; the reasons in order."""
    return [tracker.add(f) for f in fixes]


def test_first_counted_fix_starts_the_runner() -> None:
    """The first counted fix emits `started` and the view says started."""
    tracker = Tracker(RaceRules())
    assert tracker.add(Fix(1, T0, LAT, LON, accuracy=5.0)) is None
    assert tracker.drain_events() == [EngineEvent("started", T0, None, 0.0, 0.0)]
    view = tracker.view()
    assert (view.started, view.distance_m, view.elapsed_s) == (True, 0.0, 0.0)


def test_an_empty_tracker_has_nothing_defined() -> None:
    """Before any fix: no distance, no elapsed, no pace, not started."""
    view = Tracker(RaceRules()).view()
    assert view.distance_m == 0.0
    assert (view.elapsed_s, view.pace_s_per_km, view.avg_pace_s_per_km) == (
        None,
        None,
        None,
    )
    assert (view.started, view.finished, view.last_fix) == (False, False, None)


def test_a_straight_run_measures_its_length() -> None:
    """600 fixes 3 m apart measure 1797 m, less the lag (< 2 allowances, 20 m)."""
    tracker = Tracker(RaceRules())
    assert set(feed(tracker, straight(600, 3.0))) == {None}
    assert 1797.0 - 20.0 <= tracker.view().distance_m <= 1797.0 + 1e-6


def test_standing_still_with_jitter_adds_almost_nothing() -> None:
    """10 min of fixes scattered 5-10 m around one spot add < 20 m."""
    rng = random.Random(7)
    tracker = Tracker(RaceRules())
    for i in range(600):
        lat, lon = destination(LAT, LON, rng.uniform(0, 360), rng.uniform(5, 10))
        tracker.add(Fix(i + 1, T0 + i * 1000, lat, lon, accuracy=10.0))
    assert tracker.view().distance_m < 20.0


def test_jitter_while_standing_still_gives_no_pace() -> None:
    """A jittering but standing runner has no current pace."""
    rng = random.Random(8)
    tracker = Tracker(RaceRules())
    for i in range(120):
        lat, lon = destination(LAT, LON, rng.uniform(0, 360), rng.uniform(0, 8))
        tracker.add(Fix(i + 1, T0 + i * 1000, lat, lon, accuracy=8.0))
    assert tracker.view().pace_s_per_km is None


def test_an_older_fix_than_the_last_counted_is_stale() -> None:
    """A fix before the last counted one is `stale` and adds nothing."""
    tracker = Tracker(RaceRules())
    feed(tracker, straight(10, 3.0))
    before = tracker.view()
    late = Fix(11, T0 + 4000, LAT + 0.01, LON, accuracy=5.0)
    assert tracker.add(late) is Reason.STALE
    assert tracker.view() == before
    assert tracker.rejected == {Reason.STALE: 1}


def test_a_fix_at_the_same_time_is_a_duplicate() -> None:
    """Same time as the last counted fix gives `duplicate_time`."""
    tracker = Tracker(RaceRules())
    feed(tracker, straight(3, 3.0))
    again = Fix(4, T0 + 2000, LAT, LON + 0.001, accuracy=5.0)
    assert tracker.add(again) is Reason.DUPLICATE_TIME
    assert tracker.rejected[Reason.DUPLICATE_TIME] == 1


def test_poor_accuracy_does_not_count() -> None:
    """Accuracy beyond max_accuracy_m gives `low_accuracy`."""
    tracker = Tracker(RaceRules())
    feed(tracker, straight(3, 3.0))
    vague = Fix(4, T0 + 3000, LAT, LON + 0.001, accuracy=51.0)
    assert tracker.add(vague) is Reason.LOW_ACCURACY
    assert tracker.view().last_fix != vague


def test_a_single_wild_jump_is_refused_and_the_run_goes_on() -> None:
    """A 2 km glitch is `impossible_speed`; the fixes after it count."""
    tracker = Tracker(RaceRules())
    fixes = straight(60, 3.0)
    far = destination(fixes[30].lat, fixes[30].lon, 0.0, 2000.0)
    fixes[30] = Fix(31, fixes[30].time, *far, accuracy=5.0)
    reasons = feed(tracker, fixes)
    assert reasons[30] is Reason.IMPOSSIBLE_SPEED
    assert reasons.count(None) == 59
    assert 59 * 3.0 - 20.0 <= tracker.view().distance_m <= 59 * 3.0 + 1e-6


def test_a_tunnel_gap_is_accepted() -> None:
    """Three minutes unseen, then 600 m further: the 600 m count."""
    tracker = Tracker(RaceRules())
    before = straight(10, 3.0)
    last = before[-1]
    after = straight(
        10,
        3.0,
        start=destination(last.lat, last.lon, 90.0, 600.0),
        t0=last.time + 180_000,
        seq0=11,
    )
    assert set(feed(tracker, before + after)) == {None}
    assert 654.0 - 20.0 <= tracker.view().distance_m <= 654.0 + 1e-6


def test_consistent_fixes_far_away_are_believed_without_the_hop() -> None:
    """A wrong first fix is left behind after `relocate_after` agreeing fixes."""
    limits = Limits(relocate_after=3)
    tracker = Tracker(RaceRules(), limits)
    tracker.add(Fix(1, T0, LAT, LON, accuracy=5.0))
    there = straight(
        30, 3.0, start=destination(LAT, LON, 45.0, 5000.0), t0=T0 + 1000, seq0=2
    )
    reasons = feed(tracker, there)
    assert reasons[:2] == [Reason.IMPOSSIBLE_SPEED] * 2
    assert reasons[2:] == [None] * 28
    assert 27 * 3.0 - 20.0 <= tracker.view().distance_m <= 27 * 3.0 + 1e-6


def test_wild_fixes_that_disagree_never_relocate() -> None:
    """Scattered glitches each restart the count: the runner stays put."""
    tracker = Tracker(RaceRules(), Limits(relocate_after=2))
    tracker.add(Fix(1, T0, LAT, LON, accuracy=5.0))
    for i, bearing in enumerate([0.0, 180.0, 0.0, 180.0]):
        far = destination(LAT, LON, bearing, 3000.0)
        assert (
            tracker.add(Fix(i + 2, T0 + (i + 1) * 1000, *far))
            is Reason.IMPOSSIBLE_SPEED
        )
    assert tracker.view().last_fix == Fix(1, T0, LAT, LON, accuracy=5.0)


def test_before_the_start_does_not_count() -> None:
    """With starts_at, earlier fixes are `before_start`."""
    tracker = Tracker(RaceRules(starts_at=T0 + 10_000))
    reasons = feed(tracker, straight(15, 3.0))
    assert reasons[:10] == [Reason.BEFORE_START] * 10
    assert reasons[10:] == [None] * 5


def test_elapsed_runs_from_starts_at_when_set() -> None:
    """A runner whose first fix is 30 s after the gun has 30 s elapsed."""
    tracker = Tracker(RaceRules(starts_at=T0 - 30_000))
    tracker.add(Fix(1, T0, LAT, LON))
    assert tracker.drain_events()[0].elapsed_s == 30.0
    assert tracker.view().elapsed_s == 30.0


def test_without_starts_at_the_clock_starts_at_the_first_fix() -> None:
    """Each runner's elapsed counts from their own first counted fix."""
    tracker = Tracker(RaceRules())
    feed(tracker, straight(11, 3.0, t0=T0 + 5000))
    assert tracker.view().elapsed_s == 10.0


def test_splits_are_interpolated_between_straddling_fixes() -> None:
    """Fixes 400 m apart every 100 s: km 1 at 250 s, km 2 at 500 s."""
    tracker = Tracker(RaceRules())
    feed(tracker, straight(8, 400.0, every_s=100.0))
    splits = tracker.view().splits
    assert [s.km for s in splits] == [1, 2]
    assert splits[0].time == pytest.approx(T0 + 250_000, abs=300)
    assert splits[1].elapsed_s == pytest.approx(500.0, abs=0.3)
    assert splits[1].split_s == pytest.approx(250.0, abs=0.3)


def test_split_events_carry_km_and_distance() -> None:
    """Each whole km emits one `split` event with its km."""
    tracker = Tracker(RaceRules())
    feed(tracker, straight(8, 400.0, every_s=100.0))
    events = [e for e in tracker.drain_events() if e.kind == "split"]
    assert [(e.km, e.distance_m) for e in events] == [(1, 1000.0), (2, 2000.0)]


def test_one_long_hop_can_pass_several_kilometres() -> None:
    """A 2.5 km tunnel crossing records km 1 and km 2 at their own times."""
    tracker = Tracker(RaceRules())
    tracker.add(Fix(1, T0, LAT, LON))
    tracker.add(Fix(2, T0 + 500_000, *destination(LAT, LON, 90.0, 2500.0)))
    tracker.add(Fix(3, T0 + 510_000, *destination(LAT, LON, 90.0, 2540.0)))
    times = [s.time - T0 for s in tracker.view().splits]
    assert times == pytest.approx([200_000, 400_000], abs=1000)


def test_finish_is_interpolated_and_caps_the_distance() -> None:
    """Target 1 km, fixes 300 m apart every 100 s: finish at 333.3 s."""
    tracker = Tracker(RaceRules(target_distance_m=1000.0))
    feed(tracker, straight(6, 300.0, every_s=100.0))
    view = tracker.view()
    assert view.finished and view.distance_m == 1000.0
    assert view.finish_time == pytest.approx(T0 + 333_333, abs=700)
    assert view.elapsed_s == pytest.approx(333.3, abs=0.7)


def test_events_end_with_the_finish() -> None:
    """started, the splits, then finished, in time order."""
    tracker = Tracker(RaceRules(target_distance_m=2000.0))
    feed(tracker, straight(10, 300.0, every_s=100.0))
    events = tracker.drain_events()
    assert [e.kind for e in events] == ["started", "split", "split", "finished"]
    assert [e.time for e in events] == sorted(e.time for e in events)


def test_fixes_after_the_finish_do_not_count() -> None:
    """Once finished, every fix is `after_finish`."""
    tracker = Tracker(RaceRules(target_distance_m=500.0))
    reasons = feed(tracker, straight(10, 300.0, every_s=100.0))
    assert reasons[:4] == [None] * 4
    assert reasons[4:] == [Reason.AFTER_FINISH] * 6
    assert tracker.rejected[Reason.AFTER_FINISH] == 6


def test_current_pace_on_a_steady_run() -> None:
    """3 m/s for two minutes is 333 s/km now and on average."""
    tracker = Tracker(RaceRules())
    feed(tracker, straight(121, 3.0))
    view = tracker.view()
    assert view.pace_s_per_km == pytest.approx(333.3, rel=0.02)
    assert view.avg_pace_s_per_km == pytest.approx(333.3, rel=0.02)


def test_current_pace_follows_a_change_of_speed() -> None:
    """After a minute at 2 m/s following 3 m/s, the window shows 500 s/km."""
    tracker = Tracker(RaceRules())
    fast = straight(120, 3.0)
    end = fast[-1]
    slow = straight(
        90,
        2.0,
        start=destination(end.lat, end.lon, 90.0, 2.0),
        t0=end.time + 1000,
        seq0=121,
    )
    feed(tracker, fast + slow)
    assert tracker.view().pace_s_per_km == pytest.approx(500.0, rel=0.03)


def test_pace_slows_and_then_vanishes_after_stopping() -> None:
    """Stopping: the pace grows within the window, then becomes None."""
    tracker = Tracker(RaceRules())
    run = straight(60, 3.0)
    feed(tracker, run)
    moving = tracker.view().pace_s_per_km
    end = run[-1]
    still = [
        Fix(61 + i, end.time + (i + 1) * 1000, end.lat, end.lon, accuracy=5.0)
        for i in range(90)
    ]
    feed(tracker, still[:20])
    slowing = tracker.view().pace_s_per_km
    feed(tracker, still[20:])
    assert moving is not None and slowing is not None and slowing > moving
    assert tracker.view().pace_s_per_km is None


def test_average_pace_includes_standing_time() -> None:
    """Average pace is elapsed time over distance, stops included."""
    tracker = Tracker(RaceRules())
    run = straight(101, 3.0)
    end = run[-1]
    feed(tracker, run)
    tracker.add(Fix(200, end.time + 100_000, end.lat, end.lon, accuracy=5.0))
    view = tracker.view()
    assert view.elapsed_s == 200.0
    assert view.avg_pace_s_per_km == pytest.approx(200.0 / 0.3, rel=0.05)


def test_last_seq_is_the_highest_seen_counted_or_not() -> None:
    """Refused fixes raise last_seq too; a lower seq never lowers it."""
    tracker = Tracker(RaceRules())
    tracker.add(Fix(5, T0, LAT, LON))
    tracker.add(Fix(9, T0, LAT, LON))
    tracker.add(Fix(7, T0 + 1000, LAT, LON))
    assert tracker.last_seq == 9


def test_drain_events_empties_the_queue() -> None:
    """A second drain right after the first returns nothing."""
    tracker = Tracker(RaceRules())
    tracker.add(Fix(1, T0, LAT, LON))
    assert len(tracker.drain_events()) == 1
    assert tracker.drain_events() == []


def test_rebuild_reaches_the_same_view_without_events() -> None:
    """Replaying the fixes rebuilds the same state; the events were told."""
    fixes = straight(400, 3.0)
    live = Tracker(RaceRules(target_distance_m=1000.0))
    feed(live, fixes)
    rebuilt = Tracker.rebuild(RaceRules(target_distance_m=1000.0), fixes)
    assert rebuilt.view() == live.view()
    assert rebuilt.rejected == live.rejected and rebuilt.last_seq == live.last_seq
    assert rebuilt.drain_events() == []


def test_the_view_is_a_copy() -> None:
    """Changing a view's split list does not change the tracker."""
    tracker = Tracker(RaceRules())
    feed(tracker, straight(8, 400.0, every_s=100.0))
    tracker.view().splits.clear()
    assert len(tracker.view().splits) == 2


def test_fix_from_point_converts_the_time_to_ms() -> None:
    """A wire point becomes a Fix with its time in epoch milliseconds."""
    moment = datetime(2024, 6, 15, 14, 0, 0, 250000, tzinfo=UTC)
    fix = Fix.from_point(Point(3, moment, LAT, LON, 4.0, 6.0, 2.5, 91.0))
    assert fix == Fix(3, T0 + 250, LAT, LON, 4.0, 6.0, 2.5, 91.0)


@pytest.mark.parametrize("target", [0.0, -5.0, float("nan"), float("inf")])
def test_a_nonsense_target_is_refused(target: float) -> None:
    """RaceRules refuses a target that is not a positive finite distance."""
    with pytest.raises(ValueError, match="target_distance_m must be positive"):
        RaceRules(target_distance_m=target)


def test_distance_of_jittered_run_stays_close_to_truth() -> None:
    """A 1 km run at 3 m/s with ±4 m jitter and 5 m accuracy measures 1 km ±3 %."""
    rng = random.Random(11)
    tracker = Tracker(RaceRules())
    truth = straight(334, 3.0)
    for f in truth:
        lat, lon = destination(f.lat, f.lon, rng.uniform(0, 360), rng.uniform(0, 4))
        tracker.add(Fix(f.seq, f.time, lat, lon, accuracy=5.0))
    true_m = distance_m(truth[0].lat, truth[0].lon, truth[-1].lat, truth[-1].lon)
    assert tracker.view().distance_m == pytest.approx(true_m, rel=0.03)


def gaussian_still(sigma: float, accuracy: float | None, seed: int) -> Tracker:
    """Ten minutes at 1 Hz of independent Gaussian jitter around one spot."""
    rng = random.Random(seed)
    tracker = Tracker(RaceRules())
    for i in range(600):
        lat, lon = destination(LAT, LON, 0.0, rng.gauss(0.0, sigma))
        lat, lon = destination(lat, lon, 90.0, rng.gauss(0.0, sigma))
        tracker.add(Fix(i + 1, T0 + i * 1000, lat, lon, accuracy=accuracy))
    return tracker


def test_white_gaussian_jitter_with_honest_accuracy_adds_nothing() -> None:
    """Sigma 3 m per axis, reported 5 m (its 68 % radius): < 20 m in 10 min."""
    for seed in range(3):
        assert gaussian_still(3.0, 5.0, seed).view().distance_m < 20.0


def test_a_lone_stray_fix_is_counted_but_adds_no_distance() -> None:
    """One fix 15 m off among standing fixes counts, and moves nothing."""
    tracker = Tracker(RaceRules())
    stray = destination(LAT, LON, 90.0, 15.0)
    spots = [(LAT, LON)] * 5 + [stray] + [(LAT, LON)] * 5
    reasons = [
        tracker.add(Fix(i + 1, T0 + i * 1000, lat, lon, accuracy=5.0))
        for i, (lat, lon) in enumerate(spots)
    ]
    assert reasons == [None] * 11
    assert tracker.view().distance_m == 0.0


def test_standing_astride_the_antimeridian_adds_nothing() -> None:
    """Jitter across lon ±180 averages to one place, not to lon 0."""
    rng = random.Random(3)
    tracker = Tracker(RaceRules())
    for i in range(300):
        lat, lon = destination(-16.8, 179.99999, rng.uniform(0, 360), rng.uniform(0, 4))
        tracker.add(Fix(i + 1, T0 + i * 1000, lat, lon, accuracy=5.0))
    assert tracker.view().distance_m == 0.0


def test_a_slow_walk_is_measured_in_full() -> None:
    """0.5 m/s for 20 min (600 m): every metre counts, less the lag (< 30 m)."""
    tracker = Tracker(RaceRules())
    feed(tracker, straight(1201, 0.5))
    assert 600.0 - 30.0 <= tracker.view().distance_m <= 600.0 + 1e-6


def test_a_split_time_ignores_a_long_stop_before_the_mark() -> None:
    """Standing 5 min at 990 m, then on: km 1 falls in the hop, not the stop."""
    tracker = Tracker(RaceRules())
    run = straight(331, 3.0)
    end = run[-1]
    stop = [
        Fix(332 + i, end.time + (i + 1) * 1000, end.lat, end.lon, accuracy=5.0)
        for i in range(300)
    ]
    on = straight(
        20,
        3.0,
        start=destination(end.lat, end.lon, 90.0, 3.0),
        t0=stop[-1].time + 1000,
        seq0=632,
    )
    feed(tracker, run + stop + on)
    split = tracker.view().splits[0]
    assert stop[-1].time - 1000 <= split.time <= on[5].time


def test_a_tracker_exposes_its_rules_and_limits() -> None:
    """rules and limits are what it was built with (defaults when omitted)."""
    rules = RaceRules(target_distance_m=5000.0)
    tracker = Tracker(rules)
    assert tracker.rules is rules and tracker.limits == Limits()


def test_standing_astride_the_antimeridian_from_the_west_adds_nothing() -> None:
    """A place begun at lon -179.99999 averages fixes east of 180 correctly."""
    rng = random.Random(4)
    tracker = Tracker(RaceRules())
    tracker.add(Fix(1, T0, -16.8, -179.99999, accuracy=5.0))
    for i in range(1, 300):
        lat, lon = destination(
            -16.8, -179.99999, rng.uniform(0, 360), rng.uniform(0, 4)
        )
        tracker.add(Fix(i + 1, T0 + i * 1000, lat, lon, accuracy=5.0))
    assert tracker.view().distance_m == 0.0


def test_a_runner_who_stops_just_past_the_line_finishes() -> None:
    """Running to 3 m past 1 km and standing there: finished at the crossing."""
    tracker = Tracker(RaceRules(target_distance_m=1000.0))
    run = straight(336, 3.0)  # the last fix is at 1005 m
    end = run[-1]
    still = [
        Fix(337 + i, end.time + (i + 1) * 1000, end.lat, end.lon, accuracy=5.0)
        for i in range(60)
    ]
    feed(tracker, run + still)
    view = tracker.view()
    assert view.finished and view.finish_time is not None
    assert view.finish_time == pytest.approx(T0 + 333_333, abs=1000)


def test_standing_short_of_the_line_does_not_finish() -> None:
    """Standing 20 m before the target with 4 m jitter never finishes."""
    rng = random.Random(5)
    tracker = Tracker(RaceRules(target_distance_m=1000.0))
    run = straight(328, 3.0)  # the last fix is at 981 m
    end = run[-1]
    feed(tracker, run)
    for i in range(300):
        lat, lon = destination(end.lat, end.lon, rng.uniform(0, 360), rng.uniform(0, 4))
        tracker.add(Fix(329 + i, end.time + (i + 1) * 1000, lat, lon, accuracy=5.0))
    assert not tracker.view().finished
