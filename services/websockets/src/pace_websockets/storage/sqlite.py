"""The embedded default: one SQLite file in WAL mode, through aiosqlite.

Durability: an ack means the point is committed, and a commit here is made
with ``PRAGMA synchronous=FULL``, so the WAL is fsynced before ``write_batch``
returns and an acknowledged point survives a process kill *and* a power cut.
``synchronous=NORMAL`` (``sqlite:///pace.db?synchronous=normal``) skips that
fsync: it still survives SIGKILL of the process (the WAL write is in the OS
page cache before the commit returns) but a power loss or kernel crash can
lose the last commits, whose points the client will then never resend. Group
commit makes FULL cheap: one fsync covers every connection's points.

aiosqlite runs the one connection on its own thread, so the event loop never
blocks on disk; every statement of a batch waits behind the previous one.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import aiosqlite

from pace_websockets.storage.base import (
    ParticipantRecord,
    PointRow,
    RaceRecord,
    Storage,
    StorageError,
    StorageFull,
    StorageRejected,
    StorageUnavailable,
)
from pace_websockets.storage.migrations import MIGRATIONS, SCHEMA_TABLE, statements

__all__ = ["SQLiteStorage", "path_from_url"]

_RACE_COLUMNS = (
    "id, name, distance_m, starts_at, created_at, organizer_token_hash, status,"
    " course, visibility, spectator_token_hash, ended_at"
)
_PARTICIPANT_COLUMNS = "id, race_id, name, token_hash, created_at, revoked"
_POINT_COLUMNS = (
    "participant_id, seq, time, lat, lon, alt, accuracy, speed, heading,"
    " received_at, reason"
)
# ON CONFLICT DO NOTHING skips only resent (participant_id, seq) pairs; INSERT
# OR IGNORE would also skip a row breaking NOT NULL, silently losing a point.
_INSERT_POINTS = (
    f"INSERT INTO points ({_POINT_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (participant_id, seq) DO NOTHING"
)
_UPSERT_SNAPSHOT = (
    "INSERT INTO snapshots (participant_id, data) VALUES (?, ?)"
    " ON CONFLICT (participant_id) DO UPDATE SET data = excluded.data"
)
_UNAVAILABLE_CODES = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_READONLY,
}


def path_from_url(url: str) -> tuple[str, str]:
    """``sqlite:///./pace.db?synchronous=normal`` -> (``./pace.db``, ``NORMAL``)."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise StorageError(f"not a sqlite url: {url!r}")
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path:
        raise StorageError(f"sqlite url has no path: {url!r}")
    sync = parse_qs(parts.query).get("synchronous", ["full"])[0].upper()
    if sync not in {"FULL", "NORMAL", "EXTRA"}:
        raise StorageError(f"synchronous must be full, normal or extra, got {sync!r}")
    return path, sync


@contextmanager
def _translated() -> Iterator[None]:
    """Turn sqlite3 errors into the storage boundary's own, cause chained."""
    try:
        yield
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF == sqlite3.SQLITE_FULL:
            raise StorageFull(f"sqlite: {exc}") from exc
        if code is not None and code & 0xFF in _UNAVAILABLE_CODES:
            raise StorageUnavailable(f"sqlite: {exc}") from exc
        raise StorageError(f"sqlite: {exc}") from exc
    except ValueError as exc:  # aiosqlite: "no active connection"
        raise StorageUnavailable(f"sqlite: {exc}") from exc
    except (OverflowError, TypeError) as exc:  # a value sqlite cannot bind
        raise StorageRejected(f"sqlite cannot store a value: {exc}") from exc


