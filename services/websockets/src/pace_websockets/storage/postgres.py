"""PostgreSQL storage for several instances sharing one database (asyncpg).

Selected by ``PACE_DATABASE_URL=postgresql://user@host:port/db``. Two query
parameters are read here and removed before asyncpg sees the URL:

- ``schema=NAME`` puts every table in schema ``NAME`` (created if missing), so
  that tests and several deployments can share one database;
- ``pool_size=N`` caps the connection pool (default 10).

Connections come from a pool. A connection that PostgreSQL dropped (a
restart, a failover) fails the statement that used it; every operation here
is idempotent, so it is retried once on a fresh connection and a restart costs
the caller nothing but a short wait. A database that stays away raises
:class:`StorageUnavailable`.

``write_batch`` copies the points into a per-connection temporary table with
the binary COPY protocol, then moves them into ``points`` with one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING``; the snapshots are upserted in
the same transaction. That was measured faster than ``executemany`` at every
batch size the committer produces (``docs/scaling.md``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from .base import (
    ParticipantRecord,
    PointRow,
    RaceRecord,
    Storage,
    StorageError,
    StorageFull,
    StorageRejected,
    StorageUnavailable,
)
from .migrations import MIGRATIONS, SCHEMA_TABLE, statements

__all__ = ["PostgresStorage"]

logger = logging.getLogger("pace.storage")

T = TypeVar("T")

_MIGRATION_LOCK = 7_160_233
"""Advisory lock key: instances starting together migrate one at a time."""

_POINT_COLUMNS = (
    "participant_id",
    "seq",
    "time",
    "lat",
    "lon",
    "alt",
    "accuracy",
    "speed",
    "heading",
    "received_at",
    "reason",
)
_COLUMN_LIST = ", ".join(_POINT_COLUMNS)

_STAGING_DDL = """
CREATE TEMPORARY TABLE IF NOT EXISTS points_in (
    participant_id TEXT NOT NULL, seq BIGINT NOT NULL, time BIGINT NOT NULL,
    lat DOUBLE PRECISION NOT NULL, lon DOUBLE PRECISION NOT NULL,
    alt DOUBLE PRECISION, accuracy DOUBLE PRECISION, speed DOUBLE PRECISION,
    heading DOUBLE PRECISION, received_at BIGINT NOT NULL, reason TEXT
) ON COMMIT DELETE ROWS
"""

_MOVE_STAGED = f"""
INSERT INTO points ({_COLUMN_LIST})
SELECT {_COLUMN_LIST} FROM points_in
ON CONFLICT (participant_id, seq) DO NOTHING
"""

_UPSERT_SNAPSHOT = """
INSERT INTO snapshots (participant_id, data) VALUES ($1, $2)
ON CONFLICT (participant_id) DO UPDATE SET data = EXCLUDED.data
"""

_RACE_COLUMNS = (
    "id, name, distance_m, starts_at, created_at, organizer_token_hash, status,"
    " course, visibility, spectator_token_hash, ended_at"
)
_PARTICIPANT_COLUMNS = "id, race_id, name, token_hash, created_at, revoked"

# SQLSTATE classes that mean "the server is going away or not there yet".
_UNAVAILABLE_CLASSES = ("08", "57")
_FULL_STATES = ("53100",)
_UNAVAILABLE_STATES = ("53300",)  # too_many_connections: try again later
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def split_url(url: str) -> tuple[str, str | None, int]:
    """Return the DSN for asyncpg, the schema and the pool size from ``url``."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    schema = query.pop("schema", None) or None
    size = query.pop("pool_size", "10")
    if not size.isdigit() or int(size) < 1:
        raise StorageError(f"pool_size must be a positive integer: {size!r}")
    pool_size = int(size)
    if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
        raise StorageError(f"schema must match [a-z_][a-z0-9_]*: {schema!r}")
    dsn = urlunsplit(parts._replace(query=urlencode(query)))
    return dsn, schema, pool_size


