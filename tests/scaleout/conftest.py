"""Several real service processes sharing one PostgreSQL schema and one Redis prefix.

Every test gets a fresh schema (dropped after its instances are gone) and a
fresh broker prefix on the machine's shared PostgreSQL and Redis, so tests and
engineers running them at the same time never see each other's races.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Instance:
    """One ``python -m pace_websockets`` on a free port, killable with SIGKILL."""

    def __init__(self, name: str, workdir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}.log"
        self.env = {
            **os.environ,
            "PACE_HOST": "127.0.0.1",
            "PACE_PORT": str(self.port),
            "PACE_INSTANCE_ID": name,
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pace_websockets"],
                env=self.env,
                stdout=log,
                stderr=log,
            )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Until ``/readyz`` answers 200: storage and broker both reachable."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.logs()
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.1)
        raise AssertionError(f"{self.name} never became ready:\n{self.logs()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)

    def logs(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


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
