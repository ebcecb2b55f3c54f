"""The fan-out boundary: how instances tell each other what changed in a race.

Two backends implement it: :mod:`.memory` (in-process, the default) and
:mod:`.redis` (several instances). A publisher sends opaque bytes on a race's
channel; every subscriber of that race, on any instance, receives them once,
in publish order per publisher. Delivery is best effort (pub/sub): a message
published while the broker is down is lost, which costs spectators at most a
tick of freshness, never a stored point, because points go to storage first.

Exception tree::

    BrokerError
    └── BrokerUnavailable    the broker cannot be reached right now
"""

from __future__ import annotations

import abc
from collections.abc import Callable

__all__ = ["Broker", "BrokerError", "BrokerUnavailable", "Handler", "Subscription"]

Handler = Callable[[bytes], None]
"""Called on the event loop with each message; must not block."""


class BrokerError(Exception):
    """A broker operation failed; the cause is chained."""


class BrokerUnavailable(BrokerError):
    """The broker cannot be reached."""


class Subscription(abc.ABC):
    @abc.abstractmethod
    async def close(self) -> None:
        """Stop receiving; idempotent."""


class Broker(abc.ABC):
    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise :class:`BrokerError` unless the broker answers."""

    @abc.abstractmethod
    async def publish(self, race_id: str, payload: bytes) -> None:
        """Send ``payload`` to every subscriber of ``race_id``; raises BrokerError."""

    @abc.abstractmethod
    async def subscribe(self, race_id: str, handler: Handler) -> Subscription:
        """Call ``handler`` with every payload published on ``race_id`` from now on."""
