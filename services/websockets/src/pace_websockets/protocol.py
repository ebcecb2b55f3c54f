"""Stable error codes and close codes of the WebSocket protocol (docs/protocol.md).

The codes are public: clients branch on them. ``message`` texts are for people
and may change.
"""

from __future__ import annotations

import enum

from aiohttp import WSCloseCode

__all__ = ["Close", "Code"]


class Code(enum.StrEnum):
    """The ``code`` of an ``error`` frame."""

    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    HELLO_REQUIRED = "hello_required"
    ALREADY_HELLO = "already_hello"
    BAD_TOKEN = "bad_token"
    RACE_ENDED = "race_ended"
    BATCH_TOO_LARGE = "batch_too_large"
    FRAME_TOO_LARGE = "frame_too_large"
    BINARY_NOT_SUPPORTED = "binary_not_supported"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    REPLACED = "replaced"
    SHUTTING_DOWN = "shutting_down"
    RATE_LIMITED = "rate_limited"
    STORAGE_FULL = "storage_full"
    SPECTATOR_TOO_SLOW = "spectator_too_slow"
    INTERNAL = "internal_error"


class Close(enum.IntEnum):
    """WebSocket close codes the server uses (RFC 6455 section 7.4.1)."""

    NORMAL = WSCloseCode.OK
    GOING_AWAY = WSCloseCode.GOING_AWAY
    UNSUPPORTED_DATA = WSCloseCode.UNSUPPORTED_DATA
    POLICY = WSCloseCode.POLICY_VIOLATION
    TOO_BIG = WSCloseCode.MESSAGE_TOO_BIG
    INTERNAL = WSCloseCode.INTERNAL_ERROR
    TRY_AGAIN = WSCloseCode.TRY_AGAIN_LATER
