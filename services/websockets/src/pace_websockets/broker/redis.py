"""Redis pub/sub fan-out between instances (redis-py asyncio).

Selected by ``PACE_BROKER_URL=redis://host:port/db``. Each race is one
channel, ``{prefix}race:{race_id}``; the prefix (``PACE_BROKER_PREFIX``, a
``:`` is added if it lacks one) lets several deployments or tests share one
Redis. Redis holds nothing durable here: a message published while no
instance listens, or while Redis is down, is gone, which costs spectators
freshness but never a stored point.

One connection publishes (short timeouts, a single immediate retry, so a dead
Redis fails a publish fast instead of stalling the tick loop) and one
connection listens, owned by a reader task. When the listening connection
drops, the reader marks the broker unavailable, retries with capped
exponential backoff, and once Redis answers again subscribes to every race
that still has a live subscription. Loss is noticed when the socket closes; a
Redis that silently vanishes behind a network partition is noticed only by
TCP keepalive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .base import Broker, BrokerError, BrokerUnavailable, Handler, Subscription

__all__ = ["RedisBroker"]

logger = logging.getLogger("pace.fanout")

_READ_TIMEOUT_S = 1.0
"""How long the reader waits for a message before looking at its state again."""


class _RedisSubscription(Subscription):
    def __init__(self, broker: RedisBroker, channel: str, handler: Handler) -> None:
        self.channel = channel
        self.handler = handler
        self._broker = broker
        self._closed = False

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._broker._remove(self)


class RedisBroker(Broker):
    """Publish and subscribe race deltas through Redis pub/sub."""

    def __init__(
        self,
        url: str,
        prefix: str = "pace:",
        *,
        timeout_s: float = 2.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._url = url
        self._prefix = prefix if prefix.endswith(":") or not prefix else prefix + ":"
        self._timeout_s = timeout_s
        self._max_backoff_s = max_backoff_s
        self._handlers: dict[str, set[_RedisSubscription]] = {}
        self._client: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._connected = asyncio.Event()
        self._confirmations: dict[str, asyncio.Future[None]] = {}

    def channel(self, race_id: str) -> str:
        """The Redis channel of a race."""
        return f"{self._prefix}race:{race_id}"

    @property
    def available(self) -> bool:
        """Whether the listening connection is up (fan-out works)."""
        return self._connected.is_set()

    async def start(self) -> None:
        self._client = aioredis.Redis.from_url(
            self._url,
            socket_timeout=self._timeout_s,
            socket_connect_timeout=self._timeout_s,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 1),
        )
        self._reader = asyncio.create_task(self._read_forever(), name="redis-reader")
        logger.info("redis broker started", extra={"prefix": self._prefix})

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await self._drop_pubsub()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        self._handlers.clear()
        self._confirmations.clear()

    async def ping(self) -> None:
        if not self._connected.is_set():
            raise BrokerUnavailable("redis subscriber connection is down")
        try:
            await self._require_client().ping()
        except RedisError as exc:
            raise _translate(exc) from exc

    async def publish(self, race_id: str, payload: bytes) -> None:
        try:
            await self._require_client().publish(self.channel(race_id), payload)
        except RedisError as exc:
            raise _translate(exc) from exc

    async def subscribe(self, race_id: str, handler: Handler) -> Subscription:
        """Register ``handler`` and wait (up to the timeout) until Redis confirms.

        Waiting for the confirmation is what makes "every payload published from
        now on" true across instances. If Redis is down, the handler is kept and
        the channel is subscribed when the reader reconnects.
        """
        subscription = _RedisSubscription(self, self.channel(race_id), handler)
        channel = subscription.channel
        handlers = self._handlers.setdefault(channel, set())
        handlers.add(subscription)
        if len(handlers) == 1 and self._connected.is_set():
            self._expect_confirmation(channel)
            await self._send_subscription("subscribe", channel)
        confirmation = self._confirmations.get(channel)
        if confirmation is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(confirmation), self._timeout_s)
        return subscription

    def _expect_confirmation(self, channel: str) -> None:
        if channel not in self._confirmations:
            future = asyncio.get_running_loop().create_future()
            self._confirmations[channel] = future

    def _confirm(self, raw_channel: bytes) -> None:
        future = self._confirmations.pop(raw_channel.decode(), None)
        if future is not None and not future.done():
            future.set_result(None)

    async def _remove(self, subscription: _RedisSubscription) -> None:
        handlers = self._handlers.get(subscription.channel)
        if handlers is None:
            return
        handlers.discard(subscription)
        if not handlers:
            del self._handlers[subscription.channel]
            if self._connected.is_set():
                await self._send_subscription("unsubscribe", subscription.channel)

    async def _send_subscription(self, command: str, channel: str) -> None:
        """Send SUBSCRIBE/UNSUBSCRIBE; a failure is the reader's to repair."""
        try:
            async with self._lock:
                if self._pubsub is not None:
                    await getattr(self._pubsub, command)(channel)
        except (RedisError, OSError) as exc:
            logger.warning("redis %s failed, will resync: %r", command, exc)

    def _require_client(self) -> aioredis.Redis:
        if self._client is None:
            raise BrokerError("redis broker is not started")
        return self._client

    async def _read_forever(self) -> None:
        """Connect, listen, and on any loss reconnect with capped backoff."""
        delay = 0.1
        while True:
            try:
                await self._connect()
                delay = 0.1
                await self._listen()
            except (RedisError, OSError) as exc:
                if self._connected.is_set():
                    logger.warning("redis connection lost: %r", exc)
                self._connected.clear()
                await self._drop_pubsub()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)

    async def _connect(self) -> None:
        """Open a listening connection and subscribe to every live channel."""
        pubsub = self._require_client().pubsub()
        self._pubsub = pubsub
        async with self._lock:
            await pubsub.ping()
            channels = await self._resubscribe(pubsub, set())
            self._connected.set()
            # A subscribe() that ran while the line above was waiting saw the
            # broker down and left its channel to us: take those too. From
            # here on, subscribe() sends its own SUBSCRIBE.
            channels |= await self._resubscribe(pubsub, channels)
        logger.info("redis subscriber connected", extra={"channels": len(channels)})

    async def _resubscribe(self, pubsub: Any, done: set[str]) -> set[str]:
        """SUBSCRIBE to every channel with handlers not in ``done``; return them."""
        channels = set(self._handlers) - done
        for channel in channels:
            self._expect_confirmation(channel)
        if channels:
            await pubsub.subscribe(*channels)
        return channels

    async def _listen(self) -> None:
        while True:
            message = await self._pubsub.get_message(timeout=_READ_TIMEOUT_S)
            kind = None if message is None else message.get("type")
            if kind == "message":
                self._dispatch(message["channel"], message["data"])
            elif kind == "subscribe":
                self._confirm(message["channel"])

    def _dispatch(self, raw_channel: bytes, data: bytes) -> None:
        channel = raw_channel.decode()
        for subscription in tuple(self._handlers.get(channel, ())):
            try:
                subscription.handler(data)
            except Exception:
                logger.exception("broker handler failed", extra={"channel": channel})

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()


def _translate(exc: RedisError) -> BrokerError:
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return BrokerUnavailable(f"redis unavailable: {exc!r}")
    return BrokerError(f"redis error: {exc!r}")
