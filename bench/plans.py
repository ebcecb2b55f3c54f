"""What ``--quick`` and ``--full`` run: loads, ladders, batch sizes, time budgets.

The full city race asks for 20,000 runners, but one process may hold at most
20,000 file descriptors on this machine (``ulimit -Hn``, which not even root
may raise in this container), and the server needs one per runner and per
spectator. The top row is therefore 18,500 runners, which leaves room for
1,000 spectators, the database and the listening socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FULL", "QUICK", "Plan"]

FD_BOUND_RUNNERS = 18_500


@dataclass(frozen=True)
class Plan:
    name: str
    city_runners: tuple[int, ...]
    audiences: tuple[int, ...]
    """Spectator counts, largest first."""
    peers: tuple[str, ...]
    windows: int
    window_s: float
    warmup_s: float
    ramp_per_s: float
    capacity_audience: int
    peer_ladder: tuple[int, ...]
    """Runner counts tried for each peer's capacity, smallest first."""
    pace_ladder: tuple[int, ...]
    storage_backends: tuple[str, ...]
    storage_batches: tuple[int, ...]
    storage_seconds: float
    profile_s: float
    profile_runners: int
    bare_runners: tuple[int, ...] = ()
    """Loads for the bare floor (only its CPU per point is compared)."""
    extra: dict[str, str] = field(default_factory=dict)


QUICK = Plan(
    name="quick",
    city_runners=(50,),
    audiences=(5,),
    peers=("bare", "fastapi"),
    windows=1,
    window_s=5.0,
    warmup_s=2.0,
    ramp_per_s=500.0,
    capacity_audience=5,
    peer_ladder=(),
    pace_ladder=(),
    storage_backends=("sqlite",),
    storage_batches=(50,),
    storage_seconds=1.0,
    profile_s=0.0,
    profile_runners=0,
    bare_runners=(50,),
)

FULL = Plan(
    name="full",
    city_runners=(1_000, 5_000, 10_000, FD_BOUND_RUNNERS),
    audiences=(1_000, 100),
    peers=("bare", "fastapi", "node"),
    windows=3,
    window_s=6.0,
    warmup_s=3.0,
    ramp_per_s=500.0,
    capacity_audience=1_000,
    peer_ladder=(50, 100, 200, 400),
    pace_ladder=(),
    storage_backends=("sqlite", "postgres"),
    storage_batches=(100, 1_000, 5_000),
    storage_seconds=2.0,
    profile_s=10.0,
    profile_runners=10_000,
    bare_runners=(1_000, 10_000),
)
