"""PostgreSQL restarted under streaming runners: acks wait, nothing is lost.

The machine's shared PostgreSQL is left alone: the test makes a throwaway
cluster with ``initdb`` in a temporary directory, owned by the ``postgres``
user (initdb refuses root), on a free port, and restarts that one.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from streamer import Streamer
from wskit import Server, free_port, new_race

pytestmark = [pytest.mark.faults, pytest.mark.postgres]


class Cluster:
    """A private PostgreSQL cluster run as the ``postgres`` user."""

    def __init__(self, root: Path) -> None:
        self.bin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
        self.data, self.port = root / "data", free_port()
        root.chmod(0o777)
        self.log = root / "pg.log"

    def _as_postgres(self, *args: str) -> None:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "pace"
        )

    def pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            action,
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            *extra,
        )

    @property
    def url(self) -> str:
        return f"postgresql://pace@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        pytest.fail("initdb is not installed (apt-get install postgresql)")
    # Outside pytest's root-only temp tree, so the postgres user can reach it.
    root = Path(tempfile.mkdtemp(prefix="pace-pg-"))
    db = Cluster(root)
    db.init()
    db.pg_ctl("start")
    try:
        yield db
    finally:
        db.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(root, ignore_errors=True)


async def stored(url: str) -> dict[str, list[int]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT participant_id, seq FROM points ORDER BY participant_id, seq"
        )
    finally:
        await conn.close()
    out: dict[str, list[int]] = {}
    for row in rows:
        out.setdefault(row["participant_id"], []).append(int(row["seq"]))
    return out


async def test_postgres_restart_loses_no_point(
    http: aiohttp.ClientSession, tmp_path: Path, cluster: Cluster
) -> None:
    """Acks pause while PostgreSQL restarts; afterwards every point is stored once."""
    srv = Server(tmp_path / "unused.db", PACE_DATABASE_URL=cluster.url)
    srv.start()
    try:
        race = await new_race(http, srv)
        people = [await race.add(f"R{i}") for i in range(5)]
        streamers = [Streamer(srv.ws_url, p["token"], 600) for p in people]
        tasks = [asyncio.create_task(s.run(http)) for s in streamers]
        while sum(s.acked for s in streamers) < 500:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        acked_before = [s.acked for s in streamers]
        await asyncio.to_thread(cluster.pg_ctl, "restart", "-m", "fast")
        await asyncio.wait_for(asyncio.gather(*tasks), 180)
    finally:
        srv.stop(signal.SIGKILL)

    assert all(s.broken == [] for s in streamers)
    held = await stored(cluster.url)
    for p, before in zip(people, acked_before, strict=True):
        assert before > 0
        assert held[p["id"]] == list(range(1, 601)), p["id"]
