"""PostgresStorage across a real restart of a throwaway PostgreSQL server.

The machine's shared server is never restarted: each test here runs its own
cluster (initdb into a temporary directory, a free port, trust auth, fsync
off) and restarts or stops it with pg_ctl.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pace_websockets.storage import open_storage
from pace_websockets.storage.base import (
    ParticipantRecord,
    PointRow,
    RaceRecord,
    StorageUnavailable,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresCluster:
    """A private PostgreSQL cluster; pg_ctl runs as ``postgres`` when we are root."""

    def __init__(self, workdir: Path) -> None:
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
        self.workdir, self.data, self.port = workdir, workdir / "data", free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        command = [*prefix, str(self.bin / tool), *args]
        # pg_ctl's server keeps inherited pipes open: never capture its output.
        subprocess.run(
            command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def pg_ctl(self, action: str) -> None:
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1"
            " -c fsync=off"
        )
        log = str(self.workdir / "server.log")
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-m",
            "fast",
            "-w",
            "-o",
            options,
            "-l",
            log,
            action,
        )


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    """A started private cluster, stopped and deleted after the test.

    Its directory is directly under the system temp dir: pytest's own temp
    tree is private to root, where the ``postgres`` user cannot reach it.
    """
    workdir = Path(tempfile.mkdtemp(prefix="pace-pg-"))
    server = PostgresCluster(workdir)
    try:
        server.init()
        server.pg_ctl("start")
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.pg_ctl("stop")  # fails harmlessly if the test left it stopped
        shutil.rmtree(workdir, ignore_errors=True)


def point(seq: int) -> PointRow:
    return PointRow("p1", seq, seq * 1000, 59.3, 18.0, None, 5.0, None, None, 0, None)


async def test_storage_survives_a_postgres_restart(cluster: PostgresCluster) -> None:
    """After a restart the next write succeeds; while down, StorageUnavailable."""
    storage = await open_storage(cluster.url)
    try:
        await storage.create_race(RaceRecord("r1", "R", None, None, 1, "h", "open"))
        await storage.add_participant(ParticipantRecord("p1", "r1", "A", "t", 2))
        await storage.write_batch([point(1)], [])

        cluster.pg_ctl("restart")
        await storage.write_batch([point(2)], [("p1", b"after-restart")])
        assert await storage.last_seq("p1") == 2

        cluster.pg_ctl("stop")
        with pytest.raises(StorageUnavailable) as raised:
            await storage.write_batch([point(3)], [])
        assert isinstance(raised.value.__cause__, OSError)

        cluster.pg_ctl("start")
        await storage.write_batch([point(3)], [])
        assert [row.seq for row in await storage.load_points("p1")] == [1, 2, 3]
    finally:
        await storage.close()
