"""Pace's reference runner client: buffering, acks, resume and backoff.

It knows the wire protocol (:mod:`pace_core.messages`) and the HTTP API, and
nothing of the service's code. The simulator (``pace simulate``) is built on it.
"""

from pace_client.buffer import Backoff, SendBuffer
from pace_client.errors import (
    PaceClientError,
    ProblemError,
    RecordingError,
    RunnerError,
)
from pace_client.runner import RETRY_CODES, RunnerClient
from pace_client.tracks import (
    RecordedFix,
    Recording,
    load_recording,
    shift_by,
    shift_to_now,
    to_point,
)

__all__ = [
    "RETRY_CODES",
    "Backoff",
    "PaceClientError",
    "ProblemError",
    "RecordedFix",
    "Recording",
    "RecordingError",
    "RunnerClient",
    "RunnerError",
    "SendBuffer",
    "load_recording",
    "shift_by",
    "shift_to_now",
    "to_point",
]
