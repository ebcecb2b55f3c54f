"""Structured logs: one JSON object per line, for people and for log shippers.

Only entry points call :func:`configure_logging`; library code just asks for a
named logger (``pace.ingest``, ``pace.fanout``, ``pace.storage``, ``pace.http``)
and passes ids in ``extra``. The formatter copies every ``extra`` field into
the JSON object, so ``log.info("joined", extra={"race_id": r})`` becomes
``{"ts": ..., "level": "INFO", "logger": ..., "msg": "joined", "race_id": r}``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["JsonFormatter", "configure_logging"]

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """Format a record as a single JSON line (no newlines inside a record)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str | int = "INFO", stream: TextIO | None = None) -> None:
    """Send every ``pace.*`` and library log line to ``stream`` as JSON lines.

    Replaces the root handlers, so calling it twice does not duplicate lines.
    aiohttp's per-request access log stays at WARNING: the service logs what
    matters itself, and an access line per request costs more than it tells.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
