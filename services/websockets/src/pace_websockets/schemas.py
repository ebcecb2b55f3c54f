"""Bodies of the HTTP API as msgspec structs: validated on the way in, and the
source of the schemas in ``/openapi.json``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from pace_core.messages import RaceInfo, Standing

__all__ = [
    "Arrival",
    "Arrivals",
    "CheckpointSpec",
    "CreateParticipant",
    "CreateRace",
    "Health",
    "ParticipantCreated",
    "ParticipantInfo",
    "Problem",
    "RaceCreated",
    "RaceDetail",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Distance = Annotated[float, msgspec.Meta(gt=0, le=1_000_000)]


class CreateRace(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/races``."""

    name: Name
    distance_m: Distance | None = None
    """Target distance; None for an open race with no finish."""
    starts_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    """Common start (RFC 3339, years 2000-2100); None: each runner at first fix."""
    visibility: Literal["public", "private"] = "public"
    """A private race is readable only with its spectator token (access.py)."""
    course: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    """A course race: the course file's text (GPX, TCX or GeoJSON)."""
    laps: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    """Laps of the course's line (default 1, or the GeoJSON's ``laps``)."""
    checkpoints: list[CheckpointSpec] | None = None
    """Named checkpoints by distance along the course, besides start and finish."""


class CheckpointSpec(msgspec.Struct, forbid_unknown_fields=True):
    """A named checkpoint at ``distance_m`` along the course."""

    name: Name
    distance_m: Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]


class RaceCreated(RaceInfo):
    """The race, and the organiser's secret (shown once, stored only hashed)."""

    organizer_token: str
    spectator_token: str | None = None
    """Private races only: the token every reader needs (shown once)."""
    spectator_url: str | None = None
    """Private races only: the race page, the token in the fragment."""


class RaceDetail(RaceInfo):
    """A race with its live standings, leader first."""

    standings: list[Standing]


class CreateParticipant(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/races/{race_id}/participants``."""

    name: Name


class ParticipantCreated(msgspec.Struct):
    """A participant and their secret; ``join_url`` carries it in the fragment."""

    id: str
    race_id: str
    name: str
    token: str
    join_url: str


class ParticipantInfo(msgspec.Struct):
    id: str
    race_id: str
    name: str
    revoked: bool


class Health(msgspec.Struct, omit_defaults=True):
    """``/healthz`` says ``ok``; ``/readyz`` says ``ready`` or ``degraded`` and why."""

    status: str
    storage: str | None = None
    broker: str | None = None


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details; ``type`` is stable, ``detail`` is for people."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str | None = None


class Arrival(msgspec.Struct):
    """A participant expected at a spot on the course, with a band of times."""

    participant_id: str
    name: str
    time: str
    earliest: str
    latest: str


class Arrivals(msgspec.Struct):
    """``GET /api/races/{race_id}/arrivals``: who reaches ``distance_m`` next."""

    distance_m: float
    server_time: str
    arrivals: list[Arrival]
