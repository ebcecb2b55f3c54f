"""The systems under test: Pace itself and the three peers, started the same way.

Each runs as its own process on a free port with its own SQLite file, pinned
to core 0 (the generator gets the other core), and is stopped with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KINDS", "Server", "free_port", "running"]

ROOT = Path(__file__).resolve().parent.parent
NODE_PEER = ROOT / "bench" / "peers" / "node_peer"
KINDS = ("pace", "bare", "fastapi", "node")


class BenchError(Exception):
    """The harness itself could not do what it was asked (not a slow server)."""


@dataclass
class Server:
    kind: str
    pid: int
    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ensure_node_modules() -> None:
    """``npm ci`` the Node peer's locked dependencies when they are missing."""
    if (NODE_PEER / "node_modules" / "better-sqlite3").exists():
        return
    if shutil.which("npm") is None:
        raise BenchError("the Node.js peer needs node and npm on PATH")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_PEER, check=True)


def command(kind: str) -> list[str]:
    if kind == "pace":
        return [sys.executable, "-m", "pace_websockets"]
    if kind == "bare":
        return [sys.executable, "-m", "bench.peers.bare_peer.app"]
    if kind == "fastapi":
        return [sys.executable, "-m", "bench.peers.fastapi_peer.app"]
    if kind == "node":
        ensure_node_modules()
        return ["node", str(NODE_PEER / "server.js")]
    raise BenchError(f"unknown server kind {kind!r}")


def _pin(core: int | None) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})


async def _wait_listening(port: int, proc: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        if proc.returncode is not None:
            raise BenchError(f"server exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise BenchError(f"server not listening on {port} after 30 s")


@contextlib.asynccontextmanager
async def running(
    kind: str, db_path: Path, core: int | None, tick_s: float = 1.0
) -> AsyncIterator[Server]:
    """Start a server of ``kind`` on the database ``db_path``; stop it afterwards."""
    port = free_port()
    env = dict(
        os.environ,
        PACE_PORT=str(port),
        PACE_HOST="127.0.0.1",
        PACE_DATABASE_URL=f"sqlite:///{db_path}",
        PACE_TICK_S=str(tick_s),
        PACE_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    log = db_path.with_suffix(".log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *command(kind),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: _pin(core),
    )
    try:
        await _wait_listening(port, proc)
        yield Server(kind, proc.pid, port)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        log.close()
