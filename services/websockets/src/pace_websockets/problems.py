"""RFC 9457 problem details for every HTTP error, with stable ``type`` URIs.

Handlers raise :class:`ApiError`; the middleware turns it, aiohttp's own
HTTP errors (404, 405, 413) and anything unexpected into
``application/problem+json``. The ``type`` is
``https://pace.dev/problems/<code>`` and ``code`` repeats the last segment
for clients that prefer a short string.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web
from pace_core.messages import encode

from pace_websockets.schemas import Problem
from pace_websockets.storage import StorageError

__all__ = ["PROBLEM_BASE", "ApiError", "problem_middleware", "problem_response"]

log = logging.getLogger("pace.http")

PROBLEM_BASE = "https://pace.dev/problems/"

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    503: "storage_unavailable",
}


class ApiError(Exception):
    """An HTTP error with a stable code; the message is the problem's detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.code = code or _CODES.get(status, "error")
        self.headers = headers or {}


def problem_response(
    request: web.Request,
    status: int,
    code: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    problem = Problem(
        PROBLEM_BASE + code,
        HTTPStatus(status).phrase,
        status,
        detail,
        request.path,
        code,
    )
    return web.Response(
        status=status,
        body=encode(problem),
        headers=headers,
        content_type="application/problem+json",
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return problem_response(request, exc.status, exc.code, exc.detail, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _CODES.get(exc.status, "error")
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return problem_response(request, exc.status, code, exc.reason, headers)
    except StorageError as exc:
        log.warning("storage error on %s: %s", request.path, exc)
        return problem_response(request, 503, "storage_unavailable", str(exc))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(request, 500, "internal_error", "unexpected error")
