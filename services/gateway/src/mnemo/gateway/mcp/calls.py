"""One tool call as one call of the public API, and its answer as an MCP tool result.

The tools are a thin client of the gateway's own HTTP API: the call goes through the
same authentication, limits, idempotency, isolation and audit as any other, and the
route's own checks name a wrong field. Whatever goes wrong (arguments of the wrong
shape, a 4xx or 5xx, the gateway away) is a tool result with isError, never a crash.
"""

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
import mcp_types as types
import msgspec

from mnemo.gateway.mcp.tools import BY_NAME, HEADER_ARGUMENTS, ToolSpec
from mnemo.gateway.secrets import redact_value
from mnemo.gateway.validation import field_of
from mnemo.telemetry import get_logger

log = get_logger(__name__)

# Where a result says which correlation id the call ran under (GET /v1/audit/events).
CORRELATION_META = "mnemo/correlationId"


def tool_error(message: str, field: str | None = None, **more: Any) -> types.CallToolResult:
    # A message may quote what the caller sent (msgspec names an unknown argument, and
    # quotes a value that is none of an enum's), and a field is named by it: a key put
    # there is quoted as its placeholder, as every other surface's errors are.
    detail = redact_value({"error": message, "field": field, **more}, Counter())
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(detail))],
        structured_content=detail,
        is_error=True,
    )


# A call refused before it reached the gateway: shaped as the route's own 400 would be
# ({error, field, status, code}), so a client reads every tool failure the same way.
_REFUSED: dict[str, Any] = {"status": 400, "code": "INVALID_REQUEST"}


class ArgumentRefused(ValueError):
    """An argument msgspec let through that the call still cannot carry: `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def request_of(
    tool: ToolSpec, arguments: Mapping[str, Any]
) -> tuple[str, dict[str, Any] | None, dict[str, str], dict[str, str]]:
    """(path, JSON body or None, query parameters, headers) of a call; raises
    msgspec.ValidationError or ArgumentRefused naming the argument when they do not fit
    the tool."""
    # First, so that no message below (msgspec's included) quotes what cannot be encoded.
    _check_text(dict(arguments), "")
    args = msgspec.convert(dict(arguments), tool.args)
    fields = {k: v for k, v in msgspec.to_builtins(args).items() if v is not None}
    headers = {}
    for name, spec in HEADER_ARGUMENTS.items():
        if (value := fields.pop(name, None)) is None:
            continue
        if not spec.rule.fullmatch(value):
            raise ArgumentRefused(name, f"{name} must be {spec.expected}")
        headers[spec.header] = value
    path = tool.path
    for name in list(fields):
        if "{" + name + "}" in path:
            path = path.replace("{" + name + "}", _segment(str(fields.pop(name))))
    if tool.body:
        return path, fields or None, {}, headers
    return path, None, {k: str(v) for k, v in fields.items()}, headers


def _check_text(value: Any, at: str) -> None:
    """Refuse a string that is not Unicode text (a lone surrogate, which a JSON parser
    may let through from "\\ud800"): no UTF-8 request can carry it, body, path or query."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            field = at or "arguments"
            raise ArgumentRefused(
                field, f"{field} holds a lone surrogate (\\ud800-\\udfff), which is not text"
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, at)
            _check_text(item, f"{at}.{key}" if at else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{at}[{index}]")


def _segment(value: str) -> str:
    """One path segment, whatever the id holds: "/" and "?" escaped, and "." or ".."
    too, which a URL would otherwise read as this or the parent folder."""
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted in {".", ".."} else quoted


def _merged(headers: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """The call's headers, an argument's (`idempotencyKey`) over the caller's of the same
    name whatever their case (both were sent: one request with two keys)."""
    merged = {name.lower(): value for name, value in headers.items()}
    merged.update((name.lower(), value) for name, value in extra.items())
    return merged


async def call_tool(
    client: httpx.AsyncClient,
    name: str,
    arguments: Mapping[str, Any] | None,
    headers: Mapping[str, str],
) -> types.CallToolResult:
    """Run tool `name` through `client` (whose base URL is the gateway's), with `headers`
    (the caller's key and correlation id, when the client does not carry them)."""
    tool = BY_NAME.get(name)
    if tool is None:
        # Not quoted: a name is what the caller sent, and may be anything.
        return tool_error("no tool of that name; tools/list names them", field="name", **_REFUSED)
    try:
        path, body, params, extra = request_of(tool, arguments or {})
    except msgspec.ValidationError as exc:
        message = str(exc)
        return tool_error(f"invalid arguments: {message}", field=field_of(message), **_REFUSED)
    except ArgumentRefused as exc:
        return tool_error(f"invalid arguments: {exc}", field=exc.field, **_REFUSED)
    try:
        request = client.build_request(
            tool.method, path, json=body, params=params, headers=_merged(headers, extra)
        )
    except (ValueError, TypeError, httpx.InvalidURL) as exc:
        # request_of checks what it knows a request cannot carry; this is for what it
        # does not, and is still a tool error rather than the exception's text.
        kind = type(exc).__name__
        log.warning("mcp_request_unbuildable", tool=name, error=kind)
        return tool_error(f"invalid arguments: no HTTP request can carry them ({kind})", **_REFUSED)
    try:
        response = await client.send(request)
    except httpx.HTTPError as exc:
        # Never the exception's text: it may quote the URL with the arguments in it.
        log.warning("mcp_gateway_unreachable", tool=name, error=type(exc).__name__)
        return tool_error(f"the gateway did not answer ({type(exc).__name__}); retry")
    return _result(name, response)


def _result(name: str, response: httpx.Response) -> types.CallToolResult:
    correlation = response.headers.get("x-correlation-id")
    meta = {CORRELATION_META: correlation} if correlation else None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    # The call's correlation id (on stdio no request context binds it).
    log.info("mcp_tool_called", tool=name, status=response.status_code, correlation_id=correlation)
    if response.status_code >= 400:
        problem = answer if isinstance(answer, dict) else {}
        details = problem.get("details") or {}
        result = tool_error(
            f"{response.status_code} {problem.get('code', '')}: {problem.get('detail', '')}",
            field=details.get("field") if isinstance(details, dict) else None,
            status=response.status_code,
            code=problem.get("code"),
        )
        result.meta = meta
        return result
    result = types.CallToolResult(
        content=[types.TextContent(type="text", text=response.text)],
        structured_content=answer if isinstance(answer, dict) else None,
    )
    result.meta = meta  # `_meta` on the wire
    return result
