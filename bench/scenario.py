"""One measured session: a server, a race, R runners, S spectators, timed windows.

The controller here does no load itself. It creates the race over HTTP,
hands the participants to the generator workers (:mod:`bench.loadgen`),
reads the server's RSS with only idle connections open, starts the runners,
lets the load settle, then measures consecutive windows: server CPU from
``/proc``, ``/metrics`` histograms, and the workers' counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.procstat import (
    cpu_seconds,
    histogram_delta,
    parse_histograms,
    rss_kib,
    wait_seconds,
)
from bench.seeding import register_over_http, seed_pace
from bench.servers import ROOT, BenchError, Server, running

__all__ = ["Load", "run_session"]

_HISTOGRAMS = (
    "pace_storage_commit_seconds",
    "pace_storage_batch_points",
    "pace_ack_latency_seconds",
    "pace_tick_seconds",
)
_CONNS_PER_WORKER = 15_000


@dataclass
class Load:
    """What one session puts on a server, and how long it measures."""

    kind: str
    runners: int
    spectators: list[int]
    """Audience sizes to measure, largest first (the audience only shrinks)."""
    windows: int = 3
    window_s: float = 10.0
    warmup_s: float = 5.0
    ramp_per_s: float = 500.0
    probes: int = 2
    tick_s: float = 1.0
    profile_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Generator:
    """The worker processes, addressed as one."""

    def __init__(self, procs: list[asyncio.subprocess.Process]) -> None:
        self.procs = procs

    @classmethod
    async def spawn(cls, count: int, core: int | None) -> Generator:
        args = ["--cpu", str(core)] if core is not None else []
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.loadgen",
                *args,
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=1 << 27,
            )
            for _ in range(count)
        ]
        return cls(procs)

    async def ask(self, commands: list[dict[str, Any]]) -> list[Any]:
        """Send one command to each worker and gather their answers."""

        async def one(proc: asyncio.subprocess.Process, cmd: dict[str, Any]) -> Any:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(cmd).encode() + b"\n")
            await proc.stdin.drain()
            line = await proc.stdout.readline()
            if not line:
                raise BenchError(f"load generator died during {cmd['cmd']}")
            return json.loads(line)

        started = time.monotonic()
        answers = await asyncio.gather(*map(one, self.procs, commands))
        if commands[0]["cmd"] in ("runners", "spectators", "drain"):
            took = time.monotonic() - started
            name = commands[0]["cmd"]
            print(f"    {name}: {took:.1f} s", file=sys.stderr, flush=True)
        return answers

    async def all(self, **cmd: Any) -> list[Any]:
        return await self.ask([dict(cmd) for _ in self.procs])

    async def close(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


def _cores() -> tuple[int | None, int | None]:
    cores = sorted(os.sched_getaffinity(0))
    return (cores[0], cores[1]) if len(cores) >= 2 else (None, None)


def _split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts)]


def _spread(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


async def _scrape(server: Server) -> dict[str, Any]:
    """Pace's histograms, or nothing if it is too loaded to answer in 5 s."""
    if server.kind != "pace":
        return {}
    timeout = aiohttp.ClientTimeout(total=5)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(f"{server.http}/metrics") as resp,
        ):
            return parse_histograms(await resp.text(), _HISTOGRAMS)
    except (TimeoutError, aiohttp.ClientError):
        return {}


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def summarise(
    marks: list[dict[str, Any]],
    before: dict[str, Any],
    after: dict[str, Any],
    server_use: tuple[float, float],
    duration: float,
    runners: int,
    unacked_before: int,
) -> dict[str, Any]:
    """One window's figures from the workers' marks and the server's counters.

    ``server_use`` is the server's (CPU seconds, seconds waiting for a CPU).
    """
    server_cpu_s, server_wait_s = server_use
    total = {
        k: sum(m[k] for m in marks)
        for k in (
            "sent",
            "acked",
            "rejected",
            "errors",
            "frames",
            "frame_bytes",
            "unacked",
            "dropped",
            "runner_frames",
            "spectators",
        )
    }
    errors = [m["sender_error"] for m in marks if m.get("sender_error")]
    if errors:
        raise BenchError(f"load generator stopped sending: {errors[0]}")
    acks = [v for m in marks for v in m["ack_ms"]]
    p2s = [v for m in marks for v in m["p2s_ms"]]
    result = {
        "duration_s": duration,
        "sent_per_s": total["sent"] / duration,
        "acked_per_s": total["acked"] / duration,
        "rejected": total["rejected"],
        "errors": total["errors"],
        "dropped_connections": total["dropped"],
        "ack_p50_ms": _pct(acks, 0.5),
        "ack_p99_ms": _pct(acks, 0.99),
        "p2s_p50_ms": _pct(p2s, 0.5),
        "p2s_p99_ms": _pct(p2s, 0.99),
        "p2s_samples": len(p2s),
        "spectator_frames_per_s": total["frames"] / duration,
        "spectator_bytes_per_s": total["frame_bytes"] / duration,
        "server_cpu_util": server_cpu_s / duration,
        "server_us_per_point": (
            server_cpu_s * 1e6 / total["acked"] if total["acked"] else None
        ),
        "server_cpu_wait_frac": server_wait_s / duration,
        "server_cpu_share": server_cpu_s / max(server_cpu_s + server_wait_s, 1e-9),
        "generator_cpu_util_max": max(m["gen_cpu_util"] for m in marks),
        "generator_cpu_wait_frac_max": max(m["gen_wait_frac"] for m in marks),
        "generator_max_lag_ms": max(m["max_lag_ms"] for m in marks),
        "unacked_start": unacked_before,
        "unacked_end": total["unacked"],
    }
    result["backlog_growing"] = (
        total["unacked"] - unacked_before > 0.05 * runners
        or total["acked"] < 0.97 * runners * duration
    )
    for name in _HISTOGRAMS:
        if name in after and name in before:
            delta = histogram_delta(after[name], before[name])
            p99 = delta.quantile(0.99)
            result[f"{name}_mean"] = delta.mean()
            result[f"{name}_p99"] = p99 if p99 is not None and p99 < math.inf else None
    return result


