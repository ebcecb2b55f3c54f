"""The client's one exception tree.

Everything :mod:`pace_client` raises on purpose derives from
:class:`PaceClientError`, so a caller (the ``pace`` command) can catch one name
and print a clear line instead of a traceback::

    PaceClientError
    ├── RecordingError   a recording file cannot be replayed (unreadable, no times)
    ├── ProblemError     the HTTP API answered with an RFC 9457 problem
    └── RunnerError      the server refused the runner for good (bad token, ...)
"""

from __future__ import annotations

__all__ = ["PaceClientError", "ProblemError", "RecordingError", "RunnerError"]


class PaceClientError(Exception):
    """Root of every error this package raises on purpose."""


class RecordingError(PaceClientError):
    """A recording cannot be loaded or replayed."""


class ProblemError(PaceClientError):
    """An HTTP call failed; carries the problem-details fields the server sent."""

    def __init__(self, status: int, type_: str, title: str, detail: str) -> None:
        super().__init__(
            f"{status} {title}: {detail}" if detail else f"{status} {title}"
        )
        self.status = status
        self.type = type_
        self.title = title
        self.detail = detail


class RunnerError(PaceClientError):
    """The server sent an ``error`` that retrying cannot fix (its ``code`` is kept)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
