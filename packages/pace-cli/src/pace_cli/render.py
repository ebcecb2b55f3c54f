"""Rich tables and number formats for what the ``pace`` command prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table

__all__ = ["format_duration", "format_pace", "standings_table"]


def format_duration(seconds: float | None) -> str:
    """``1:02:03`` or ``2:03``; an em dash for an unknown time."""
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_pace(s_per_km: float | None) -> str:
    """Minutes and seconds per kilometre, as runners read pace."""
    return "—" if s_per_km is None else f"{format_duration(s_per_km)} /km"


def standings_table(race: Mapping[str, Any]) -> Table:
    """The race's live standings as ``GET /api/races/{id}`` returns them."""
    target = race.get("distance_m")
    title = str(race.get("name", "race"))
    if target:
        title += f" · {target / 1000:g} km"
    table = Table(title=title)
    for header in ("rank", "name", "status", "distance", "time", "avg pace"):
        justify = "left" if header in ("name", "status") else "right"
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    standings: Sequence[Mapping[str, Any]] = race.get("standings") or []
    for row in standings:
        table.add_row(
            str(row.get("rank", "")),
            str(row.get("name", "")),
            str(row.get("status", "")),
            _distance(row),
            format_duration(row.get("elapsed_s")),
            format_pace(row.get("avg_pace_s_per_km")),
        )
    return table


def _distance(row: Mapping[str, Any]) -> str:
    """Progress along the course in a course race, else the distance run."""
    metres = row.get("progress_m")
    if metres is None:
        metres = row.get("distance_m")
    flags = [f for f in ("off_course", "stalled") if row.get(f)]
    text = f"{float(metres or 0.0) / 1000:.2f} km"
    return " ".join([text, *(f.replace("_", " ") for f in flags)])
