"""Beyond one process: N Pace instances sharing PostgreSQL and the Redis broker.

``python -m bench.multiprocess`` (and ``python -m bench.run --full``) starts
N = 1 and then N = 2 real ``python -m pace_websockets`` processes on this
machine, all on one fresh PostgreSQL schema (``?schema=``) and one unique
Redis prefix, and drives them directly by port (no load balancer, so no
proxy CPU to account for). Generator worker ``i`` plays the runners of
instance ``i``; worker 0 also plays every spectator, connected to the *last*
instance, so with N = 2 each probe times only points that crossed Redis
(runner on A, spectator on B). Per window it reads:

- each instance's CPU and CPU wait (``/proc``) and the points its own
  runners had acked, hence CPU microseconds per point per process;
- Redis's and PostgreSQL's CPU from ``/proc`` of their processes (all
  ``redis-server`` and ``postgres`` processes, found by name), PostgreSQL's
  commits (``pg_stat_database``) and WAL bytes (``pg_current_wal_lsn``);
  these engines are shared with other engineers' tests, so their figures are
  upper bounds of what Pace caused, and Pace's own commit count comes from
  its ``/metrics``;
- every message Pace published on its prefix, by a pattern subscriber of
  the harness's own (messages and bytes a second).

The machine has two cores shared with other people's work: every figure
here is a lower bound of what the same code does on dedicated cores, and the
CPU wait recorded per instance says how much others got in the way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import uvloop

from bench.cluster import instances, seed
from bench.engines import RedisTap, cpu_delta, cpu_of, engine_pids, pg_counters
from bench.multireport import table
from bench.procstat import cpu_seconds, histogram_delta, wait_seconds
from bench.scenario import Generator, _scrape, median_of, summarise
from bench.servers import ROOT, BenchError, Server
from bench.storage import PG_URL, _drop_schema

__all__ = ["DEFAULT", "QUICK", "MultiLoad", "main", "measure"]

RESULTS = ROOT / "bench" / "results"
_CORES = sorted(os.sched_getaffinity(0))
_GAUGE_NAMES = ("pace_storage_commit_seconds", "pace_storage_batch_points")


@dataclass(frozen=True)
class MultiLoad:
    """Runners per process stay fixed, so N processes carry N times the points."""

    processes: tuple[int, ...]
    runners_per_process: int
    spectators: int
    windows: int = 3
    window_s: float = 10.0
    warmup_s: float = 5.0
    ramp_per_s: float = 300.0
    tick_s: float = 1.0
    follower: bool = True
    """Also run two instances with all runners on the first (following cost)."""


DEFAULT = MultiLoad(processes=(1, 2), runners_per_process=600, spectators=100)
QUICK = MultiLoad(
    processes=(2,),
    runners_per_process=8,
    spectators=2,
    windows=1,
    window_s=3.0,
    warmup_s=2.0,
    follower=False,
)


@dataclass
class _Reading:
    """Everything read at one instant of a window."""

    at: float
    servers: list[tuple[float, float]]
    metrics: list[dict[str, Any]]
    redis_cpu: dict[int, float]
    pg_cpu: dict[int, float]
    pg: tuple[int, int]
    tap: tuple[int, int]


async def _read(servers: list[Server], tap: RedisTap) -> _Reading:
    metrics = [await _scrape(s) for s in servers]
    return _Reading(
        time.monotonic(),
        [(cpu_seconds(s.pid), wait_seconds(s.pid)) for s in servers],
        metrics,
        cpu_of(engine_pids("redis-server")),
        cpu_of(engine_pids("postgres")),
        await pg_counters(),
        (tap.messages, tap.bytes),
    )


def _instance(
    i: int, r0: _Reading, r1: _Reading, marks: list[dict[str, Any]], dt: float
) -> dict[str, Any]:
    """One process's share: its CPU, its runners' acked points, its commits.

    ``us_per_race_point`` divides its CPU by every point of the race: for an
    instance with no runners of its own, that is what following the race
    through Redis (and feeding its spectators) costs per point.
    """
    mark, race_points = marks[i], sum(m["acked"] for m in marks)
    cpu, wait = (r1.servers[i][k] - r0.servers[i][k] for k in (0, 1))
    figures: dict[str, Any] = {
        "cpu_util": cpu / dt,
        "cpu_wait_frac": wait / dt,
        "acked_per_s": mark["acked"] / dt,
        "us_per_point": cpu * 1e6 / mark["acked"] if mark["acked"] else None,
        "us_per_race_point": cpu * 1e6 / race_points if race_points else None,
    }
    for name in _GAUGE_NAMES:
        after, before = r1.metrics[i].get(name), r0.metrics[i].get(name)
        if after is not None:
            delta = histogram_delta(after, before)
            figures[f"{name}_mean"] = delta.mean()
            figures[f"{name}_per_s"] = delta.count / dt
    return figures


def _window(
    r0: _Reading, r1: _Reading, marks: list[dict[str, Any]], runners: int
) -> dict[str, Any]:
    dt = r1.at - r0.at
    n = len(r0.servers)
    cpu = sum(r1.servers[i][0] - r0.servers[i][0] for i in range(n))
    wait = sum(r1.servers[i][1] - r0.servers[i][1] for i in range(n))
    window = summarise(marks, {}, {}, (cpu, wait), dt, runners, 0)
    window["instances"] = [_instance(i, r0, r1, marks, dt) for i in range(n)]
    commits = sum(
        i.get("pace_storage_commit_seconds_per_s", 0) for i in window["instances"]
    )
    window.update(
        pace_commits_per_s=commits,
        redis_cpu_util=cpu_delta(r0.redis_cpu, r1.redis_cpu) / dt,
        postgres_cpu_util=cpu_delta(r0.pg_cpu, r1.pg_cpu) / dt,
        postgres_commits_per_s_all=(r1.pg[0] - r0.pg[0]) / dt,
        postgres_wal_bytes_per_s_all=(r1.pg[1] - r0.pg[1]) / dt,
        redis_messages_per_s=(r1.tap[0] - r0.tap[0]) / dt,
        redis_bytes_per_s=(r1.tap[1] - r0.tap[1]) / dt,
        load_avg_1m=os.getloadavg()[0],
    )
    return window


async def _measure(
    gen: Generator, servers: list[Server], tap: RedisTap, load: MultiLoad, runners: int
) -> list[dict[str, Any]]:
    await asyncio.sleep(load.warmup_s)
    last, r0 = await gen.all(cmd="mark"), await _read(servers, tap)
    windows = []
    for _ in range(load.windows):
        await asyncio.sleep(load.window_s)
        marks = await gen.all(cmd="mark")
        r1 = await _read(servers, tap)
        for mark, prev in zip(marks, last, strict=True):
            interval = max(mark["at"] - prev["at"], 1e-3)
            mark["gen_cpu_util"] = (mark["cpu_s"] - prev["cpu_s"]) / interval
            mark["gen_wait_frac"] = (mark["wait_s"] - prev["wait_s"]) / interval
        windows.append(_window(r0, r1, marks, runners))
        last, r0 = marks, r1
    return windows


async def _drive(
    gen: Generator,
    servers: list[Server],
    race: tuple[str, list[list[str]]],
    load: MultiLoad,
    prefix: str,
) -> dict[str, Any]:
    """Runners of instance i from worker i; all spectators on the last instance.

    When there are fewer runners than instances can hold, the last instance
    (the follower) has none of its own.
    """
    race_id, creds = race
    n, rate, rpp = len(servers), load.ramp_per_s, load.runners_per_process
    per = [creds[i * rpp : (i + 1) * rpp] for i in range(n)]
    answers = await gen.ask(
        [
            {"cmd": "runners", "url": f"{s.ws}/ws/runner", "creds": c, "rate": rate}
            for s, c in zip(servers, per, strict=True)
        ]
    )
    if sum(a["connected"] for a in answers) < len(creds):
        raise BenchError(f"runners did not all connect: {answers}")
    feed = f"{servers[-1].ws}/ws/races/{race_id}"
    answers = await gen.ask(
        [
            {
                "cmd": "spectators",
                "url": feed,
                "n": load.spectators if i == 0 else 0,
                "probes": 2 if i == 0 else 0,
                "rate": rate,
            }
            for i in range(n)
        ]
    )
    async with RedisTap(prefix) as tap:
        await gen.all(cmd="start")
        windows = await _measure(gen, servers, tap, load, len(creds))
    drained = await gen.all(cmd="drain", timeout_s=5.0)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(gen.all(cmd="stop"), 8)
    return {
        "processes": n,
        "runners": len(creds),
        "spectators": load.spectators,
        "spectators_connected": answers[0]["connected"],
        "cross_instance_probes": n > 1,
        "follower": len(creds) < n * rpp,
        "windows": windows,
        "median": median_of([_without(w, "instances") for w in windows]),
        "instances": [
            median_of([w["instances"][i] for w in windows]) for i in range(n)
        ],
        "unacked_after_drain": sum(d["unacked"] for d in drained),
    }


def _without(window: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in window.items() if k != key}


async def run_session(
    n: int, load: MultiLoad, workdir: Path, follower: bool = False
) -> dict[str, Any]:
    """N instances on a fresh schema and prefix, measured; the schema is dropped.

    With ``follower`` the last instance has only spectators: its CPU is the
    cost of following a race run elsewhere.
    """
    tag = secrets.token_hex(4)
    schema, prefix = f"bench_mp_{tag}", f"benchmp{tag}:"
    db_url = f"{PG_URL}?schema={schema}"
    try:
        race = await seed(db_url, (n - follower) * load.runners_per_process)
        async with instances(n, db_url, prefix, load.tick_s, workdir) as servers:
            # One process: generator on the other core, as in the city race.
            # Two: each instance has a core, the generator shares them.
            gen_core = _CORES[1] if n == 1 and len(_CORES) > 1 else None
            gen = await Generator.spawn(n, gen_core)
            try:
                return await _drive(gen, servers, race, load, prefix)
            finally:
                await gen.close()
    finally:
        await _drop_schema(schema)


async def guarded(
    n: int, load: MultiLoad, workdir: Path, follower: bool = False
) -> dict[str, Any]:
    """A session, or why it could not finish (overload is a result, not a crash)."""
    budget = 120 + 4 * n * load.runners_per_process / load.ramp_per_s
    budget += 2 * (load.warmup_s + load.windows * load.window_s)
    try:
        return await asyncio.wait_for(run_session(n, load, workdir, follower), budget)
    except Exception as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else repr(exc)
        print(f"  multiprocess N={n}: did not complete: {reason}", flush=True)
        return {"processes": n, "failed": reason}


def _code_state() -> dict[str, Any]:
    """The commit measured, and the service's files that differed from it.

    Each instance runs the working tree, which other engineers may be
    changing while the benchmark runs.
    """
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "services", "packages"],
        capture_output=True,
        text=True,
    )
    return {
        "commit": head.stdout.decode().strip(),
        "uncommitted": [line[3:] for line in dirty.stdout.splitlines()],
    }


async def measure(load: MultiLoad, workdir: Path) -> dict[str, Any]:
    """Each process count of ``load`` in turn, and how the figures scale."""
    sessions, started = [], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for n in load.processes:
        runners = n * load.runners_per_process
        print(f"multiprocess: N={n} R={runners} S={load.spectators}", flush=True)
        sessions.append(await guarded(n, load, workdir))
    if load.follower:
        rpp = load.runners_per_process
        print(f"multiprocess: follower N=2 R={rpp} S={load.spectators}", flush=True)
        sessions.append(await guarded(2, load, workdir, follower=True))
    return {
        "load": asdict(load),
        "code": _code_state(),
        "started_utc": started,
        "started_load_avg": os.getloadavg(),
        "sessions": sessions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny load, N=2 only")
    parser.add_argument("--runners-per-process", type=int)
    parser.add_argument("--spectators", type=int)
    parser.add_argument("--out", type=Path, help="results file")
    args = parser.parse_args(argv)
    load = QUICK if args.quick else DEFAULT
    if args.runners_per_process:
        load = replace(load, runners_per_process=args.runners_per_process)
    if args.spectators is not None:
        load = replace(load, spectators=args.spectators)
    with tempfile.TemporaryDirectory(prefix="pace-mp-") as tmp:
        results = uvloop.run(measure(load, Path(tmp)))
    out = args.out or RESULTS / "multiprocess-latest.json"
    out.write_text(json.dumps(results, indent=1))
    print(table(results))
    print(f"results: {out}")
    failed = [s for s in results["sessions"] if "failed" in s]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
