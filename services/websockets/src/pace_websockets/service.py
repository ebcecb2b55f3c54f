"""The live state one instance holds, shared by the HTTP and WebSocket handlers.

Errors of the package::

    PaceServiceError        the service used before start-up finished (a bug)
    StorageError            storage/base.py: the database boundary's own tree
    BrokerError             broker/base.py: the fan-out boundary's own tree

Handlers turn the last two into protocol errors (``storage_unavailable``) or
problem details (503); a ``PaceServiceError`` reaching a client is a 500.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web
from pace_core.engine import Tracker
from pace_core.filtering import Limits
from pace_core.messages import Split
from prometheus_client import CollectorRegistry

from pace_websockets.broker import Broker
from pace_websockets.committer import Committer
from pace_websockets.courses import CourseBook
from pace_websockets.hub import Hub
from pace_websockets.metrics import Metrics
from pace_websockets.settings import Settings
from pace_websockets.storage import ParticipantRecord, Storage

if TYPE_CHECKING:
    from pace_websockets.runner import RunnerSession
    from pace_websockets.spectator import SpectatorSession

__all__ = ["SERVICE", "PaceServiceError", "RunnerState", "Service"]


class PaceServiceError(Exception):
    """Root of the service's own errors."""


@dataclass(slots=True)
class RunnerState:
    """A participant's tracker and what of it is durable; outlives connections.

    ``seen`` is the highest seq processed (stored, refused or duplicate);
    ``pending`` is the commit of the latest batch, which any later ack of
    this participant must wait for, whichever connection sends it.
    """

    participant: ParticipantRecord
    tracker: Tracker
    committed_seq: int
    seen: int
    splits: list[Split] = field(default_factory=list)
    pending: asyncio.Future[None] | None = None
    disconnected: bool = False


@dataclass
class Service:
    settings: Settings
    registry: CollectorRegistry
    metrics: Metrics
    limits: Limits = field(default_factory=Limits)
    storage: Storage | None = None
    broker: Broker | None = None
    committer: Committer | None = None
    hub: Hub | None = None
    runners: dict[str, RunnerState] = field(default_factory=dict)
    """Trackers by participant id, kept after a disconnect for a quick resume."""
    sessions: dict[str, RunnerSession] = field(default_factory=dict)
    spectators: set[SpectatorSession] = field(default_factory=set)
    courses: CourseBook = field(default_factory=CourseBook)
    """Course trackers by participant id, beside ``runners`` (course races)."""
    shutting_down: bool = False

    @property
    def db(self) -> Storage:
        if self.storage is None:
            raise PaceServiceError("storage is not open")
        return self.storage

    @property
    def commits(self) -> Committer:
        if self.committer is None:
            raise PaceServiceError("committer is not running")
        return self.committer

    @property
    def fanout(self) -> Hub:
        if self.hub is None:
            raise PaceServiceError("hub is not running")
        return self.hub


SERVICE = web.AppKey("pace_service", Service)
