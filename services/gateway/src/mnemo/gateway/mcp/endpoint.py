"""/mcp: the MCP server over streamable HTTP, on the gateway.

Authenticated and charged like any call (401 without a valid key; the action `mcp`),
and audited: the request joins its correlation's chain. A tool then calls the gateway's
own app in process (httpx's ASGI transport, no socket) with the caller's key and this
request's correlation id, so the native route authenticates, limits, isolates, keeps
idempotent answers and audits it exactly as if the caller had called it: one mechanism
for all of it, not a second one for MCP.

The SDK's session manager runs stateless (a fresh server per POST, no Mcp-Session-Id):
any gateway replica can answer any request, and nothing is kept between them. It
answers plain JSON rather than an event stream, since no tool sends progress.
"""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from litestar import Request, post
from litestar.types import ASGIApp
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from mnemo.gateway.auth import authorize
from mnemo.gateway.mcp.server import Caller, build_server
from mnemo.telemetry import MessageContext

PATH = "/mcp"
# An in-process call has no network to wait on; this bounds a route that hangs.
CALL_TIMEOUT = 120.0


class McpEndpoint:
    def __init__(self, served: ASGIApp) -> None:
        # `served`: the app with every middleware (ids, shedding, guard, idempotency).
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=served),  # type: ignore[arg-type]
            base_url="http://gateway.internal",
            timeout=CALL_TIMEOUT,
        )
        self.manager = StreamableHTTPSessionManager(
            build_server(self._caller), json_response=True, stateless=True
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.client, self.manager.run():
            yield

    def _caller(self, ctx: ServerRequestContext[Any]) -> Caller:
        # The HTTP request this message came in (authenticated by mcp_endpoint below).
        request = ctx.request
        assert request is not None
        state = request.scope["state"]
        return Caller(
            self.client,
            {
                "authorization": request.headers["authorization"],
                "x-correlation-id": state["correlation_id"],
            },
            MessageContext(
                correlation_id=state["correlation_id"],
                message_id=state["request_id"],
                tenant_id=state.get("tenant_id"),
                request_id=state["request_id"],
                causation_id=state["request_id"],
            ),
        )


@post(PATH, status_code=200)
async def mcp_endpoint(request: Request) -> ASGIApp:
    """POST only: a stateless server has no stream to open (GET) nor session to end
    (DELETE), which the MCP spec lets it answer 405, as the router does here. The body is
    left unread for the SDK, which Litestar hands the request to (an ASGI app returned)."""
    await authorize(request, "mcp")
    endpoint: McpEndpoint = request.app.state.mcp
    return endpoint.manager.handle_request  # type: ignore[return-value]
