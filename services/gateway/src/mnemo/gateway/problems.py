"""RFC 7807 problem details: every error the gateway returns has this one shape."""

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from mnemo.bus.failures import is_dependency_failure
from mnemo.telemetry import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Problem(Exception):
    """An error to return to the caller: status, a machine code, and what to do about it."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.headers = dict(headers or {})
        self.status = status
        self.code = code
        self.detail = detail
        self.details = dict(details or {})
        if field is not None:
            self.details["field"] = field


def problem_document(
    status: int, code: str, detail: str, instance: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The one shape of every error body, also for answers made outside Litestar (the
    middlewares and the HTTP server's own refusals)."""
    return {
        "type": f"https://mnemo.dev/errors/{code.lower().replace('_', '-')}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "details": dict(details or {}),
        # What clients written for the hosted APIs read (the anansi-memory SDK raises it).
        "error": detail,
    }


def problem_json(problem: Problem, path: str) -> bytes:
    """The body of a problem answer (also for ASGI middleware outside the app)."""
    return msgspec.json.encode(
        problem_document(problem.status, problem.code, problem.detail, path, problem.details)
    )


def problem_response(request: Request, problem: Problem) -> Response[bytes]:
    return Response(
        content=problem_json(problem, request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def handle_problem(request: Request, exc: Exception) -> Response[bytes]:
    assert isinstance(exc, Problem)
    return problem_response(request, exc)


def handle_http_exception(request: Request, exc: Exception) -> Response[bytes]:
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}.get(
        exc.status_code, "HTTP_ERROR"
    )
    detail = exc.detail if exc.status_code != 404 else f"no route for {request.url.path}"
    return problem_response(request, Problem(exc.status_code, code, str(detail)))


def unexpected(exc: Exception) -> Problem:
    """What the caller is told of an exception no handler expected: 503 (retry shortly)
    when a dependency is away, else 500; never the exception itself."""
    if is_dependency_failure(exc):
        return Problem(
            503,
            "UNAVAILABLE",
            "a dependency of the gateway is unavailable; retry shortly",
            headers={"Retry-After": "1"},
        )
    return Problem(500, "INTERNAL", "an unexpected error occurred")


def handle_unexpected(request: Request, exc: Exception) -> Response[bytes]:
    log.exception("unhandled_error", path=request.url.path)
    return problem_response(request, unexpected(exc))