def translate(exc: BaseException) -> StorageError:
    """Map an asyncpg or OS error onto the storage exception tree."""
    if isinstance(exc, StorageError):
        return exc
    state = getattr(exc, "sqlstate", None) or ""
    # Class 22 is "data exception"; the driver refuses the others before sending
    # (its DataError is an InterfaceError, so this comes before "unavailable").
    if state[:2] == "22" or isinstance(exc, _REJECTED_ERRORS):
        return StorageRejected(f"postgresql cannot store a value: {exc!r}")
    if state in _FULL_STATES:
        return StorageFull(f"database is full: {exc}")
    if (
        state[:2] in _UNAVAILABLE_CLASSES
        or state in _UNAVAILABLE_STATES
        or isinstance(exc, _UNAVAILABLE_ERRORS)
    ):
        return StorageUnavailable(f"postgresql unavailable: {exc!r}")
    return StorageError(f"postgresql error: {exc!r}")


_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    # A connection the server terminated while it sat idle in the pool fails
    # its next statement with this protocol-state error instead of a clean
    # "connection closed": it is a lost connection all the same.
    asyncpg.exceptions.InternalClientError,
)


_REJECTED_ERRORS: tuple[type[BaseException], ...] = (
    OverflowError,
    asyncpg.exceptions.DataError,
)


def _race(row: asyncpg.Record) -> RaceRecord:
    return RaceRecord(*row)


def _participant(row: asyncpg.Record) -> ParticipantRecord:
    values = list(row)
    values[-1] = bool(values[-1])
    return ParticipantRecord(*values)


