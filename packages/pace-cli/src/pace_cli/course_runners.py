"""Synthetic runners over a course, for ``pace simulate --course``.

Each runner is :func:`pace_core.course_simulation.simulate` over the course:
a pace that drifts around their own base speed, GPS noise, the occasional
jump and gap. The result is a :class:`~pace_client.tracks.Recording`, so the
simulation replays it exactly like a real file (shifted to end now, sent at
``--speed``).
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from pace_client.errors import RecordingError
from pace_client.tracks import RecordedFix, Recording
from pace_core.course import Course, CourseError
from pace_core.course_simulation import Detour, Noise, RunPlan, simulate

__all__ = ["course_recordings", "load_course"]

_T0 = 1_700_000_000_000
_BASE_SPEED_MPS = 3.2


def load_course(path: Path, laps: int | None = None) -> tuple[str, Course]:
    """The course file's text and the course it describes, or a RecordingError."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise RecordingError(f"cannot read course {path}: {exc}") from exc
    try:
        if text.lstrip().startswith("{"):
            return text, Course.from_geojson(text, laps=laps)
        if "<TrainingCenterDatabase" in text[:2000]:
            return text, Course.from_tcx(text, laps=laps or 1)
        return text, Course.from_gpx(text, laps=laps or 1)
    except CourseError as exc:
        raise RecordingError(f"bad course {path}: {exc}") from exc


def course_recordings(course: Course, count: int, seed: int = 1) -> list[Recording]:
    """``count`` runners 15 s apart, each a little slower than the one before.

    With three runners or more, the third stops for three minutes at 40 % of
    the course (the stalled flag) and, with four or more, the fourth leaves
    the course sideways by 150 m between 55 % and 62 % (the off-course flag).
    """
    rng = random.Random(seed)
    recordings = []
    length = course.length_m
    for index in range(count):
        speed = _BASE_SPEED_MPS * (1.08 - 0.04 * index) * rng.uniform(0.97, 1.03)
        plan = RunPlan(_T0 + index * 15_000, speed_mps=speed)
        if index == 2:
            plan = replace(plan, stop_at_m=0.4 * length, stop_s=180.0)
        if index == 3:
            plan = replace(plan, detour=Detour(0.55 * length, 0.62 * length))
        run = simulate(course, plan, Noise(), rng)
        fixes = [
            RecordedFix(f.seq, f.time, f.lat, f.lon, f.alt, f.speed) for f in run.fixes
        ]
        recordings.append(Recording(Path(f"runner-{index + 1}.sim"), fixes, 0, 0))
    return recordings
