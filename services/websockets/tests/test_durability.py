"""What an ack promises, tested by killing the real server process."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import msgspec
import pytest
from pace_core.engine import Fix, RaceRules, Tracker
from pace_core.filtering import Limits
from pace_core.messages import Point
from wskit import Server, hello, new_race, points


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "pace.db")
    srv.start()
    yield srv
    if srv.proc is not None:
        srv.stop(signal.SIGKILL)


def stored_seqs(db_path: Path, participant_id: str) -> list[int]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT seq FROM points WHERE participant_id = ? ORDER BY seq",
            (participant_id,),
        ).fetchall()
    return [int(seq) for (seq,) in rows]


async def stream_until_dropped(
    ws: aiohttp.ClientWebSocketResponse, acked: list[int], enough: asyncio.Event
) -> None:
    """Send 5-point batches without waiting for acks; record acks until the drop."""
    seq = 1

    async def read() -> None:
        async for msg in ws:
            frame = json.loads(msg.data)
            if frame["type"] == "ack":
                acked.append(frame["seq"])
                if len(acked) >= 20:
                    enough.set()

    reader = asyncio.get_running_loop().create_task(read())
    try:
        while not ws.closed and seq < 5000:
            batch = points(seq, 5)
            seq += 5
            await ws.send_str(json.dumps({"type": "points", "points": batch}))
            await asyncio.sleep(0.01)
    except (ConnectionError, aiohttp.ClientError):
        pass
    await asyncio.wait_for(reader, 10)


@pytest.mark.slow
async def test_sigkill_loses_no_acked_point_and_resume_has_no_duplicate(
    http: aiohttp.ClientSession, fresh: Server
) -> None:
    """After SIGKILL mid-stream every acked seq is stored; resuming adds no copies."""
    race = await new_race(http, fresh, distance_m=50_000)
    ann = await race.add("Ann")
    ws, _ = await hello(http, fresh, ann["token"])
    acked: list[int] = []
    enough = asyncio.Event()
    streaming = asyncio.get_running_loop().create_task(
        stream_until_dropped(ws, acked, enough)
    )
    await asyncio.wait_for(enough.wait(), 30)
    fresh.stop(signal.SIGKILL)
    await streaming
    assert acked, "no ack before the kill"

    held = stored_seqs(fresh.db_path, ann["id"])
    assert set(range(1, max(acked) + 1)) <= set(held)

    fresh.start()
    ws, welcome = await hello(http, fresh, ann["token"])
    assert welcome["last_seq"] == max(held) >= max(acked)
    resend_from = max(acked) + 1  # a client resends everything not acked
    await ws.send_str(json.dumps({"type": "points", "points": points(resend_from, 30)}))
    ack = json.loads(await ws.receive_str(timeout=10))
    assert ack["seq"] == resend_from + 29
    after = stored_seqs(fresh.db_path, ann["id"])
    assert after == list(range(1, resend_from + 30))
    await ws.close()


@pytest.mark.slow
async def test_sigterm_acks_in_flight_and_asks_clients_to_reconnect(
    http: aiohttp.ClientSession, fresh: Server
) -> None:
    """SIGTERM: runners get a reconnect frame and close 1001; acked points are kept."""
    race = await new_race(http, fresh)
    ann = await race.add("Ann")
    ws, _ = await hello(http, fresh, ann["token"])
    await ws.send_str(json.dumps({"type": "points", "points": points(1, 50)}))
    ack = json.loads(await ws.receive_str(timeout=10))
    assert ack["seq"] == 50
    assert fresh.proc is not None
    fresh.proc.send_signal(signal.SIGTERM)
    frames = []
    async for msg in ws:
        frames.append(json.loads(msg.data))
    assert {"type": "reconnect", "reason": "shutting_down", "retry_after_ms": 1000} in (
        frames
    )
    assert ws.close_code == 1001
    assert fresh.proc.wait(timeout=30) == 0
    fresh.proc = None
    assert stored_seqs(fresh.db_path, ann["id"]) == list(range(1, 51))


@pytest.mark.slow
async def test_restart_rebuilds_the_tracker_from_storage(
    http: aiohttp.ClientSession, fresh: Server
) -> None:
    """After a restart the runner's distance continues as if nothing happened."""
    race = await new_race(http, fresh, distance_m=50_000)
    ann = await race.add("Ann")
    sent = points(1, 120, step_deg=0.00004)
    ws, _ = await hello(http, fresh, ann["token"])
    await ws.send_str(json.dumps({"type": "points", "points": sent[:60]}))
    assert json.loads(await ws.receive_str(timeout=10))["seq"] == 60
    await ws.close()
    fresh.stop()
    fresh.start()

    ws, welcome = await hello(http, fresh, ann["token"])
    assert welcome["last_seq"] == 60
    await ws.send_str(json.dumps({"type": "points", "points": sent[60:]}))
    assert json.loads(await ws.receive_str(timeout=10))["seq"] == 120
    await ws.close()

    expected = Tracker(RaceRules(50_000), Limits())
    for raw in sent:
        expected.add(Fix.from_point(msgspec.convert(raw, Point)))
    for _ in range(50):
        standing = (await race.get())["standings"][0]
        if standing["status"] != "running":
            break
        await asyncio.sleep(0.1)
    assert standing["distance_m"] == pytest.approx(
        expected.view().distance_m, abs=0.05
    )  # the wire carries 0.1 m
    assert standing["distance_m"] > 500
