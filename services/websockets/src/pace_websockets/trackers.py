"""Reading the fixes that off-the-shelf tracker apps send over HTTP.

Two wire formats, no I/O here (``http_ingest.py`` serves them):

- **OsmAnd**, as Traccar Client sends it: query parameters (or a form body)
  ``id``, ``lat``, ``lon``, ``timestamp``, ``speed`` (knots), ``bearing``,
  ``altitude``, ``accuracy``, ``batt``; and, from Traccar Client 9 on, a JSON
  body ``{"device_id", "location": {"timestamp", "coords": {...}}}`` whose
  ``speed`` is in m/s (the Traccar server converts the two the same way).
- **OwnTracks** HTTP mode: a JSON object, or a list of them, with
  ``_type: "location"``, ``lat``, ``lon``, ``tst`` (Unix seconds), ``acc``,
  ``alt``, ``vel`` (km/h), ``cog``; other ``_type`` values are skipped.

These apps send no ``seq``: a fix's seq is its time in milliseconds, which a
tracker never repeats for two different fixes and which grows as it records.
A resent fix has the same time, hence the same seq, and is taken as a resend.

The apps' "unknown" sentinels (-1 for speed, heading or accuracy) become
None rather than ``out_of_range`` refusals: they describe a good fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pace_core.messages import Point

__all__ = [
    "KNOT_MPS",
    "BadTrackerData",
    "Fixes",
    "osmand_json",
    "osmand_query",
    "owntracks",
    "parse_time",
]

KNOT_MPS = 1852.0 / 3600.0
"""One knot in m/s: the OsmAnd query protocol carries speed in knots."""

_KMH_MPS = 1.0 / 3.6
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT32_MAX = 2**31 - 1
"""Traccar's rule: a numeric timestamp below this is seconds, above it ms."""

Fixes = list[Point]


class BadTrackerData(ValueError):
    """A request that is not the tracker protocol (a 400, not a refusal)."""


def osmand_query(params: Mapping[str, str], now_ms: int) -> tuple[str | None, Fixes]:
    """The device id and the one fix of an OsmAnd query string or form body.

    A missing ``timestamp`` means "now", as the Traccar server reads it.
    """
    token = params.get("id") or params.get("deviceid")
    if "location" in params and "lat" not in params:
        lat_text, _, lon_text = params["location"].partition(",")
    else:
        lat_text, lon_text = _required(params, "lat"), _required(params, "lon")
    stamp = params.get("timestamp")
    ms = now_ms if stamp is None else parse_time(stamp)
    speed = _number(params, "speed")
    fix = _point(
        ms,
        _float("lat", lat_text),
        _float("lon", lon_text),
        alt=_number(params, "altitude"),
        accuracy=_number(params, "accuracy"),
        speed=None if speed is None else speed * KNOT_MPS,
        heading=_number(params, "bearing", _number(params, "heading")),
    )
    return token, [fix]


def osmand_json(body: object) -> tuple[str | None, Fixes]:
    """The device id and fixes of Traccar Client's JSON body.

    ``location`` is one object, or a list when the app syncs in batches.
    """
    if not isinstance(body, dict):
        raise BadTrackerData("body must be a JSON object with a location")
    token = body.get("device_id")
    locations = body.get("location")
    if isinstance(locations, dict):
        locations = [locations]
    if not isinstance(locations, list) or not locations:
        raise BadTrackerData("location must be an object or a non-empty list")
    return _text_or_none(token), [_traccar_location(item) for item in locations]


def _traccar_location(item: object) -> Point:
    if not isinstance(item, dict) or not isinstance(item.get("coords"), dict):
        raise BadTrackerData("each location needs a coords object")
    coords: dict[str, Any] = item["coords"]
    stamp = item.get("timestamp")
    if not isinstance(stamp, str | int | float) or isinstance(stamp, bool):
        raise BadTrackerData("location.timestamp is required")
    return _point(
        parse_time(str(stamp)),
        _json_float(coords, "latitude", required=True) or 0.0,
        _json_float(coords, "longitude", required=True) or 0.0,
        alt=_json_float(coords, "altitude"),
        accuracy=_json_float(coords, "accuracy"),
        speed=_json_float(coords, "speed"),
        heading=_json_float(coords, "heading"),
    )


