"""Pace's wire messages: every JSON frame that crosses a WebSocket.

The protocol is documented for people in ``docs/protocol.md``; this module is
the machine-readable half of it. Each message is a ``msgspec.Struct`` tagged by
its ``type`` field, so one decoder per direction turns a frame into the right
class in a single pass, and one encoder turns a class back into bytes.

Points are decoded loosely on purpose (plain ``float`` for coordinates, no
range constraints): a batch with one bad point must still be accepted for its
good points, and the bad one refused with its ``seq`` and a reason. Range and
finiteness checks live in :mod:`pace_core.filtering`.

Timestamps on the wire are RFC 3339 strings with an offset. Inside Pace a time
is an ``int`` of milliseconds since the Unix epoch (UTC), which is what the
engine, storage and the feed use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

__all__ = [
    "MAX_POINTS_PER_BATCH",
    "Ack",
    "CheckpointTime",
    "ClientMessage",
    "Error",
    "Event",
    "EventKind",
    "Hello",
    "LivePosition",
    "Point",
    "Points",
    "RaceInfo",
    "Reconnect",
    "Rejected",
    "RunnerServerMessage",
    "Snapshot",
    "Split",
    "Standing",
    "Stats",
    "Status",
    "Update",
    "Welcome",
    "decode_client_message",
    "decode_runner_server_message",
    "decode_spectator_message",
    "encode",
]

MAX_POINTS_PER_BATCH = 1000
"""The most points one ``points`` message may carry (an hour of 1 Hz fixes would
need four messages, which the reference client does by itself)."""

Status = Literal["waiting", "running", "finished", "disconnected"]
EventKind = Literal[
    "started",
    "split",
    "finished",
    "disconnected",
    "corrected",
    "checkpoint",
    "off_course",
    "back_on_course",
    "stalled",
    "moving",
]

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


# --- runner to server -------------------------------------------------------


class Hello(msgspec.Struct, tag="hello", tag_field="type", forbid_unknown_fields=False):
    """First message on ``/ws/runner``: who is speaking."""

    token: str
    client: str | None = None


class Point(msgspec.Struct, forbid_unknown_fields=False):
    """One GPS fix as the phone recorded it. ``seq`` is the client's own counter."""

    seq: int
    time: AwareDatetime
    lat: float
    lon: float
    alt: float | None = None
    accuracy: float | None = None
    speed: float | None = None
    heading: float | None = None


class Points(
    msgspec.Struct, tag="points", tag_field="type", forbid_unknown_fields=False
):
    """A batch of fixes, in any order; the server sorts them by ``seq``."""

    points: list[Point]


ClientMessage = Hello | Points


# --- server to runner -------------------------------------------------------


class Welcome(msgspec.Struct, tag="welcome", tag_field="type"):
    """Answer to ``hello``: ``last_seq`` is the highest seq held durably (0 if none)."""

    participant_id: str
    race_id: str
    last_seq: int


class Rejected(msgspec.Struct):
    """A point the server will never count or store: do not resend it."""

    seq: int
    reason: str


class Ack(msgspec.Struct, tag="ack", tag_field="type", omit_defaults=True):
    """Every point with a seq up to ``seq`` is committed, or listed in ``rejected``."""

    seq: int
    rejected: list[Rejected] = []


class Split(msgspec.Struct):
    """Time at which a runner passed a whole kilometre (or a checkpoint)."""

    km: int
    time: str
    """Interpolated time of passing, RFC 3339."""
    elapsed_s: float
    split_s: float
    """Time since the previous split (or the start)."""


class LivePosition(msgspec.Struct, array_like=True):
    """The last counted fix, compact on the wire: ``[lat, lon, time_ms]``."""

    lat: float
    lon: float
    time: int


class CheckpointTime(msgspec.Struct, omit_defaults=True):
    """A course checkpoint and when the participant passed it (course races)."""

    name: str
    distance_m: float
    time: str | None
    """RFC 3339 interpolated passing time, or null until passed."""
    predicted: str | None = None
    """Predicted passing time (RFC 3339) while not yet passed, if known."""


