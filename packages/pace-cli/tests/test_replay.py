"""Replay planning: timestamps kept plausible for the server, intervals kept."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from pace_cli.replay import Align, plan_replays, runner_names
from pace_client.tracks import RecordedFix, Recording, load_recording

REPO = Path(__file__).resolve().parents[3]
RECORDINGS = sorted((REPO / "data" / "recordings").glob("regatta_*.gpx"))
NOW = 1_900_000_000_000


def _recording(*times_s: float, name: str = "r") -> Recording:
    fixes = [
        RecordedFix(i, round(t * 1000), 53.5, 9.8)
        for i, t in enumerate(times_s, start=1)
    ]
    return Recording(Path(name + ".gpx"), fixes, 0, 0)


def test_no_fix_is_ever_sent_before_its_timestamp() -> None:
    """At every speed each fix's time is <= now + its send time: never future."""
    rec = _recording(0, 10, 5, 3600, 7200)
    for speed in (1.0, 2.0, 60.0, 600.0, math.inf):
        (plan,) = plan_replays([rec], ["A"], NOW, speed)
        for fix, send_s in zip(plan.fixes, plan.send_at_s, strict=True):
            assert fix.time_ms <= NOW + send_s * 1000 + 1


def test_the_last_fix_is_sent_at_its_own_time() -> None:
    """The timeline ends when the replay ends: the final fix is stamped 'now'."""
    (plan,) = plan_replays([_recording(0, 100, 7200)], ["A"], NOW, 60.0)

    assert plan.fixes[-1].time_ms == NOW + plan.send_at_s[-1] * 1000


def test_recorded_intervals_are_kept_at_any_speed() -> None:
    """Shifting never compresses time, so the engine sees real speeds."""
    rec = _recording(0, 4, 9, 15)
    (plan,) = plan_replays([rec], ["A"], NOW, 600.0)

    gaps = [b.time_ms - a.time_ms for a, b in itertools.pairwise(plan.fixes)]
    assert gaps == [4000, 5000, 6000]


def test_send_times_are_divided_by_speed_and_never_go_back() -> None:
    """Sends follow the recording / speed; a backwards clock does not wait."""
    (plan,) = plan_replays([_recording(0, 60, 30, 120)], ["A"], NOW, 60.0)

    assert plan.send_at_s == [0.0, 1.0, 1.0, 2.0]


def test_one_event_keeps_its_common_clock() -> None:
    """The regatta's three files keep their real start offsets (3 to 12 min)."""
    recs = [load_recording(p) for p in RECORDINGS]
    plans = plan_replays(recs, ["A", "R", "Y"], NOW, 60.0)

    firsts_before = [r.fixes[0].time_ms for r in recs]
    firsts_after = [p.fixes[0].time_ms for p in plans]
    offsets_before = [t - min(firsts_before) for t in firsts_before]
    assert [t - min(firsts_after) for t in firsts_after] == offsets_before
    assert max(offsets_before) > 0


def test_unrelated_recordings_start_together() -> None:
    """Files days apart are not one event: each starts with the replay."""
    a = _recording(0, 10)
    b = _recording(86_400 * 5, 86_400 * 5 + 20)
    plans = plan_replays([a, b], ["A", "B"], NOW, 10.0, Align.AUTO)

    assert [p.send_at_s[0] for p in plans] == [0.0, 0.0]
    assert plans[0].fixes[0].time_ms == plans[1].fixes[0].time_ms


def test_names_drop_the_words_every_file_shares() -> None:
    """The regatta files become Alex, Richard and Yury."""
    stems = [p.stem for p in RECORDINGS]

    assert runner_names(stems) == ["Alex", "Richard", "Yury"]
    assert runner_names(stems, full=True) == stems


def test_names_are_made_distinct() -> None:
    """The same file twice gives two distinct runner names."""
    assert runner_names(["run", "run"]) == ["Run", "Run (2)"]
