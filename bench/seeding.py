"""Races and participants for a session, made before the load starts.

The peers keep participants in memory, so the harness registers them over
HTTP. Pace stores each one with an fsynced commit (SQLite ``synchronous=FULL``),
which makes registering 18,500 participants over HTTP take minutes on this
machine; for Pace the harness therefore writes them straight into the fresh
database through Pace's own storage API (``synchronous=normal`` for this
setup only) before the server starts. The server then finds them exactly as
it would after a restart. Registration is not what is being measured.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time

import aiohttp

from bench.servers import BenchError, Server

__all__ = ["register_over_http", "seed_pace"]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def seed_pace(db_path: str, runners: int) -> tuple[str, list[list[str]]]:
    """A race with ``runners`` participants written into Pace's database file."""
    from pace_websockets.storage import ParticipantRecord, RaceRecord, open_storage

    store = await open_storage(f"sqlite:///{db_path}?synchronous=normal")
    now, race_id = int(time.time() * 1000), secrets.token_urlsafe(9)
    try:
        race = RaceRecord(
            race_id, "bench", None, None, now, _hash(secrets.token_urlsafe(32)), "open"
        )
        await store.create_race(race)
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


async def register_over_http(
    server: Server, runners: int
) -> tuple[str, list[list[str]]]:
    """A race with ``runners`` participants made through the HTTP API."""
    async with aiohttp.ClientSession(server.http) as http:
        async with http.post("/api/races", json={"name": "bench"}) as resp:
            race = await resp.json()
        if resp.status != 201:
            raise BenchError(f"POST /api/races answered {resp.status}: {race}")
        auth = {"Authorization": f"Bearer {race['organizer_token']}"}
        limit = asyncio.Semaphore(32)

        async def join(i: int) -> list[str]:
            async with (
                limit,
                http.post(
                    f"/api/races/{race['id']}/participants",
                    json={"name": f"runner {i}"},
                    headers=auth,
                ) as resp,
            ):
                body = await resp.json()
            if resp.status != 201:
                raise BenchError(f"adding a participant answered {resp.status}")
            return [body["id"], body["token"]]

        creds = await asyncio.gather(*map(join, range(runners)))
    return race["id"], list(creds)
