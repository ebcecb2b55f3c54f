"""Decoding and judging a runner's frames, without a server."""

from __future__ import annotations

import json

import pytest
from pace_core.engine import RaceRules, Tracker
from pace_core.filtering import Limits
from pace_core.messages import Hello, Points
from pace_websockets.ingest import BadFrame, decode, judge
from pace_websockets.times import now_ms
from wskit import points


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{", "bad_json"),
        ("[]", "bad_message"),
        ('{"token": "x"}', "unknown_type"),
        ('{"type": "wave"}', "unknown_type"),
        ('{"type": "hello"}', "bad_message"),
        ('{"type": "points", "points": [{"lat": 1}]}', "bad_message"),
    ],
)
def test_bad_frames_get_their_code(frame: str, code: str) -> None:
    """Each kind of malformed frame maps to one stable error code."""
    with pytest.raises(BadFrame) as caught:
        decode(frame)
    assert caught.value.code == code


def test_hello_decodes() -> None:
    """A hello frame decodes with nothing refused."""
    message, refused = decode('{"type": "hello", "token": "t"}')
    assert message == Hello("t")
    assert refused == []


def test_one_undecodable_point_does_not_sink_the_batch() -> None:
    """The good points of a batch survive a point with a string latitude."""
    batch = points(1, 3)
    batch[1]["lat"] = "north"
    message, refused = decode(json.dumps({"type": "points", "points": batch}))
    assert isinstance(message, Points)
    assert [p.seq for p in message.points] == [1, 3]
    assert [(r.seq, r.reason) for r in refused] == [(2, "bad_point")]


def test_judge_sorts_by_seq_and_skips_seen() -> None:
    """Points are judged in seq order; seqs at or below ``seen`` are skipped."""
    message, _ = decode(json.dumps({"type": "points", "points": points(1, 6)[::-1]}))
    assert isinstance(message, Points)
    tracker = Tracker(RaceRules())
    judged, seen = judge(message.points, 2, tracker, "p", now_ms(), Limits(), False)
    assert seen == 6
    assert [row.seq for row in judged.rows] == [3, 4, 5, 6]
    assert judged.accepted == 4


def test_judge_refuses_everything_once_the_race_ended() -> None:
    """In an ended race every new point is refused with race_ended, none stored."""
    message, _ = decode(json.dumps({"type": "points", "points": points(1, 2)}))
    assert isinstance(message, Points)
    judged, _ = judge(
        message.points, 0, Tracker(RaceRules()), "p", now_ms(), Limits(), True
    )
    assert judged.rows == []
    assert [r.reason for r in judged.rejected] == ["race_ended", "race_ended"]


def test_seq_below_one_is_a_bad_point() -> None:
    """Seqs start at 1: a zero seq is refused rather than taken for a resend."""
    message, _ = decode(json.dumps({"type": "points", "points": points(0, 1)}))
    assert isinstance(message, Points)
    judged, seen = judge(
        message.points, 0, Tracker(RaceRules()), "p", now_ms(), Limits(), False
    )
    assert [(r.seq, r.reason) for r in judged.rejected] == [(0, "bad_point")]
    assert seen == 0
