"""The lines `mnemo mcp` reads on stdin, checked as POST /mcp checks a body.

The SDK's stdio transport reads stdin as UTF-8 with errors replaced (so a byte that is
not UTF-8 silently becomes U+FFFD in what is stored) and drops a line it cannot parse
without a word: the client waits for ever on a request nobody answers. Here each line is
parsed from its bytes with the parser POST /mcp uses (pydantic's, which also refuses a
lone surrogate such as "\\ud800"); a line that is not a JSON-RPC message is answered at
once, with id null as JSON-RPC 2.0 says when the id cannot be read, and only the good
lines reach the SDK.
"""

from collections.abc import AsyncIterable, AsyncIterator

import anyio
import mcp_types as types
import pydantic
import pydantic_core
from anyio.abc import ObjectSendStream
from mcp.shared.message import SessionMessage

from mnemo.gateway.guard import Refused, check_json
from mnemo.redaction import redact
from mnemo.telemetry import get_logger

log = get_logger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


class Replies:
    """Where a refused line's answer goes: the transport's write stream, once it exists."""

    def __init__(self) -> None:
        self._ready = anyio.Event()
        self._stream: ObjectSendStream[SessionMessage] | None = None

    def attach(self, stream: ObjectSendStream[SessionMessage]) -> None:
        self._stream = stream
        self._ready.set()

    async def send(self, code: int, message: str) -> bool:
        """Answer a refused line; False once the server has stopped writing."""
        await self._ready.wait()
        assert self._stream is not None
        error = types.JSONRPCError(
            jsonrpc="2.0", id=None, error=types.ErrorData(code=code, message=message)
        )
        try:
            await self._stream.send(SessionMessage(error))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return False
        return True


def refusal(line: bytes) -> tuple[int, str] | None:
    """(JSON-RPC error code, message) for a line that is no JSON-RPC message, else None."""
    try:
        decoded = pydantic_core.from_json(line)
    except ValueError as exc:
        # The parser's own words (where, and what it expected), as POST /mcp answers.
        return PARSE_ERROR, f"Parse error: {exc}"
    try:
        types.jsonrpc_message_adapter.validate_python(decoded, by_name=False)
    except pydantic.ValidationError:
        return INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 request or notification"
    try:
        # What the input guard refuses in a POST /mcp body (NUL, depth, an id that is a
        # secret, which the answer would echo): its words, redacted as a problem's are.
        check_json(decoded)
    except Refused as refused:
        return INVALID_REQUEST, "Invalid Request: " + redact(refused.detail).text
    return None


async def checked_lines(source: AsyncIterable[bytes], replies: Replies) -> AsyncIterator[str]:
    """The lines of `source` that hold a JSON-RPC message, as text for the SDK; the others
    are answered on `replies` and skipped. Blank lines are skipped without an answer."""
    async for line in source:
        if not line.strip():
            continue
        if (refused := refusal(line)) is None:
            # Valid UTF-8: the parser above read it.
            yield line.decode("utf-8")
            continue
        code, message = refused
        log.warning("mcp_line_refused", code=code)
        if not await replies.send(code, message):
            return
