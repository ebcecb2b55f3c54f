"""Run an aiohttp application on uvloop and stop it gracefully on SIGTERM.

On SIGTERM (or SIGINT) aiohttp, in this order: stops accepting connections,
runs the app's ``on_shutdown`` hooks (where a service tells its WebSocket
clients to reconnect elsewhere and flushes what it holds), waits up to
``shutdown_grace_s`` for running handlers, then runs ``on_cleanup`` hooks
(close databases) and returns. A platform that sends SIGKILL after its own
grace period should be given more than ``shutdown_grace_s``.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

__all__ = ["new_event_loop", "run_app"]

log = logging.getLogger("pace.server")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop event loop where uvloop is installed, else asyncio's default."""
    try:
        import uvloop
    except ImportError:  # Windows, or a platform without wheels
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run_app(
    app: web.Application, host: str, port: int, shutdown_grace_s: float = 10.0
) -> None:
    """Serve ``app`` on ``host:port`` until SIGTERM/SIGINT, then shut down cleanly."""
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    log.info("listening on %s:%d", host, port, extra={"host": host, "port": port})
    try:
        web.run_app(
            app,
            host=host,
            port=port,
            shutdown_timeout=shutdown_grace_s,
            loop=loop,
            print=None,
            access_log=None,
            handle_signals=True,
        )
    finally:
        log.info("stopped")
