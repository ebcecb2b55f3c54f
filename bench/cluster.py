"""Several Pace instances on one database and one Redis prefix, for a session.

The race is seeded through Pace's own storage API before the instances start
(registration is not what is measured); each instance is a real
``python -m pace_websockets`` on a free port, ready when ``/readyz`` says so
(storage and broker both reachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from bench.engines import REDIS_URL
from bench.seeding import _hash
from bench.servers import ROOT, BenchError, Server, command, free_port

__all__ = ["instances", "seed"]

_CORES = sorted(os.sched_getaffinity(0))


async def seed(url: str, runners: int) -> tuple[str, list[list[str]]]:
    """A race with ``runners`` participants written through Pace's storage API."""
    from pace_websockets.storage import ParticipantRecord, RaceRecord, open_storage

    store = await open_storage(url)
    now, race_id = int(time.time() * 1000), secrets.token_urlsafe(9)
    try:
        secret = _hash(secrets.token_urlsafe(32))
        await store.create_race(
            RaceRecord(race_id, "bench", None, None, now, secret, "open")
        )
        creds = []
        for i in range(runners):
            pid, token = secrets.token_urlsafe(9), secrets.token_urlsafe(32)
            await store.add_participant(
                ParticipantRecord(pid, race_id, f"runner {i}", _hash(token), now)
            )
            creds.append([pid, token])
    finally:
        await store.close()
    return race_id, creds


async def _wait_ready(port: int, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if proc.returncode is not None:
                raise BenchError(f"instance exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise BenchError(f"instance on {port} not ready after 60 s")


@contextlib.asynccontextmanager
async def instances(
    count: int, db_url: str, prefix: str, tick_s: float, workdir: Path
) -> AsyncIterator[list[Server]]:
    """``count`` Pace processes on one database and prefix, each pinned when N=2."""
    procs, servers = [], []
    try:
        for i in range(count):
            port, log = free_port(), (workdir / f"mp-{count}-{i}.log").open("wb")
            env = dict(
                os.environ,
                PACE_PORT=str(port),
                PACE_HOST="127.0.0.1",
                PACE_DATABASE_URL=db_url,
                PACE_BROKER_URL=REDIS_URL,
                PACE_BROKER_PREFIX=prefix,
                PACE_INSTANCE_ID=f"bench-{i}",
                PACE_TICK_S=str(tick_s),
                PACE_LOG_LEVEL="WARNING",
            )
            core = _CORES[i % len(_CORES)]
            proc = await asyncio.create_subprocess_exec(
                *command("pace"),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=lambda c=core: os.sched_setaffinity(0, {c}),
            )
            log.close()
            procs.append(proc)
            servers.append(Server("pace", proc.pid, port))
        for server, proc in zip(servers, procs, strict=True):
            await _wait_ready(server.port, proc)
        yield servers
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
