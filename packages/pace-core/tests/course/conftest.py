"""Shared fixtures for the course tests: real course files and recordings.

The files live in ``../shared/data/gpx`` beside the repository (see its
SOURCES.md); CI has them there too.
"""

from __future__ import annotations

from pathlib import Path

import gpxpy
import pytest
from pace_core.course import Course
from pace_core.engine import Fix

REPO_ROOT = Path(__file__).resolve().parents[4]
DATA = REPO_ROOT.parent / "shared" / "data" / "gpx"
T0 = 1_718_460_000_000
"""An arbitrary start time, ms since the epoch (2024-06-15)."""


def read(name: str) -> str:
    """The text of a file from the shared recordings."""
    return (DATA / name).read_text(encoding="utf-8")


def km_marks(count: int) -> list[tuple[str, float]]:
    """Checkpoints at every whole kilometre below ``count``."""
    return [(f"km {k}", 1000.0 * k) for k in range(1, count)]


def recording_fixes(name: str) -> list[Fix]:
    """Every timed point of a GPX recording, as engine fixes in file order."""
    with (DATA / name).open(encoding="utf-8") as handle:
        gpx = gpxpy.parse(handle)
    points = [p for p in gpx.walk(only_points=True) if p.time is not None]
    return [
        Fix(i + 1, round(p.time.timestamp() * 1000), p.latitude, p.longitude)
        for i, p in enumerate(points)
    ]


@pytest.fixture(scope="session")
def gatchina() -> Course:
    """The 10 km city course, legs out and back on shared streets, km marks."""
    return Course.from_gpx(
        read("course_gatchina_half_marathon_2024_10k.gpx"), marks=km_marks(10)
    )


@pytest.fixture(scope="session")
def hyde_park_laps() -> Course:
    """The Hyde Park loop recording as a three-lap course."""
    return Course.from_gpx(read("cmpgpx_hyde_park_loop_recording_1.gpx"), laps=3)


@pytest.fixture(scope="session")
def thursride() -> Course:
    """The 56.8 km TCX route, with a checkpoint every 5 km."""
    marks = [(f"km {k}", 1000.0 * k) for k in range(5, 56, 5)]
    return Course.from_tcx(read("gpsbabel_tcx_course_thursride_56km.tcx"), marks=marks)
