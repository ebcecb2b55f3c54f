"""The schema, as a versioned list of SQL migrations shared by both backends.

Each :class:`Migration` holds statements written once with a few placeholders
for the types the two dialects spell differently (``{blob}``, ``{bool}``,
``{false}``, ``{points_suffix}``); :func:`statements` fills them in for a
dialect. A backend applies, in one transaction each, every migration whose
version is not yet in ``schema_migrations``, so opening a database twice or
with an older release is safe. Never edit a released migration: append one.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

__all__ = ["MIGRATIONS", "SCHEMA_TABLE", "Dialect", "Migration", "statements"]

Dialect = Literal["sqlite", "postgresql"]

SCHEMA_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)"""


class Migration(NamedTuple):
    version: int
    name: str
    sql: tuple[str, ...]


_TYPES: dict[Dialect, dict[str, str]] = {
    "sqlite": {
        "blob": "BLOB",
        "bool": "INTEGER",
        "false": "0",
        # Points are read by participant and seq only: cluster them that way.
        "points_suffix": " WITHOUT ROWID",
    },
    "postgresql": {
        "blob": "BYTEA",
        "bool": "BOOLEAN",
        "false": "FALSE",
        "points_suffix": "",
    },
}

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "races, participants, points, snapshots",
        (
            """CREATE TABLE races (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                distance_m DOUBLE PRECISION,
                starts_at BIGINT,
                created_at BIGINT NOT NULL,
                organizer_token_hash TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'open',
                course TEXT,
                visibility TEXT NOT NULL DEFAULT 'public',
                spectator_token_hash TEXT,
                ended_at BIGINT
            )""",
            """CREATE TABLE participants (
                id TEXT PRIMARY KEY,
                race_id TEXT NOT NULL REFERENCES races (id),
                name TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL,
                revoked {bool} NOT NULL DEFAULT {false}
            )""",
            "CREATE INDEX participants_race ON participants (race_id)",
            """CREATE TABLE points (
                participant_id TEXT NOT NULL,
                seq BIGINT NOT NULL,
                time BIGINT NOT NULL,
                lat DOUBLE PRECISION NOT NULL,
                lon DOUBLE PRECISION NOT NULL,
                alt DOUBLE PRECISION,
                accuracy DOUBLE PRECISION,
                speed DOUBLE PRECISION,
                heading DOUBLE PRECISION,
                received_at BIGINT NOT NULL,
                reason TEXT,
                PRIMARY KEY (participant_id, seq)
            ){points_suffix}""",
            """CREATE TABLE snapshots (
                participant_id TEXT PRIMARY KEY,
                data {blob} NOT NULL
            )""",
        ),
    ),
)
"""Every migration, oldest first. Versions are consecutive from 1."""


def statements(migration: Migration, dialect: Dialect) -> list[str]:
    """The migration's SQL with the dialect's type names filled in."""
    types = _TYPES[dialect]
    return [sql.format(**types) for sql in migration.sql]
