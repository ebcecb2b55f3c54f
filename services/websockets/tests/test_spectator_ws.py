"""The spectator feed over real sockets: snapshot, coalesced updates, events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from wskit import Server, hello, new_race, points, receive_type


async def watch(
    http: aiohttp.ClientSession, server: Server, race_id: str
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await http.ws_connect(f"{server.ws_url}/ws/races/{race_id}")
    return ws, await receive_type(ws, "snapshot")


async def frames_for(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[Any]:
    """Every frame received in the next ``seconds``."""
    out = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            break
        out.append(json.loads(msg.data))
    return out


async def test_snapshot_lists_every_participant(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """On connect a spectator gets the race and all participants, ranked."""
    race = await new_race(http, server, distance_m=5000)
    for name in ("Ann", "Bob"):
        await race.add(name)
    ws, snapshot = await watch(http, server, race.id)
    assert snapshot["race"]["id"] == race.id
    assert snapshot["race"]["participants"] == 2
    assert sorted(s["name"] for s in snapshot["standings"]) == ["Ann", "Bob"]
    assert sorted(s["rank"] for s in snapshot["standings"]) == [1, 2]
    await ws.close()


async def test_updates_carry_only_changed_runners_and_coalesce(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Ten quick batches of one runner give fewer updates, holding only that runner."""
    race = await new_race(http, server)
    ann, bob = await race.add("Ann"), await race.add("Bob")
    spectator, _ = await watch(http, server, race.id)
    ws, _ = await hello(http, server, ann["token"])
    for i in range(10):
        await ws.send_str(
            json.dumps({"type": "points", "points": points(1 + i * 5, 5)})
        )
        await receive_type(ws, "ack")
    frames = await frames_for(spectator, 1.0)
    updates = [f for f in frames if f["type"] == "update"]
    assert 1 <= len(updates) < 10
    ids = {s["participant_id"] for u in updates for s in u["standings"]}
    assert ann["id"] in ids
    last = [s for s in updates[-1]["standings"] if s["participant_id"] == ann["id"]]
    assert last and last[0]["distance_m"] > 100
    assert all(s["splits"] == [] for u in updates for s in u["standings"])
    assert [u["tick"] for u in updates] == sorted({u["tick"] for u in updates})
    bob_updates = [
        s
        for u in updates[1:]
        for s in u["standings"]
        if s["participant_id"] == bob["id"]
    ]
    assert bob_updates == []
    await ws.close()
    await spectator.close()


async def test_split_and_finish_events_with_target_distance(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Crossing 1 km gives a split event, reaching 1.2 km a finished event."""
    race = await new_race(http, server, distance_m=1200)
    ann = await race.add("Ann")
    spectator, _ = await watch(http, server, race.id)
    ws, _ = await hello(http, server, ann["token"])
    batch = points(1, 260, step_deg=0.00005)  # 5.6 m per second, 1.45 km
    await ws.send_str(json.dumps({"type": "points", "points": batch}))
    await receive_type(ws, "ack")
    frames = await frames_for(spectator, 1.0)
    events = [(f["event"], f.get("km")) for f in frames if f["type"] == "event"]
    assert events == [("started", None), ("split", 1), ("finished", None)]
    detail = await race.get()
    standing = detail["standings"][0]
    assert standing["status"] == "finished"
    assert abs(standing["distance_m"] - 1200) < 1e-6
    assert [s["km"] for s in standing["splits"]] == [1]
    await ws.close()
    await spectator.close()


async def test_dropped_runner_shows_as_disconnected(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A runner whose socket drops mid-race gets a disconnected event and status."""
    race = await new_race(http, server, distance_m=10_000)
    ann = await race.add("Ann")
    spectator, _ = await watch(http, server, race.id)
    ws, _ = await hello(http, server, ann["token"])
    await ws.send_str(json.dumps({"type": "points", "points": points(1, 10)}))
    await receive_type(ws, "ack")
    await ws.close()
    event = await receive_type(spectator, "event")
    while event["event"] != "disconnected":
        event = await receive_type(spectator, "event")
    assert event["participant_id"] == ann["id"]
    update = await receive_type(spectator, "update")
    assert update["standings"][0]["status"] == "disconnected"
    again, _ = await hello(http, server, ann["token"])
    update = await receive_type(spectator, "update")
    assert update["standings"][0]["status"] == "running"
    await again.close()
    await spectator.close()


async def test_unknown_race_feed_is_404(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """Watching a race that does not exist fails before the upgrade."""
    async with http.get(f"{server.url}/ws/races/nope") as r:
        assert r.status == 404


async def test_snapshot_after_points_has_splits_and_position(
    http: aiohttp.ClientSession, server: Server
) -> None:
    """A late spectator's snapshot holds splits and the last position."""
    race = await new_race(http, server, distance_m=5000)
    ann = await race.add("Ann")
    ws, _ = await hello(http, server, ann["token"])
    await ws.send_str(
        json.dumps({"type": "points", "points": points(1, 200, step_deg=0.00005)})
    )
    await receive_type(ws, "ack")
    await asyncio.sleep(0.3)
    spectator, snapshot = await watch(http, server, race.id)
    standing = snapshot["standings"][0]
    assert [s["km"] for s in standing["splits"]] == [1]
    assert len(standing["position"]) == 3
    await ws.close()
    await spectator.close()
