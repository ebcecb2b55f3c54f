"""Storage that is slow, locked or full, injected by real means.

A SQLite file locked by another connection holding ``BEGIN EXCLUSIVE``, and a
database on a 1 MiB tmpfs mounted for the test (the disk really fills up).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from streamer import Streamer
from wskit import Server, closed_with, hello, new_race, points, receive_type

pytestmark = pytest.mark.faults


def stored_seqs(db_path: Path, participant_id: str) -> list[int]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT seq FROM points WHERE participant_id = ? ORDER BY seq",
            (participant_id,),
        ).fetchall()
    return [int(seq) for (seq,) in rows]


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "pace.db")
    srv.start()
    yield srv
    if srv.proc is not None:
        srv.stop(signal.SIGKILL)


def lock(db_path: Path) -> sqlite3.Connection:
    """Another process-level connection holding the write lock."""
    db = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    return db


async def test_short_lock_makes_the_ack_wait_not_fail(
    http: aiohttp.ClientSession, fresh: Server
) -> None:
    """While another connection holds the lock no ack comes; after, it does."""
    race = await new_race(http, fresh)
    ann = await race.add()
    ws, _ = await hello(http, fresh, ann["token"])
    held = lock(fresh.db_path)
    await ws.send_str(json.dumps({"type": "points", "points": points(1, 5)}))
    with pytest.raises(TimeoutError):
        await receive_type(ws, "ack", within_s=1.5)
    held.execute("COMMIT")
    held.close()
    ack = await receive_type(ws, "ack")
    assert ack["seq"] == 5
    assert stored_seqs(fresh.db_path, ann["id"]) == [1, 2, 3, 4, 5]
    await ws.close()


async def test_long_lock_refuses_acks_and_clients_resend_after(
    http: aiohttp.ClientSession, fresh: Server
) -> None:
    """Locked past the busy timeout: storage_unavailable, back off, nothing lost."""
    race = await new_race(http, fresh)
    people = [await race.add(f"R{i}") for i in range(5)]
    streamers = [Streamer(fresh.ws_url, p["token"], 400) for p in people]
    tasks = [asyncio.create_task(s.run(http)) for s in streamers]
    await until(lambda: sum(s.acked for s in streamers) >= 200)
    held = lock(fresh.db_path)
    await asyncio.sleep(8)  # past the server's 5 s busy_timeout
    acked_while_locked = [s.acked for s in streamers]
    held.execute("COMMIT")
    held.close()
    await asyncio.wait_for(asyncio.gather(*tasks), 120)

    assert any("storage_unavailable" in s.codes for s in streamers)
    assert all(s.broken == [] for s in streamers)
    for p, acked in zip(people, acked_while_locked, strict=True):
        assert stored_seqs(fresh.db_path, p["id"])[:acked] == list(range(1, acked + 1))
        assert stored_seqs(fresh.db_path, p["id"]) == list(range(1, 401))


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, mounted for this test and unmounted after it."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_full_disk_is_reported_as_storage_full(
    http: aiohttp.ClientSession, tmp_path: Path, tiny_disk: Path
) -> None:
    """Filling the disk gets storage_full (close 1013); every ack is stored."""
    srv = Server(tiny_disk / "pace.db", PACE_POINT_RATE="0")
    srv.log_path = tmp_path / "server.log"
    srv.start()
    try:
        race = await new_race(http, srv)
        ann = await race.add()
        ws, _ = await hello(http, srv, ann["token"])
        acked, code = await fill(ws)
        assert code == "storage_full", srv.logs()[-2000:]
        assert await closed_with(ws) == 1013
        assert acked > 0
        async with http.get(srv.url + "/healthz") as r:
            assert r.status == 200
    finally:
        srv.stop(signal.SIGKILL)
    copy = copy_db(tiny_disk / "pace.db", tmp_path / "copy.db")
    assert stored_seqs(copy, ann["id"])[:acked] == list(range(1, acked + 1))


def copy_db(source: Path, target: Path) -> Path:
    """Copy the database and its WAL off the full disk before reading it."""
    for suffix in ("", "-wal"):
        part = Path(str(source) + suffix)
        if part.exists():
            shutil.copy(part, str(target) + suffix)
    return target


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` every 50 ms (progress counters have no event)."""
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def fill(ws: aiohttp.ClientWebSocketResponse) -> tuple[int, str]:
    """Send 500-point batches until an error comes; the last ack and its code."""
    acked, seq = 0, 0
    start = datetime.now(UTC) - timedelta(days=1)  # room for 86,400 1 Hz points
    while seq < 80_000:
        batch = points(seq + 1, 500, start=start)
        await ws.send_str(json.dumps({"type": "points", "points": batch}))
        seq += 500
        while True:
            frame = json.loads(await ws.receive_str(timeout=30))
            if frame["type"] == "ack":
                assert "rejected" not in frame, frame["rejected"][:3]
                acked = frame["seq"]
                break
            if frame["type"] == "error":
                return acked, str(frame["code"])
    return acked, "the disk never filled"
