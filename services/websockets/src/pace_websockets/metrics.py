"""Every metric the service exports, declared once on a registry passed in.

Names follow ``pace_<thing>_<unit>`` with ``_total`` on counters. The
registry comes from :func:`pace_servicekit.new_registry`, which adds the
``process_*`` metrics (``process_cpu_seconds_total`` is what the per-point
cost in docs/architecture.md was measured with).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BROADCAST = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
_BATCH = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 20000)


class Metrics:
    """The service's metrics; one instance per app, on that app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.connected_clients = Gauge(
            "pace_connected_clients", "Open WebSockets by role.", ["role"], registry=r
        )
        self.disconnected_clients = Gauge(
            "pace_disconnected_clients",
            "Runners who dropped mid-race and have not come back (this instance).",
            registry=r,
        )
        self.points_received = Counter(
            "pace_points_received", "Points received, resends included.", registry=r
        )
        self.points_accepted = Counter(
            "pace_points_accepted", "Points counted in the live distance.", registry=r
        )
        self.points_rejected = Counter(
            "pace_points_rejected",
            "Points not counted, by reason.",
            ["reason"],
            registry=r,
        )
        self.ws_messages = Counter(
            "pace_ws_messages",
            "WebSocket messages.",
            ["direction", "role"],
            registry=r,
        )
        self.ws_bytes = Counter(
            "pace_ws_bytes",
            "WebSocket payload bytes.",
            ["direction", "role"],
            registry=r,
        )
        self.ingest_to_broadcast = Histogram(
            "pace_ingest_to_broadcast_seconds",
            "From a point's arrival to the first update frame that carries it.",
            buckets=_BROADCAST,
            registry=r,
        )
        self.storage_commit = Histogram(
            "pace_storage_commit_seconds",
            "Duration of one group commit.",
            buckets=_FAST,
            registry=r,
        )
        self.storage_batch_points = Histogram(
            "pace_storage_batch_points",
            "Points written by one group commit.",
            buckets=_BATCH,
            registry=r,
        )
        self.ack_latency = Histogram(
            "pace_ack_latency_seconds",
            "From a batch's arrival to its ack.",
            buckets=_FAST,
            registry=r,
        )
        self.active_races = Gauge(
            "pace_active_races", "Races with a runner or spectator here.", registry=r
        )
        self.tick = Histogram(
            "pace_tick_seconds",
            "Duration of one fan-out tick over all races.",
            buckets=_FAST,
            registry=r,
        )
        self.storage_errors = Counter(
            "pace_storage_errors", "Failed storage operations.", registry=r
        )
        self.broker_errors = Counter(
            "pace_broker_errors", "Failed broker operations.", registry=r
        )
        self.ws_in = {
            role: (
                self.ws_messages.labels("in", role),
                self.ws_bytes.labels("in", role),
            )
            for role in ("runner", "spectator")
        }
        self.ws_out = {
            role: (
                self.ws_messages.labels("out", role),
                self.ws_bytes.labels("out", role),
            )
            for role in ("runner", "spectator")
        }
        self._rejected: dict[str, Counter] = {}

    def rejected(self, reason: str) -> Counter:
        """The rejected-points counter of ``reason``, its child cached (hot path)."""
        child = self._rejected.get(reason)
        if child is None:
            child = self._rejected[reason] = self.points_rejected.labels(reason)
        return child