class PostgresStorage(Storage):
    """Races, participants, points and snapshots in PostgreSQL."""

    def __init__(self, url: str, *, connect_timeout_s: float = 5.0) -> None:
        self._dsn, self._schema, self._pool_size = split_url(url)
        self._connect_timeout_s = connect_timeout_s
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        settings = {"application_name": "pace"}
        if self._schema is not None:
            settings["search_path"] = self._schema
            settings["application_name"] = f"pace/{self._schema}"
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                timeout=self._connect_timeout_s,
                command_timeout=30.0,
                server_settings=settings,
                init=_prepare_connection,
            )
            await self._migrate()
        except Exception as exc:
            await self.close()
            raise translate(exc) from exc
        logger.info("postgresql storage open", extra={"schema": self._schema})

    async def _migrate(self) -> None:
        """Apply each missing migration in its own transaction, one instance at a time.

        Instances that start together serialise on an advisory lock, so the
        second one finds the schema current and applies nothing.
        """
        async with self._connection() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
            try:
                await self._apply_missing(conn)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)

    async def _apply_missing(self, conn: asyncpg.Connection) -> None:
        if self._schema is not None:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
        await conn.execute(SCHEMA_TABLE)
        rows = await conn.fetch("SELECT version FROM schema_migrations")
        applied = {row[0] for row in rows}
        for migration in MIGRATIONS:
            if migration.version in applied:
                continue
            async with conn.transaction():
                for sql in statements(migration, "postgresql"):
                    await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    int(time.time() * 1000),
                )
            logger.info("applied migration %d: %s", migration.version, migration.name)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _connection(self) -> Any:
        if self._pool is None:
            raise StorageError("postgresql storage is not open")
        return self._pool.acquire()

    async def _run(self, operation: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run ``operation`` on a pooled connection, retrying once on a dropped one.

        Every caller is idempotent, so a second attempt after PostgreSQL closed
        the connection (a restart) cannot store anything twice.
        """
        for attempt in (1, 2):
            try:
                async with self._connection() as conn:
                    return await operation(conn)
            except StorageError:
                raise
            except Exception as exc:
                error = translate(exc)
                if attempt == 2 or not isinstance(error, StorageUnavailable):
                    raise error from exc
                logger.warning("postgresql connection lost, retrying: %r", exc)
                if self._pool is not None:
                    await self._pool.expire_connections()
        raise AssertionError("unreachable")

    async def ping(self) -> None:
        await self._run(lambda conn: conn.fetchval("SELECT 1"))

    async def create_race(self, race: RaceRecord) -> None:
        sql = f"INSERT INTO races ({_RACE_COLUMNS}) VALUES ({_params(11)})"
        await self._run(lambda conn: conn.execute(sql, *race))

    async def get_race(self, race_id: str) -> RaceRecord | None:
        sql = f"SELECT {_RACE_COLUMNS} FROM races WHERE id = $1"
        row = await self._run(lambda conn: conn.fetchrow(sql, race_id))
        return None if row is None else _race(row)

    async def list_races(self) -> list[RaceRecord]:
        sql = f"SELECT {_RACE_COLUMNS} FROM races ORDER BY created_at DESC, id"
        rows = await self._run(lambda conn: conn.fetch(sql))
        return [_race(row) for row in rows]

    async def end_race(self, race_id: str, ended_at: int) -> None:
        sql = "UPDATE races SET status = 'ended', ended_at = $2 WHERE id = $1"
        await self._run(lambda conn: conn.execute(sql, race_id, ended_at))

    async def add_participant(self, participant: ParticipantRecord) -> None:
        sql = f"INSERT INTO participants ({_PARTICIPANT_COLUMNS}) VALUES ({_params(6)})"
        await self._run(lambda conn: conn.execute(sql, *participant))

    async def participant_by_token_hash(
        self, token_hash: str
    ) -> ParticipantRecord | None:
        sql = f"SELECT {_PARTICIPANT_COLUMNS} FROM participants WHERE token_hash = $1"
        row = await self._run(lambda conn: conn.fetchrow(sql, token_hash))
        return None if row is None else _participant(row)

    async def get_participant(self, participant_id: str) -> ParticipantRecord | None:
        sql = f"SELECT {_PARTICIPANT_COLUMNS} FROM participants WHERE id = $1"
        row = await self._run(lambda conn: conn.fetchrow(sql, participant_id))
        return None if row is None else _participant(row)

    async def list_participants(self, race_id: str) -> list[ParticipantRecord]:
        sql = (
            f"SELECT {_PARTICIPANT_COLUMNS} FROM participants"
            " WHERE race_id = $1 ORDER BY created_at, id"
        )
        rows = await self._run(lambda conn: conn.fetch(sql, race_id))
        return [_participant(row) for row in rows]

    async def revoke_participant(self, participant_id: str) -> None:
        sql = "UPDATE participants SET revoked = TRUE WHERE id = $1"
        await self._run(lambda conn: conn.execute(sql, participant_id))

    async def write_batch(
        self,
        points: Sequence[PointRow],
        snapshots: Sequence[tuple[str, bytes]],
    ) -> None:
        if points or snapshots:
            await self._run(lambda conn: _write(conn, points, snapshots))

    async def last_seq(self, participant_id: str) -> int:
        sql = "SELECT coalesce(max(seq), 0) FROM points WHERE participant_id = $1"
        value = await self._run(lambda conn: conn.fetchval(sql, participant_id))
        return int(value)

    async def load_points(
        self, participant_id: str, after_seq: int = 0
    ) -> list[PointRow]:
        sql = (
            f"SELECT {_COLUMN_LIST} FROM points"
            " WHERE participant_id = $1 AND seq > $2 ORDER BY seq"
        )
        rows = await self._run(lambda conn: conn.fetch(sql, participant_id, after_seq))
        return [PointRow(*row) for row in rows]

    async def load_snapshots(self, race_id: str) -> dict[str, bytes]:
        sql = (
            "SELECT s.participant_id, s.data FROM snapshots s"
            " JOIN participants p ON p.id = s.participant_id WHERE p.race_id = $1"
        )
        rows = await self._run(lambda conn: conn.fetch(sql, race_id))
        return {row[0]: bytes(row[1]) for row in rows}


async def _prepare_connection(conn: asyncpg.Connection) -> None:
    """Create the session's staging table once per pooled connection."""
    await conn.execute(_STAGING_DDL)


async def _write(
    conn: asyncpg.Connection,
    points: Sequence[PointRow],
    snapshots: Sequence[tuple[str, bytes]],
) -> None:
    """Stage, move and upsert in one transaction; the staging rows vanish at commit."""
    async with conn.transaction():
        if points:
            await conn.copy_records_to_table(
                "points_in", records=points, columns=_POINT_COLUMNS
            )
            await conn.execute(_MOVE_STAGED)
        if snapshots:
            await conn.executemany(_UPSERT_SNAPSHOT, snapshots)


def _params(count: int) -> str:
    return ", ".join(f"${index}" for index in range(1, count + 1))
