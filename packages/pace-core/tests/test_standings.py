"""Race order: finishers by time, then the rest by distance."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st
from pace_core.engine import Fix, RaceRules, Tracker
from pace_core.standings import Entry, rank

T0 = 1_718_460_000_000


def ids(entries: list[Entry]) -> list[str]:
    return [e.participant_id for e in entries]


def test_finishers_lead_in_order_of_finish_time() -> None:
    """Whoever finished first ranks first, whatever the distances."""
    late = Entry("late", 5000.0, finish_time=T0 + 20, last_time=T0 + 20)
    early = Entry("early", 5000.0, finish_time=T0 + 10, last_time=T0 + 10)
    assert ids(rank([late, early])) == ["early", "late"]


def test_finishers_rank_above_anyone_still_running() -> None:
    """A finisher ranks above a runner who has covered more distance."""
    done = Entry("done", 5000.0, finish_time=T0, last_time=T0)
    over = Entry("over", 5100.0, last_time=T0 + 5)
    assert ids(rank([over, done])) == ["done", "over"]


def test_runners_rank_by_distance_descending() -> None:
    """Among those still running, the furthest leads."""
    entries = [Entry("a", 100.0, last_time=T0), Entry("b", 300.0, last_time=T0)]
    assert ids(rank(entries)) == ["b", "a"]


def test_equal_distance_goes_to_whoever_got_there_first() -> None:
    """Same distance: the earlier last fix ranks higher."""
    entries = [Entry("b", 100.0, last_time=T0 + 5), Entry("a", 100.0, last_time=T0)]
    assert ids(rank(entries)) == ["a", "b"]


def test_full_ties_fall_back_to_the_participant_id() -> None:
    """Same distance and time: ordered by id, so every instance agrees."""
    entries = [Entry("zed", 0.0), Entry("amy", 0.0), Entry("kim", 0.0)]
    assert ids(rank(entries)) == ["amy", "kim", "zed"]


def test_not_started_rank_after_started_at_zero() -> None:
    """A runner with no fix ranks after one standing at the start."""
    entries = [Entry("none", 0.0), Entry("here", 0.0, last_time=T0)]
    assert ids(rank(entries)) == ["here", "none"]


def test_entry_from_a_trackers_view() -> None:
    """Entry.from_view carries distance, finish and last fix time."""
    tracker = Tracker(RaceRules())
    tracker.add(Fix(1, T0, 46.0, 14.0))
    assert Entry.from_view("p1", tracker.view()) == Entry("p1", 0.0, None, T0)


entries = st.lists(
    st.builds(
        Entry,
        participant_id=st.text(alphabet="abcdef", min_size=1, max_size=3),
        distance_m=st.floats(min_value=0.0, max_value=50_000.0),
        finish_time=st.none() | st.integers(T0, T0 + 10_000),
        last_time=st.none() | st.integers(T0, T0 + 10_000),
    ),
    max_size=30,
)


@settings(max_examples=50, deadline=None)
@given(entries)
def test_rank_is_a_permutation(people: list[Entry]) -> None:
    """rank returns every entry exactly once."""
    ranked = rank(people)
    assert Counter(map(id, ranked)) == Counter(map(id, people))


@settings(max_examples=50, deadline=None)
@given(entries)
def test_rank_follows_the_ordering_rule(people: list[Entry]) -> None:
    """Each neighbour pair obeys: finished first by time, then by distance."""
    for a, b in pairwise(rank(people)):
        if a.finish_time is None:
            assert b.finish_time is None and a.distance_m >= b.distance_m
        elif b.finish_time is not None:
            assert a.finish_time <= b.finish_time


@settings(max_examples=50, deadline=None)
@given(entries)
def test_rank_does_not_depend_on_input_order(people: list[Entry]) -> None:
    """Shuffled input ranks the same (ties are broken by time, then id)."""
    forward = [(e.participant_id, e.distance_m) for e in rank(people)]
    backward = [(e.participant_id, e.distance_m) for e in rank(people[::-1])]
    assert [p for p, _ in forward] == [p for p, _ in backward]
