"""Property-based tests of the runner frame decoder and the batch judge.

Whatever a client sends, decoding either yields a message or raises
``BadFrame`` with a documented code, and judging a decoded batch never
raises, refuses every point it does not store, and keeps seqs in order.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pace_core.engine import RaceRules, Tracker
from pace_core.filtering import Limits
from pace_core.messages import Points
from pace_websockets.ingest import BadFrame, decode, judge

CODES = {"bad_json", "bad_message", "unknown_type"}
NOW = 1_780_000_000_000

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)

times = st.sampled_from(
    [
        "2026-05-28T20:00:00+00:00",
        "2026-05-28T20:00:00",
        "1990-01-01T00:00:00Z",
        "2099-01-01T00:00:00Z",
        "not a time",
    ]
)
finite = st.floats(allow_nan=False, allow_infinity=False)
"""JSON has no NaN or infinity: a frame holding one is bad_json (tested above)."""
point_like = st.fixed_dictionaries(
    {},
    optional={
        "seq": st.integers(-5, 50) | st.text(max_size=3),
        "time": times | st.integers(),
        "lat": finite | st.text(max_size=3),
        "lon": finite,
        "accuracy": finite,
        "speed": finite,
        "heading": finite,
    },
)


def decoded(frame: str) -> tuple[Any, Any] | str:
    try:
        return decode(frame)
    except BadFrame as exc:
        return exc.code


@given(st.text(max_size=200))
def test_any_text_decodes_or_gets_a_code(frame: str) -> None:
    """Arbitrary text is a message or a BadFrame with a documented code."""
    outcome = decoded(frame)
    assert isinstance(outcome, tuple) or outcome in CODES


@given(json_values)
def test_any_json_decodes_or_gets_a_code(value: Any) -> None:
    """Arbitrary JSON is a message or a BadFrame with a documented code."""
    outcome = decoded(json.dumps(value))  # NaN and infinities included
    assert isinstance(outcome, tuple) or outcome in CODES


@settings(max_examples=200)
@given(st.lists(point_like, max_size=12))
def test_point_batches_are_judged_without_raising(batch: list[Any]) -> None:
    """Every point of a batch is stored, rejected with its seq, or a resend."""
    outcome = decoded(json.dumps({"type": "points", "points": batch}))
    if isinstance(outcome, str):
        assert outcome == "bad_message"
        return
    message, bad = outcome
    assert isinstance(message, Points)
    tracker = Tracker(RaceRules())
    judged, seen = judge(message.points, 0, tracker, "p", NOW, Limits(), False)
    stored = [row.seq for row in judged.rows]
    rejected = [r.seq for r in judged.rejected]
    assert stored == sorted(set(stored))
    assert set(stored).isdisjoint(rejected)
    assert seen == max((p.seq for p in message.points if p.seq >= 1), default=0)
    assert len(bad) + len(message.points) == len(batch)
