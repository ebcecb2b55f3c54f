"""The race engine: one :class:`Tracker` per runner turns fixes into a race.

A tracker takes the runner's fixes one at a time, in the order they arrive,
and keeps the distance, the splits, the pace and the finish. It does no I/O
and reads no clock: every time comes from the fixes, so feeding the same fixes
in the same order gives the same state, which is how the service rebuilds a
runner after a restart (:meth:`Tracker.rebuild`).

How distance grows
    Distance is measured along *anchors*: counted fixes where the runner was
    judged to have moved on. The fixes since the last anchor form a *place*,
    and a new fix joins it if it lies within the jitter allowance of the
    place's centroid (its own accuracy plus the place's mean accuracy, at
    least ``Limits.min_move_m``). Two honest fixes of a standing runner are
    never further apart than that, and the centroid of many fixes sits closer
    to the truth than any one of them, so a runner standing still stays in
    one place however long the fix wanders. The runner has moved on when two
    consecutive fixes fall outside the place: a lone stray fix (accuracy is
    only a 68 % radius) is ignored. The first of the two becomes the next
    anchor and the hop between anchors is added, so distances and times come
    from real fixes, never from averages.

    Moving at 1 Hz, anchors fall every fix or every few fixes and the track
    is measured as chords between them (under 1 % short on running routes).
    The price is lag: the live distance trails the last fix by one or two
    fixes when running, and by up to about three allowances (30 m at 5 m
    accuracy) when walking slowly. Split and finish times do not lag: they
    are interpolated within the chord that crosses the mark, after any stop
    at its start.

Impossible speed
    A fix is judged against the last *counted* fix, over the time since that
    fix. A single wild jump is refused; a real gap (a tunnel: three minutes,
    then 600 m further) is accepted, because the time since the last counted
    fix grows while the runner is out of sight. Refused fixes never move the
    reference, so a runner cannot be locked out by one glitch; and if
    ``Limits.relocate_after`` consecutive refused fixes agree with each other,
    the tracker moves to them without adding the impossible hop.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pace_core.filtering import Limits, Reason, epoch_ms
from pace_core.geodesy import distance_m
from pace_core.places import Place, passing_time

if TYPE_CHECKING:
    from pace_core.messages import Point

__all__ = [
    "EngineEvent",
    "EventKind",
    "Fix",
    "RaceRules",
    "SplitRecord",
    "Tracker",
    "TrackerView",
]

EventKind = Literal["started", "split", "finished"]

_KM = 1000.0


@dataclass(frozen=True, slots=True)
class Fix:
    """One GPS fix inside Pace: ``time`` in ms since the epoch, degrees, metres."""

    seq: int
    time: int
    lat: float
    lon: float
    alt: float | None = None
    accuracy: float | None = None
    speed: float | None = None
    heading: float | None = None

    @classmethod
    def from_point(cls, p: Point) -> Fix:
        """The fix a decoded wire point describes (its time in ms)."""
        return cls(
            p.seq,
            epoch_ms(p.time),
            p.lat,
            p.lon,
            p.alt,
            p.accuracy,
            p.speed,
            p.heading,
        )


@dataclass(frozen=True, slots=True)
class RaceRules:
    """What a race asks of a runner.

    ``target_distance_m`` None is an open race (no finish); ``starts_at`` None
    starts each runner's clock at their first counted fix (a time trial).
    """

    target_distance_m: float | None = None
    starts_at: int | None = None

    def __post_init__(self) -> None:
        target = self.target_distance_m
        if target is not None and not (0.0 < target < math.inf):
            raise ValueError(f"target_distance_m must be positive, got {target!r}")


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """Something that happened to a runner, at ``time`` (ms since the epoch)."""

    kind: EventKind
    time: int
    km: int | None
    elapsed_s: float | None
    distance_m: float


@dataclass(frozen=True, slots=True)
class SplitRecord:
    """The interpolated moment a runner passed kilometre ``km``."""

    km: int
    time: int
    elapsed_s: float
    split_s: float
    """Time since the previous split, or since the start for the first."""


@dataclass(frozen=True, slots=True)
class TrackerView:
    """A runner's state at their last counted fix; a copy, safe to keep."""

    distance_m: float
    elapsed_s: float | None
    pace_s_per_km: float | None
    avg_pace_s_per_km: float | None
    finish_time: int | None
    splits: list[SplitRecord]
    last_fix: Fix | None
    started: bool
    finished: bool


