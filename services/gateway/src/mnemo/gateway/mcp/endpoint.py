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

What the SDK reads and what it answers pass one boundary here (`McpEndpoint.serve`):

- the SDK parses a body with parsers of its own (pydantic's, or json.loads for the
  stateless revision) that take what the input guard's could not read, so the guard
  checked nothing of it: NaN and Infinity, which are not JSON, are refused (-32700), and
  anything else such a parser takes is checked here as the guard checks a body;
- an error answered quotes what the caller sent (pydantic's validation errors quote the
  input, the SDK echoes the request's id): its message, data and id are redacted, as
  every other surface's errors are.
"""

import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
from litestar import Request, post
from litestar.types import ASGIApp
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from mnemo.gateway.auth import authorize
from mnemo.gateway.body import read_body, replay
from mnemo.gateway.guard import Refused, check_json, send_refusal
from mnemo.gateway.mcp.server import Caller, build_server, error_text
from mnemo.gateway.problems import Problem
from mnemo.gateway.secrets import redact_text, redact_value
from mnemo.telemetry import MessageContext

# Plain ASGI below: the messages are ordinary dicts.
Message = dict[str, Any]

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

    async def serve(self, scope: Any, receive: Any, send: Any) -> None:
        """The SDK's answer to this request, its body checked first and its errors
        redacted (see the module's docstring)."""
        # Read by the input guard already (a replay, at once); the deadline bounds the rest.
        body = await read_body(receive, timeout=CALL_TIMEOUT)
        try:
            unchecked = non_json(body)
        except Refused as refused:
            problem = Problem(400, refused.code, refused.detail, field=refused.field)
            await send_refusal(send, scope.get("path", PATH), problem, ())
            return
        if unchecked is not None:
            await _send_json(send, 400, _parse_error(unchecked))
            return
        await self.manager.handle_request(scope, replay(body, receive), _redacting(send))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.client, self.manager.run():
            yield

    def _caller(self, ctx: ServerRequestContext[Any]) -> Caller:
        # The HTTP request this message came in (authenticated by mcp_endpoint below).
        request = ctx.request
        assert request is not None
        state = request.scope["state"]
        headers = {
            "authorization": request.headers["authorization"],
            "x-correlation-id": state["correlation_id"],
        }
        if key := request.headers.get("idempotency-key"):
            # The call's own key fixes the ids its tool writes, as a route's does: a retry
            # whose kept answer is gone (a forget erased it, the gateway died first) stored
            # the memory again. Derived, not the same: the /mcp request holds that one
            # while its tool call runs. A tool's `idempotencyKey` argument wins.
            headers["idempotency-key"] = "mcp-" + hashlib.sha256(key.encode()).hexdigest()
        return Caller(
            self.client,
            headers,
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
    return endpoint.serve  # type: ignore[return-value]


class _NotJson(ValueError):
    pass


def _constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def non_json(body: bytes) -> str | None:
    """Why the SDK must not read `body` although one of its parsers would (NaN or
    Infinity), else None; raises Refused for what the input guard refuses in a body it
    could not read itself (the guard read and checked every body msgspec parses)."""
    try:
        msgspec.json.decode(body)
        return None
    except (msgspec.DecodeError, RecursionError):
        pass
    try:
        value = json.loads(body, parse_constant=_constant)
    except _NotJson as exc:
        return str(exc)
    except (ValueError, RecursionError):
        return None  # no parser takes it: the SDK answers its own parse error
    check_json(value)
    return None


def _parse_error(reason: str) -> Message:
    return {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": f"Parse error: {reason}"},
    }


async def _send_json(send: Any, status: int, answer: Any) -> None:
    body = json.dumps(answer).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def redacted_message(message: Any, counts: Counter[str]) -> Any:
    """A JSON-RPC answer with what may quote the caller redacted: an error's message and
    data, and the id (a request's own, echoed); a result is left as the tool made it."""
    if isinstance(message, list):
        return [redacted_message(m, counts) for m in message]
    if not isinstance(message, dict):
        return message
    message = dict(message)
    if isinstance(message.get("id"), str):
        message["id"] = redact_text(message["id"], counts)
    error = message.get("error")
    if isinstance(error, dict):
        error = dict(error)
        if isinstance(error.get("message"), str):
            error["message"] = error_text(error["message"], counts)
        if "data" in error:
            error["data"] = redact_value(error["data"], counts)
        message["error"] = error
    return message


def _failed(answer: Any) -> bool:
    """Whether a JSON-RPC answer (or any of a batch's) is an error or a tool's error."""
    answers = answer if isinstance(answer, list) else [answer]
    for one in answers:
        if not isinstance(one, dict):
            continue
        result = one.get("result")
        if "error" in one or (isinstance(result, dict) and result.get("isError")):
            return True
    return False


def _redacting(send: Any) -> Any:
    """`send` with a JSON answer held until it is whole and sent redacted
    (`redacted_message`); any other answer (an event stream) passes as it is."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def redacting(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            media = dict(message.get("headers", [])).get(b"content-type", b"")
            if media.split(b";")[0].strip().lower() == b"application/json":
                start = message
                return
        elif message["type"] == "http.response.body" and start is not None:
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            failed = False
            try:
                answer = json.loads(body)
            except ValueError:
                pass
            else:
                shown = redacted_message(answer, Counter())
                if shown != answer:  # else the SDK's own bytes
                    body = json.dumps(shown, separators=(",", ":")).encode()
                failed = _failed(answer)
            headers = [
                (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
            ]
            headers.append((b"content-length", str(len(body)).encode()))
            if failed:
                # Not kept for an Idempotency-Key's replays: a tool call that failed (its
                # call to the gateway answered 5xx, say) is run again when retried.
                headers.append((b"cache-control", b"no-store"))
            await send({**start, "headers": headers})
            start = None
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return redacting
