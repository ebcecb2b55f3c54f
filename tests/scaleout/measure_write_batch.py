"""Measure ``write_batch`` throughput: COPY+INSERT-SELECT against executemany.

Not a test (no assertions on time): run it by hand to choose or re-check the
PostgreSQL write strategy, and record what it prints in docs/scaling.md::

    .venv/bin/python tests/scaleout/measure_write_batch.py [postgresql://...]

The first two columns time the two PostgreSQL strategies on one held
connection; the last two time ``Storage.write_batch`` of each backend as the
committer calls it (SQLite with its default ``synchronous=FULL``). Each writes
fresh points (10 participants, consecutive seqs) in batches of 100, 1,000 and
5,000 into its own throwaway schema or file, plus one snapshot per participant
per batch, the way the group committer calls it.
The best of five rounds is printed, because the machine is shared.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from pace_websockets.storage import open_storage, postgres
from pace_websockets.storage.base import ParticipantRecord, PointRow, RaceRecord

URL = "postgresql://postgres@127.0.0.1:5432/test"
SIZES = (100, 1000, 5000)
ROUNDS = 5
POINTS_PER_ROUND = 20_000

Writer = Callable[
    [asyncpg.Connection, Sequence[PointRow], Sequence[tuple[str, bytes]]],
    Awaitable[None],
]

_INSERT = (
    f"INSERT INTO points ({postgres._COLUMN_LIST}) VALUES "
    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    " ON CONFLICT (participant_id, seq) DO NOTHING"
)


async def write_executemany(
    conn: asyncpg.Connection,
    points: Sequence[PointRow],
    snapshots: Sequence[tuple[str, bytes]],
) -> None:
    """The alternative: one pipelined INSERT per point."""
    async with conn.transaction():
        await conn.executemany(_INSERT, points)
        await conn.executemany(postgres._UPSERT_SNAPSHOT, snapshots)


STRATEGIES: dict[str, Writer] = {
    "copy": postgres._write,
    "executemany": write_executemany,
}


def batches(size: int, seq0: int) -> list[list[PointRow]]:
    """Fresh points for one round, cut into batches of ``size``."""
    rows = [
        PointRow(
            f"p{i % 10}",
            seq0 + i,
            1_700_000_000_000 + i,
            59.3,
            18.0,
            12.0,
            5.0,
            3.1,
            90.0,
            1_700_000_000_000,
            None,
        )
        for i in range(POINTS_PER_ROUND)
    ]
    return [rows[i : i + size] for i in range(0, len(rows), size)]


async def measure(url: str, name: str, writer: Writer, size: int) -> float:
    """Best points per second over ROUNDS rounds in a fresh schema."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    storage = postgres.PostgresStorage(f"{url}?schema={schema}")
    await storage.open()
    try:
        await storage.create_race(RaceRecord("r", "bench", None, None, 0, "h", "open"))
        for i in range(10):
            await storage.add_participant(
                ParticipantRecord(f"p{i}", "r", "p", f"t{i}", 0)
            )
        snapshots = [(f"p{i}", b"s" * 200) for i in range(10)]
        best = 0.0
        for round_ in range(ROUNDS):
            work = batches(size, round_ * POINTS_PER_ROUND)
            async with storage._connection() as conn:
                start = time.perf_counter()
                for batch in work:
                    await writer(conn, batch, snapshots)
                elapsed = time.perf_counter() - start
            best = max(best, POINTS_PER_ROUND / elapsed)
        return best
    finally:
        await storage.close()
        conn = await asyncpg.connect(url)
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


async def measure_backend(url: str, size: int) -> float:
    """Best points per second of ``Storage.write_batch`` itself, any backend."""
    storage = await open_storage(url)
    try:
        await storage.create_race(RaceRecord("r", "bench", None, None, 0, "h", "open"))
        for i in range(10):
            await storage.add_participant(
                ParticipantRecord(f"p{i}", "r", "p", f"t{i}", 0)
            )
        snapshots = [(f"p{i}", b"s" * 200) for i in range(10)]
        best = 0.0
        for round_ in range(ROUNDS):
            work = batches(size, round_ * POINTS_PER_ROUND)
            start = time.perf_counter()
            for batch in work:
                await storage.write_batch(batch, snapshots)
            best = max(best, POINTS_PER_ROUND / (time.perf_counter() - start))
        return best
    finally:
        await storage.close()


async def measure_storages(url: str, size: int) -> tuple[float, float]:
    """write_batch through PostgresStorage and SQLiteStorage (synchronous=FULL)."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        pg = await measure_backend(f"{url}?schema={schema}", size)
    finally:
        conn = await asyncpg.connect(url)
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()
    with tempfile.TemporaryDirectory() as tmp:
        lite = await measure_backend(f"sqlite:///{tmp}/bench.db", size)
    return pg, lite


async def main(url: str) -> None:
    names = [*STRATEGIES, "PostgresStorage", "SQLiteStorage"]
    print(f"{'batch':>6} " + " ".join(f"{name:>16}" for name in names))
    for size in SIZES:
        rates = [await measure(url, n, w, size) for n, w in STRATEGIES.items()]
        rates.extend(await measure_storages(url, size))
        print(f"{size:>6} " + " ".join(f"{rate:>11,.0f} pt/s" for rate in rates))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else URL))