def owntracks(body: object) -> Fixes:
    """The fixes of an OwnTracks payload: ``location`` messages only."""
    items = body if isinstance(body, list) else [body]
    fixes: Fixes = []
    for item in items:
        if not isinstance(item, dict):
            raise BadTrackerData("each message must be a JSON object")
        if item.get("_type") == "location":
            fixes.append(_owntracks_location(item))
    return fixes


def _owntracks_location(item: dict[str, Any]) -> Point:
    tst = item.get("tst")
    if not isinstance(tst, int | float) or isinstance(tst, bool):
        raise BadTrackerData("location.tst (Unix seconds) is required")
    if isinstance(tst, float) and not math.isfinite(tst * 1000):
        raise BadTrackerData(f"location.tst {tst!r} is not a time")
    vel = _json_float(item, "vel")
    return _point(
        round(tst * 1000),
        _json_float(item, "lat", required=True) or 0.0,
        _json_float(item, "lon", required=True) or 0.0,
        alt=_json_float(item, "alt"),
        accuracy=_json_float(item, "acc"),
        speed=None if vel is None else vel * _KMH_MPS,
        heading=_json_float(item, "cog"),
    )


def parse_time(text: str) -> int:
    """Milliseconds since the epoch from Unix seconds, ms or ISO 8601 text.

    Numbers below 2**31 are seconds (fractions kept), larger ones ms, as
    Traccar reads them. ISO 8601 text needs an offset: a time without one
    is ambiguous, and Pace never guesses a time zone.
    """
    try:
        number = float(text)
    except ValueError:
        return _iso_ms(text)
    if not math.isfinite(number) or number < 0:
        raise BadTrackerData(f"timestamp {text!r} is not a time")
    return round(number * 1000) if number < _INT32_MAX else round(number)


def _iso_ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise BadTrackerData(f"timestamp {text!r} is not a time") from None
    if moment.tzinfo is None:
        raise BadTrackerData(f"timestamp {text!r} has no UTC offset")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _point(
    ms: int,
    lat: float,
    lon: float,
    *,
    alt: float | None,
    accuracy: float | None,
    speed: float | None,
    heading: float | None,
) -> Point:
    """A protocol point whose seq is its fix time in ms (see the docstring).

    A time before 1970 or past year 9999 is clamped into that range, where
    the server clock's check refuses it as ``too_old`` or ``future`` (200,
    the point refused) instead of failing the request.
    """
    ms = min(max(ms, 1), _LAST_MS)
    return Point(
        seq=ms,
        time=_EPOCH + timedelta(milliseconds=ms),
        lat=lat,
        lon=lon,
        alt=alt,
        accuracy=_known(accuracy),
        speed=_known(speed),
        heading=_known(heading),
    )


_LAST_MS = (datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
"""The latest fix time a tracker point can carry (a datetime's last day)."""


def _known(value: float | None) -> float | None:
    """The apps' -1 "unknown" sentinel (any negative) as None."""
    return None if value is None or value < 0 else value


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise BadTrackerData(f"{name} is required")
    return value


def _float(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadTrackerData(f"{name} {text!r} is not a number") from None


def _number(
    params: Mapping[str, str], name: str, default: float | None = None
) -> float | None:
    text = params.get(name)
    return default if text is None or text == "" else _float(name, text)


def _json_float(
    obj: dict[str, Any], name: str, *, required: bool = False
) -> float | None:
    value = obj.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise BadTrackerData(f"{name} must be a number, not {value!r}")
    return float(value)


def _text_or_none(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | int):
        return str(value)
    raise BadTrackerData("device_id must be a string")
