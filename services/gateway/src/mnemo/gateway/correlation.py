"""Correlation and request ids for every HTTP call, and the audit signal for each request.

`x-correlation-id` comes from the caller (the header, or a `correlation_id` field of a
JSON body) or is made here; `x-request-id` is always new.
Both go back on every response (errors included) and into every log line and message.
"""

import asyncio
import re
import time
from collections.abc import Sequence
from typing import Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from mnemo.bus import Publisher, PublishError
from mnemo.contracts import Signal, new_id, utcnow
from mnemo.gateway.body import DEFAULT_TIMEOUT, BodyTimeout, read_body, replay
from mnemo.gateway.guard import Shape, send_refusal, slow_body
from mnemo.gateway.limits import usage_headers
from mnemo.gateway.paths import shown_path
from mnemo.gateway.problems import unexpected
from mnemo.redaction import redact
from mnemo.telemetry import MessageContext, get_logger, message_context

log = get_logger(__name__)

_VALID = re.compile(r"^[\x21-\x7e]{1,128}$")
_QUIET = ("/v1/health", "/docs", "/schema")
_pending: set[asyncio.Task[None]] = set()
# A request's audit signal that the bus could not take (NATS away, or the signal stream
# electing a new leader after a node of a cluster died: several seconds) is tried again
# for this long. Its id is its Nats-Msg-Id and the audit keys entries by it, so one stored
# after all, then sent again, is audited once.
RETRY_SECONDS = 120.0
# Past this many signals waiting to be sent again, a failed one is logged and dropped: a
# long outage under load must not grow the gateway's memory without bound.
MAX_RETRYING = 10_000


def ids_of(scope: Scope) -> tuple[str, str]:
    state = scope["state"]
    return state["correlation_id"], state["request_id"]


class CorrelationMiddleware:
    """Wraps the whole ASGI app, so that even unrouted requests (404s) get their ids."""

    def __init__(
        self,
        app: ASGIApp,
        state: Any,
        max_body: int = 6 * 1024 * 1024,
        shapes: Sequence[tuple[str, Shape]] = (),
        body_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.app = app
        self.state = state
        self.max_body = max_body
        self.shapes = list(shapes)  # each surface's error shape, by path prefix
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-correlation-id", "")
        slow: BodyTimeout | None = None
        if not given and _json_body(scope, headers):
            # The caller may pass it in the body instead: read the body, then hand it on.
            # (Outside load shedding: a slow body holds its connection, never a slot.)
            try:
                body = await read_body(receive, self.max_body, timeout=self.body_timeout)
            except BodyTimeout as exc:
                slow, body = exc, b""
            given = _body_correlation(body)
            receive = replay(body, receive)
        correlation_id = given if _acceptable(given) else new_id()
        request_id = new_id()
        state = scope.setdefault("state", {})
        state.update(correlation_id=correlation_id, request_id=request_id)
        started, status, started_response = utcnow(), [0], [False]
        clock = time.perf_counter()

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                started_response[0] = True
                status[0] = message["status"]
                extra = [
                    (b"x-correlation-id", correlation_id.encode()),
                    (b"x-request-id", request_id.encode()),
                ]
                usage = state.get("rate_usage")
                present = {bytes(k).lower() for k, _ in message.get("headers", [])}
                if usage is not None and b"x-ratelimit-limit" not in present:
                    extra += [
                        (k.lower().encode(), v.encode()) for k, v in usage_headers(usage).items()
                    ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        # Nothing before the request caused it: its own id is its cause.
        ctx = MessageContext(
            correlation_id=correlation_id,
            message_id=request_id,
            request_id=request_id,
            causation_id=request_id,
        )
        escaped: Exception | None = None
        with message_context(ctx):
            try:
                if slow is not None:
                    raise slow
                await self.app(scope, receive, send_with_ids)
            except BodyTimeout as exc:
                # A body too slow to come (read here, or by a middleware inside): 408.
                if started_response[0]:
                    escaped = exc
                else:
                    await send_refusal(send_with_ids, scope["path"], slow_body(exc), self.shapes)
            except Exception as exc:
                # What escaped every handler (a middleware's store away, a bug): still one
                # answer in the surface's error shape, 503 when a dependency is the cause,
                # never a trace.
                log.error("unhandled_error", error=type(exc).__name__, path=shown_path(scope))
                if started_response[0]:
                    # Too late to answer otherwise; raised again once the request is
                    # logged and audited like any other (it was answered).
                    escaped = exc
                else:
                    await send_refusal(send_with_ids, scope["path"], unexpected(exc), self.shapes)
            method = str(scope.get("method", ""))
            elapsed_ms = round((time.perf_counter() - clock) * 1000, 2)
            # A path is the caller's to write: a key put in it (`DELETE /v1/keys/mk_…`, the
            # key for its id) is audited and logged as its placeholder, and a segment that
            # names what a user said (`mnemo.gateway.paths`) as `{withheld}`.
            path = shown_path(scope)
            log.info("http_request", method=method, path=path, status=status[0], ms=elapsed_ms)
        tenant = state.get("tenant_id")
        publisher: Publisher | None = getattr(self.state, "publisher", None)
        if tenant and publisher and not path.startswith(_QUIET):
            signal = Signal(
                signal_id=request_id,
                signal_type="http.request",
                tenant_id=tenant,
                service="gateway",
                occurred_at=started,
                correlation_id=correlation_id,
                causation_id=request_id,
                data={
                    "method": method,
                    "path": path,
                    "status": status[0],
                    "request_id": request_id,
                    "actor": state.get("actor"),
                    "duration_ms": elapsed_ms,
                },
            )
            # Published after the response so that auditing adds no latency to the caller.
            task = asyncio.create_task(_publish(publisher, signal))
            _pending.add(task)
            task.add_done_callback(_pending.discard)
        if escaped is not None:
            raise escaped


async def _publish(publisher: Publisher, signal: Signal, retry_for: float = RETRY_SECONDS) -> None:
    """Publish the request's audit signal, again and again while the bus refuses it."""
    deadline, delay = time.monotonic() + retry_for, 0.2
    while True:
        try:
            await publisher.publish_signal(signal)
            return
        except PublishError as exc:
            if time.monotonic() + delay > deadline or len(_pending) > MAX_RETRYING:
                log.warning("audit_signal_failed", error=exc, request_id=signal.signal_id)
                return
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


def _acceptable(given: str) -> bool:
    """A caller's correlation id is kept unless it is malformed or holds a secret: it goes
    into every message, audit entry and log line of the request."""
    return _VALID.match(given) is not None and not redact(given).redactions


def _json_body(scope: Any, headers: dict[str, str]) -> bool:
    return scope["method"] in {"POST", "PUT", "PATCH"} and "json" in headers.get("content-type", "")


def _body_correlation(body: bytes) -> str:
    """`correlation_id` (or `correlationId`) at the top of a JSON object body, else ''."""
    if b"orrelation" not in body:
        return ""
    try:
        value = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return ""  # the input guard answers for such a body
    if not isinstance(value, dict):
        return ""
    found = value.get("correlation_id", value.get("correlationId"))
    return found if isinstance(found, str) else ""
