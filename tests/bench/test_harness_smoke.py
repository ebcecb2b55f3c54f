"""The benchmark harness, run small against the real service and the bare peer.

These check that the harness measures (counts, acks, latencies, server CPU and
RSS come back well formed), never how fast anything is: timing is reported by
``make bench``, not asserted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.procstat import parse_histograms
from bench.scenario import Load, run_session

pytestmark = pytest.mark.slow

RUNNERS, SPECTATORS = 20, 3


async def small_session(kind: str, tmp_path: Path) -> dict[str, Any]:
    load = Load(
        kind,
        RUNNERS,
        [SPECTATORS],
        windows=1,
        window_s=3.0,
        warmup_s=2.0,
        ramp_per_s=200.0,
        probes=1,
    )
    return await run_session(load, tmp_path)


async def test_pace_session_acks_every_point_and_feeds_spectators(
    tmp_path: Path,
) -> None:
    """Against Pace every point sent is acked and reaches the probe spectator."""
    session = await small_session("pace", tmp_path)
    window = session["by_audience"][str(SPECTATORS)]["windows"][0]
    assert window["sent_per_s"] > 0 and window["acked_per_s"] > 0
    assert window["rejected"] == 0 and window["errors"] == 0
    assert session["unacked_after_drain"] == 0
    assert window["p2s_samples"] > 0 and window["spectator_frames_per_s"] > 0
    assert window["pace_storage_batch_points_mean"] >= 1


async def test_bare_peer_session_reports_server_cost(tmp_path: Path) -> None:
    """Against the bare peer the harness reads server CPU and RSS per runner."""
    session = await small_session("bare", tmp_path)
    window = session["by_audience"][str(SPECTATORS)]["windows"][0]
    assert session["unacked_after_drain"] == 0
    assert window["server_us_per_point"] > 0
    assert session["rss_per_runner_kib"] > 0
    assert window["p2s_samples"] == 0


def test_histogram_parser_sums_labels_and_reads_buckets() -> None:
    """Prometheus histogram text turns into buckets, a sum and a count."""
    text = (
        'pace_storage_batch_points_bucket{le="10.0"} 3.0\n'
        'pace_storage_batch_points_bucket{le="+Inf"} 4.0\n'
        "pace_storage_batch_points_sum 25.0\n"
        "pace_storage_batch_points_count 4.0\n"
    )
    hist = parse_histograms(text, ("pace_storage_batch_points",))[
        "pace_storage_batch_points"
    ]
    assert (hist.mean(), hist.quantile(0.5), hist.quantile(1.0)) == (
        6.25,
        10.0,
        float("inf"),
    )
