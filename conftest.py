"""Suite-wide pytest hooks: say where the shared recordings are looked for.

Tests read real recordings from ``../shared/data/gpx`` beside the clone, as CI
lays it out; a clone elsewhere fails those tests with FileNotFoundError, so
the header names the folder and whether it is there.
"""

from __future__ import annotations

from pathlib import Path

RECORDINGS = Path(__file__).resolve().parent.parent / "shared" / "data" / "gpx"


def pytest_report_header() -> str:
    found = "found" if RECORDINGS.is_dir() else "MISSING: tests that read it will fail"
    return f"shared recordings: {RECORDINGS} ({found})"
