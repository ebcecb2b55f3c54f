"""The in-process broker: the default when one instance serves everything.

``publish`` calls each subscriber's handler directly, on the loop, in order;
a handler that raises is logged and does not stop the others.
"""

from __future__ import annotations

import logging

from pace_websockets.broker.base import Broker, Handler, Subscription

__all__ = ["MemoryBroker"]

log = logging.getLogger("pace.fanout")


class _MemorySubscription(Subscription):
    def __init__(self, broker: MemoryBroker, race_id: str, handler: Handler) -> None:
        self.broker, self.race_id, self.handler = broker, race_id, handler

    async def close(self) -> None:
        handlers = self.broker.handlers.get(self.race_id)
        if handlers is not None and self.handler in handlers:
            handlers.remove(self.handler)
            if not handlers:
                del self.broker.handlers[self.race_id]


class MemoryBroker(Broker):
    """Fan-out within one process; nothing leaves it."""

    def __init__(self) -> None:
        self.handlers: dict[str, list[Handler]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self.handlers.clear()

    async def ping(self) -> None:
        return None

    async def publish(self, race_id: str, payload: bytes) -> None:
        for handler in tuple(self.handlers.get(race_id, ())):
            try:
                handler(payload)
            except Exception:
                log.exception("broker handler failed", extra={"race_id": race_id})

    async def subscribe(self, race_id: str, handler: Handler) -> Subscription:
        self.handlers.setdefault(race_id, []).append(handler)
        return _MemorySubscription(self, race_id, handler)
