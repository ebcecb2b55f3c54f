"""The ``/ws/races/{race_id}`` session: a snapshot, then the race's frames.

The hub offers each tick's frames to every spectator without waiting; each
spectator's own task writes them out. A spectator whose socket cannot keep
up gets no more than ``spectator_queue_frames`` *ticks* queued (a tick's
update and its events are one unit, so a mass start of hundreds of runners
is one tick, not hundreds of frames): past that its queue is dropped and it
is sent one fresh snapshot instead, so it skips the ticks it missed, lands on
the latest state (statuses, finish times and splits are in the snapshot) and
never slows anyone else down.
A spectator that overflows its queue again while the resync snapshot has
been waiting ``STUCK_S`` to be written is not reading at all: it is told
``spectator_too_slow`` and disconnected (close 1008), its socket aborted if
even the close frame cannot be written within ``CLOSE_WAIT_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence

from aiohttp import WSMsgType, web
from pace_core.messages import Error, Reconnect, encode

from pace_websockets.hub import RaceView
from pace_websockets.protocol import Close, Code
from pace_websockets.service import Service

__all__ = ["CLOSE_WAIT_S", "STUCK_S", "SpectatorSession"]

log = logging.getLogger("pace.fanout")

STUCK_S = 5.0
"""How long a resync snapshot may wait to be written before the spectator goes.

Time, not a count of overflows: one tick can offer many frames at once (an
event per runner), which overflows a short queue of a healthy spectator."""
CLOSE_WAIT_S = 2.0
"""How long a too-slow spectator's close may take before the socket is aborted."""


class SpectatorSession:
    """One spectator connection; see the module docstring."""

    role = "spectator"

    def __init__(
        self,
        service: Service,
        ws: web.WebSocketResponse,
        view: RaceView,
        abort: Callable[[], None] | None = None,
    ):
        self.service, self.ws, self.view = service, ws, view
        self.abort = abort
        """Cuts the connection when even a close cannot be written."""
        self.limit = service.settings.spectator_queue_frames
        self._queue: deque[bytes] = deque()
        self._ticks: deque[int] = deque()
        """How many of the queued frames each queued tick holds, oldest first."""
        self._wake = asyncio.Event()
        self._resync = False
        self._behind_since = 0.0
        self._dropping: asyncio.Task[None] | None = None
        self._out = service.metrics.ws_out("spectator")

    def offer(self, frame: bytes) -> None:
        """Queue one frame as a tick of its own (see :meth:`offer_tick`)."""
        self.offer_tick((frame,))

    def offer_tick(self, frames: Sequence[bytes]) -> None:
        """Queue a tick's frames without waiting; past the limit, resync."""
        if self._dropping is not None or not frames:
            return
        if len(self._ticks) >= self.limit:
            self._queue.clear()
            self._ticks.clear()
            now = asyncio.get_running_loop().time()
            if not self._resync:
                self._behind_since = now
                log.warning("slow spectator resynchronised", extra=self._ids)
            elif now - self._behind_since > STUCK_S:
                self._drop()
                return
            self._resync = True
        else:
            self._queue.extend(frames)
            self._ticks.append(len(frames))
        self._wake.set()

    @property
    def _ids(self) -> dict[str, str]:
        return {"race_id": self.view.race.id}

    async def run(self) -> None:
        """Send the snapshot, then serve frames until the spectator leaves."""
        gauge = self.service.metrics.connected_clients.labels("spectator")
        gauge.inc()
        self.service.spectators.add(self)
        self.view.spectators.add(self)
        writer = asyncio.get_running_loop().create_task(self._write())
        try:
            await self._read()
        finally:
            self.view.spectators.discard(self)
            self.service.spectators.discard(self)
            gauge.dec()
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    async def _read(self) -> None:
        """Spectators send nothing; reading only notices when they leave."""
        async for msg in self.ws:
            if msg.type is WSMsgType.BINARY or msg.type is WSMsgType.TEXT:
                tally = self.service.metrics.ws_in("spectator")
                tally[0] += 1
                tally[1] += len(msg.data)

    async def _write(self) -> None:
        try:
            await self._send(self.view.snapshot_frame())
            while not self.ws.closed:
                await self._wake.wait()
                self._wake.clear()
                while self._resync or self._queue:
                    if self._resync:
                        self._resync = False
                        self._queue.clear()
                        self._ticks.clear()
                        await self._send(self.view.snapshot_frame())
                    else:
                        await self._send(self._next())
        except (ConnectionError, RuntimeError):
            await self.ws.close(code=Close.GOING_AWAY)

    def _next(self) -> bytes:
        """The oldest queued frame, its tick forgotten once all of it is out."""
        self._ticks[0] -= 1
        if self._ticks[0] == 0:
            self._ticks.popleft()
        return self._queue.popleft()

    async def _send(self, frame: bytes) -> None:
        self._out[0] += 1
        self._out[1] += len(frame)
        await self.ws.send_frame(frame, WSMsgType.TEXT)

    def _drop(self) -> None:
        log.warning("spectator too slow: disconnected", extra=self._ids)
        loop = asyncio.get_running_loop()
        self._dropping = loop.create_task(self._close_too_slow())

    async def _close_too_slow(self) -> None:
        """Tell the spectator why, close 1008; abort if the socket is stuck."""
        frame = encode(
            Error(Code.SPECTATOR_TOO_SLOW, "fell behind the live feed, reconnect")
        )
        try:
            async with asyncio.timeout(CLOSE_WAIT_S):
                await self.ws.send_frame(frame, WSMsgType.TEXT)
                await self.ws.close(code=Close.POLICY, message=b"spectator_too_slow")
        except (TimeoutError, ConnectionError, RuntimeError):
            if self.abort is not None:
                self.abort()

    async def go_away(self) -> None:
        """Shutdown: tell the spectator to reconnect shortly, then close (1001)."""
        frame = encode(
            Reconnect(Code.SHUTTING_DOWN, self.service.settings.reconnect_after_ms)
        )
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_frame(frame, WSMsgType.TEXT)
        await self.ws.close(code=Close.GOING_AWAY, message=b"shutting_down")