async def _measure(gen: Generator, server: Server, load: Load) -> list[dict[str, Any]]:
    """Warm up, then ``load.windows`` consecutive windows."""
    await asyncio.sleep(load.warmup_s)
    last = await gen.all(cmd="mark")
    windows = []
    for _ in range(load.windows):
        metrics0 = await _scrape(server)
        cpu0, wait0, t0 = (
            cpu_seconds(server.pid),
            wait_seconds(server.pid),
            time.monotonic(),
        )
        await asyncio.sleep(load.window_s)
        marks = await gen.all(cmd="mark")
        cpu1, wait1, t1 = (
            cpu_seconds(server.pid),
            wait_seconds(server.pid),
            time.monotonic(),
        )
        metrics1 = await _scrape(server)
        for mark, prev in zip(marks, last, strict=True):
            # The worker's own interval: a starved worker answers marks late.
            interval = max(mark["at"] - prev["at"], 1e-3)
            mark["gen_cpu_util"] = (mark["cpu_s"] - prev["cpu_s"]) / interval
            mark["gen_wait_frac"] = (mark["wait_s"] - prev["wait_s"]) / interval
        windows.append(
            summarise(
                marks,
                metrics0,
                metrics1,
                (cpu1 - cpu0, wait1 - wait0),
                t1 - t0,
                load.runners,
                sum(m["unacked"] for m in last),
            )
        )
        last = marks
    return windows


async def _profile(server: Server, load: Load, workdir: Path) -> str | None:
    """A py-spy record of the server under this load, as collapsed stacks."""
    out = workdir / f"profile-{server.kind}-{load.runners}.txt"
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--pid",
        str(server.pid),
        "--duration",
        str(int(load.profile_s)),
        "--format",
        "raw",
        "--nonblocking",
        "--output",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    return str(out) if proc.returncode == 0 else f"py-spy failed: {err.decode()[-300:]}"


async def run_session(load: Load, workdir: Path) -> dict[str, Any]:
    """Run one session and return its figures per audience size."""
    server_core, gen_core = _cores()
    db_path = workdir / f"{load.kind}-{secrets.token_hex(4)}.db"
    if load.kind == "pace":
        race_id, creds = await seed_pace(str(db_path), load.runners)
    async with running(load.kind, db_path, server_core, load.tick_s) as server:
        if load.kind != "pace":
            race_id, creds = await register_over_http(server, load.runners)
        count = max(
            1, math.ceil((load.runners + load.spectators[0]) / _CONNS_PER_WORKER)
        )
        gen = await Generator.spawn(count, gen_core)
        try:
            return await _drive(gen, server, load, race_id, creds, workdir)
        finally:
            await gen.close()


async def _drive(
    gen: Generator,
    server: Server,
    load: Load,
    race_id: str,
    creds: list[list[str]],
    workdir: Path,
) -> dict[str, Any]:
    parts, rate = len(gen.procs), load.ramp_per_s / len(gen.procs)
    feed = f"{server.ws}/ws/races/{race_id}"
    rss0 = rss_kib(server.pid)
    answers = await gen.ask(
        [
            {
                "cmd": "runners",
                "url": f"{server.ws}/ws/runner",
                "creds": c,
                "rate": rate,
            }
            for c in _split(creds, parts)
        ]
    )
    connected = sum(a["connected"] for a in answers)
    if connected < load.runners:
        raise BenchError(f"{connected}/{load.runners} runners connected: {answers}")
    rss1 = rss_kib(server.pid)
    answers = await gen.ask(
        [
            {
                "cmd": "spectators",
                "url": feed,
                "n": n,
                "probes": load.probes if i == 0 else 0,
                "rate": rate,
            }
            for i, n in enumerate(_spread(load.spectators[0], parts))
        ]
    )
    rss2 = rss_kib(server.pid)
    session: dict[str, Any] = {
        "kind": load.kind,
        "runners": load.runners,
        "generator_workers": parts,
        "rss_baseline_kib": rss0,
        "rss_per_runner_kib": (rss1 - rss0) / max(load.runners, 1),
        "rss_per_spectator_kib": (rss2 - rss1) / max(load.spectators[0], 1),
        "spectators_connected": sum(a["connected"] for a in answers),
        "by_audience": {},
    }
    await gen.all(cmd="start")
    for audience in load.spectators:
        await gen.ask(
            [
                {"cmd": "spectators", "url": feed, "n": n, "probes": 0, "rate": rate}
                for n in _spread(audience, parts)
            ]
        )
        windows = await _measure(gen, server, load)
        session["by_audience"][str(audience)] = {
            "windows": windows,
            "median": median_of(windows),
        }
        if load.profile_s and audience == load.spectators[0]:
            session["profile"] = await _profile(server, load, workdir)
    session["rss_end_kib"] = rss_kib(server.pid)
    drained = await gen.all(cmd="drain", timeout_s=5.0)
    session["unacked_after_drain"] = sum(d["unacked"] for d in drained)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(gen.all(cmd="stop"), 8)
    return session


def median_of(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the windows (booleans: true if any window was)."""
    merged: dict[str, Any] = {}
    for key in dict.fromkeys(k for w in windows for k in w):
        values = [w[key] for w in windows if w.get(key) is not None]
        if values and isinstance(values[0], bool):
            merged[key] = any(values)
        else:
            merged[key] = statistics.median(values) if values else None
    return merged
