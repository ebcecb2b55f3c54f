"""The storage contract, run against every backend: SQLite files and PostgreSQL.

Each PostgreSQL test gets its own fresh schema (``?schema=``), dropped after it;
each SQLite test its own file in a temporary directory.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from pace_websockets.storage import open_storage
from pace_websockets.storage.base import (
    ParticipantRecord,
    PointRow,
    RaceRecord,
    Storage,
    StorageError,
    StorageUnavailable,
)
from pace_websockets.storage.postgres import PostgresStorage

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"

Opener = Callable[[], Awaitable[Storage]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    """A URL to an empty database of each backend, removed after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pace.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:16]}"
    yield f"{PG_SERVER}?schema={schema}"
    conn = await asyncpg.connect(PG_SERVER)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def reopen(backend_url: str) -> AsyncIterator[Opener]:
    """Open (again) the test's database; every handle is closed at the end."""
    opened: list[Storage] = []

    async def open_() -> Storage:
        storage = await open_storage(backend_url)
        opened.append(storage)
        return storage

    yield open_
    for storage in opened:
        await storage.close()


@pytest.fixture
async def storage(reopen: Opener) -> Storage:
    return await reopen()


def race(race_id: str = "r1", created_at: int = 1_000, **changes: object) -> RaceRecord:
    record = RaceRecord(
        race_id, "Spring 10k", 10_000.0, 2_000, created_at, "org", "open"
    )
    return record._replace(**changes)


def runner(
    pid: str = "p1", race_id: str = "r1", created_at: int = 1_500
) -> ParticipantRecord:
    return ParticipantRecord(pid, race_id, f"runner {pid}", f"hash-{pid}", created_at)


def point(seq: int, pid: str = "p1", **changes: object) -> PointRow:
    row = PointRow(
        pid,
        seq,
        1_700_000_000_000 + seq * 1000,
        59.33 + seq * 1e-5,
        18.06,
        None,
        4.5,
        None,
        None,
        1_700_000_000_500 + seq * 1000,
        None,
    )
    return row._replace(**changes)


async def seeded(storage: Storage, *pids: str) -> Storage:
    await storage.create_race(race())
    for pid in pids or ("p1",):
        await storage.add_participant(runner(pid))
    return storage


async def test_race_round_trips(storage: Storage) -> None:
    """A created race reads back with every field, and an unknown id is None."""
    record = race(
        course='{"type": "LineString", "coordinates": [[18.0, 59.3], [18.1, 59.3]]}',
        visibility="private",
        spectator_token_hash="spec",
    )
    await storage.create_race(record)

    assert await storage.get_race("r1") == record
    assert await storage.get_race("nope") is None


async def test_races_listed_newest_first(storage: Storage) -> None:
    """list_races returns every race, the most recently created first."""
    await storage.create_race(race("old", created_at=1))
    await storage.create_race(race("new", created_at=3))
    await storage.create_race(race("mid", created_at=2))

    assert [r.id for r in await storage.list_races()] == ["new", "mid", "old"]


async def test_end_race(storage: Storage) -> None:
    """Ending a race records the status and the end time."""
    await storage.create_race(race())
    await storage.end_race("r1", 9_999)

    ended = await storage.get_race("r1")
    assert ended is not None
    assert (ended.status, ended.ended_at) == ("ended", 9_999)


async def test_participant_found_by_token_hash(storage: Storage) -> None:
    """A participant is found by its token hash and by its id; others are None."""
    await seeded(storage, "p1", "p2")

    assert await storage.participant_by_token_hash("hash-p2") == runner("p2")
    assert await storage.get_participant("p1") == runner("p1")
    assert await storage.participant_by_token_hash("hash-none") is None
    assert await storage.get_participant("none") is None


async def test_participants_listed_per_race(storage: Storage) -> None:
    """list_participants returns the race's participants in creation order."""
    await seeded(storage)
    await storage.create_race(race("r2"))
    await storage.add_participant(runner("late", created_at=3_000))
    await storage.add_participant(runner("early", created_at=1_000))
    await storage.add_participant(runner("other", race_id="r2"))

    listed = await storage.list_participants("r1")

    assert [p.id for p in listed] == ["early", "p1", "late"]


async def test_token_hash_is_unique(storage: Storage) -> None:
    """A second participant with the same token hash is refused with StorageError."""
    await seeded(storage)

    with pytest.raises(StorageError) as raised:
        await storage.add_participant(runner("p1")._replace(id="p9"))
    assert raised.value.__cause__ is not None


async def test_revoke_participant(storage: Storage) -> None:
    """A revoked participant reads back revoked."""
    await seeded(storage)
    await storage.revoke_participant("p1")

    found = await storage.participant_by_token_hash("hash-p1")
    assert found is not None and found.revoked is True


async def test_points_round_trip_in_seq_order(storage: Storage) -> None:
    """Points written out of order load back by seq, with every field intact."""
    await seeded(storage)
    rows = [
        point(3, reason="low_accuracy"),
        point(1, alt=12.5, speed=3.2, heading=181.0),
        point(2),
    ]
    await storage.write_batch(rows, [])

    assert await storage.load_points("p1") == sorted(rows, key=lambda r: r.seq)


async def test_load_points_after_seq(storage: Storage) -> None:
    """load_points(after_seq=N) returns only the points with seq above N."""
    await seeded(storage, "p1", "p2")
    await storage.write_batch([point(s) for s in range(1, 11)] + [point(7, "p2")], [])

    assert [r.seq for r in await storage.load_points("p1", after_seq=7)] == [8, 9, 10]
    assert await storage.load_points("p1", after_seq=10) == []


