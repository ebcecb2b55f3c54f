"""The load generator worker: a separate process that plays runners and spectators.

The controller (:mod:`bench.scenario`) starts one or more workers, pinned to a
core the server does not use, and drives them with one JSON command per line
on stdin; each command gets one JSON line back on stdout:

- ``runners {url, creds, rate}``: connect and say hello, ``rate`` per second
  at most (a connection storm is not the steady state being measured);
- ``spectators {url, n, probes, rate}``: grow or shrink the audience to ``n``;
- ``start``: every runner sends one point a second, phases spread evenly;
- ``mark``: the counters since the previous mark, the worker's own CPU
  seconds and how many points await their ack; the counters restart;
- ``drain {timeout_s}``: stop sending, wait for the acks still owed;
- ``stop``: close every socket and exit.

Several workers exist only because one process may hold at most 20,000 file
descriptors here (``ulimit -Hn``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from typing import Any

import aiohttp
import uvloop

from bench.clients import Counters, Runner, Spectator, format_time
from bench.procstat import cpu_seconds, wait_seconds

__all__ = ["Worker", "main"]

_SLOTS_PER_SECOND = 50
_CONNECT_CONCURRENCY = 200
_CONNECT_TIMEOUT_S = 60.0


async def connect_paced(
    items: Sequence[Any], rate: float, connect: Callable[[Any], Awaitable[None]]
) -> list[str]:
    """Start ``connect(item)`` for each item at ``rate`` per second; return failures."""
    limit, failures = asyncio.Semaphore(_CONNECT_CONCURRENCY), []

    async def one(item: Any) -> None:
        async with limit:
            try:
                await asyncio.wait_for(connect(item), _CONNECT_TIMEOUT_S)
            except Exception as exc:
                failures.append(repr(exc))

    start, tasks = time.monotonic(), []
    for i, item in enumerate(items):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(item)))
    await asyncio.gather(*tasks)
    return failures


class Worker:
    """The runners and spectators of one generator process."""

    def __init__(self) -> None:
        self.counters = Counters()
        self.runners: list[Runner] = []
        self.by_id: dict[str, Runner] = {}
        self.spectators: list[Spectator] = []
        self.sender: asyncio.Task[None] | None = None
        self.max_lag_ms = 0.0
        connector = aiohttp.TCPConnector(limit=0, enable_cleanup_closed=False)
        self.session = aiohttp.ClientSession(connector=connector)

    async def runners_cmd(self, url: str, creds: list[list[str]], rate: float) -> Any:
        new = [Runner(pid, token, self.counters) for pid, token in creds]
        random.shuffle(new)
        failures = await connect_paced(
            new, rate, lambda r: r.connect(self.session, url)
        )
        self.runners += [r for r in new if r.ws is not None]
        self.by_id.update((r.participant_id, r) for r in self.runners)
        return {
            "connected": len(self.runners),
            "failed": len(failures),
            "first_error": failures[0] if failures else None,
        }

    async def spectators_cmd(self, url: str, n: int, probes: int, rate: float) -> Any:
        """Grow or shrink the audience to ``n``, probes first in the list."""
        while len(self.spectators) > n:
            await self.spectators.pop().close()
        new = [
            Spectator(
                self.counters, self.by_id if len(self.spectators) + i < probes else None
            )
            for i in range(n - len(self.spectators))
        ]
        failures = await connect_paced(
            new, rate, lambda s: s.connect(self.session, url)
        )
        self.spectators += [s for s in new if s.connected]
        return {
            "connected": len(self.spectators),
            "failed": len(failures),
            "first_error": failures[0] if failures else None,
        }

    async def send_forever(self) -> None:
        """Each runner sends once a second; runner ``i`` in slot ``i % 50``."""
        period, slot, due = 1.0 / _SLOTS_PER_SECOND, 0, time.monotonic()
        while True:
            now_ms = time.time_ns() // 1_000_000
            stamp = format_time(now_ms)
            for runner in self.runners[slot::_SLOTS_PER_SECOND]:
                await runner.send_point(now_ms, stamp)
            slot = (slot + 1) % _SLOTS_PER_SECOND
            due += period
            lag = time.monotonic() - due
            self.max_lag_ms = max(self.max_lag_ms, lag * 1000)
            await asyncio.sleep(max(0.0, -lag))

    def _sender_error(self) -> str | None:
        sender = self.sender
        if sender is None or not sender.done() or sender.cancelled():
            return None
        return repr(sender.exception())

    def mark(self) -> Any:
        """The counters since the previous mark, then start them afresh."""
        report = asdict(self.counters)
        report.update(
            at=time.monotonic(),
            cpu_s=cpu_seconds(),
            wait_s=wait_seconds(),
            unacked=sum(len(r.unacked) for r in self.runners),
            runners=sum(r.ws is not None for r in self.runners),
            spectators=len(self.spectators),
            max_lag_ms=self.max_lag_ms,
            sender_error=self._sender_error(),
        )
        fresh = Counters()
        for name in report.keys() & vars(fresh).keys():
            setattr(self.counters, name, getattr(fresh, name))
        self.max_lag_ms = 0.0
        return report

    async def drain(self, timeout_s: float) -> Any:
        """Stop sending and wait for the acks still owed; report what never came."""
        if self.sender is not None:
            self.sender.cancel()
        for _ in range(int(timeout_s * 10)):
            if not any(r.unacked for r in self.runners):
                break
            await asyncio.sleep(0.1)
        return {"unacked": sum(len(r.unacked) for r in self.runners)}

    async def stop(self) -> Any:
        if self.sender is not None:
            self.sender.cancel()
        closing = [r.ws.close() for r in self.runners if r.ws is not None]
        closing += [s.close() for s in self.spectators]
        # A loaded server may take long to answer each close frame: give up
        # after a few seconds and let the session drop the rest.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), 5)
        await self.session.close()
        return {"stopped": True}

    async def handle(self, command: dict[str, Any]) -> Any:
        name = command.pop("cmd")
        if name == "runners":
            return await self.runners_cmd(**command)
        if name == "spectators":
            return await self.spectators_cmd(**command)
        if name == "start":
            self.sender = asyncio.create_task(self.send_forever())
            return {"started": len(self.runners)}
        if name == "mark":
            return self.mark()
        if name == "drain":
            return await self.drain(**command)
        if name == "stop":
            return await self.stop()
        raise ValueError(f"unknown command {name!r}")


async def serve_commands() -> None:
    """Read commands from stdin until ``stop``, answering each on stdout."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 27)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    worker = Worker()
    while line := await reader.readline():
        command = json.loads(line)
        done = command["cmd"] == "stop"
        reply = await worker.handle(command)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if done:
            return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int, help="pin this process to one core")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.run(serve_commands())


if __name__ == "__main__":
    main()
