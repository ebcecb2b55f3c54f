"""The order of a race: who leads.

Finished runners come first, by finish time; then everyone else by distance,
furthest first. Ties (same finish time, or same distance) go to whoever got
there first, judged by the time of their last counted fix, and then to the
participant id, so the order is total and the same on every instance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from pace_core.engine import TrackerView

__all__ = ["Entry", "Rankable", "rank", "sort_key"]


class Rankable(Protocol):
    """What :func:`rank` reads from an entry (any object with these attributes)."""

    @property
    def participant_id(self) -> str: ...

    @property
    def distance_m(self) -> float: ...

    @property
    def finish_time(self) -> int | None: ...

    @property
    def last_time(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Entry:
    """A participant as ranking sees them; :meth:`from_view` builds one."""

    participant_id: str
    distance_m: float
    finish_time: int | None = None
    last_time: int | None = None
    """Time of the last counted fix; None if the runner has not started."""

    @classmethod
    def from_view(cls, participant_id: str, view: TrackerView) -> Entry:
        """The entry for a tracker's view."""
        last = view.last_fix
        return cls(
            participant_id,
            view.distance_m,
            view.finish_time,
            last.time if last is not None else None,
        )


R = TypeVar("R", bound=Rankable)

_NEVER = float("inf")


def sort_key(entry: Rankable) -> tuple[int, float, float, str]:
    """The key :func:`rank` sorts by; smaller is better."""
    last = entry.last_time
    tie = float(last) if last is not None else _NEVER
    if entry.finish_time is not None:
        return (0, float(entry.finish_time), tie, entry.participant_id)
    return (1, -entry.distance_m, tie, entry.participant_id)


def rank(entries: Iterable[R]) -> list[R]:
    """The entries in race order, leader first; rank ``n`` is index ``n - 1``."""
    return sorted(entries, key=sort_key)
