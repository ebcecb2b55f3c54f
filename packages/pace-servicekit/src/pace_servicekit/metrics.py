"""Prometheus plumbing: a fresh registry per app and the ``/metrics`` handler.

Each service declares its own metrics on the registry it is handed, so tests
and several apps in one process never share counters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

__all__ = ["metrics_handler", "new_registry"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_registry() -> CollectorRegistry:
    """A registry with the process, platform and GC collectors already on it."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def metrics_handler(
    registry: CollectorRegistry,
) -> Handler:
    """An aiohttp handler serving ``registry`` in the Prometheus text format."""

    async def handle(_request: web.Request) -> web.StreamResponse:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return handle
