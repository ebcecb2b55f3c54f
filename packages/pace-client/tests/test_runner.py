"""RunnerClient against a tiny in-test server that speaks the runner protocol.

These check the client's own logic (batching, acks, resume, backoff, error
codes) with real sockets on port 0; the real service is exercised by the
pace-cli and end-to-end tests.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from pace_client.buffer import Backoff
from pace_client.errors import RunnerError
from pace_client.runner import RunnerClient
from pace_core import messages

T0 = datetime(2024, 6, 15, 14, 0, tzinfo=UTC)


class ProtocolServer:
    """Stores points by seq and acks them; faults are switched on per test."""

    def __init__(self) -> None:
        self.stored: dict[int, messages.Point] = {}
        self.received: Counter[int] = Counter()
        self.batch_sizes: list[int] = []
        self.hellos = 0
        self.refuse_handshakes = 0
        self.hello_errors: list[str] = []
        self.cut_on_batch: int | None = None
        self.reconnect_once = False
        self.silent_batches = 0
        self.reject: dict[int, str] = {}
        self.acked = asyncio.Condition()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_handshakes:
            self.refuse_handshakes -= 1
            return web.Response(status=503)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        hello = messages.decode_client_message(await ws.receive_str())
        assert isinstance(hello, messages.Hello)
        self.hellos += 1
        if self.hello_errors:
            await self._send(ws, messages.Error(self.hello_errors.pop(0), "no"))
            await ws.close()
            return ws
        last = max(self.stored, default=0)
        await self._send(ws, messages.Welcome("p1", "r1", last))
        if self.reconnect_once:
            self.reconnect_once = False
            await self._send(ws, messages.Reconnect("shutting_down", 20))
            await ws.close()
            return ws
        async for frame in ws:
            if not await self._on_points(ws, frame.data):
                break
        return ws

    async def _on_points(self, ws: web.WebSocketResponse, data: str) -> bool:
        batch = messages.decode_client_message(data)
        assert isinstance(batch, messages.Points)
        self.batch_sizes.append(len(batch.points))
        if self.silent_batches:
            self.silent_batches -= 1
            return True
        if self.cut_on_batch == len(self.batch_sizes):
            await ws.close()
            return False
        rejected = []
        for p in batch.points:
            self.received[p.seq] += 1
            if p.seq in self.reject:
                rejected.append(messages.Rejected(p.seq, self.reject[p.seq]))
            else:
                self.stored.setdefault(p.seq, p)
        top = max(p.seq for p in batch.points)
        await self._send(ws, _stats(len(self.stored)))
        await self._send(ws, messages.Ack(top, rejected))
        async with self.acked:
            self.acked.notify_all()
        return True

    @staticmethod
    async def _send(
        ws: web.WebSocketResponse, message: messages.msgspec.Struct
    ) -> None:
        await ws.send_str(messages.encode(message).decode())


def _stats(count: int) -> messages.Stats:
    standing = messages.Standing(
        "p1", "Alex", 1, "running", float(count), None, None, None, None, [], None
    )
    return messages.Stats(standing=standing, participants=1)


@pytest.fixture
async def server() -> AsyncIterator[tuple[ProtocolServer, str]]:
    fake = ProtocolServer()
    app = web.Application()
    app.router.add_get("/ws/runner", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def _points(n: int) -> list[messages.Point]:
    return [
        messages.Point(seq=i, time=T0 + timedelta(seconds=i), lat=53.5, lon=9.8)
        for i in range(1, n + 1)
    ]


async def _stream(url: str, n: int, **kwargs: object) -> RunnerClient:
    client = RunnerClient(url, "secret", backoff=Backoff(0.01, 0.05), **kwargs)  # type: ignore[arg-type]
    client.add(_points(n))
    client.finish()
    await asyncio.wait_for(client.run(), 20)
    return client


async def test_every_point_is_sent_in_bounded_batches(server) -> None:  # type: ignore[no-untyped-def]
    """2,500 points go in batches of at most 1,000 and all end acknowledged."""
    fake, url = server

    client = await _stream(url, 2500)

    assert sorted(fake.stored) == list(range(1, 2501))
    assert max(fake.batch_sizes) <= messages.MAX_POINTS_PER_BATCH
    assert (client.acked, client.pending, client.reconnects) == (2500, 0, 0)


async def test_cut_connection_resumes_from_last_seq(server) -> None:  # type: ignore[no-untyped-def]
    """After a cut, points up to welcome.last_seq are not sent again."""
    fake, url = server
    fake.cut_on_batch = 2

    client = await _stream(url, 300, batch_size=100)

    assert sorted(fake.stored) == list(range(1, 301))
    assert set(fake.received.values()) == {1}
    assert (client.acked, client.reconnects, fake.hellos) == (300, 1, 2)


async def test_rejected_points_are_reported_not_resent(server) -> None:  # type: ignore[no-untyped-def]
    """A rejected seq is recorded with its reason and never sent twice."""
    fake, url = server
    fake.reject = {5: "future", 6: "too_old"}
    fake.cut_on_batch = 3

    client = await _stream(url, 30, batch_size=10)

    assert client.rejected == {5: "future", 6: "too_old"}
    assert fake.received[5] == 1
    assert client.acked == 28


async def test_bad_token_stops_the_client(server) -> None:  # type: ignore[no-untyped-def]
    """A non-retryable error code raises RunnerError carrying the code."""
    fake, url = server
    fake.hello_errors = ["bad_token"]

    with pytest.raises(RunnerError, match="bad_token") as caught:
        await _stream(url, 3)

    assert caught.value.code == "bad_token"
    assert fake.hellos == 1


async def test_storage_unavailable_means_try_again(server) -> None:  # type: ignore[no-untyped-def]
    """storage_unavailable and shutting_down make the client reconnect later."""
    fake, url = server
    fake.hello_errors = ["storage_unavailable", "shutting_down"]

    client = await _stream(url, 10)

    assert (client.acked, client.reconnects, fake.hellos) == (10, 2, 3)


async def test_reconnect_message_is_honoured(server) -> None:  # type: ignore[no-untyped-def]
    """A ``reconnect`` message ends the connection and the client comes back."""
    fake, url = server
    fake.reconnect_once = True

    client = await _stream(url, 10)

    assert (client.acked, client.reconnects, fake.hellos) == (10, 1, 2)


async def test_refused_handshakes_back_off_then_reset(server) -> None:  # type: ignore[no-untyped-def]
    """Failed handshakes widen the jitter window; success resets it."""
    fake, url = server
    fake.refuse_handshakes = 3
    windows: list[float] = []
    backoff = Backoff(0.01, 1.0, rand=lambda a, b: windows.append(b) or 0.0)
    client = RunnerClient(url, "secret", backoff=backoff)
    client.add(_points(5))
    client.finish()

    await asyncio.wait_for(client.run(), 20)

    assert windows == [0.01, 0.02, 0.04]
    assert (backoff.attempt, client.acked) == (0, 5)


async def test_latest_stats_are_exposed(server) -> None:  # type: ignore[no-untyped-def]
    """The last ``stats`` message the server sent is kept on the client."""
    _fake, url = server

    client = await _stream(url, 7)

    assert client.stats is not None
    assert client.stats.standing.distance_m == 7.0


async def test_run_returns_when_finished_with_nothing_left(server) -> None:  # type: ignore[no-untyped-def]
    """finish() after the last ack ends run() even though no frame arrives."""
    fake, url = server
    client = RunnerClient(url, "secret", backoff=Backoff(0.01, 0.05))
    client.add(_points(4))
    task = asyncio.create_task(client.run())
    async with fake.acked:
        await fake.acked.wait_for(lambda: len(fake.stored) == 4)
    await asyncio.sleep(0.05)

    client.finish()
    await asyncio.wait_for(task, 5)

    assert sorted(fake.stored) == [1, 2, 3, 4]


async def test_missing_ack_makes_the_client_reconnect(server) -> None:  # type: ignore[no-untyped-def]
    """A server that swallows a batch without acking it gets it again elsewhere."""
    fake, url = server
    fake.silent_batches = 1

    client = await _stream(url, 10, ack_timeout_s=0.3)

    assert sorted(fake.stored) == list(range(1, 11))
    assert (client.reconnects, fake.hellos, fake.batch_sizes) == (1, 2, [10, 10])
