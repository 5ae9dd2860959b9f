"""The MCP server (the official SDK's low-level Server): lists the tools and runs them.

Both transports build it the same way and differ only in how a call reaches the public
API: `mnemo mcp` (stdio) holds one HTTP client of MNEMO_GATEWAY_URL with MNEMO_API_KEY;
the gateway's /mcp endpoint calls its own app in process with the caller's key
(mnemo.gateway.mcp.endpoint).
"""

import contextlib
import dataclasses
import re
import typing
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import mcp_types as types
from mcp.server._otel import OpenTelemetryMiddleware
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from mnemo.gateway import VERSION
from mnemo.gateway.mcp.calls import call_tool
from mnemo.gateway.mcp.tools import TOOLS
from mnemo.gateway.secrets import redact_text, redact_value
from mnemo.telemetry import MessageContext, message_context

NAME = "mnemo"
INSTRUCTIONS = (
    "Mnemo is this agent's long-term memory. remember what users say, search or get_context "
    "before answering, and use the fact tools to confirm, replace or dispute what is known."
)


@dataclass(frozen=True)
class Caller:
    """How one call reaches the public API: a client whose base URL is the gateway's,
    the headers of this call (the caller's key, the correlation id) when the client does
    not carry them, and the ids its log lines carry."""

    client: httpx.AsyncClient
    headers: Mapping[str, str]
    ids: MessageContext | None = None


Route = Callable[[ServerRequestContext[Any]], Caller]


def tool_list() -> list[types.Tool]:
    return [
        types.Tool(
            name=t.name,
            description=t.description,
            input_schema=t.input_schema(),
            annotations=types.ToolAnnotations(
                read_only_hint=t.read_only,
                destructive_hint=t.destructive,
                # Mnemo is the tool's whole world: no call reaches beyond it.
                open_world_hint=False,
            ),
        )
        for t in TOOLS
    ]


def build_server(route: Route) -> Server[Any]:
    tools = tool_list()

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def run_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        caller = route(ctx)
        with message_context(caller.ids) if caller.ids else contextlib.nullcontext():
            return await call_tool(caller.client, params.name, params.arguments, caller.headers)

    server: Server[Any] = Server(
        NAME,
        version=VERSION,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=run_tool,
    )
    # The SDK's span of a call is named after the tool the client asked for (and carries
    # it as gen_ai.tool.name), whatever it sent: only Mnemo's tools are named there.
    server.middleware = [
        _KnownNamesOnly() if isinstance(m, OpenTelemetryMiddleware) else m
        for m in server.middleware
    ]
    server.middleware.append(_errors_redacted)
    return server


_TOOL_NAMES = frozenset(t.name for t in TOOLS)
UNKNOWN_TOOL = "unknown"


def _methods() -> frozenset[str]:
    """The JSON-RPC methods the protocol knows a client to send."""
    found: set[str] = set()
    for union in (types.ClientRequest, types.ClientNotification):
        for member in typing.get_args(union) or typing.get_args(
            union.model_fields["root"].annotation  # type: ignore[attr-defined]
        ):
            if typing.get_origin(member) is typing.Annotated:
                member = typing.get_args(member)[0]
            field = getattr(member, "model_fields", {}).get("method")
            if field is not None:
                found.update(typing.get_args(field.annotation))
    return frozenset(found)


_METHODS = _methods()


class _KnownNamesOnly(OpenTelemetryMiddleware):
    """The SDK's OpenTelemetry middleware, shown a call's tool name only when it is one of
    Mnemo's (and no prompt's: Mnemo has none), its method only when the protocol knows it,
    and its JSON-RPC id only when it is a number. A name, a method or an id a client wrote
    is its input, which a span (exported beyond the process) never holds, as no error
    quotes it (a method of 200 KB made a span of 600 KB); the call itself goes on with what
    the client sent."""

    async def __call__(self, ctx: ServerRequestContext[Any], call_next: Any) -> Any:
        name = ctx.params.get("name") if ctx.params else None
        known_name = not isinstance(name, str) or (
            ctx.method == "tools/call" and name in _TOOL_NAMES
        )
        known_id = ctx.request_id is None or isinstance(ctx.request_id, int)
        if known_name and known_id and ctx.method in _METHODS:
            return await super().__call__(ctx, call_next)
        shown = dataclasses.replace(
            ctx,
            method=ctx.method if ctx.method in _METHODS else UNKNOWN_TOOL,
            params=ctx.params if known_name else {**(ctx.params or {}), "name": UNKNOWN_TOOL},
            request_id=ctx.request_id if known_id else None,
        )

        async def with_what_was_sent(_: ServerRequestContext[Any]) -> Any:
            return await call_next(ctx)

        return await super().__call__(shown, with_what_was_sent)


# What a pydantic validation error quotes of the input, up to the end of its line:
# `[type=literal_error, input_value='mk_...', input_type=str]`. The value is cut short
# when long (`'postgres://a:...s://a:pass@db/x'`), past what a redaction rule can still
# recognise, so it is dropped whole rather than redacted. Greedy to the line's last
# `input_type`: what the value holds cannot end the match early.
_QUOTED_INPUT = re.compile(r"input_value=.*, (input_type=[^\],]*\])$", re.MULTILINE)


def error_text(text: str, counts: Counter[str]) -> str:
    """An error's message as it may be answered: without the input pydantic quotes, and
    with any other secret the caller sent quoted as its placeholder."""
    return redact_text(_QUOTED_INPUT.sub(r"\1", text), counts)


async def _errors_redacted(ctx: ServerRequestContext[Any], call_next: Any) -> Any:
    """A protocol error quotes what the caller sent (the SDK answers an unknown method with
    the method's name as its data): a key in it is quoted as its placeholder, as every
    other surface's errors do."""
    try:
        return await call_next(ctx)
    except MCPError as exc:
        counts: Counter[str] = Counter()
        raise MCPError(
            exc.code, error_text(exc.message, counts), redact_value(exc.data, counts)
        ) from None
