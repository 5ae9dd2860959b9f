"""RFC 7807 problem details: every error the gateway returns has this one shape."""

from collections import Counter
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from mnemo.bus.failures import is_dependency_failure
from mnemo.gateway.paths import shown_path
from mnemo.redaction import redact, redact_value
from mnemo.telemetry import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"

# Every status the gateway answers with a problem: its title, and what it means (the
# OpenAPI document's response descriptions come from here too, so the two cannot drift).
STATUSES: dict[int, tuple[str, str]] = {
    400: ("Bad Request", "Malformed JSON, an invalid field or parameter (named in details.field)"),
    401: ("Unauthorized", "Missing, invalid or revoked API key"),
    402: ("Payment Required", "Monthly quota used up"),
    403: ("Forbidden", "The key may not do this (e.g. an agent key on a master-key operation)"),
    404: ("Not Found", "Not found (or not the caller's: the same answer, so nothing leaks)"),
    405: ("Method Not Allowed", "The path does not take this method (Allow lists those it does)"),
    408: (
        "Request Timeout",
        "The body did not all arrive within MNEMO_BODY_TIMEOUT; the connection is closed",
    ),
    409: (
        "Conflict",
        "Conflict: exists already, the tenant's last master key, or an Idempotency-Key "
        "reused with another method, path or body (or still running)",
    ),
    413: ("Payload Too Large", "Body or content too large"),
    415: (
        "Unsupported Media Type",
        "A body in a Content-Encoding the gateway does not decode (only identity);"
        " Accept-Encoding says which it does",
    ),
    422: (
        "Unprocessable Content",
        "The body breaks its schema (a missing field, a wrong type), named in details.field",
    ),
    429: (
        "Too Many Requests",
        "Rate limit exceeded (key, tenant, or failed authentications from this address);"
        " Retry-After says when to come back",
    ),
    500: ("Internal Server Error", "An unexpected error"),
    502: ("Bad Gateway", "A service behind the gateway failed"),
    503: (
        "Service Unavailable",
        "Overloaded (load shed), or NATS, a service or the rate-limit store unavailable;"
        " Retry-After says when to retry; nothing was accepted",
    ),
    504: ("Gateway Timeout", "A service behind the gateway did not answer in time"),
    507: (
        "Insufficient Storage",
        "The command stream is full (MNEMO_CMD_MAX_BYTES or the NATS server's storage);"
        " nothing was accepted; a retry fails until an operator makes room",
    ),
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
        # A detail may quote what the caller sent (an id, a path), and a field is named by
        # what the caller sent (a JSON key, a query parameter's name): a key put in either
        # is answered as its placeholder, on every surface (their shapes, which quote both,
        # are made from this).
        detail = redact(detail).text
        super().__init__(detail)
        self.headers = dict(headers or {})
        self.status = status
        self.code = code
        self.detail = detail
        self.details = redact_value(dict(details or {}), Counter())
        if field is not None:
            self.details["field"] = redact(field).text


def problem_body(problem: Problem, instance: str) -> bytes:
    """The one JSON shape of every problem, whoever answers it (a route, a middleware, the
    HTTP server's own refusals)."""
    body = {
        "type": f"https://mnemo.dev/errors/{problem.code.lower().replace('_', '-')}",
        "title": STATUSES.get(problem.status, ("Error", ""))[0],
        "status": problem.status,
        "detail": problem.detail,
        "instance": redact(instance).text,
        "code": problem.code,
        "details": problem.details,
        # What clients written for the hosted APIs read (the anansi-memory SDK raises it).
        "error": problem.detail,
    }
    return msgspec.json.encode(body)


def problem_response(request: Request, problem: Problem) -> Response[bytes]:
    return Response(
        content=problem_body(problem, request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def handle_problem(request: Request, exc: Exception) -> Response[bytes]:
    assert isinstance(exc, Problem)
    return problem_response(request, exc)


def http_problem(request: Request, exc: HTTPException) -> Problem:
    """The problem of a router's refusal (no such route, method not allowed, too large)."""
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}.get(
        exc.status_code, "HTTP_ERROR"
    )
    detail = exc.detail if exc.status_code != 404 else f"no route for {request.url.path}"
    # A 405 keeps the router's Allow header (RFC 9110: the methods the path does take).
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
    return Problem(exc.status_code, code, str(detail), headers=headers)


def handle_http_exception(request: Request, exc: Exception) -> Response[bytes]:
    assert isinstance(exc, HTTPException)
    return problem_response(request, http_problem(request, exc))


def unavailable(code: str, detail: str, retry_after: int) -> Problem:
    """A 503 that tells when to try again (`Retry-After`, and `details.retryAfter`)."""
    return Problem(
        503,
        code,
        detail,
        details={"retryAfter": retry_after},
        headers={"Retry-After": str(retry_after)},
    )


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
    log.exception("unhandled_error", path=shown_path(request.scope))
    return problem_response(request, unexpected(exc))
