"""The Redis broker against real Redis servers: fan-out between instances."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from pace_websockets.broker import open_broker
from pace_websockets.broker.base import Broker, BrokerError, BrokerUnavailable
from pace_websockets.broker.redis import RedisBroker

pytestmark = pytest.mark.redis

SHARED_REDIS = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def prefix() -> str:
    """A channel prefix no other test uses."""
    return f"test:{uuid.uuid4().hex}:"


class RedisProcess:
    """A throwaway redis-server on a free port that a test may kill and restart."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.workdir),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.port}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """This test's own redis-server, never the machine's shared one."""
    server = RedisProcess(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


Opener = Callable[[str, str], Awaitable[RedisBroker]]


@pytest.fixture
async def brokers() -> AsyncIterator[Opener]:
    """Start RedisBrokers that are closed at the end of the test."""
    started: list[Broker] = []

    async def start(url: str, prefix: str) -> RedisBroker:
        broker = RedisBroker(url, prefix, timeout_s=1.0, max_backoff_s=0.5)
        await broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        await broker.close()


async def wait_available(broker: RedisBroker, timeout_s: float = 15.0) -> None:
    """Until the broker's listener is up and the server answers a ping."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            await broker.ping()
            return
        except BrokerError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


def collector() -> tuple[asyncio.Queue[bytes], Callable[[bytes], None]]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    return queue, queue.put_nowait


async def test_message_crosses_instances(brokers: Opener, prefix: str) -> None:
    """A payload published by one instance reaches a subscriber on another."""
    publisher = await brokers(SHARED_REDIS, prefix)
    listener = await brokers(SHARED_REDIS, prefix)
    await wait_available(listener)
    queue, handler = collector()
    await listener.subscribe("race1", handler)

    await publisher.publish("race1", b"\x00delta-1")
    await publisher.publish("race1", b"delta-2")

    assert await asyncio.wait_for(queue.get(), 5) == b"\x00delta-1"
    assert await asyncio.wait_for(queue.get(), 5) == b"delta-2"


async def test_only_the_race_channel_is_delivered(brokers: Opener, prefix: str) -> None:
    """A subscriber of one race does not receive another race's payloads."""
    broker = await brokers(SHARED_REDIS, prefix)
    await wait_available(broker)
    queue_a, handler_a = collector()
    queue_b, handler_b = collector()
    await broker.subscribe("a", handler_a)
    await broker.subscribe("b", handler_b)

    await broker.publish("a", b"for-a")
    await broker.publish("b", b"for-b")

    assert await asyncio.wait_for(queue_b.get(), 5) == b"for-b"
    assert await asyncio.wait_for(queue_a.get(), 5) == b"for-a"
    assert queue_a.empty()


async def test_prefixes_isolate(brokers: Opener, prefix: str) -> None:
    """Brokers with different prefixes never see each other's messages."""
    ours = await brokers(SHARED_REDIS, prefix)
    theirs = await brokers(SHARED_REDIS, prefix + "other:")
    await wait_available(ours)
    queue, handler = collector()
    marker, marker_handler = collector()
    await ours.subscribe("race", handler)
    await ours.subscribe("marker", marker_handler)

    await theirs.publish("race", b"not-ours")
    await ours.publish("marker", b"done")

    await asyncio.wait_for(marker.get(), 5)
    assert queue.empty()


async def test_closed_subscription_receives_nothing(
    brokers: Opener, prefix: str
) -> None:
    """After close(), the handler gets no more payloads; other handlers still do."""
    broker = await brokers(SHARED_REDIS, prefix)
    await wait_available(broker)
    closed_queue, closed_handler = collector()
    open_queue, open_handler = collector()
    subscription = await broker.subscribe("race", closed_handler)
    await broker.subscribe("race", open_handler)

    await subscription.close()
    await subscription.close()
    await broker.publish("race", b"after-close")

    assert await asyncio.wait_for(open_queue.get(), 5) == b"after-close"
    assert closed_queue.empty()


