"""ElizaOS's wire envelope: `{success, data}` answers, `{success: false, error: {code,
message, details}}` errors, and its `X-API-KEY` header as another way to present a key.

Every error raised under the ElizaOS routes (problems of the shared auth, limits,
validation and query helpers included) is translated here, so a caller of this surface
never sees problem+json. The status stays; the code becomes ElizaOS's where it has one.
"""

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Receive, Scope, Send

from mnemo.gateway.paths import shown_path
from mnemo.gateway.problems import Problem, unexpected
from mnemo.gateway.validation import as_json
from mnemo.telemetry import get_logger

log = get_logger(__name__)

# ElizaOS's error codes by status; a status not here keeps Mnemo's code.
_CODES = {
    401: "AUTH_REQUIRED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    422: "INVALID_REQUEST",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
}


def ok(data: Any, status: int = 200) -> Response[bytes]:
    return Response(
        as_json({"success": True, "data": data}), status_code=status, media_type="application/json"
    )


def error(problem: Problem) -> Response[bytes]:
    code = _CODES.get(problem.status, problem.code)
    if problem.status == 400:
        code = "INVALID_ID" if problem.code == "INVALID_ID" else "INVALID_REQUEST"
    # Seed 002's `details` ("additional error information"): the field the error names,
    # also as `field` (what this surface answered before), or null.
    field = problem.details.get("field")
    body: dict[str, Any] = {"code": code, "message": problem.detail, "details": field}
    if field:
        body["field"] = field
    return Response(
        as_json({"success": False, "error": body}),
        status_code=problem.status,
        media_type="application/json",
        headers=problem.headers,
    )


def handle_error(request: Request, exc: Exception) -> Response[bytes]:
    """The exception handler of the ElizaOS router, for every kind of exception."""
    if isinstance(exc, Problem):
        return error(exc)
    if isinstance(exc, HTTPException):
        detail = str(exc.detail) if exc.status_code != 404 else f"no route for {request.url.path}"
        return error(Problem(exc.status_code, "HTTP_ERROR", detail))
    log.exception("unhandled_error", path=shown_path(request.scope))
    return error(unexpected(exc))


def api_key_header(app: ASGIApp) -> ASGIApp:
    """Accept `X-API-KEY: <key>` (how ElizaOS clients send their token) as a bearer key."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        headers = list(scope.get("headers", []))
        names = {bytes(name).lower() for name, _ in headers}
        if b"authorization" not in names:
            key = next((v for k, v in headers if bytes(k).lower() == b"x-api-key"), None)
            if key:
                headers.append((b"authorization", b"Bearer " + bytes(key)))
                scope["headers"] = headers
        await app(scope, receive, send)

    return middleware
