"""Every metric the service exports, declared once on a registry passed in.

Names follow ``pace_<thing>_<unit>`` with ``_total`` on counters. The
registry comes from :func:`pace_servicekit.new_registry`, which adds the
``process_*`` metrics (``process_cpu_seconds_total`` is what the per-point
cost in docs/architecture.md was measured with).

The counters touched several times per WebSocket message (messages, bytes,
points by outcome) are plain integers in a :class:`Tally`, read by a custom
collector at scrape time: a prometheus_client ``Counter.inc`` takes a lock and
a few calls, and at one point per message those increments were a quarter of
the service's CPU. Everything runs on the event loop thread, so plain ``+=``
is safe here.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["Metrics", "Tally"]

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BROADCAST = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
_BATCH = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 20000)
ROLES = ("runner", "spectator")


class Tally(Collector):
    """Hot-path counters as plain ints, exported as Prometheus counters."""

    def __init__(self) -> None:
        self.ws: dict[tuple[str, str], list[int]] = {
            (direction, role): [0, 0] for direction in ("in", "out") for role in ROLES
        }
        """``[messages, bytes]`` by (direction, role); sessions hold the lists."""
        self.received = 0
        self.accepted = 0
        self.rejected: dict[str, int] = {}

    def collect(self) -> Iterator[Metric]:
        messages = CounterMetricFamily(
            "pace_ws_messages", "WebSocket messages.", labels=["direction", "role"]
        )
        size = CounterMetricFamily(
            "pace_ws_bytes", "WebSocket payload bytes.", labels=["direction", "role"]
        )
        for (direction, role), (count, total) in self.ws.items():
            messages.add_metric([direction, role], count)
            size.add_metric([direction, role], total)
        rejected = CounterMetricFamily(
            "pace_points_rejected", "Points not counted, by reason.", labels=["reason"]
        )
        for reason, count in sorted(self.rejected.items()):
            rejected.add_metric([reason], count)
        yield messages
        yield size
        yield CounterMetricFamily(
            "pace_points_received",
            "Points received, resends included.",
            value=self.received,
        )
        yield CounterMetricFamily(
            "pace_points_accepted",
            "Points counted in the live distance.",
            value=self.accepted,
        )
        yield rejected


class Metrics:
    """The service's metrics; one instance per app, on that app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.tally = Tally()
        r.register(self.tally)
        self.connected_clients = Gauge(
            "pace_connected_clients", "Open WebSockets by role.", ["role"], registry=r
        )
        self.disconnected_clients = Gauge(
            "pace_disconnected_clients",
            "Runners who dropped mid-race and have not come back (this instance).",
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
        for role in ROLES:
            self.connected_clients.labels(role)

    def ws_in(self, role: str) -> list[int]:
        """``[messages, bytes]`` received on ``role`` sockets, to add to."""
        return self.tally.ws[("in", role)]

    def ws_out(self, role: str) -> list[int]:
        """``[messages, bytes]`` sent on ``role`` sockets, to add to."""
        return self.tally.ws[("out", role)]
