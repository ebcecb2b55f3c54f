"""The first version a competent Python developer would write: FastAPI on uvicorn.

Deliberately plain, because that is the point of the comparison: every point
is inserted and committed on its own (``sqlite3``, WAL, same durability as
Pace's default) before its ack, and every point is broadcast as its own JSON
frame to every spectator of the race. Run as
``python -m bench.peers.fastapi_peer.app`` with ``PACE_PORT``, ``PACE_HOST`` and
``PACE_DATABASE_URL=sqlite:///path``.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from datetime import datetime

import uvicorn
from fastapi import FastAPI, Header, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

app = FastAPI(title="pace-bench-fastapi-peer")
db_path = os.environ.get("PACE_DATABASE_URL", "sqlite:///./peer.db")
db = sqlite3.connect(db_path.removeprefix("sqlite:///"), check_same_thread=False)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute(
    "CREATE TABLE IF NOT EXISTS points (participant_id TEXT, seq INTEGER, "
    "time INTEGER, lat REAL, lon REAL, PRIMARY KEY (participant_id, seq))"
)
db.commit()

races: dict[str, str] = {}
tokens: dict[str, tuple[str, str]] = {}
spectators: dict[str, set[WebSocket]] = {}


class NewRace(BaseModel):
    name: str


class NewParticipant(BaseModel):
    name: str


@app.post("/api/races", status_code=201)
def create_race(body: NewRace) -> dict[str, str]:
    race_id, organizer = secrets.token_urlsafe(6), secrets.token_urlsafe(32)
    races[race_id] = organizer
    return {"id": race_id, "name": body.name, "organizer_token": organizer}


@app.post("/api/races/{race_id}/participants", status_code=201)
def add_participant(
    race_id: str, body: NewParticipant, authorization: str = Header("")
) -> dict[str, str]:
    if races.get(race_id) != authorization.removeprefix("Bearer "):
        raise HTTPException(status_code=401, detail="bad organizer token")
    participant_id, token = secrets.token_urlsafe(6), secrets.token_urlsafe(32)
    tokens[token] = (participant_id, race_id)
    return {"id": participant_id, "name": body.name, "token": token, "join_url": ""}


@app.websocket("/ws/runner")
async def runner(ws: WebSocket) -> None:
    await ws.accept()
    hello = await ws.receive_json()
    participant_id, race_id = tokens[hello["token"]]
    row = db.execute(
        "SELECT max(seq) FROM points WHERE participant_id = ?", (participant_id,)
    ).fetchone()
    await ws.send_json(
        {
            "type": "welcome",
            "participant_id": participant_id,
            "race_id": race_id,
            "last_seq": row[0] or 0,
        }
    )
    try:
        while True:
            message = await ws.receive_json()
            for point in message["points"]:
                await store_and_broadcast(ws, participant_id, race_id, point)
    except WebSocketDisconnect:
        return


async def store_and_broadcast(
    ws: WebSocket, participant_id: str, race_id: str, point: dict[str, object]
) -> None:
    """Commit one point, ack it, then tell every spectator about it."""
    time_ms = int(datetime.fromisoformat(str(point["time"])).timestamp() * 1000)
    db.execute(
        "INSERT OR IGNORE INTO points VALUES (?, ?, ?, ?, ?)",
        (participant_id, point["seq"], time_ms, point["lat"], point["lon"]),
    )
    db.commit()
    await ws.send_json({"type": "ack", "seq": point["seq"]})
    update = json.dumps(
        {
            "type": "update",
            "standings": [
                {
                    "participant_id": participant_id,
                    "position": [point["lat"], point["lon"], time_ms],
                }
            ],
        }
    )
    for spectator in list(spectators.get(race_id, ())):
        try:
            await spectator.send_text(update)
        except Exception:
            spectators[race_id].discard(spectator)


@app.websocket("/ws/races/{race_id}")
async def spectator(ws: WebSocket, race_id: str) -> None:
    await ws.accept()
    await ws.send_json({"type": "snapshot", "standings": []})
    spectators.setdefault(race_id, set()).add(ws)
    try:
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        spectators[race_id].discard(ws)


if __name__ == "__main__":
    uvicorn.run(
        app,
        host=os.environ.get("PACE_HOST", "127.0.0.1"),
        port=int(os.environ.get("PACE_PORT", "8000")),
        log_level="warning",
    )
