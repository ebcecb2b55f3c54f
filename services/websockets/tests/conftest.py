"""Fixtures that run the real service as a subprocess on a free port."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from wskit import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a whole test module; tests isolate by creating races."""
    srv = Server(tmp_path_factory.mktemp("pace") / "pace.db")
    srv.start()
    yield srv
    if srv.proc is not None:
        srv.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