async def test_duplicates_are_skipped(storage: Storage) -> None:
    """A resent (participant, seq) is skipped: the first stored version stays."""
    await seeded(storage)
    await storage.write_batch([point(1), point(2)], [])

    await storage.write_batch([point(2, lat=0.5), point(3), point(3, lat=0.7)], [])

    stored = await storage.load_points("p1")
    assert [r.seq for r in stored] == [1, 2, 3]
    assert stored[1] == point(2)


async def test_last_seq(storage: Storage) -> None:
    """last_seq is 0 with no points, then the highest stored seq."""
    await seeded(storage, "p1", "p2")
    assert await storage.last_seq("p1") == 0

    await storage.write_batch([point(5), point(2), point(9, "p2")], [])

    assert await storage.last_seq("p1") == 5
    assert await storage.last_seq("p2") == 9


async def test_snapshots_replace(storage: Storage) -> None:
    """A participant's snapshot is replaced by the next one, scoped to its race."""
    await seeded(storage, "p1", "p2")
    await storage.create_race(race("r2"))
    await storage.add_participant(runner("x", race_id="r2"))
    await storage.write_batch([point(1)], [("p1", b"\x00one"), ("x", b"other")])

    await storage.write_batch([], [("p1", b"\x00two"), ("p2", b"first")])

    assert await storage.load_snapshots("r1") == {"p1": b"\x00two", "p2": b"first"}
    assert await storage.load_snapshots("r2") == {"x": b"other"}


async def test_five_thousand_points_in_one_batch(storage: Storage) -> None:
    """A batch of 5,000 points from several participants is stored whole."""
    await seeded(storage, "a", "b", "c", "d", "e")
    rows = [point(seq, pid) for pid in "abcde" for seq in range(1, 1001)]

    await storage.write_batch(rows, [(pid, b"s") for pid in "abcde"])

    for pid in "abcde":
        assert await storage.last_seq(pid) == 1000
    assert len(await storage.load_points("c")) == 1000


async def test_failed_batch_stores_nothing(storage: Storage) -> None:
    """A batch the database refuses raises StorageError and stores none of it."""
    await seeded(storage)
    bad = point(3)._replace(lat=None)

    with pytest.raises(StorageError):
        await storage.write_batch([point(1), point(2), bad], [("p1", b"snap")])

    assert await storage.load_points("p1") == []
    assert await storage.load_snapshots("r1") == {}


async def test_reopen_keeps_data(storage: Storage, reopen: Opener) -> None:
    """Opening the same database again migrates nothing twice and keeps the data."""
    await seeded(storage)
    await storage.write_batch([point(1)], [])
    await storage.close()

    again = await reopen()

    assert await again.last_seq("p1") == 1
    assert await again.get_race("r1") == race()


async def test_ping_answers(storage: Storage) -> None:
    """ping() returns when the database is there."""
    await storage.ping()


async def test_closed_storage_raises_storage_error(storage: Storage) -> None:
    """Using a closed storage raises StorageError, not a driver exception."""
    await storage.close()

    with pytest.raises(StorageError):
        await storage.last_seq("p1")


async def test_unreachable_sqlite_is_unavailable(tmp_path: Path) -> None:
    """A SQLite file that cannot be opened raises StorageUnavailable."""
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'pace.db'}"

    with pytest.raises(StorageUnavailable) as raised:
        await open_storage(url)
    assert raised.value.__cause__ is not None
    await aiosqlite_threads_finished()


async def aiosqlite_threads_finished() -> None:
    """Let aiosqlite's worker thread hand its last result to this loop and exit.

    After a failed connect aiosqlite stops its thread asynchronously; if the
    loop closed first, the thread would report "Event loop is closed".
    """
    for _ in range(500):
        workers = [
            thread
            for thread in threading.enumerate()
            if "_connection_worker_thread" in thread.name
        ]
        if not workers:
            return
        await asyncio.sleep(0.01)


@pytest.mark.postgres
async def test_unreachable_postgres_is_unavailable() -> None:
    """A PostgreSQL URL on a port nobody listens on raises StorageUnavailable."""
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"

    with pytest.raises(StorageUnavailable) as raised:
        await open_storage(url)
    assert isinstance(raised.value.__cause__, OSError)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A URL to a fresh PostgreSQL schema, dropped after the test."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    yield f"{PG_SERVER}?schema={schema}"
    conn = await asyncpg.connect(PG_SERVER)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


async def terminate_backends(schema: str) -> int:
    """Make PostgreSQL drop the schema's connections, as a restart would."""
    admin = await asyncpg.connect(PG_SERVER)
    try:
        killed: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = $1",
            f"pace/{schema}",
        )
        return killed
    finally:
        await admin.close()


@pytest.mark.postgres
async def test_postgres_connections_dropped_then_recovered(pg_url: str) -> None:
    """After PostgreSQL drops every connection (as in a restart), calls still work."""
    storage = await open_storage(pg_url)
    try:
        await seeded(storage)
        await storage.write_batch([point(1)], [])

        assert await terminate_backends(pg_url.rsplit("schema=", 1)[1]) >= 1

        await storage.write_batch([point(2)], [("p1", b"after")])
        assert await storage.last_seq("p1") == 2
        await storage.ping()
    finally:
        await storage.close()


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("schema=Bad-Name", "schema"),
        ("schema=x;drop", "schema"),
        ("pool_size=0", "pool_size"),
        ("pool_size=many", "pool_size"),
    ],
)
def test_bad_postgres_url_parameters_are_refused(query: str, named: str) -> None:
    """A schema or pool size that cannot be used is a StorageError naming it."""
    with pytest.raises(StorageError, match=f"^{named} must"):
        PostgresStorage(f"{PG_SERVER}?{query}")
