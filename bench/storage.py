"""Storage alone: points a second that each backend commits, at the service's batches.

This calls ``pace_websockets.storage.open_storage(url)`` and ``write_batch``
directly, with no server around it, so the figure is the ceiling the group
committer works under. The batch sizes are the ones the service actually
formed in the city race (the mean of ``pace_storage_batch_points``), plus the
plan's fixed sizes. PostgreSQL runs in a fresh schema that is dropped after.
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

from bench.plans import Plan

__all__ = ["batch_sizes", "measure"]

PG_URL = os.environ.get(
    "PACE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_RUNS = 3


def batch_sizes(plan: Plan, city: list[dict[str, Any]]) -> list[int]:
    """The plan's sizes and the mean batch Pace formed in each city session."""
    sizes = set(plan.storage_batches)
    for session in city:
        if session.get("kind") != "pace" or "failed" in session:
            continue
        for figures in session["by_audience"].values():
            mean = figures["median"].get("pace_storage_batch_points_mean")
            if mean:
                sizes.add(max(1, round(mean)))
    return sorted(sizes)


async def _backend(url: str) -> Any:
    from pace_websockets.storage import ParticipantRecord, RaceRecord, open_storage

    store = await open_storage(url)
    now = int(time.time() * 1000)
    race = RaceRecord("benchrace", "bench", None, None, now, "x" * 64, "open")
    await store.create_race(race)
    await store.add_participant(
        ParticipantRecord("benchrunner", "benchrace", "runner", "y" * 64, now)
    )
    return store


def _rows(start_seq: int, count: int) -> list[Any]:
    from pace_websockets.storage import PointRow

    now = int(time.time() * 1000)
    return [
        PointRow(
            "benchrunner",
            seq,
            now + seq,
            52.5 + seq * 1e-7,
            13.4,
            None,
            5.0,
            3.0,
            None,
            now,
            None,
        )
        for seq in range(start_seq, start_seq + count)
    ]


async def _rate(store: Any, batch: int, seconds: float, seq: int) -> tuple[float, int]:
    """Points per second over ``seconds`` of back-to-back batches of ``batch``."""
    written, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        rows = _rows(seq, batch)
        await store.write_batch(rows, [("benchrunner", b"{}")])
        seq += batch
        written += batch
    return written / (time.monotonic() - started), seq


async def _one_backend(
    url: str, backend: str, plan: Plan, batches: list[int]
) -> list[dict[str, Any]]:
    store = await _backend(url)
    results, seq = [], 1
    try:
        for batch in batches:
            _, seq = await _rate(store, batch, 0.2, seq)
            runs = []
            for _ in range(_RUNS):
                rate, seq = await _rate(store, batch, plan.storage_seconds, seq)
                runs.append(rate)
            results.append(
                {
                    "backend": backend,
                    "batch": batch,
                    "points_per_s": statistics.median(runs),
                    "runs": runs,
                }
            )
    finally:
        await store.close()
    return results


async def _drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


async def measure(
    plan: Plan, batches: list[int], workdir: Path
) -> list[dict[str, Any]]:
    """Each backend of the plan at each batch size; a backend that fails is noted."""
    results: list[dict[str, Any]] = []
    for backend in plan.storage_backends:
        print(f"storage: {backend} batches {batches}", flush=True)
        if backend == "sqlite":
            url = f"sqlite:///{workdir / 'storage-bench.db'}"
            results += await _one_backend(url, backend, plan, batches)
            continue
        schema = f"bench_{secrets.token_hex(4)}"
        try:
            results += await _one_backend(
                f"{PG_URL}?schema={schema}", backend, plan, batches
            )
        except Exception as exc:
            results.append(
                {
                    "backend": backend,
                    "failed": repr(exc),
                    "points_per_s": None,
                    "batch": None,
                }
            )
        finally:
            await _drop_schema(schema)
    return results
