"""Simulated runners on a course, whose true progress is known at every instant.

Used to measure how well course matching recovers progress, checkpoint times
and finish times (``docs/accuracy.md``) and to drive demonstrations. A runner
moves along the course at a pace that drifts smoothly around their base speed
and fades towards the end; their phone reports the true position plus GPS
noise: Gaussian scatter of a few metres, occasional jumps of 50 to 200 m in a
random direction, and gaps of 30 to 120 s with no fix at all (a tunnel, a
pocket). Optionally the runner stops for a while, or leaves the course
sideways for a stretch. All randomness comes from the ``random.Random`` the
caller passes in, so a seed reproduces a race exactly.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from pace_core.course import Course
from pace_core.engine import Fix

__all__ = ["Detour", "Noise", "RunPlan", "SimulatedRun", "simulate"]


@dataclass(frozen=True, slots=True)
class Noise:
    """How a phone's fixes stray from the truth."""

    sigma_m: float = 5.0
    """Standard deviation of each plane coordinate's error, metres."""
    jump_probability: float = 0.01
    jump_m: tuple[float, float] = (50.0, 200.0)
    gap_probability: float = 0.004
    """Chance, per fix, that the next fixes are lost for a while."""
    gap_s: tuple[float, float] = (30.0, 120.0)
    interval_s: float = 1.0
    accuracy_m: float = 8.0
    """What the phone reports as its accuracy."""


@dataclass(frozen=True, slots=True)
class Detour:
    """Leave the course sideways by ``offset_m`` between two distances."""

    from_m: float
    to_m: float
    offset_m: float = 150.0


@dataclass(frozen=True, slots=True)
class RunPlan:
    """One runner: when they start, how fast, and what happens on the way."""

    start: int
    speed_mps: float = 3.2
    variation: float = 0.08
    """Relative amplitude of the slow wave in pace."""
    fade: float = 0.1
    """Relative slowing from start to finish."""
    stop_at_m: float | None = None
    stop_s: float = 0.0
    detour: Detour | None = None
    overrun_m: float = 30.0
    """How far past the finish the runner keeps going."""
    linger_fixes: int = 10
    """Fixes sent, standing still, after the overrun."""


@dataclass(slots=True)
class SimulatedRun:
    """The fixes a phone would send, and the truth they came from."""

    fixes: list[Fix] = field(default_factory=list)
    true_progress: list[float] = field(default_factory=list)
    """True distance along the course at each fix's time."""
    crossings: list[int] = field(default_factory=list)
    """True passing time (ms) of each of the course's checkpoints."""


def simulate(
    course: Course, plan: RunPlan, noise: Noise, rng: random.Random
) -> SimulatedRun:
    """One runner's fixes over the whole course, and the truth."""
    run = SimulatedRun()
    phase = rng.uniform(0.0, 2.0 * math.pi)
    progress, time, stopped = 0.0, float(plan.start), 0.0
    seq, next_fix = 1, float(plan.start) + noise.interval_s * 1000.0
    run.fixes.append(_fix(course, plan, noise, rng, seq, plan.start, 0.0))
    run.true_progress.append(0.0)
    marks = [c.distance_m for c in course.checkpoints]
    step_s = noise.interval_s
    run.crossings = [plan.start] + [0] * (len(marks) - 1)

    while progress < course.length_m + plan.overrun_m:
        speed = _speed(course, plan, progress, phase)
        stop = plan.stop_at_m
        if stop is not None and progress >= stop and stopped < plan.stop_s:
            speed, stopped = 0.0, stopped + step_s
        after = progress + speed * step_s
        _record_crossings(run, marks, progress, after, time, step_s)
        progress, time = after, time + step_s * 1000.0

        if time >= next_fix or progress >= course.length_m + plan.overrun_m:
            seq += 1
            run.fixes.append(_fix(course, plan, noise, rng, seq, int(time), progress))
            run.true_progress.append(min(progress, course.length_m))
            next_fix = time + _pause(noise, rng) * 1000.0
    _stand(course, plan, noise, rng, run, progress)
    return run


def _stand(
    course: Course,
    plan: RunPlan,
    noise: Noise,
    rng: random.Random,
    run: SimulatedRun,
    progress: float,
) -> None:
    """Past the finish the runner stands still, the phone still sending."""
    time = run.fixes[-1].time
    for _ in range(plan.linger_fixes):
        time += round(noise.interval_s * 1000.0)
        seq = run.fixes[-1].seq + 1
        run.fixes.append(_fix(course, plan, noise, rng, seq, time, progress))
        run.true_progress.append(min(progress, course.length_m))


def _speed(course: Course, plan: RunPlan, progress: float, phase: float) -> float:
    share = min(progress / course.length_m, 1.0)
    wave = plan.variation * math.sin(2.0 * math.pi * progress / 3000.0 + phase)
    return plan.speed_mps * (1.0 + wave) * (1.0 - plan.fade * share)


def _record_crossings(
    run: SimulatedRun,
    marks: list[float],
    before: float,
    after: float,
    time: float,
    step_s: float,
) -> None:
    """Exact passing times: within one step the speed is constant."""
    for index, mark in enumerate(marks):
        if index and before < mark <= after:
            fraction = (mark - before) / (after - before)
            run.crossings[index] = round(time + fraction * step_s * 1000.0)


def _pause(noise: Noise, rng: random.Random) -> float:
    if rng.random() < noise.gap_probability:
        return rng.uniform(*noise.gap_s)
    return noise.interval_s


def _fix(
    course: Course,
    plan: RunPlan,
    noise: Noise,
    rng: random.Random,
    seq: int,
    time: int,
    progress: float,
) -> Fix:
    """The true position plus noise, a jump now and then, a detour if planned."""
    x, y = course.project(*course.point_at(progress, clamp=False))
    if plan.detour and plan.detour.from_m <= progress <= plan.detour.to_m:
        ahead = course.project(*course.point_at(progress + 5.0, clamp=False))
        dx, dy = ahead[0] - x, ahead[1] - y
        norm = math.hypot(dx, dy) or 1.0
        x, y = (
            x - dy / norm * plan.detour.offset_m,
            y + dx / norm * plan.detour.offset_m,
        )
    x += rng.gauss(0.0, noise.sigma_m)
    y += rng.gauss(0.0, noise.sigma_m)
    if rng.random() < noise.jump_probability:
        angle = rng.uniform(0.0, 2.0 * math.pi)
        reach = rng.uniform(*noise.jump_m)
        x, y = x + reach * math.cos(angle), y + reach * math.sin(angle)
    lat, lon = course.unproject(x, y)
    return Fix(seq, time, lat, lon, accuracy=noise.accuracy_m)
