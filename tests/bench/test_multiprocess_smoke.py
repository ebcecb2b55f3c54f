"""The multi-process scenario, run tiny: two real instances on PostgreSQL and Redis.

This checks that the scenario measures (acks, cross-instance feed samples,
per-process CPU, Redis and PostgreSQL figures come back well formed), never
how fast anything is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.engines import engine_pids
from bench.multiprocess import QUICK, measure
from bench.multireport import derived, table

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


async def test_two_instances_report_per_process_and_engine_figures(
    tmp_path: Path,
) -> None:
    """Two instances: every point acked, a spectator on B sees A's runners."""
    results = await measure(QUICK, tmp_path)
    (session,) = results["sessions"]
    assert "failed" not in session, session.get("failed")
    window = session["windows"][0]
    assert session["processes"] == 2 and len(session["instances"]) == 2
    assert session["unacked_after_drain"] == 0
    assert window["acked_per_s"] > 0 and window["errors"] == 0
    assert all(i["acked_per_s"] > 0 for i in window["instances"])
    assert window["p2s_samples"] > 0
    assert window["redis_messages_per_s"] > 0 and window["pace_commits_per_s"] > 0
    assert window["postgres_commits_per_s_all"] > 0
    assert derived(session)["redis_bytes_per_message"] > 0
    assert table(results).count("\n") == 3


def test_engine_pids_finds_the_running_redis_server() -> None:
    """The Redis the tests use is found by process name in /proc."""
    assert engine_pids("redis-server")
