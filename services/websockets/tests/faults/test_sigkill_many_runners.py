"""SIGKILL under 200 streaming runners: no acked point lost, none stored twice."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from streamer import Streamer
from wskit import Server, new_race

pytestmark = pytest.mark.faults

RUNNERS = 200
TOTAL = 300


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "pace.db", PACE_LOG_LEVEL="WARNING")
    srv.start()
    yield srv
    if srv.proc is not None:
        srv.stop(signal.SIGKILL)


def stored(db_path: Path) -> dict[str, list[int]]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT participant_id, seq FROM points ORDER BY participant_id, seq"
        ).fetchall()
    out: dict[str, list[int]] = {}
    for pid, seq in rows:
        out.setdefault(pid, []).append(int(seq))
    return out


async def test_sigkill_with_200_runners_loses_no_acked_point(fresh: Server) -> None:
    """Every seq acked before SIGKILL is stored; resumed runners store no copy."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        race = await new_race(http, fresh)
        people = [await race.add(f"R{i}") for i in range(RUNNERS)]
        streamers = [Streamer(fresh.ws_url, p["token"], TOTAL) for p in people]
        tasks = [asyncio.create_task(s.run(http)) for s in streamers]
        while sum(s.acked for s in streamers) < RUNNERS * TOTAL // 4:
            assert not any(t.done() for t in tasks), [t for t in tasks if t.done()]
            await asyncio.sleep(0.05)
        fresh.stop(signal.SIGKILL)
        acked_at_kill = {
            p["id"]: s.acked for p, s in zip(people, streamers, strict=True)
        }
        held = stored(fresh.db_path)
        fresh.start()
        await asyncio.wait_for(asyncio.gather(*tasks), 240)

    assert sum(acked_at_kill.values()) > 0
    for pid, acked in acked_at_kill.items():
        assert held.get(pid, [])[:acked] == list(range(1, acked + 1)), pid
    assert all(s.broken == [] for s in streamers)
    after = stored(fresh.db_path)
    for p in people:
        assert after[p["id"]] == list(range(1, TOTAL + 1)), p["id"]
    assert sum(s.connections for s in streamers) >= 2 * RUNNERS
