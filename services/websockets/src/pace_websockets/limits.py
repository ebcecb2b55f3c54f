"""Rate limits: token buckets per connection and per client address.

Three things are metered, each in two places: connections opened (per
address), messages received and points received (per connection and per
address). A bucket holds ``burst`` tokens and refills at ``rate`` a second;
a request that finds too few tokens is refused with ``rate_limited`` and the
time after which it would succeed.

The defaults are generous on purpose: a phone that flushes an hour of 1 Hz
points (3,600 points in batches of at most 1,000) spends a fraction of its
points bucket, and a whole city race behind one address (a benchmark on
localhost, runners on one venue's Wi-Fi) stays under the per-address
figures. They stop floods, not runners.

The client address is the socket's peer address: behind a reverse proxy it
is the proxy's, so per-address limits then meter the proxy as a whole (see
docs/limitations.md).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web
from pace_servicekit.settings import env_float

__all__ = [
    "LIMITER",
    "AddressLimits",
    "Bucket",
    "Limiter",
    "Meter",
    "Rate",
    "RateLimited",
    "RateLimits",
]


class RateLimited(Exception):
    """Too many requests; ``retry_after_s`` says when one more would pass."""

    def __init__(self, what: str, retry_after_s: float) -> None:
        super().__init__(f"too many {what}, retry in {retry_after_s:.3f} s")
        self.what, self.retry_after_s = what, retry_after_s


@dataclass(frozen=True, slots=True)
class Rate:
    """``rate`` tokens a second, at most ``burst`` saved up; rate 0 turns it off."""

    rate: float
    burst: float

    @property
    def off(self) -> bool:
        return self.rate <= 0


class Bucket:
    """One token bucket; the clock is passed in so tests need not sleep."""

    __slots__ = ("_at", "_tokens", "limit")

    def __init__(self, limit: Rate, now: float) -> None:
        self.limit = limit
        self._tokens, self._at = limit.burst, now

    def take(self, what: str, count: float, now: float) -> None:
        """Spend ``count`` tokens or raise :class:`RateLimited` spending none."""
        if self.limit.off:
            return
        self._refill(now)
        if count > self._tokens:
            short = count - self._tokens
            raise RateLimited(what, short / self.limit.rate)
        self._tokens -= count

    def full(self, now: float) -> bool:
        self._refill(now)
        return self._tokens >= self.limit.burst

    def _refill(self, now: float) -> None:
        gained = (now - self._at) * self.limit.rate
        self._tokens = min(self.limit.burst, self._tokens + gained)
        self._at = now


class AddressLimits:
    """Buckets by client address, kept only while an address is active.

    An address whose bucket has refilled completely carries no state worth
    keeping, so it is dropped when the table is swept; the table is also
    capped at ``max_addresses`` (oldest first out), so a scan from many
    addresses cannot grow memory without bound.
    """

    def __init__(self, what: str, limit: Rate, max_addresses: int = 100_000) -> None:
        self.what, self.limit, self.max_addresses = what, limit, max_addresses
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        self._sweep_at = 0.0

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, address: str, count: float = 1.0) -> None:
        """Spend ``count`` from ``address``'s bucket or raise :class:`RateLimited`."""
        if self.limit.off:
            return
        now = time.monotonic()
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = self._buckets[address] = Bucket(self.limit, now)
            if len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(address)
        self._sweep(now)
        bucket.take(self.what, count, now)

    def _sweep(self, now: float) -> None:
        """Every ten seconds at most, forget addresses whose bucket is full."""
        if now - self._sweep_at < 10.0:
            return
        self._sweep_at = now
        idle = [a for a, b in self._buckets.items() if b.full(now)]
        for address in idle:
            del self._buckets[address]


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Every limit, read from ``PACE_*`` variables; see the module docstring.

    Example: ``PACE_POINT_RATE=500 PACE_POINT_BURST=10000`` lets one runner
    connection send 500 points a second on average and 10,000 at once.
    """

    connect_per_address: Rate = Rate(1_000, 20_000)
    messages: Rate = Rate(100, 1_000)
    points: Rate = Rate(1_000, 20_000)
    messages_per_address: Rate = Rate(20_000, 200_000)
    points_per_address: Rate = Rate(50_000, 1_000_000)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RateLimits:
        d = cls()

        def rate(name: str, default: Rate) -> Rate:
            return Rate(
                env_float(f"{name}_RATE", default.rate, environ),
                env_float(f"{name}_BURST", default.burst, environ),
            )

        return cls(
            rate("ADDRESS_CONNECT", d.connect_per_address),
            rate("MESSAGE", d.messages),
            rate("POINT", d.points),
            rate("ADDRESS_MESSAGE", d.messages_per_address),
            rate("ADDRESS_POINT", d.points_per_address),
        )


class Limiter:
    """The per-address tables of one service instance."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self.connects = AddressLimits("connections", limits.connect_per_address)
        self.messages = AddressLimits("messages", limits.messages_per_address)
        self.points = AddressLimits("points", limits.points_per_address)

    def connect(self, address: str) -> None:
        """Meter one new connection from ``address``."""
        self.connects.take(address)

    def meter(self, address: str) -> Meter:
        """The meter of a new runner connection from ``address``."""
        return Meter(self, address)


class Meter:
    """One connection's own buckets, charged together with its address's."""

    __slots__ = ("_address", "_limiter", "_messages", "_points")

    def __init__(self, limiter: Limiter, address: str) -> None:
        now = time.monotonic()
        self._limiter, self._address = limiter, address
        self._messages = Bucket(limiter.limits.messages, now)
        self._points = Bucket(limiter.limits.points, now)

    def message(self) -> None:
        """Meter one received message, whatever it holds."""
        self._messages.take("messages", 1, time.monotonic())
        self._limiter.messages.take(self._address)

    def points(self, count: int) -> None:
        """Meter ``count`` points received in one batch."""
        self._points.take("points", count, time.monotonic())
        self._limiter.points.take(self._address, count)


LIMITER = web.AppKey("pace_limiter", Limiter)
