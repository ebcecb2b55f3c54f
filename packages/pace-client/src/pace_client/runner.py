"""The reference runner client: one participant streaming fixes over a WebSocket.

:class:`RunnerClient` does what a phone should do on a bad network: it keeps
every recorded point until the server acknowledges it (see
:class:`~pace_client.buffer.SendBuffer`), sends in batches of at most
``MAX_POINTS_PER_BATCH``, and when the connection drops it reconnects with
exponential backoff and full jitter, says ``hello`` again and resends whatever
the server's ``welcome.last_seq`` shows is missing.

Server ``error`` codes fall in three groups: one naming a ``seq`` refuses that
point only; ``RETRY_CODES`` (the server or its storage is briefly unable) make
the client reconnect later; any other code means retrying cannot help (a bad
or revoked token, a protocol error) and :meth:`RunnerClient.run` raises
:class:`~pace_client.errors.RunnerError`. A ``reconnect`` message (the server is
draining) is honoured after its ``retry_after_ms`` plus jitter. A server that
stays silent for ``ack_timeout_s`` while points are in flight is treated as
gone: the client reconnects and resends (the server skips seqs it holds).

Usage::

    client = RunnerClient("http://127.0.0.1:8000", token)
    client.add(points)
    client.finish()          # no more points will come
    await client.run()       # returns once every point is acked or rejected
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterable

import aiohttp
import msgspec
from pace_core import messages

from pace_client.buffer import Backoff, SendBuffer
from pace_client.errors import RunnerError

__all__ = ["RETRY_CODES", "RunnerClient"]

log = logging.getLogger("pace.client")

RETRY_CODES = frozenset(
    {
        "storage_unavailable",
        "storage_full",
        "shutting_down",
        "rate_limited",
        "internal_error",
        "overloaded",
    }
)
"""Error codes after which reconnecting later can succeed."""


class _Retry(Exception):
    """End this connection and reconnect, after ``delay_s`` if given."""

    def __init__(self, delay_s: float | None = None) -> None:
        super().__init__()
        self.delay_s = delay_s


class RunnerClient:
    """Streams one participant's points and survives disconnects and restarts."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: aiohttp.ClientSession | None = None,
        backoff: Backoff | None = None,
        batch_size: int = messages.MAX_POINTS_PER_BATCH,
        max_in_flight: int = 4 * messages.MAX_POINTS_PER_BATCH,
        welcome_timeout_s: float = 10.0,
        ack_timeout_s: float = 30.0,
        heartbeat_s: float = 10.0,
        client_name: str = "pace-client",
    ) -> None:
        self.ws_url = _ws_url(base_url)
        self._token = token
        self._session = session
        self._backoff = backoff or Backoff()
        self._batch_size = min(batch_size, messages.MAX_POINTS_PER_BATCH)
        self._max_in_flight = max(max_in_flight, self._batch_size)
        self._welcome_timeout_s = welcome_timeout_s
        self._ack_timeout_s = ack_timeout_s
        self._heard_at = time.monotonic()
        """When the server last answered, or the first point went out unanswered."""
        self._heartbeat_s = heartbeat_s
        self._client_name = client_name
        self._wake = asyncio.Event()
        self._finished = False
        self.buffer = SendBuffer()
        self.added = 0
        self.sent = 0
        self.reconnects = 0
        self.connections = 0
        self.welcome: messages.Welcome | None = None
        self.stats: messages.Stats | None = None
        """The latest ``stats`` the server sent about this runner."""

    @property
    def acked(self) -> int:
        return self.buffer.acked

    @property
    def rejected(self) -> dict[int, str]:
        return self.buffer.rejected

    @property
    def pending(self) -> int:
        return len(self.buffer)

    def add(self, points: Iterable[messages.Point]) -> None:
        """Queue recorded points; they are sent as soon as a connection allows."""
        before = len(self.buffer)
        self.buffer.add(points)
        self.added += len(self.buffer) - before
        self._wake.set()

    def finish(self) -> None:
        """No more points will be added: :meth:`run` ends once all are answered."""
        self._finished = True
        self._wake.set()

    def _done(self) -> bool:
        return self._finished and not self.buffer

    async def run(self) -> None:
        """Connect, stream and reconnect until :meth:`finish` and every point answered.

        Raises :class:`RunnerError` when the server refuses the runner for good.
        """
        session = self._session or aiohttp.ClientSession()
        try:
            while not await self._attempt(session):
                self.reconnects += 1
        finally:
            if self._session is None:
                await session.close()

    async def _attempt(self, session: aiohttp.ClientSession) -> bool:
        """One connection; True when the work is done, False after a pause to retry."""
        try:
            return await self._converse(session)
        except _Retry as retry:
            delay = retry.delay_s
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("runner connection failed: %s", exc.__class__.__name__)
            delay = None
        if delay is None:
            delay = self._backoff.next_delay()
        await asyncio.sleep(delay)
        return False

    async def _converse(self, session: aiohttp.ClientSession) -> bool:
        async with session.ws_connect(
            self.ws_url, heartbeat=self._heartbeat_s, autoping=True
        ) as ws:
            await ws.send_str(_text(messages.Hello(self._token, self._client_name)))
            self.welcome = await self._await_welcome(ws)
            self.buffer.restart(self.welcome.last_seq)
            self._backoff.reset()
            self.connections += 1
            self._wake.set()

            sender = asyncio.create_task(self._pump(ws))
            try:
                return await self._receive(ws)
            finally:
                sender.cancel()
                # A send that failed has already ended the connection; the
                # receiver saw it too, so its error adds nothing here.
                with contextlib.suppress(
                    asyncio.CancelledError, aiohttp.ClientError, OSError
                ):
                    await sender

    async def _await_welcome(
        self, ws: aiohttp.ClientWebSocketResponse
    ) -> messages.Welcome:
        async with asyncio.timeout(self._welcome_timeout_s):
            while True:
                message = await self._next_message(ws)
                if isinstance(message, messages.Welcome):
                    return message
                if message is not None:
                    self._handle(message)

    async def _next_message(
        self, ws: aiohttp.ClientWebSocketResponse, limit_s: float | None = None
    ) -> messages.RunnerServerMessage | None:
        """The next decoded frame (waiting up to ``limit_s``); None if unreadable."""
        frame = await ws.receive(limit_s)
        if frame.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            raise ConnectionResetError(f"websocket {frame.type.name.lower()}")
        try:
            return messages.decode_runner_server_message(frame.data)
        except msgspec.MsgspecError:
            log.warning("ignoring an unreadable server message")
            return None

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        """Read server messages until done (True) or the connection ends (False)."""
        while not self._done():
            try:
                message = await self._next_message(ws, self._ack_timeout_s / 4)
            except ConnectionResetError:
                return self._done()
            except TimeoutError:
                self._check_progress()
                continue
            self._heard_at = time.monotonic()
            if message is not None:
                self._handle(message)
        await ws.close()
        return True

    def _check_progress(self) -> None:
        """Reconnect if points are in flight and the server has been silent.

        A server that answers pings but never acks (stuck storage, a wedged
        instance) would otherwise hold the runner's points forever.
        """
        silent_s = time.monotonic() - self._heard_at
        if self.buffer.in_flight() and silent_s >= self._ack_timeout_s:
            log.warning("no ack for %.0f s: reconnecting", silent_s)
            raise _Retry()

    def _handle(self, message: messages.RunnerServerMessage) -> None:
        if isinstance(message, messages.Ack):
            self.buffer.ack(message.seq, message.rejected)
            self._wake.set()
        elif isinstance(message, messages.Stats):
            self.stats = message
        elif isinstance(message, messages.Error):
            self._handle_error(message)
        elif isinstance(message, messages.Reconnect):
            wait_s = message.retry_after_ms / 1000
            raise _Retry(wait_s + random.uniform(0.0, max(wait_s, 0.5)))

    def _handle_error(self, error: messages.Error) -> None:
        if error.seq is not None:
            self.buffer.reject(error.seq, error.code)
            self._wake.set()
        elif error.code in RETRY_CODES:
            log.info("server asks to retry later: %s", error.code)
            raise _Retry()
        else:
            raise RunnerError(error.code, error.message)

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Send batches whenever there is something unsent and room in flight."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._done():
                await ws.close()
                return
            while self.buffer.in_flight() < self._max_in_flight:
                idle = self.buffer.in_flight() == 0
                batch = self.buffer.next_batch(self._batch_size)
                if not batch:
                    break
                if idle:
                    self._heard_at = time.monotonic()
                await ws.send_str(_text(messages.Points(batch)))
                self.sent += len(batch)


def _text(message: msgspec.Struct) -> str:
    return messages.encode(message).decode()


def _ws_url(base_url: str) -> str:
    """``http(s)://host[:port][/prefix]`` to the runner WebSocket URL."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return base + "/ws/runner"
