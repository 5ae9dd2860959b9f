"""One tool call as one call of the public API, and its answer as an MCP tool result.

The tools are a thin client of the gateway's own HTTP API: the call goes through the
same authentication, limits, idempotency, isolation and audit as any other, and the
route's own checks name a wrong field. Whatever goes wrong (arguments of the wrong
shape, a 4xx or 5xx, the gateway away) is a tool result with isError, never a crash.
"""

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
import mcp_types as types
import msgspec

from mnemo.gateway.mcp.tools import BY_NAME, IDEMPOTENCY_KEY, ToolSpec
from mnemo.gateway.validation import field_of
from mnemo.telemetry import get_logger

log = get_logger(__name__)

# Where a result says which correlation id the call ran under (GET /v1/audit/events).
CORRELATION_META = "mnemo/correlationId"


def tool_error(message: str, field: str | None = None, **more: Any) -> types.CallToolResult:
    detail = {"error": message, "field": field, **more}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(detail))],
        structured_content=detail,
        is_error=True,
    )


def request_of(
    tool: ToolSpec, arguments: Mapping[str, Any]
) -> tuple[str, dict[str, Any] | None, dict[str, str], dict[str, str]]:
    """(path, JSON body or None, query parameters, headers) of a call; raises
    msgspec.ValidationError naming the argument when they do not fit the tool."""
    args = msgspec.convert(dict(arguments), tool.args)
    fields = {k: v for k, v in msgspec.to_builtins(args).items() if v is not None}
    headers = {}
    if (key := fields.pop(IDEMPOTENCY_KEY, None)) is not None:
        headers["Idempotency-Key"] = key
    path = tool.path
    for name in list(fields):
        if "{" + name + "}" in path:
            path = path.replace("{" + name + "}", _segment(str(fields.pop(name))))
    if tool.body:
        return path, fields or None, {}, headers
    return path, None, {k: str(v) for k, v in fields.items()}, headers


def _segment(value: str) -> str:
    """One path segment, whatever the id holds: "/" and "?" escaped, and "." or ".."
    too, which a URL would otherwise read as this or the parent folder."""
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted in {".", ".."} else quoted


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
        return tool_error(f"no tool {name!r}; tools/list names them", field="name")
    try:
        path, body, params, extra = request_of(tool, arguments or {})
    except msgspec.ValidationError as exc:
        message = str(exc)
        return tool_error(f"invalid arguments: {message}", field=field_of(message))
    try:
        response = await client.request(
            tool.method, path, json=body, params=params, headers={**headers, **extra}
        )
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
