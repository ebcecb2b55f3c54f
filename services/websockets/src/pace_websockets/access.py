"""Who may read what: private races and their spectator link token.

A public race is readable by anyone. A private race's standings, participant
list, tracks and live feed need its spectator token, or its organiser token,
given either as ``Authorization: Bearer <token>`` or as ``?key=<token>`` (a
browser cannot set headers on a WebSocket). The spectator link carries the
token in the URL fragment (``/races/{id}#key=...``), which never reaches a
server log; the page passes it on as ``key``. Tokens are compared as their
SHA-256 digests with :func:`hmac.compare_digest`.

Writing is checked elsewhere: a runner's token names its participant (so it
can write only its own track) and the organiser's token is checked against
the one race it was issued for (``api._authorize``).
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from pace_websockets.problems import ApiError
from pace_websockets.storage import RaceRecord

__all__ = ["PRIVATE", "PUBLIC", "check_reader", "token_hash"]

PUBLIC = "public"
PRIVATE = "private"


def token_hash(token: str) -> str:
    """Tokens are stored and looked up only as their SHA-256 hex digest."""
    return hashlib.sha256(token.encode()).hexdigest()


def _presented(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.query.get("key") or None


def check_reader(request: web.Request, race: RaceRecord) -> None:
    """Refuse a read of a private race without its spectator or organiser token."""
    if race.visibility != PRIVATE:
        return
    token = _presented(request)
    if token is None:
        raise ApiError(
            401,
            f"race {race.id!r} is private: a spectator token is required",
            "spectator_token_required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    digest = token_hash(token)
    allowed = (race.spectator_token_hash or "", race.organizer_token_hash)
    # Compare with both, always, so the time taken says nothing of which matched.
    matches = [hmac.compare_digest(digest, h) for h in allowed]
    if not any(matches):
        raise ApiError(403, f"not a token of race {race.id!r}", "forbidden")
