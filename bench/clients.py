"""The simulated runners and spectators that one load generator worker drives.

Runners are real WebSocket clients of ``/ws/runner`` (aiohttp, the fastest
well-kept Python client measured here, on uvloop): hello, welcome, then one
point a second along a circle at about 3 m/s with real-time timestamps.
Spectators are real clients of ``/ws/races/{id}``; a few *probes* decode every
frame to time point-to-spectator latency, the rest only count frames and
bytes, so that the generator's own cost stays far below the server's.
Neither side offers permessage-deflate: see ``docs/benchmarks.md``.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from dataclasses import dataclass, field

import aiohttp
import msgspec

from bench.feedcounter import CountingSpectator, open_counting_spectator

__all__ = ["Counters", "Runner", "Spectator", "format_time"]

_CENTRE = (52.5163, 13.3777)
_M_PER_DEG = 111_320.0
_SPEED_MPS = 3.0


class _Reply(msgspec.Struct):
    """The fields of a server-to-runner frame that the generator reads."""

    type: str
    seq: int = 0
    last_seq: int = 0
    rejected: list[dict[str, object]] = []


class _Standing(msgspec.Struct):
    participant_id: str
    position: tuple[float, float, int] | None = None


class _Frame(msgspec.Struct):
    type: str
    standings: list[_Standing] = []


_reply_decoder = msgspec.json.Decoder(_Reply)
_frame_decoder = msgspec.json.Decoder(_Frame)


@dataclass
class Counters:
    """What a worker has seen since its last ``mark``; latencies in milliseconds."""

    sent: int = 0
    acked: int = 0
    rejected: int = 0
    errors: int = 0
    ack_ms: list[float] = field(default_factory=list)
    p2s_ms: list[float] = field(default_factory=list)
    frames: int = 0
    frame_bytes: int = 0
    runner_frames: int = 0
    dropped: int = 0


def format_time(now_ms: int) -> str:
    """RFC 3339 in UTC with milliseconds, exact to ``now_ms``."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_ms // 1000))
    return f"{stamp}.{now_ms % 1000:03d}Z"


class Runner:
    """One phone: sends a point when told, matches acks and feed frames to it."""

    def __init__(self, participant_id: str, token: str, counters: Counters) -> None:
        self.participant_id, self.token, self.counters = participant_id, token, counters
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.seq = 0
        self.unacked: deque[tuple[int, int]] = deque()
        self.unseen: deque[tuple[int, int]] = deque(maxlen=300)
        self.radius = random.uniform(300.0, 3000.0)
        self.angle = random.uniform(0.0, 2 * math.pi)

    async def connect(self, session: aiohttp.ClientSession, url: str) -> None:
        """Open the socket, say hello and resume after the server's ``last_seq``."""
        ws = await session.ws_connect(url, compress=0, max_msg_size=0, autoping=True)
        await ws.send_str(f'{{"type":"hello","token":"{self.token}"}}')
        welcome = _reply_decoder.decode((await ws.receive()).data)
        if welcome.type != "welcome":
            raise ConnectionError(f"expected welcome, got {welcome.type}")
        self.seq = max(self.seq, welcome.last_seq)
        self.ws = ws
        asyncio.get_running_loop().create_task(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break
            self.counters.runner_frames += 1
            reply = _reply_decoder.decode(msg.data)
            if reply.type == "ack":
                self._acked(reply)
            elif reply.type == "error":
                self.counters.errors += 1
        self.ws = None
        self.counters.dropped += 1

    def _acked(self, reply: _Reply) -> None:
        now = time.monotonic_ns()
        self.counters.rejected += len(reply.rejected)
        while self.unacked and self.unacked[0][0] <= reply.seq:
            _, sent_ns = self.unacked.popleft()
            self.counters.acked += 1
            self.counters.ack_ms.append((now - sent_ns) / 1e6)

    async def send_point(self, now_ms: int, stamp: str) -> None:
        """Advance one second along the circle and send the new fix."""
        ws = self.ws
        if ws is None:
            return
        self.seq += 1
        self.angle += _SPEED_MPS / self.radius
        lat = _CENTRE[0] + self.radius * math.cos(self.angle) / _M_PER_DEG
        lon = _CENTRE[1] + self.radius * math.sin(self.angle) / 67_800.0
        sent_ns = time.monotonic_ns()
        self.unacked.append((self.seq, sent_ns))
        self.unseen.append((now_ms, sent_ns))
        self.counters.sent += 1
        try:
            await ws.send_str(
                f'{{"type":"points","points":[{{"seq":{self.seq},"time":"{stamp}",'
                f'"lat":{lat:.7f},"lon":{lon:.7f},"accuracy":5.0,"speed":3.0}}]}}'
            )
        except (ConnectionError, aiohttp.ClientError):
            self.ws = None

    def seen(self, time_ms: int, now_ns: int) -> None:
        """A feed frame carried this runner at ``time_ms``: every older fix arrived."""
        while self.unseen and self.unseen[0][0] <= time_ms:
            _, sent_ns = self.unseen.popleft()
            self.counters.p2s_ms.append((now_ns - sent_ns) / 1e6)


class Spectator:
    """One watcher of the race feed; a probe decodes frames, others only count."""

    def __init__(
        self, counters: Counters, runners: dict[str, Runner] | None = None
    ) -> None:
        self.counters, self.runners = counters, runners
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.counter: CountingSpectator | None = None

    @property
    def connected(self) -> bool:
        return self.ws is not None or self.counter is not None

    async def connect(self, session: aiohttp.ClientSession, url: str) -> None:
        """Open the feed; a probe also waits for its first frame (the snapshot)."""
        if self.runners is None:
            self.counter = await open_counting_spectator(url, self.counters)
            return
        self.ws = await session.ws_connect(url, compress=0, max_msg_size=0)
        first = await self.ws.receive()
        self._count(first.data)
        asyncio.get_running_loop().create_task(self._read(self.ws))

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.counter is not None:
            self.counter.close()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break
            self._count(msg.data)
            self._match(msg.data)

    def _count(self, data: str | bytes) -> None:
        self.counters.frames += 1
        self.counters.frame_bytes += len(data)

    def _match(self, data: str | bytes) -> None:
        try:
            frame = _frame_decoder.decode(data)
        except msgspec.DecodeError:
            self.counters.errors += 1
            return
        now_ns = time.monotonic_ns()
        for standing in frame.standings:
            runner = (self.runners or {}).get(standing.participant_id)
            if runner is not None and standing.position is not None:
                runner.seen(standing.position[2], now_ns)
