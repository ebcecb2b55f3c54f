"""A spectator that only counts: the feed's frames and bytes, at the lowest cost.

With a thousand spectators of a big race, the server sends gigabytes a second
and a Python WebSocket client that assembles and decodes every frame would
make the generator the bottleneck. This client does the real handshake
(RFC 6455 section 4.1) and then walks frame headers as bytes arrive, counting
frames and payload bytes without copying or decoding a payload. It answers
pings (section 5.5.2), so a server's heartbeat keeps it connected. The probe
spectators in :mod:`bench.clients` decode everything; these stand for the rest
of the audience.
"""

from __future__ import annotations

import asyncio
import base64
import os
from urllib.parse import urlsplit

__all__ = ["CountingSpectator", "open_counting_spectator"]

_PING, _PONG, _CLOSE = 0x9, 0xA, 0x8


class CountingSpectator(asyncio.Protocol):
    """Counts server frames; ``frames`` and ``payload_bytes`` only grow."""

    def __init__(self, counters: object) -> None:
        self.counters = counters
        self.transport: asyncio.Transport | None = None
        self.handshake = bytearray()
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.skip = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            self._handshake(data)
            return
        self._frames(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed during handshake"))

    def _handshake(self, data: bytes) -> None:
        self.handshake += data
        head, sep, rest = bytes(self.handshake).partition(b"\r\n\r\n")
        if not sep:
            return
        if not head.startswith(b"HTTP/1.1 101"):
            self.upgraded.set_exception(
                ConnectionError(head.split(b"\r\n")[0].decode())
            )
            return
        self.upgraded.set_result(None)
        if rest:
            self._frames(rest)

    def _frames(self, data: bytes) -> None:
        """Skip payloads already announced, then parse whole headers from the rest."""
        if self.skip >= len(data):
            self.skip -= len(data)
            return
        self.buffer += data[self.skip :] if self.skip else data
        self.skip = 0
        while self._one_frame():
            pass

    def _one_frame(self) -> bool:
        buf = self.buffer
        if len(buf) < 2:
            return False
        opcode, length, start = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if length == 126:
            if len(buf) < 4:
                return False
            length, start = int.from_bytes(buf[2:4], "big"), 4
        elif length == 127:
            if len(buf) < 10:
                return False
            length, start = int.from_bytes(buf[2:10], "big"), 10
        end = start + length
        if opcode >= 0x8 and len(buf) < end:
            return False
        if opcode == _PING:
            self._send(_PONG, bytes(buf[start:end]))
        elif opcode < 0x8:
            self.counters.frames += 1 if buf[0] & 0x80 else 0  # type: ignore[attr-defined]
            self.counters.frame_bytes += length  # type: ignore[attr-defined]
        if end > len(buf):
            self.skip = end - len(buf)
            self.buffer = bytearray()
            return False
        del buf[:end]
        return True

    def _send(self, opcode: int, payload: bytes) -> None:
        """A masked client frame; control payloads are at most 125 bytes."""
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(
                bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked
            )

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self._send(_CLOSE, b"\x03\xe8")
            self.transport.close()


async def open_counting_spectator(url: str, counters: object) -> CountingSpectator:
    """Connect to ``ws://host:port/path`` and finish the opening handshake."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: CountingSpectator(counters), parts.hostname, parts.port
    )
    key = base64.b64encode(os.urandom(16)).decode()
    assert protocol.transport is not None
    protocol.transport.write(
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await protocol.upgraded
    return protocol