class Standing(msgspec.Struct, omit_defaults=True):
    """One participant's live state, as in ``GET /api/races/{id}`` and the feed.

    The fields after ``position`` exist only in course races (they have
    defaults and are left out of the JSON otherwise, so a plain race's frames
    are unchanged).
    """

    participant_id: str
    name: str
    rank: int
    status: Status
    distance_m: float
    elapsed_s: float | None
    pace_s_per_km: float | None
    avg_pace_s_per_km: float | None
    finish_time: str | None
    """RFC 3339, or null until the participant finishes."""
    splits: list[Split]
    position: LivePosition | None
    progress_m: float | None = None
    """Distance along the course (course races)."""
    checkpoints: list[CheckpointTime] | None = None
    predicted_finish_time: str | None = None
    off_course: bool | None = None
    stalled: bool | None = None
    provisional: bool | None = None
    """Rank from GPS progress between checkpoints, confirmed at the next one."""


class Stats(msgspec.Struct, tag="stats", tag_field="type"):
    """The runner's own live state, sent to the runner after its points count."""

    standing: Standing
    participants: int


class Error(msgspec.Struct, tag="error", tag_field="type", omit_defaults=True):
    """A refusal: ``code`` is stable (docs/protocol.md), ``message`` is for people."""

    code: str
    message: str
    seq: int | None = None


class Reconnect(msgspec.Struct, tag="reconnect", tag_field="type"):
    """The server is going away: reconnect after ``retry_after_ms`` (with jitter)."""

    reason: str
    retry_after_ms: int


RunnerServerMessage = Welcome | Ack | Stats | Error | Reconnect


# --- server to spectator ----------------------------------------------------


class RaceInfo(msgspec.Struct):
    """A race as the HTTP API and the feed describe it."""

    id: str
    name: str
    distance_m: float | None
    starts_at: str | None
    created_at: str
    status: str
    participants: int


class Snapshot(msgspec.Struct, tag="snapshot", tag_field="type"):
    """Sent once on connect: the whole race."""

    race: RaceInfo
    standings: list[Standing]
    server_time: int
    tick: int


class Update(msgspec.Struct, tag="update", tag_field="type"):
    """Sent each tick that something changed: only the changed participants.

    Entries carry no ``splits`` (an empty list): splits arrive as ``split`` events
    and in the snapshot.
    """

    standings: list[Standing]
    server_time: int
    tick: int


class Event(msgspec.Struct, tag="event", tag_field="type", omit_defaults=True):
    """Something that happened to one participant, at ``time`` (ms since epoch)."""

    event: EventKind
    participant_id: str
    time: int
    name: str | None = None
    km: int | None = None
    elapsed_s: float | None = None
    distance_m: float | None = None
    checkpoint: str | None = None
    """The checkpoint's name, for ``checkpoint`` events of course races."""


SpectatorMessage = Snapshot | Update | Event | Error | Reconnect


# --- codecs -----------------------------------------------------------------

_encoder = msgspec.json.Encoder()
_client_decoder = msgspec.json.Decoder(ClientMessage)
_runner_server_decoder = msgspec.json.Decoder(RunnerServerMessage)
_spectator_decoder = msgspec.json.Decoder(SpectatorMessage)


def encode(message: msgspec.Struct) -> bytes:
    """Encode any message to its JSON bytes."""
    return _encoder.encode(message)


def decode_client_message(data: bytes | str) -> Hello | Points:
    """Decode a runner frame; raises msgspec ``ValidationError`` or ``DecodeError``."""
    return _client_decoder.decode(data)


def decode_runner_server_message(data: bytes | str) -> RunnerServerMessage:
    """Decode what the server sends a runner (used by clients)."""
    return _runner_server_decoder.decode(data)


def decode_spectator_message(data: bytes | str) -> SpectatorMessage:
    """Decode what the server sends a spectator (used by clients and tests)."""
    return _spectator_decoder.decode(data)
