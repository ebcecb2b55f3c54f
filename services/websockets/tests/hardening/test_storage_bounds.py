"""Values the database cannot hold are refused per point, never in the commit.

A seq past 2^53 - 1 (the largest a JavaScript client counts exactly, far
below what SQLite's and PostgreSQL's 64-bit integers hold) is ``bad_point``
in the ack. Behind that, the group committer isolates a row a backend still
refuses, so other connections' points in the same commit are stored.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from pace_websockets.committer import Committer
from pace_websockets.metrics import Metrics
from pace_websockets.storage import (
    ParticipantRecord,
    PointRow,
    RaceRecord,
    Storage,
    StorageRejected,
    open_storage,
)
from prometheus_client import CollectorRegistry
from wskit import Server, hello, new_race, points, receive_type

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


async def test_seq_past_js_safe_range_is_bad_point(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """2^53 and 2^63 are refused as bad_point; the good point is acked, socket open."""
    race = await new_race(http, server)
    runner = await race.add()
    ws, _ = await hello(http, server, runner["token"])
    good = points(1, 1)[0]
    huge = [{**good, "seq": 2**53}, {**good, "seq": 2**63}]
    await ws.send_str(json.dumps({"type": "points", "points": [good, *huge]}))

    ack = await receive_type(ws, "ack")

    assert ack["seq"] == 1
    assert ack["rejected"] == [
        {"seq": 2**53, "reason": "bad_point"},
        {"seq": 2**63, "reason": "bad_point"},
    ]
    await ws.send_str(json.dumps({"type": "points", "points": points(2, 1)}))
    assert (await receive_type(ws, "ack"))["seq"] == 2
    await ws.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Storage]:
    """An opened, seeded database of each backend."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    url = (
        f"sqlite:///{tmp_path / 'pace.db'}"
        if request.param == "sqlite"
        else f"{PG_SERVER}?schema={schema}"
    )
    db = await open_storage(url)
    await db.create_race(RaceRecord("r1", "r", None, None, 1, "org", "open"))
    for pid in ("good", "bad"):
        await db.add_participant(ParticipantRecord(pid, "r1", pid, f"h-{pid}", 1))
    yield db
    await db.close()
    if request.param == "postgres":
        conn = await asyncpg.connect(PG_SERVER)
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


def _row(pid: str, seq: int) -> PointRow:
    return PointRow(
        pid, seq, 1_700_000_000_000, 59.3, 18.0, None, 5.0, None, None, 1, None
    )


async def test_unstorable_row_fails_only_its_own_job(storage: Storage) -> None:
    """A commit holding a row past int64 stores the other jobs; the bad one fails."""
    committer = Committer(storage, Metrics(CollectorRegistry()), max_points=100)
    committer.start()
    bad = committer.submit([_row("bad", 2**63)])
    good = committer.submit([_row("good", 1)])

    await asyncio.wait([bad, good])
    await committer.stop()

    assert good.exception() is None
    assert isinstance(bad.exception(), StorageRejected)
    assert await storage.last_seq("good") == 1
    assert await storage.last_seq("bad") == 0