class SQLiteStorage(Storage):
    """Storage in one SQLite file; see the module docstring for durability."""

    def __init__(self, url: str) -> None:
        self.path, self.synchronous = path_from_url(url)
        self._db: aiosqlite.Connection | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StorageUnavailable("sqlite storage is not open")
        return self._db

    async def open(self) -> None:
        with _translated():
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            for pragma in (
                "journal_mode=WAL",
                f"synchronous={self.synchronous}",
                "busy_timeout=5000",
                "foreign_keys=ON",
            ):
                await self.db.execute(f"PRAGMA {pragma}")
            await self._migrate()

    async def _migrate(self) -> None:
        await self.db.execute(SCHEMA_TABLE)
        async with self.db.execute("SELECT version FROM schema_migrations") as cur:
            applied = {row[0] for row in await cur.fetchall()}
        for migration in MIGRATIONS:
            if migration.version in applied:
                continue
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                for sql in statements(migration, "sqlite"):
                    await self.db.execute(sql)
                await self.db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (migration.version, migration.name, int(time.time() * 1000)),
                )
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            with _translated():
                await db.close()

    async def ping(self) -> None:
        with _translated():
            await (await self.db.execute("SELECT 1")).close()

    async def _one(self, sql: str, args: Sequence[object]) -> sqlite3.Row | None:
        with _translated():
            async with self.db.execute(sql, args) as cur:
                return await cur.fetchone()

    async def _all(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        with _translated():
            async with self.db.execute(sql, args) as cur:
                return list(await cur.fetchall())

    async def _write(self, sql: str, args: Sequence[object]) -> None:
        with _translated():
            await self.db.execute(sql, args)

    async def create_race(self, race: RaceRecord) -> None:
        marks = ", ".join("?" * len(race))
        await self._write(f"INSERT INTO races ({_RACE_COLUMNS}) VALUES ({marks})", race)

    async def get_race(self, race_id: str) -> RaceRecord | None:
        row = await self._one(
            f"SELECT {_RACE_COLUMNS} FROM races WHERE id = ?", (race_id,)
        )
        return None if row is None else RaceRecord(*row)

    async def list_races(self) -> list[RaceRecord]:
        rows = await self._all(
            f"SELECT {_RACE_COLUMNS} FROM races ORDER BY created_at DESC, id"
        )
        return [RaceRecord(*row) for row in rows]

    async def end_race(self, race_id: str, ended_at: int) -> None:
        await self._write(
            "UPDATE races SET status = 'ended', ended_at = ? WHERE id = ?",
            (ended_at, race_id),
        )

    async def add_participant(self, participant: ParticipantRecord) -> None:
        await self._write(
            f"INSERT INTO participants ({_PARTICIPANT_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?)",
            participant,
        )

    async def participant_by_token_hash(
        self, token_hash: str
    ) -> ParticipantRecord | None:
        row = await self._one(
            f"SELECT {_PARTICIPANT_COLUMNS} FROM participants WHERE token_hash = ?",
            (token_hash,),
        )
        return None if row is None else _participant(row)

    async def get_participant(self, participant_id: str) -> ParticipantRecord | None:
        row = await self._one(
            f"SELECT {_PARTICIPANT_COLUMNS} FROM participants WHERE id = ?",
            (participant_id,),
        )
        return None if row is None else _participant(row)

    async def list_participants(self, race_id: str) -> list[ParticipantRecord]:
        rows = await self._all(
            f"SELECT {_PARTICIPANT_COLUMNS} FROM participants"
            " WHERE race_id = ? ORDER BY created_at, id",
            (race_id,),
        )
        return [_participant(row) for row in rows]

    async def revoke_participant(self, participant_id: str) -> None:
        await self._write(
            "UPDATE participants SET revoked = 1 WHERE id = ?", (participant_id,)
        )

    async def write_batch(
        self,
        points: Sequence[PointRow],
        snapshots: Sequence[tuple[str, bytes]],
    ) -> None:
        # One trip to aiosqlite's thread for the whole transaction: four trips
        # (begin, two inserts, commit) cost four thread hand-offs per commit,
        # which dominated the CPU per point at low batch sizes (docs/architecture.md).
        with _translated():
            await self.db._execute(_write_batch, self.db._conn, points, snapshots)  # type: ignore[no-untyped-call]

    async def last_seq(self, participant_id: str) -> int:
        row = await self._one(
            "SELECT MAX(seq) FROM points WHERE participant_id = ?", (participant_id,)
        )
        return 0 if row is None or row[0] is None else int(row[0])

    async def load_points(
        self, participant_id: str, after_seq: int = 0
    ) -> list[PointRow]:
        rows = await self._all(
            f"SELECT {_POINT_COLUMNS} FROM points"
            " WHERE participant_id = ? AND seq > ? ORDER BY seq",
            (participant_id, after_seq),
        )
        return [PointRow(*row) for row in rows]

    async def load_snapshots(self, race_id: str) -> dict[str, bytes]:
        rows = await self._all(
            "SELECT s.participant_id, s.data FROM snapshots s"
            " JOIN participants p ON p.id = s.participant_id WHERE p.race_id = ?",
            (race_id,),
        )
        return {row[0]: bytes(row[1]) for row in rows}


def _write_batch(
    conn: sqlite3.Connection,
    points: Sequence[PointRow],
    snapshots: Sequence[tuple[str, bytes]],
) -> None:
    """The transaction of :meth:`SQLiteStorage.write_batch`, on the database thread."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if points:
            conn.executemany(_INSERT_POINTS, points)
        if snapshots:
            conn.executemany(_UPSERT_SNAPSHOT, snapshots)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _participant(row: sqlite3.Row) -> ParticipantRecord:
    return ParticipantRecord(row[0], row[1], row[2], row[3], row[4], bool(row[5]))
