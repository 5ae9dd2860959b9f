"""`mnemo mcp`: the MCP server on stdin/stdout, for Claude Desktop, Cursor and any client
that starts its servers as processes. Every tool call is an HTTP call of the gateway at
MNEMO_GATEWAY_URL with MNEMO_API_KEY, so it is authenticated, limited, isolated and
audited by the gateway as any other call. stdout carries only the protocol; logs go to
stderr and never hold the key or what a tool was given."""

import sys

import anyio
import httpx
from mcp.server.stdio import stdio_server

from mnemo.gateway.mcp.server import Caller, build_server
from mnemo.gateway.mcp.settings import McpStdioSettings
from mnemo.gateway.mcp.stdin_messages import Replies, checked_lines
from mnemo.telemetry import get_logger

log = get_logger(__name__)


async def serve(settings: McpStdioSettings, key: str) -> None:
    async with httpx.AsyncClient(
        base_url=settings.url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=settings.mcp_timeout,
    ) as client:
        caller = Caller(client, {})
        server = build_server(lambda ctx: caller)
        log.info("mcp_stdio_started", gateway=settings.url)
        replies = Replies()
        lines = checked_lines(anyio.wrap_file(sys.stdin.buffer), replies)
        # The transport only iterates `stdin`; stdout it still claims for the protocol.
        async with stdio_server(stdin=lines) as (read, write):  # type: ignore[arg-type]
            replies.attach(write)
            await server.run(read, write, server.create_initialization_options())


def run(settings: McpStdioSettings, key: str) -> int:
    anyio.run(serve, settings, key)
    return 0
