"""``python -m bench.run --quick|--full``: every scenario, side by side, one JSON.

``--full`` (``make bench``) writes ``bench/results/latest.json``, a timestamped
copy beside it (ignored by git) and the tables in ``docs/benchmarks.md``
between the ``bench:start``/``bench:end`` markers. ``--quick`` (``make
bench-quick``, part of ``make test``) runs tiny loads into a temporary file
and exits non-zero only when the harness itself broke: a slow server is a
result, never a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from bench import capacity, environment, multiprocess, report, storage
from bench.plans import FULL, QUICK, Plan
from bench.scenario import Load, run_session
from bench.servers import ROOT

__all__ = ["main", "run_plan"]

RESULTS = ROOT / "bench" / "results"


def session_budget_s(load: Load) -> float:
    """How long a session may take before it counts as a failure to sustain."""
    per_audience = load.warmup_s + load.windows * load.window_s + load.profile_s
    ramp = (load.runners + load.spectators[0]) / load.ramp_per_s
    return 120 + 3 * ramp + 2 * per_audience * len(load.spectators)


async def guarded_session(load: Load, workdir: Path) -> dict[str, Any]:
    """A session, or a record of why it could not finish (overload is a result)."""
    try:
        return await asyncio.wait_for(
            run_session(load, workdir), session_budget_s(load)
        )
    except Exception as exc:
        # Overload shows up as timeouts and refused connections: a result.
        # Anything else is kept too, and check_harness reports it.
        reason = "timed out" if isinstance(exc, TimeoutError) else repr(exc)
        print(f"  {load.kind} R={load.runners}: did not complete: {reason}", flush=True)
        return {"kind": load.kind, "runners": load.runners, "failed": reason}


def load_for(plan: Plan, kind: str, runners: int, audiences: tuple[int, ...]) -> Load:
    profile = (
        plan.profile_s if kind == "pace" and runners == plan.profile_runners else 0
    )
    return Load(
        kind,
        runners,
        list(audiences),
        windows=plan.windows,
        window_s=plan.window_s,
        warmup_s=plan.warmup_s,
        ramp_per_s=plan.ramp_per_s,
        profile_s=profile,
    )


async def city(plan: Plan, workdir: Path) -> list[dict[str, Any]]:
    """Pace and each peer at the city-race loads; a peer stops at its first failure."""
    sessions = []
    for kind in ("pace", *plan.peers):
        audiences = (plan.audiences[0],) if kind == "bare" else plan.audiences
        loads = plan.bare_runners if kind == "bare" else plan.city_runners
        for runners in loads:
            print(f"city: {kind} R={runners} S={audiences}", flush=True)
            result = await guarded_session(
                load_for(plan, kind, runners, audiences), workdir
            )
            sessions.append(result)
            if kind != "pace" and not capacity.passes_any(result):
                break
    return sessions


async def run_plan(plan: Plan, workdir: Path) -> dict[str, Any]:
    started = time.time()
    results: dict[str, Any] = {"meta": environment.describe(plan), "plan": plan.name}
    results["city"] = await city(plan, workdir)
    results["capacity"] = await capacity.search(
        plan, results["city"], workdir, guarded_session, load_for
    )
    batches = storage.batch_sizes(plan, results["city"])
    results["storage"] = await storage.measure(plan, batches, workdir)
    if plan.name == "full":
        # N Pace processes on PostgreSQL and Redis (docs/scaling.md's inputs).
        results["multiprocess"] = await multiprocess.measure(
            multiprocess.DEFAULT, workdir
        )
    try:
        results["goals"] = report.goals(results)
    except Exception as exc:
        results["goals"] = {"error": {"met": None, "evidence": repr(exc)}}
    results["meta"]["duration_s"] = time.time() - started
    results["meta"]["load_after"] = environment.loadavg()
    return results


def check_harness(results: dict[str, Any]) -> list[str]:
    """What says the harness broke: no session, nothing sent, points never acked."""
    problems = []
    for session in results["city"]:
        if "failed" in session:
            problems.append(f"{session['kind']}: {session['failed']}")
            continue
        for audience, figures in session["by_audience"].items():
            median = figures["median"]
            if not median["sent_per_s"] or not median["acked_per_s"]:
                problems.append(
                    f"{session['kind']} S={audience}: nothing sent or acked"
                )
    if not results["storage"] or not all(s["points_per_s"] for s in results["storage"]):
        problems.append("storage: no points written")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true", help="tiny loads, temp output")
    mode.add_argument("--full", action="store_true", help="make bench: the real run")
    parser.add_argument("--out", type=Path, help="results file (default: see above)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="pace-bench-") as tmp:
        results = uvloop.run(run_plan(plan, Path(tmp)))
        report.keep_profiles(results, RESULTS / "profiles")
    out = args.out or (
        Path(tmp).with_suffix(".json") if args.quick else RESULTS / "latest.json"
    )
    out.write_text(json.dumps(results, indent=1))
    print(f"results: {out}")
    if args.full and args.out is None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        (RESULTS / f"{stamp}.json").write_text(json.dumps(results, indent=1))
        report.write_markdown(results, ROOT / "docs" / "benchmarks.md")
    print(report.summary(results))
    problems = check_harness(results)
    for problem in problems:
        print(f"harness problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
