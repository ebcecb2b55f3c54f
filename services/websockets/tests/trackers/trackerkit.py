"""What the tracker apps send, byte for byte in shape, and how to read it back."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from wskit import Server

LAT0, LON0 = 48.85, 2.35
STEP_DEG = 0.00003
"""About 3.3 m north per second: a runner's pace."""


def fix_time(i: int, start_s: int | None = None) -> int:
    """Unix seconds of fix ``i``, one a second, ending a little before now."""
    start = start_s if start_s is not None else int(time.time()) - 300
    return start + i


def traccar_query(token: str, i: int, start_s: int, **extra: str) -> dict[str, str]:
    """The query string Traccar Client (Android/iOS up to 8.x) sends.

    Speed is in knots there; ``batt`` a percentage; ``charge`` a boolean.
    """
    params = {
        "id": token,
        "timestamp": str(fix_time(i, start_s)),
        "lat": f"{LAT0 + i * STEP_DEG:.6f}",
        "lon": f"{LON0:.6f}",
        "speed": "6.4795",  # 3.333 m/s in knots
        "bearing": "0.0",
        "altitude": "35.0",
        "accuracy": "4.0",
        "batt": "87.0",
        "charge": "false",
    }
    params.update(extra)
    return params


def iso(seconds: float) -> str:
    """The ISO 8601 form the background-geolocation plugin writes."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def traccar_location(i: int, start_s: int) -> dict[str, Any]:
    """One location of Traccar Client 9's JSON template (speed in m/s)."""
    lat = LAT0 + i * STEP_DEG
    stamp = fix_time(i, start_s)
    return {
        "timestamp": iso(stamp),
        "coords": {
            "latitude": lat,
            "longitude": LON0,
            "accuracy": 4.7,
            "speed": 3.33,
            "heading": 0.5,
            "altitude": 35.2,
        },
        "is_moving": True,
        "odometer": 123.4,
        "event": "",
        "battery": {"level": 0.87, "is_charging": False},
        "activity": {"type": "on_foot"},
        "extras": {},
        "_": f"&id=x&lat={lat}&lon={LON0}&timestamp={iso(stamp)}&",
    }


def traccar_json(token: str, i: int, start_s: int) -> dict[str, Any]:
    """The whole JSON body: the location under ``location``, plus ``device_id``."""
    return {"location": traccar_location(i, start_s), "device_id": token}


def owntracks_location(i: int, start_s: int) -> dict[str, Any]:
    """An OwnTracks ``location`` message (vel in km/h, tst in Unix seconds)."""
    stamp = fix_time(i, start_s)
    return {
        "_type": "location",
        "BSSID": "b0:f2:8:45:94:33",
        "SSID": "Home",
        "acc": 5,
        "alt": 35,
        "batt": 87,
        "bs": 1,
        "cog": 0,
        "conn": "m",
        "created_at": stamp + 1,
        "lat": LAT0 + i * STEP_DEG,
        "lon": LON0,
        "m": 1,
        "t": "u",
        "tid": "ra",
        "topic": "owntracks/runner/phone",
        "tst": stamp,
        "vac": 3,
        "vel": 12,
    }


def basic(user: str, password: str) -> dict[str, str]:
    """OwnTracks' HTTP headers: Basic auth from its user/password settings."""
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {
        "Authorization": f"Basic {pair}",
        "X-Limit-U": user,
        "X-Limit-D": "phone",
        "Content-Type": "application/json",
    }


def stored(db_path: Path, participant_id: str) -> list[tuple[int, int, float, str]]:
    """(seq, time, lat, reason) of every stored point, read from the file."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT seq, time, lat, COALESCE(reason, '') FROM points"
            " WHERE participant_id = ? ORDER BY seq",
            (participant_id,),
        ).fetchall()
    return [(int(s), int(t), float(lat), str(r)) for s, t, lat, r in rows]


async def post_owntracks(
    http: aiohttp.ClientSession, server: Server, token: str, body: Any
) -> tuple[int, Any, dict[str, str]]:
    url = server.url + "/ingest/owntracks"
    headers = basic("runner", token)
    async with http.post(url, data=json.dumps(body), headers=headers) as r:
        return r.status, await r.json(content_type=None), dict(r.headers)
