"""The storage boundary: what the service asks of a database.

Two backends implement it, :mod:`.sqlite` (the embedded default) and
:mod:`.postgres`; both pass the same test suite. The service never talks to a
database driver directly, and driver exceptions never cross this boundary:
each backend translates them into :class:`StorageError` (or a subclass) with
the original chained as ``__cause__``.

Exception tree::

    StorageError
    ├── StorageUnavailable   the database cannot be reached, or is locked too long
    ├── StorageFull          the disk (or quota) is full: nothing more can be written
    └── StorageRejected      the database refused a value itself (an integer past
                             its range): the same rows fail again, never retry them

Times are ``int`` milliseconds since the Unix epoch (UTC) everywhere here.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import NamedTuple

__all__ = [
    "ParticipantRecord",
    "PointRow",
    "RaceRecord",
    "Storage",
    "StorageError",
    "StorageFull",
    "StorageRejected",
    "StorageUnavailable",
]


class StorageError(Exception):
    """A storage operation failed; the cause is chained."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or stayed locked past the timeout."""


class StorageFull(StorageError):
    """The disk or quota is full."""


class StorageRejected(StorageError):
    """The rows hold a value the database cannot store; a retry fails the same."""


class RaceRecord(NamedTuple):
    id: str
    name: str
    distance_m: float | None
    starts_at: int | None
    created_at: int
    organizer_token_hash: str
    status: str
    """``open`` while the race accepts points, ``ended`` once the organiser ends it."""
    course: str | None = None
    """The course as GeoJSON text, for course races; None for a plain distance race."""
    visibility: str = "public"
    spectator_token_hash: str | None = None
    ended_at: int | None = None


class ParticipantRecord(NamedTuple):
    id: str
    race_id: str
    name: str
    token_hash: str
    created_at: int
    revoked: bool = False


class PointRow(NamedTuple):
    """One stored fix. ``reason`` is None for a counted point, else why it was not."""

    participant_id: str
    seq: int
    time: int
    lat: float
    lon: float
    alt: float | None
    accuracy: float | None
    speed: float | None
    heading: float | None
    received_at: int
    reason: str | None


class Storage(abc.ABC):
    """A database holding races, participants, points and live snapshots.

    ``write_batch`` is the hot path: the service's group committer calls it with
    every point that arrived since the previous commit, from every connection,
    and acknowledges those points only after it returns.
    """

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date (idempotent migrations)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections; pending work must have been committed by the caller."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise :class:`StorageError` unless the database answers a trivial query."""

    @abc.abstractmethod
    async def create_race(self, race: RaceRecord) -> None: ...

    @abc.abstractmethod
    async def get_race(self, race_id: str) -> RaceRecord | None: ...

    @abc.abstractmethod
    async def list_races(self) -> list[RaceRecord]: ...

    @abc.abstractmethod
    async def end_race(self, race_id: str, ended_at: int) -> None: ...

    @abc.abstractmethod
    async def add_participant(self, participant: ParticipantRecord) -> None: ...

    @abc.abstractmethod
    async def participant_by_token_hash(
        self, token_hash: str
    ) -> ParticipantRecord | None: ...

    @abc.abstractmethod
    async def get_participant(
        self, participant_id: str
    ) -> ParticipantRecord | None: ...

    @abc.abstractmethod
    async def list_participants(self, race_id: str) -> list[ParticipantRecord]: ...

    @abc.abstractmethod
    async def revoke_participant(self, participant_id: str) -> None: ...

    @abc.abstractmethod
    async def write_batch(
        self,
        points: Sequence[PointRow],
        snapshots: Sequence[tuple[str, bytes]],
    ) -> None:
        """Commit ``points`` and the participants' latest snapshots in one transaction.

        A point whose ``(participant_id, seq)`` is already stored is skipped, not
        an error: resent points are normal. ``snapshots`` are
        ``(participant_id, encoded standing)`` pairs that replace the stored one.
        """

    @abc.abstractmethod
    async def last_seq(self, participant_id: str) -> int:
        """The highest stored seq of the participant, 0 if none."""

    @abc.abstractmethod
    async def load_points(
        self, participant_id: str, after_seq: int = 0
    ) -> list[PointRow]:
        """Every stored point of the participant with seq > ``after_seq``, by seq."""

    @abc.abstractmethod
    async def load_snapshots(self, race_id: str) -> dict[str, bytes]:
        """The latest stored snapshot of each participant of the race that has one."""
