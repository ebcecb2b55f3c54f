"""When each recorded fix is sent, and with which timestamp, in a replay.

A replay sends fix *i* ``e_i / speed`` seconds after it begins, where ``e_i``
is the fix's time since the start of the recording. Its timestamp must satisfy
the server, which judges every fix against its own clock: more than a couple
of minutes ahead is ``future``, more than ``max_past_s`` (two days) behind is
``too_old``. And the engine's speed and pace checks only mean something if the
timestamps keep the recording's real intervals.

So the intervals are kept and the whole timeline is placed so that it *ends*
when the replay ends: with ``D`` the recording's duration, the first fix is
stamped ``now - D·(1 - 1/speed)``. Fix *i* then carries
``now - D·(1 - 1/speed) + e_i`` and is sent at ``now + e_i/speed``, which is
``(D - e_i)·(1 - 1/speed)`` after its own timestamp: never in the future, and
the last fix is sent at the moment it claims. The server sees a phone that
recorded the race in the recent past and flushes it at a steady rate, which
is what a live race with a late flush looks like. At ``--speed 1`` this is a
true live replay starting now; with ``--fast`` (infinite speed) every fix is
already in the past and is sent as fast as acknowledgements allow.

Several recordings of one event (the regatta) keep their relative clock, so
the live ranking is the real one; recordings whose first fixes are more than
``SAME_EVENT_S`` apart are unrelated and each starts with the replay.

Limit: the common start is placed by the longest recording, so a file
spanning more than the server's ``max_past_s`` (a logger left on for weeks)
puts every file's early fixes out of reach as ``too_old``. Such a file is best
replayed on its own (docs/limitations.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pace_client.tracks import RecordedFix, Recording, shift_by

__all__ = ["SAME_EVENT_S", "Align", "Replay", "plan_replays", "runner_names"]

SAME_EVENT_S = 3600.0
"""First fixes closer than this are taken to be one event with a common clock."""


class Align(StrEnum):
    AUTO = "auto"
    CLOCK = "clock"
    """Keep the recordings' relative clock (one event, several participants)."""
    START = "start"
    """Start every recording when the replay starts."""


@dataclass(frozen=True)
class Replay:
    """One recording, restamped, with each fix's send time (s after the start)."""

    recording: Recording
    name: str
    fixes: list[RecordedFix]
    send_at_s: list[float]


def plan_replays(
    recordings: Sequence[Recording],
    names: Sequence[str],
    now_ms: int,
    speed: float,
    align: Align = Align.AUTO,
) -> list[Replay]:
    """Restamp and schedule every recording; ``speed`` may be ``math.inf``."""
    refs = _references(recordings, align)
    span_ms = max(
        max(f.time_ms for f in rec.fixes) - ref
        for rec, ref in zip(recordings, refs, strict=True)
    )
    start_ms = now_ms - round(max(span_ms, 0) * (1.0 - 1.0 / speed))
    return [
        Replay(
            recording=rec,
            name=name,
            fixes=shift_by(rec.fixes, start_ms - ref),
            send_at_s=_send_times(rec.fixes, ref, speed),
        )
        for rec, ref, name in zip(recordings, refs, names, strict=True)
    ]


def _references(recordings: Sequence[Recording], align: Align) -> list[int]:
    """The instant of each recording that maps to the replay's start."""
    firsts = [rec.fixes[0].time_ms for rec in recordings]
    if align is Align.AUTO:
        close = max(firsts) - min(firsts) <= SAME_EVENT_S * 1000
        align = Align.CLOCK if close else Align.START
    if align is Align.CLOCK:
        return [min(firsts)] * len(firsts)
    return firsts


def _send_times(fixes: Sequence[RecordedFix], ref_ms: int, speed: float) -> list[float]:
    """Seconds after the start; never decreasing, so a backwards clock never waits."""
    if math.isinf(speed):
        return [0.0] * len(fixes)
    latest = 0
    times = []
    for fix in fixes:
        latest = max(latest, fix.time_ms - ref_ms)
        times.append(latest / 1000.0 / speed)
    return times


def runner_names(stems: Sequence[str], *, full: bool = False) -> list[str]:
    """Readable, distinct names from file stems.

    Files of one event usually share a prefix (``regatta_..._participant_alex``);
    dropping the words every stem shares leaves ``Alex``, ``Richard``, ``Yury``.
    ``full`` keeps the whole stem.
    """
    if full:
        return _distinct(stems)
    words = [re.split(r"[_\-\s]+", stem) for stem in stems]
    shared = 0 if len(stems) < 2 else _shared_prefix(words)
    names = [
        " ".join(w[shared:]).strip() or stem
        for w, stem in zip(words, stems, strict=True)
    ]
    return _distinct([n[:1].upper() + n[1:] for n in names])


def _shared_prefix(words: Sequence[list[str]]) -> int:
    count = 0
    for column in zip(*words, strict=False):
        if len({w.lower() for w in column}) != 1:
            break
        count += 1
    return min(count, min(len(w) for w in words) - 1)


def _distinct(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return result
