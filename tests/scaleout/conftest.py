"""Several real service processes sharing one PostgreSQL schema and one Redis prefix.

Every test gets a fresh schema (dropped after its instances are gone) and a
fresh broker prefix on the machine's shared PostgreSQL and Redis, so tests and
engineers running them at the same time never see each other's races.
"""

from __future__ import annotations

import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from scaleout_kit import Instance, RedisProcess

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A PostgreSQL URL on a schema of this test only, dropped afterwards."""
    schema = f"scaleout_{uuid.uuid4().hex[:12]}"
    yield f"{PG_SERVER}?schema={schema}"
    conn = await asyncpg.connect(PG_SERVER)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Callable[..., list[Instance]]]:
    """Start named instances on the test's schema and a unique Redis prefix."""
    prefix = f"test:{uuid.uuid4().hex}:"
    started: list[Instance] = []

    def start(*names: str, **env: str) -> list[Instance]:
        shared = {
            "PACE_DATABASE_URL": pg_url,
            "PACE_BROKER_URL": REDIS_URL,
            "PACE_BROKER_PREFIX": prefix,
            "PACE_LOG_LEVEL": "INFO",
            **env,
        }
        instances = [Instance(name, tmp_path, shared) for name in names]
        for instance in instances:
            instance.start()
        started.extend(instances)
        for instance in instances:
            instance.wait_ready()
        return instances

    yield start
    for instance in started:
        instance.kill(signal.SIGTERM)
    print(f"instance logs in {tmp_path}")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """This test's own redis-server, never the machine's shared one."""
    server = RedisProcess(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