class Tracker:
    """One runner's race, fed fix by fix through :meth:`add`.

    ``add`` never raises on finite input (the fixes are expected to have passed
    :func:`pace_core.filtering.check_point`, but nonsense still yields a reason
    or a meaningless distance, never an exception).
    """

    __slots__ = (
        "_anchor",
        "_candidate",
        "_candidate_count",
        "_distance",
        "_events",
        "_finish_time",
        "_finish_watch",
        "_last",
        "_limits",
        "_max_accuracy",
        "_max_speed_per_ms",
        "_min_move",
        "_next_km",
        "_outsider",
        "_place",
        "_rules",
        "_splits",
        "_start_time",
        "_starts_at",
        "_window",
        "last_seq",
        "rejected",
    )

    def __init__(self, rules: RaceRules, limits: Limits | None = None) -> None:
        self._rules = rules
        self._limits = limits = limits if limits is not None else Limits()
        # Copies of the numbers add() reads on every call, one lookup each.
        self._starts_at = rules.starts_at
        self._max_accuracy = limits.max_accuracy_m
        self._max_speed_per_ms = limits.max_speed_mps * 0.001
        self._min_move = limits.min_move_m
        # Within this distance of the target, every fix is checked for the
        # finish (three of the widest place allowances: more than the live
        # distance can trail a runner who stopped).
        target = rules.target_distance_m
        margin = 3 * max(2 * limits.max_accuracy_m, limits.min_move_m)
        self._finish_watch = math.inf if target is None else target - margin
        self.last_seq = 0
        """The highest seq this tracker has been given, counted or not."""
        self.rejected: Counter[Reason] = Counter()
        """How many fixes ``add`` refused, by reason."""

        self._last: Fix | None = None
        self._place = Place()
        self._outsider: Fix | None = None
        self._anchor: Fix | None = None
        self._candidate: Fix | None = None
        self._candidate_count = 0
        self._distance = 0.0
        self._start_time: int | None = None
        self._finish_time: int | None = None
        self._next_km = 1
        self._splits: list[SplitRecord] = []
        self._events: list[EngineEvent] = []
        self._window: deque[tuple[int, float]] = deque()

    @classmethod
    def rebuild(
        cls, rules: RaceRules, fixes: Iterable[Fix], limits: Limits | None = None
    ) -> Tracker:
        """A tracker fed ``fixes`` in order, its events already drained.

        Fed the same fixes in the order they were first added, it reaches the
        same state and the same decisions; its events were announced before,
        so they are dropped here.
        """
        tracker = cls(rules, limits)
        for fix in fixes:
            tracker.add(fix)
        tracker._events.clear()
        return tracker

    @property
    def rules(self) -> RaceRules:
        """The race rules this tracker applies."""
        return self._rules

    @property
    def limits(self) -> Limits:
        """The thresholds this tracker applies."""
        return self._limits

    def add(self, fix: Fix) -> Reason | None:
        """Take one fix; None if it counts, else why not (also in ``rejected``).

        The checks run in a fixed order, so each fix gets one reason: after
        the finish, before the start, stale or same time as the last counted
        fix, poor accuracy, impossible speed.
        """
        if fix.seq > self.last_seq:
            self.last_seq = fix.seq
        if self._finish_time is not None:
            return self._refuse(Reason.AFTER_FINISH)
        time = fix.time
        starts_at = self._starts_at
        if starts_at is not None and time < starts_at:
            return self._refuse(Reason.BEFORE_START)

        last = self._last
        if last is not None and time <= last.time:
            stale = time < last.time
            return self._refuse(Reason.STALE if stale else Reason.DUPLICATE_TIME)
        accuracy = fix.accuracy
        if accuracy is not None and accuracy > self._max_accuracy:
            return self._refuse(Reason.LOW_ACCURACY)

        if last is None:
            self._begin(fix)
            return None
        return self._follow(last, fix)

    def drain_events(self) -> list[EngineEvent]:
        """The events since the last call, oldest first."""
        events = self._events
        self._events = []
        return events

    def view(self) -> TrackerView:
        """The runner's state as of the last counted fix."""
        last = self._last
        finish = self._finish_time
        now = finish if finish is not None else (last.time if last else None)
        elapsed = self._elapsed_s(now) if now is not None else None
        return TrackerView(
            distance_m=self._distance,
            elapsed_s=elapsed,
            pace_s_per_km=self._window_pace(),
            avg_pace_s_per_km=self._average_pace(elapsed),
            finish_time=finish,
            splits=list(self._splits),
            last_fix=last,
            started=last is not None,
            finished=finish is not None,
        )

    # --- judging -------------------------------------------------------------

    def _refuse(self, reason: Reason) -> Reason:
        self.rejected[reason] += 1
        return reason

    def _follow(self, last: Fix, fix: Fix) -> Reason | None:
        """Judge a fix by its speed from the last counted one; count it if fair."""
        hop = distance_m(last.lat, last.lon, fix.lat, fix.lon)
        if hop - self._allowance(last, fix) > self._max_speed_per_ms * (
            fix.time - last.time
        ):
            return self._consider_relocation(fix)

        self._candidate = None
        self._last = fix
        self._settle(fix)
        return None

    def _too_fast(self, origin: Fix, fix: Fix) -> bool:
        """Reaching ``fix`` from ``origin`` beats the speed limit beyond jitter."""
        hop = distance_m(origin.lat, origin.lon, fix.lat, fix.lon)
        slack = self._allowance(origin, fix)
        return hop - slack > self._max_speed_per_ms * (fix.time - origin.time)

    def _consider_relocation(self, fix: Fix) -> Reason | None:
        """Refuse a too-fast fix, unless enough refused fixes now agree."""
        candidate = self._candidate
        agrees = (
            candidate is not None
            and fix.time > candidate.time
            and not self._too_fast(candidate, fix)
        )
        self._candidate = fix
        self._candidate_count = self._candidate_count + 1 if agrees else 1
        if self._candidate_count < self._limits.relocate_after:
            return self._refuse(Reason.IMPOSSIBLE_SPEED)

        # The runner really is over there: start afresh, add no distance.
        self._candidate = None
        self._last = fix
        self._anchor = fix
        self._place.reset(fix)
        self._outsider = None
        return None

    def _allowance(self, a: Fix, b: Fix) -> float:
        """How far apart two fixes of a standing runner can honestly be."""
        jitter = (a.accuracy or 0.0) + (b.accuracy or 0.0)
        floor = self._min_move
        return jitter if jitter > floor else floor

    # --- counting ------------------------------------------------------------

    def _begin(self, fix: Fix) -> None:
        """The first counted fix: the runner's clock starts (or the race's did)."""
        starts_at = self._starts_at
        self._start_time = starts_at if starts_at is not None else fix.time
        self._last = self._anchor = fix
        self._place.reset(fix)
        self._remember(fix.time)
        self._events.append(
            EngineEvent("started", fix.time, None, self._elapsed_s(fix.time), 0.0)
        )

    def _settle(self, fix: Fix) -> None:
        """Put a counted fix in the current place, or note that it lies outside."""
        if self._distance >= self._finish_watch and self._reaches_target(fix):
            self._move_on(fix)
            return

        place = self._place
        gap = distance_m(place.lat, place.lon, fix.lat, fix.lon)
        if gap <= self._place_allowance(place, fix):
            place.add(fix)
            self._outsider = None
            return

        outsider = self._outsider
        if outsider is None:
            self._outsider = fix
            return

        # Two fixes in a row outside: the runner has moved on.
        self._move_on(outsider)
        gap = distance_m(place.lat, place.lon, fix.lat, fix.lon)
        if gap <= self._place_allowance(place, fix):
            place.add(fix)
        else:
            self._outsider = fix

    def _reaches_target(self, fix: Fix) -> bool:
        """Whether ``fix`` lies past the target, measured from the anchor.

        Runners stop just past the line. Their last fixes then stay in one
        place and would never be confirmed as moving on, so near the target
        one fix past it is enough: at worst a stray fix finishes a runner
        who was within one allowance of the line anyway.
        """
        anchor = self._anchor
        target = self._rules.target_distance_m
        assert anchor is not None and target is not None
        reach = distance_m(anchor.lat, anchor.lon, fix.lat, fix.lon)
        return self._distance + reach >= target

    def _place_allowance(self, place: Place, fix: Fix) -> float:
        """How far a fix of a runner standing in ``place`` can honestly be."""
        jitter = (fix.accuracy or 0.0) + place.accuracy
        floor = self._min_move
        return jitter if jitter > floor else floor

    def _move_on(self, fix: Fix) -> None:
        """Make ``fix`` the next anchor, adding the hop from the last one."""
        anchor = self._anchor
        assert anchor is not None
        hop = distance_m(anchor.lat, anchor.lon, fix.lat, fix.lon)
        if hop > 0.0:
            via = self._place.last
            self._advance(anchor, None if via is anchor else via, fix, hop)
        self._anchor = fix
        self._place.reset(fix)
        self._outsider = None

    def _advance(self, anchor: Fix, via: Fix | None, fix: Fix, hop: float) -> None:
        """Add the hop from the anchor to ``fix``: splits, maybe the finish.

        ``via`` is the last fix seen at the anchor's place, if any: the runner
        lingered there until then, which places the times of marks passed in
        this hop (see :func:`_passing_time`).
        """
        before = self._distance
        after = before + hop
        target = self._rules.target_distance_m
        if target is not None and after >= target:
            after = target
        while self._next_km * _KM <= after:
            km = self._next_km
            self._split(passing_time(anchor, via, fix, (km * _KM - before) / hop))
        self._distance = after
        self._remember(fix.time)
        if target is not None and after >= target:
            self._finish(passing_time(anchor, via, fix, (target - before) / hop))

    def _split(self, time: int) -> None:
        """Record the next whole kilometre, passed at ``time``."""
        km = self._next_km
        elapsed = self._elapsed_s(time)
        previous = self._splits[-1].elapsed_s if self._splits else 0.0
        self._splits.append(SplitRecord(km, time, elapsed, elapsed - previous))
        self._events.append(EngineEvent("split", time, km, elapsed, km * _KM))
        self._next_km = km + 1

    def _finish(self, time: int) -> None:
        """The runner reached the target at ``time``."""
        self._finish_time = time
        self._events.append(
            EngineEvent("finished", time, None, self._elapsed_s(time), self._distance)
        )

    # --- pace ----------------------------------------------------------------

    def _remember(self, time: int) -> None:
        """Note when the distance reached its new value, for the pace window."""
        self._window.append((time, self._distance))
        self._forget(time)

    def _forget(self, now: int) -> None:
        """Drop samples older than the window, keeping one at or before it."""
        window = self._window
        horizon = now - self._limits.pace_window_s * 1000.0
        while len(window) > 1 and window[1][0] <= horizon:
            window.popleft()

    def _window_pace(self) -> float | None:
        """Seconds per km over the rolling window; None while standing.

        The window is trimmed here and when distance grows, not on every fix:
        trimming to a later time subsumes any earlier trim, so the answer is
        the same however often it is asked.
        """
        if self._last is None or not self._window:
            return None
        self._forget(self._last.time)
        return self._pace_since(*self._window[0])

    def _average_pace(self, elapsed_s: float | None) -> float | None:
        """Seconds per km since the start; None before any distance."""
        start = self._start_time
        if self._finish_time is not None and elapsed_s is not None:
            return _pace(elapsed_s * 1000.0, self._distance)
        return None if start is None else self._pace_since(start, 0.0)

    def _pace_since(self, time: int, distance: float) -> float | None:
        """Seconds per km from ``distance`` at ``time`` to the last fix.

        Up to the anchor the pace is exact. Past it, the runner at their last
        fix is no further along than the straight line from the anchor plus
        one allowance, which bounds how fast they can have gone: a runner who
        stops keeps their pace only until the time since shows they must have
        slowed. The slower of the two is the answer; None if no distance.
        """
        last, anchor = self._last, self._anchor
        if last is None or anchor is None:
            return None
        covered = self._distance - distance
        moving = _pace(anchor.time - time, covered)
        if moving is None:
            return None
        ahead = distance_m(anchor.lat, anchor.lon, last.lat, last.lon)
        reach = covered + ahead + self._place_allowance(self._place, last)
        bound = _pace(last.time - time, reach)
        return moving if bound is None or moving > bound else bound

    def _elapsed_s(self, time: int) -> float:
        start = self._start_time
        return 0.0 if start is None else (time - start) * 0.001


def _pace(duration_ms: float, distance: float) -> float | None:
    """Seconds per km, or None when it has no meaning (no distance or no time)."""
    if distance <= 0.0 or duration_ms <= 0.0:
        return None
    return duration_ms / distance
