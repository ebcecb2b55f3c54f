"""Group commit: every point that arrived since the last commit, in one transaction.

Runner sessions :meth:`Committer.submit` their rows and await the returned
future; one loop takes everything queued (up to ``max_points``), calls
``storage.write_batch`` once and resolves every waiter together. While one
commit runs, the next one fills up, so the number of transactions per second
stays bounded by the disk however many runners are connected, and each
runner's ack waits at most about two commit times.

A failed commit fails all of its waiters with the :class:`StorageError`; the
sessions then refuse to ack, close their sockets and forget their trackers,
so nothing uncommitted is ever acknowledged and the clients resend. A commit
that fails on its data (:class:`StorageRejected`, or an exception a backend
failed to translate) is retried job by job, so one connection's unstorable
row fails only that connection, never the others in the same commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import NamedTuple

from pace_websockets.metrics import Metrics
from pace_websockets.storage import (
    PointRow,
    Storage,
    StorageError,
    StorageRejected,
)

__all__ = ["Committer"]

log = logging.getLogger("pace.storage")


class _Job(NamedTuple):
    points: Sequence[PointRow]
    snapshots: Sequence[tuple[str, bytes]]
    done: asyncio.Future[None]


class Committer:
    """The single writer of points and snapshots; see the module docstring."""

    def __init__(self, storage: Storage, metrics: Metrics, max_points: int) -> None:
        self.storage, self.metrics, self.max_points = storage, metrics, max_points
        self._queue: deque[_Job] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(
        self,
        points: Sequence[PointRow],
        snapshots: Sequence[tuple[str, bytes]] = (),
    ) -> asyncio.Future[None]:
        """Queue rows for the next commit; the future resolves once committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieve)
        self._queue.append(_Job(points, snapshots, done))
        self._idle.clear()
        self._wake.set()
        return done

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def drain(self) -> None:
        """Wait until everything submitted so far is committed (or failed)."""
        await self._idle.wait()

    async def stop(self) -> None:
        """Commit what is queued, then stop the loop."""
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._commit(self._take())
            self._idle.set()

    def _take(self) -> list[_Job]:
        """Jobs for one commit: at least one, then up to ``max_points`` points."""
        jobs = [self._queue.popleft()]
        count = len(jobs[0].points)
        while self._queue and count + len(self._queue[0].points) <= self.max_points:
            job = self._queue.popleft()
            jobs.append(job)
            count += len(job.points)
        return jobs

    async def _commit(self, jobs: list[_Job]) -> None:
        error = await self._write(jobs)
        if isinstance(error, StorageRejected) and len(jobs) > 1:
            # Bad data in one job: find it by committing each job alone.
            for job in jobs:
                if (alone := await self._write([job])) is not None:
                    self._fail([job], alone)
        elif error is not None:
            self._fail(jobs, error)

    async def _write(self, jobs: list[_Job]) -> StorageError | None:
        """Commit ``jobs`` in one transaction; resolve them, or return the error."""
        points = [row for job in jobs for row in job.points]
        # Later snapshots of a participant replace earlier ones in the same commit.
        snapshots = {pid: data for job in jobs for pid, data in job.snapshots}
        started = time.perf_counter()
        try:
            await self.storage.write_batch(points, list(snapshots.items()))
        except StorageError as exc:
            return exc
        except Exception as exc:  # a bug in a backend: still never ack
            log.exception("commit raised outside the storage boundary")
            return StorageRejected(f"unexpected {type(exc).__name__}: {exc}")
        self.metrics.storage_commit.observe(time.perf_counter() - started)
        self.metrics.storage_batch_points.observe(len(points))
        for job in jobs:
            if not job.done.done():
                job.done.set_result(None)
        return None

    def _fail(self, jobs: list[_Job], exc: StorageError) -> None:
        self.metrics.storage_errors.inc()
        log.warning(
            "commit of %d points failed: %s", sum(len(j.points) for j in jobs), exc
        )
        for job in jobs:
            if not job.done.done():
                job.done.set_exception(exc)


def _retrieve(done: asyncio.Future[None]) -> None:
    """Mark a failure as seen: the waiter may have gone with its connection."""
    if not done.cancelled():
        done.exception()
