"""Capacity: the most runners at 1 Hz a server carries within the latency bound.

The bound is the issue's: acknowledgement p99 under 250 ms, no backlog
growth, and point-to-spectator p99 within the tick plus 250 ms (the peers
have no tick: they broadcast every point at once). Pace starts from what the
city race already showed; the peers first climb a ladder of small loads. Each
then bisects once between the last load it sustained and the first it did
not (one step, to stay within ``make bench``'s time budget).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.plans import FD_BOUND_RUNNERS, Plan
from bench.scenario import Load

__all__ = ["ACK_P99_MS", "passes", "passes_any", "search"]

ACK_P99_MS = 250.0
_TICK_MS = {"pace": 1000.0}

Session = Callable[[Load, Path], Awaitable[dict[str, Any]]]
LoadFor = Callable[[Plan, str, int, tuple[int, ...]], Load]


def passes(session: dict[str, Any], audience: int) -> bool:
    """Whether the session held the latency bound with ``audience`` spectators."""
    figures = session.get("by_audience", {}).get(str(audience))
    if "failed" in session or figures is None:
        return False
    median = figures["median"]
    p2s_bound = _TICK_MS.get(session["kind"], 0.0) + ACK_P99_MS
    p2s_ok = median["p2s_p99_ms"] is None or median["p2s_p99_ms"] <= p2s_bound
    if session["kind"] != "bare" and median["p2s_p99_ms"] is None:
        p2s_ok = False
    return (
        median["ack_p99_ms"] is not None
        and median["ack_p99_ms"] < ACK_P99_MS
        and not median["backlog_growing"]
        and p2s_ok
    )


def passes_any(session: dict[str, Any]) -> bool:
    return any(passes(session, int(a)) for a in session.get("by_audience", {}))


def _bounds(trials: list[dict[str, Any]], audience: int) -> tuple[int, int | None]:
    ok = [t["runners"] for t in trials if passes(t, audience)]
    bad = [t["runners"] for t in trials if not passes(t, audience)]
    best = max(ok, default=0)
    worse = [r for r in bad if r > best]
    return best, min(worse) if worse else None


async def _climb(
    plan: Plan,
    kind: str,
    trials: list[dict[str, Any]],
    ladder: tuple[int, ...],
    run: Session,
    load_for: LoadFor,
    workdir: Path,
) -> None:
    """Try the ladder upwards until a load fails, skipping loads already tried."""
    audience = plan.capacity_audience
    for runners in ladder:
        if any(t["runners"] < runners and not passes(t, audience) for t in trials):
            return
        if any(t["runners"] == runners for t in trials):
            continue
        print(f"capacity: {kind} R={runners} S={audience}", flush=True)
        trials.append(await run(load_for(plan, kind, runners, (audience,)), workdir))


async def _bisect(
    plan: Plan,
    kind: str,
    trials: list[dict[str, Any]],
    steps: int,
    run: Session,
    load_for: LoadFor,
    workdir: Path,
) -> None:
    audience = plan.capacity_audience
    for _ in range(steps):
        best, worse = _bounds(trials, audience)
        if worse is None or worse - best <= max(25, best // 10):
            return
        mid = (best + worse) // 2
        mid = round(mid, -2) if mid > 1000 else mid
        print(f"capacity: {kind} R={mid} S={audience} (bisecting)", flush=True)
        trials.append(await run(load_for(plan, kind, mid, (audience,)), workdir))


async def search(
    plan: Plan,
    city: list[dict[str, Any]],
    workdir: Path,
    run: Session,
    load_for: LoadFor,
) -> dict[str, Any]:
    """Each feeding system's capacity at ``plan.capacity_audience`` spectators."""
    found: dict[str, Any] = {}
    for kind in ("pace", *[p for p in plan.peers if p != "bare"]):
        trials = [s for s in city if s["kind"] == kind]
        ladder = plan.pace_ladder if kind == "pace" else plan.peer_ladder
        await _climb(plan, kind, trials, ladder, run, load_for, workdir)
        steps = 1 if plan.name == "full" else 0
        await _bisect(plan, kind, trials, steps, run, load_for, workdir)
        best, worse = _bounds(trials, plan.capacity_audience)
        found[kind] = {
            "audience": plan.capacity_audience,
            "max_runners": best,
            "first_failing": worse,
            "limited_by_fd": worse is None and best >= FD_BOUND_RUNNERS,
            "trials": [_trial(t, plan.capacity_audience) for t in trials],
            "sessions": [t for t in trials if not any(t is c for c in city)],
        }
    return found


def _trial(session: dict[str, Any], audience: int) -> dict[str, Any]:
    figures = session.get("by_audience", {}).get(str(audience), {}).get("median", {})
    keys = (
        "acked_per_s",
        "ack_p99_ms",
        "p2s_p99_ms",
        "backlog_growing",
        "server_cpu_util",
    )
    return {
        "runners": session["runners"],
        "passes": passes(session, audience),
        "failed": session.get("failed"),
        **{k: figures.get(k) for k in keys},
    }