async def test_last_unsubscribe_leaves_the_channel(
    brokers: Opener, prefix: str
) -> None:
    """Closing the last subscription of a race unsubscribes its Redis channel."""
    broker = await brokers(SHARED_REDIS, prefix)
    await wait_available(broker)
    subscription = await broker.subscribe("race", lambda payload: None)
    client = broker._require_client()
    channel = broker.channel("race")
    assert (await client.pubsub_numsub(channel))[0][1] == 1

    await subscription.close()

    for _ in range(100):
        if (await client.pubsub_numsub(channel))[0][1] == 0:
            break
        await asyncio.sleep(0.05)
    assert (await client.pubsub_numsub(channel))[0][1] == 0


async def test_failing_handler_does_not_stop_delivery(
    brokers: Opener, prefix: str
) -> None:
    """A handler that raises is logged; the next handler and message still arrive."""
    broker = await brokers(SHARED_REDIS, prefix)
    await wait_available(broker)
    queue, handler = collector()

    def explode(payload: bytes) -> None:
        raise ValueError("handler bug")

    await broker.subscribe("race", explode)
    await broker.subscribe("race", handler)
    await broker.publish("race", b"one")
    await broker.publish("race", b"two")

    assert await asyncio.wait_for(queue.get(), 5) == b"one"
    assert await asyncio.wait_for(queue.get(), 5) == b"two"


async def test_unreachable_redis_is_unavailable(brokers: Opener, prefix: str) -> None:
    """With nothing listening, ping raises BrokerUnavailable and publish BrokerError."""
    broker = await brokers(f"redis://127.0.0.1:{free_port()}/0", prefix)

    with pytest.raises(BrokerUnavailable):
        await broker.ping()
    with pytest.raises(BrokerError) as raised:
        await broker.publish("race", b"lost")
    assert raised.value.__cause__ is not None


async def test_open_broker_selects_redis(prefix: str) -> None:
    """open_broker() returns a started RedisBroker for a redis:// URL."""
    broker = await open_broker(SHARED_REDIS, prefix)
    try:
        assert isinstance(broker, RedisBroker)
        assert broker.channel("r1") == f"{prefix}race:r1"
        await wait_available(broker)
    finally:
        await broker.close()


@pytest.mark.slow
async def test_delivery_resumes_after_redis_restart(
    brokers: Opener, prefix: str, own_redis: RedisProcess
) -> None:
    """Killing Redis marks the broker unavailable; after a restart delivery resumes."""
    publisher = await brokers(own_redis.url, prefix)
    listener = await brokers(own_redis.url, prefix)
    await wait_available(listener)
    queue, handler = collector()
    await listener.subscribe("race", handler)
    await publisher.publish("race", b"before")
    assert await asyncio.wait_for(queue.get(), 5) == b"before"

    own_redis.kill()
    with pytest.raises(BrokerError):
        await publisher.publish("race", b"while-down")
    for _ in range(200):
        if not listener.available:
            break
        await asyncio.sleep(0.05)
    with pytest.raises(BrokerUnavailable):
        await listener.ping()

    own_redis.start()
    await wait_available(listener)
    await publisher.publish("race", b"after")
    assert await asyncio.wait_for(queue.get(), 5) == b"after"
    assert queue.empty()


@pytest.mark.slow
async def test_subscribe_while_redis_is_down_takes_effect_on_return(
    brokers: Opener, prefix: str, own_redis: RedisProcess
) -> None:
    """A race subscribed during an outage is subscribed when Redis comes back."""
    publisher = await brokers(own_redis.url, prefix)
    listener = await brokers(own_redis.url, prefix)
    await wait_available(listener)
    own_redis.kill()
    for _ in range(200):
        if not listener.available:
            break
        await asyncio.sleep(0.05)

    queue, handler = collector()
    await listener.subscribe("late", handler)
    own_redis.start()
    await wait_available(listener)
    await publisher.publish("late", b"hello")

    assert await asyncio.wait_for(queue.get(), 5) == b"hello"
