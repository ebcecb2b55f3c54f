"""The floor of what Python does here: aiohttp + uvloop + msgspec, parse and count.

It speaks the same runner protocol as Pace (hello → welcome, points → ack) and
decodes every frame with Pace's own msgspec decoder, but stores nothing, runs
no engine and feeds no spectator beyond the snapshot: its CPU per point is
what the receive path alone costs, so Pace's figure can be read against it.
Run as ``python -m bench.peers.bare_peer.app`` with ``PACE_PORT``/``PACE_HOST``.
"""

from __future__ import annotations

import os
import secrets

import uvloop
from aiohttp import WSMsgType, web
from pace_core import messages

RACES: web.AppKey[dict[str, str]] = web.AppKey("races", dict)
TOKENS: web.AppKey[dict[str, tuple[str, str]]] = web.AppKey("tokens", dict)
_SNAPSHOT = b'{"type":"snapshot","standings":[]}'


async def create_race(request: web.Request) -> web.Response:
    race_id, organizer = secrets.token_urlsafe(6), secrets.token_urlsafe(32)
    request.app[RACES][race_id] = organizer
    return web.json_response({"id": race_id, "organizer_token": organizer}, status=201)


async def add_participant(request: web.Request) -> web.Response:
    race_id = request.match_info["race_id"]
    bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if request.app[RACES].get(race_id) != bearer:
        raise web.HTTPUnauthorized()
    participant_id, token = secrets.token_urlsafe(6), secrets.token_urlsafe(32)
    request.app[TOKENS][token] = (participant_id, race_id)
    body = {"id": participant_id, "token": token, "join_url": ""}
    return web.json_response(body, status=201)


async def runner(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            break
        decoded = messages.decode_client_message(msg.data)
        if isinstance(decoded, messages.Hello):
            pid, race_id = request.app[TOKENS][decoded.token]
            reply = messages.Welcome(participant_id=pid, race_id=race_id, last_seq=0)
        else:
            reply = messages.Ack(seq=max(p.seq for p in decoded.points))
        await ws.send_bytes(messages.encode(reply))
    return ws


async def spectator(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_bytes(_SNAPSHOT)
    async for _ in ws:
        pass
    return ws


def make_app() -> web.Application:
    app = web.Application()
    app[RACES], app[TOKENS] = {}, {}
    app.router.add_post("/api/races", create_race)
    app.router.add_post("/api/races/{race_id}/participants", add_participant)
    app.router.add_get("/ws/runner", runner)
    app.router.add_get("/ws/races/{race_id}", spectator)
    return app


if __name__ == "__main__":
    host = os.environ.get("PACE_HOST", "127.0.0.1")
    port = int(os.environ.get("PACE_PORT", "8000"))
    web.run_app(
        make_app(), host=host, port=port, print=None, loop=uvloop.new_event_loop()
    )
