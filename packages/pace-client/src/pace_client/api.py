"""Small async helpers for Pace's HTTP API, as the simulator and tests use it.

Each helper takes an open :class:`aiohttp.ClientSession` and the server's base
URL and returns the decoded JSON body. A non-2xx answer raises
:class:`~pace_client.errors.ProblemError` carrying the RFC 9457 problem's
``type``, ``title`` and ``detail`` (or the bare status when the body is not a
problem document, as from a proxy).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec

from pace_client.errors import PaceClientError, ProblemError

__all__ = ["add_participant", "create_race", "end_race", "get_race", "list_races"]

JSON = dict[str, Any]


async def create_race(
    session: aiohttp.ClientSession,
    base_url: str,
    name: str,
    *,
    distance_m: float | None = None,
    starts_at: str | None = None,
    course: str | None = None,
    laps: int | None = None,
) -> JSON:
    """``POST /api/races``: the race, with its ``organizer_token`` (shown once).

    ``course`` is a course file's text (GPX, TCX or GeoJSON): a course race.
    """
    body: JSON = {"name": name}
    if course is not None:
        body["course"] = course
    if laps is not None:
        body["laps"] = laps
    if distance_m is not None:
        body["distance_m"] = distance_m
    if starts_at is not None:
        body["starts_at"] = starts_at
    return _object(
        await _call(session, "POST", _url(base_url, "/api/races"), json=body)
    )


async def add_participant(
    session: aiohttp.ClientSession,
    base_url: str,
    race_id: str,
    name: str,
    organizer_token: str,
) -> JSON:
    """``POST /api/races/{id}/participants``: ``id``, ``token`` and ``join_url``."""
    url = _url(base_url, f"/api/races/{race_id}/participants")
    return _object(
        await _call(session, "POST", url, json={"name": name}, token=organizer_token)
    )


async def get_race(session: aiohttp.ClientSession, base_url: str, race_id: str) -> JSON:
    """``GET /api/races/{id}``: the race with its live ``standings``."""
    return _object(await _call(session, "GET", _url(base_url, f"/api/races/{race_id}")))


async def list_races(session: aiohttp.ClientSession, base_url: str) -> Any:
    """``GET /api/races``."""
    return await _call(session, "GET", _url(base_url, "/api/races"))


async def end_race(
    session: aiohttp.ClientSession, base_url: str, race_id: str, organizer_token: str
) -> JSON:
    """``POST /api/races/{id}/end`` (organiser only): the race stops taking points."""
    url = _url(base_url, f"/api/races/{race_id}/end")
    return _object(await _call(session, "POST", url, token=organizer_token))


def _object(body: Any) -> JSON:
    if not isinstance(body, dict):
        raise PaceClientError(f"expected a JSON object, got {type(body).__name__}")
    return body


def _url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


async def _call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    json: JSON | None = None,
    token: str | None = None,
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with session.request(method, url, json=json, headers=headers) as resp:
            body = await resp.read()
            if resp.status >= 400:
                raise _problem(resp.status, resp.reason or "", body)
    except aiohttp.ClientError as exc:
        raise PaceClientError(f"cannot reach {url}: {exc}") from exc
    return msgspec.json.decode(body) if body else {}


def _problem(status: int, reason: str, body: bytes) -> ProblemError:
    """Read a problem-details body; fall back to the status line for anything else."""
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError:
        doc = None
    if not isinstance(doc, dict):
        return ProblemError(status, "about:blank", reason, "")
    return ProblemError(
        status,
        str(doc.get("type", "about:blank")),
        str(doc.get("title", reason)),
        str(doc.get("detail", "")),
    )
