"""What the shared engines are doing: PostgreSQL's and Redis's CPU, commits, WAL.

CPU comes from ``/proc`` of every process with the engine's command name
(``postgres`` backends included), so it counts every user of the engine on
this machine, not only Pace: an upper bound of what Pace caused. What Pace
publishes is counted exactly, by a pattern subscriber on its own prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from bench.procstat import cpu_seconds
from bench.storage import PG_URL

__all__ = [
    "REDIS_URL",
    "RedisTap",
    "cpu_delta",
    "cpu_of",
    "engine_pids",
    "pg_counters",
]

REDIS_URL = os.environ.get("PACE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def engine_pids(name: str) -> list[int]:
    """Every process whose command name is ``name`` (postgres backends included)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/comm") as f:
                if f.read().strip() == name:
                    found.append(int(entry))
    return found


def cpu_of(pids: list[int]) -> dict[int, float]:
    usage = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            usage[pid] = cpu_seconds(pid)
    return usage


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used by processes alive at both reads (a backend that exits is missed)."""
    return sum(after[p] - before[p] for p in after.keys() & before.keys())


async def pg_counters() -> tuple[int, int]:
    """Commits in database ``test`` (everyone's) and the cluster's WAL position."""
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        row = await conn.fetchrow(
            "SELECT xact_commit, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS wal"
            " FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    return int(row["xact_commit"]), int(row["wal"])


class RedisTap:
    """Counts what Pace publishes on its prefix, from a subscriber of our own."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.messages, self.bytes = prefix, 0, 0
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RedisTap:
        import redis.asyncio as redis

        self.client = redis.Redis.from_url(REDIS_URL)
        self.pubsub = self.client.pubsub()
        await self.pubsub.psubscribe(f"{self.prefix}*")
        self.task = asyncio.create_task(self._count())
        return self

    async def _count(self) -> None:
        async for message in self.pubsub.listen():
            if message["type"] == "pmessage":
                self.messages += 1
                self.bytes += len(message["data"])

    async def __aexit__(self, *exc: object) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.pubsub.aclose()
        await self.client.aclose()
