"""A stubborn test runner: streams seqs 1..total through any fault.

It keeps one batch in flight, treats an ack as the promise that every seq up
to it is stored, reconnects with jittered exponential backoff after any
close or refusal, and resumes from the server's ``last_seq``. It records
every broken promise (a welcome whose ``last_seq`` is below a seq already
acked) so the fault tests can assert there is none.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp


class Streamer:
    """One participant streaming ``total`` points; see the module docstring."""

    def __init__(
        self,
        ws_url: str,
        token: str,
        total: int,
        batch: int = 10,
        pause_s: float = 0.02,
    ) -> None:
        self.ws_url, self.token, self.total = ws_url, token, total
        self.batch, self.pause_s = batch, pause_s
        self.start = datetime.now(UTC) - timedelta(seconds=total + 120)
        self.acked = 0
        self.codes: list[str] = []
        self.broken: list[tuple[int, int]] = []
        """(acked before, last_seq after) for every resume that lost an ack."""
        self.connections = 0

    def point(self, seq: int) -> dict[str, Any]:
        return {
            "seq": seq,
            "time": (self.start + timedelta(seconds=seq)).isoformat(),
            "lat": 48.85 + seq * 0.00003,
            "lon": 2.35,
            "accuracy": 5.0,
        }

    async def run(self, http: aiohttp.ClientSession) -> None:
        """Stream until every seq is acked, however often the server fails."""
        failures = 0
        while self.acked < self.total:
            try:
                await self._connection(http)
                failures = 0
            except (aiohttp.ClientError, ConnectionError, TimeoutError, _Dropped):
                failures += 1
            delay = min(5.0, 0.1 * 2 ** min(failures, 6))
            await asyncio.sleep(random.uniform(delay / 2, delay))

    async def _connection(self, http: aiohttp.ClientSession) -> None:
        async with http.ws_connect(self.ws_url + "/ws/runner") as ws:
            self.connections += 1
            await ws.send_str(json.dumps({"type": "hello", "token": self.token}))
            welcome = await self._next(ws, "welcome")
            if welcome["last_seq"] < self.acked:
                self.broken.append((self.acked, welcome["last_seq"]))
            seq = welcome["last_seq"]
            while seq < self.total:
                last = min(self.total, seq + self.batch)
                batch = [self.point(s) for s in range(seq + 1, last + 1)]
                await ws.send_str(json.dumps({"type": "points", "points": batch}))
                ack = await self._next(ws, "ack")
                assert "rejected" not in ack, ack
                self.acked = max(self.acked, ack["seq"])
                seq = ack["seq"]
                await asyncio.sleep(self.pause_s)

    async def _next(self, ws: aiohttp.ClientWebSocketResponse, kind: str) -> Any:
        while True:
            msg = await ws.receive(timeout=30)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise _Dropped(str(msg.type))
            frame = json.loads(msg.data)
            if frame["type"] == kind:
                return frame
            if frame["type"] == "error":
                self.codes.append(frame["code"])
            if frame["type"] == "reconnect":
                self.codes.append(frame["reason"])


class _Dropped(Exception):
    """The server closed the socket."""
