"""How instances share live changes; see :mod:`.base` for the contract.

:func:`open_broker` picks the backend from the URL, importing the Redis client
only for ``redis://`` (or ``rediss://``) URLs.
"""

from __future__ import annotations

from pace_websockets.broker.base import (
    Broker,
    BrokerError,
    BrokerUnavailable,
    Handler,
    Subscription,
)

__all__ = [
    "Broker",
    "BrokerError",
    "BrokerUnavailable",
    "Handler",
    "Subscription",
    "create_broker",
    "open_broker",
]


def create_broker(url: str, prefix: str = "pace") -> Broker:
    """A backend for ``url`` (``memory://`` or ``redis://...``), not yet started."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        from pace_websockets.broker.memory import MemoryBroker

        return MemoryBroker()
    if scheme in {"redis", "rediss"}:
        from pace_websockets.broker.redis import (  # type: ignore[import-not-found,unused-ignore]
            RedisBroker,
        )

        broker: Broker = RedisBroker(url, prefix)
        return broker
    raise BrokerError(f"unknown broker url scheme {scheme!r}")


async def open_broker(url: str, prefix: str = "pace") -> Broker:
    """Create the backend for ``url`` and start it."""
    broker = create_broker(url, prefix)
    await broker.start()
    return broker
