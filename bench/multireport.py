"""The multi-process scenario's figures in words: per-unit inputs and a table.

:func:`derived` turns one session of :mod:`bench.multiprocess` into the
figures the sizing in ``docs/scaling.md`` multiplies: CPU per point per
process, feed bytes per spectator and per standing entry, Redis bytes per
message and per point.
"""

from __future__ import annotations

from typing import Any

__all__ = ["derived", "table"]


def derived(session: dict[str, Any]) -> dict[str, Any]:
    """The per-unit figures the sizing in ``docs/scaling.md`` is computed from."""
    m = session["median"]
    spectators = max(session["spectators_connected"], 1)
    per_spectator = m["spectator_bytes_per_s"] / spectators
    us = [i["us_per_point"] for i in session["instances"] if i["us_per_point"]]
    return {
        "us_per_point_per_process": us,
        "feed_bytes_per_spectator_per_s": per_spectator,
        "feed_bytes_per_entry": per_spectator / max(session["runners"], 1),
        "redis_bytes_per_message": (
            m["redis_bytes_per_s"] / m["redis_messages_per_s"]
            if m["redis_messages_per_s"]
            else None
        ),
        "redis_bytes_per_point": m["redis_bytes_per_s"] / max(m["acked_per_s"], 1),
    }


def _f(value: float | None, fmt: str = ",.0f") -> str:
    return "-" if value is None else format(value, fmt)


def _each(instances: list[dict[str, Any]], key: str, fmt: str) -> str:
    return " / ".join(_f(i.get(key), fmt) for i in instances)


def table(results: dict[str, Any]) -> str:
    """Markdown rows, one per process count."""
    out = (
        "| N | R | S | points/s acked | ack p50 / p99 ms | spectator p50 / p99 ms "
        "| CPU per process | µs per own point | µs per race point | waited for a CPU "
        "| Pace commits/s | batch mean | Redis msgs/s | Redis bytes/msg "
        "| Redis CPU | PostgreSQL CPU | PG commits/s (all users) "
        "| WAL KB/s (all users) | feed bytes / spectator / s | bytes / entry "
        "| generator CPU (max) | load avg |\n"
        "|---|---:|---:|---:|---|---|---|---|---|---|---:|---|---:|---:"
        "|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    for s in results["sessions"]:
        if "failed" in s:
            out += f"| {s['processes']} | did not complete: {s['failed']} |\n"
            continue
        m, d, inst = s["median"], derived(s), s["instances"]
        each = lambda key, fmt, inst=inst: _each(inst, key, fmt)  # noqa: E731
        out += (
            f"| {s['processes']}{' (B follows)' if s.get('follower') else ''} "
            f"| {s['runners']:,} | {s['spectators_connected']} "
            f"| {_f(m['acked_per_s'])} "
            f"| {_f(m['ack_p50_ms'], '.0f')} / {_f(m['ack_p99_ms'], '.0f')} "
            f"| {_f(m['p2s_p50_ms'], '.0f')} / {_f(m['p2s_p99_ms'], '.0f')} "
            f"| {each('cpu_util', '.0%')} | {each('us_per_point', '.0f')} "
            f"| {each('us_per_race_point', '.0f')} "
            f"| {each('cpu_wait_frac', '.0%')} | {_f(m['pace_commits_per_s'], '.1f')} "
            f"| {each('pace_storage_batch_points_mean', '.0f')} "
            f"| {_f(m['redis_messages_per_s'], '.1f')} "
            f"| {_f(d['redis_bytes_per_message'])} "
            f"| {m['redis_cpu_util']:.1%} | {m['postgres_cpu_util']:.1%} "
            f"| {_f(m['postgres_commits_per_s_all'])} "
            f"| {_f(m['postgres_wal_bytes_per_s_all'] / 1e3)} "
            f"| {_f(d['feed_bytes_per_spectator_per_s'])} "
            f"| {_f(d['feed_bytes_per_entry'], '.0f')} "
            f"| {m['generator_cpu_util_max']:.0%} | {m['load_avg_1m']:.1f} |\n"
        )
    return out
