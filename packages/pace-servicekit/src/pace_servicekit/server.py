"""Run an aiohttp application on uvloop and stop it gracefully on SIGTERM.

On the first SIGTERM (or SIGINT), in this order: stop accepting connections,
run the app's ``on_shutdown`` hooks (where a service tells its WebSocket
clients to reconnect and flushes what it holds), wait up to
``shutdown_grace_s`` for running handlers, run the ``on_cleanup`` hooks (close
databases), and return. Further signals during that sequence are ignored, so
a supervisor that signals both ``uv run`` and its child, or a user pressing
Ctrl-C twice, cannot cut the drain short; SIGKILL still can, and a platform's
own kill timeout should exceed ``shutdown_grace_s``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web

__all__ = ["new_event_loop", "run_app", "serve"]

log = logging.getLogger("pace.server")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop event loop where uvloop is installed, else asyncio's default."""
    try:
        import uvloop
    except ImportError:  # Windows, or a platform without wheels
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


async def serve(
    app: web.Application,
    host: str,
    port: int,
    shutdown_grace_s: float = 10.0,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve ``app`` until ``stop`` is set or SIGTERM/SIGINT arrives, then drain."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stopper(stop, sig))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_grace_s)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("listening on %s:%d", host, port, extra={"host": host, "port": port})
        await stop.wait()
    finally:
        await runner.cleanup()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _stopper(stop: asyncio.Event, sig: signal.Signals) -> Callable[[], None]:
    def on_signal() -> None:
        if not stop.is_set():
            log.info("%s: shutting down", sig.name)
        stop.set()

    return on_signal


def run_app(
    app: web.Application, host: str, port: int, shutdown_grace_s: float = 10.0
) -> None:
    """Serve ``app`` on ``host:port`` on uvloop until SIGTERM/SIGINT, then stop."""
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve(app, host, port, shutdown_grace_s))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        log.info("stopped")
