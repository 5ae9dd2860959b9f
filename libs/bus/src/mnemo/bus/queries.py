"""Request/reply query services on the NATS micro API: replicas share a queue group.

A query endpoint takes a msgspec request type and returns a response struct or a
`QueryError`; the reply says which with the `Mnemo-Reply` header.

NATS hands an endpoint's requests to it one after another. An endpoint that only reads
may take `concurrency` at once (the rest wait their turn in the subscription). Either
way, a request that waited in the queue half of what its asker waits (`Mnemo-Budget-Ms`)
is not run: it is answered "overloaded" at once (the gateway's 503 with Retry-After,
before the asker would time out), so a backlog drains in the time it takes to say no
rather than by doing work whose answer would come too late. A request of a reading
endpoint (`concurrency` above 1) that started in time but is still running at
`ANSWER_WITHIN` of its asker's wait is stopped and answered "overloaded" too: on a
saturated host the asker hears 503 and Retry-After, never waits into its own timeout
(the gateway's 504). An endpoint that writes runs to its end: stopping it half-way
could leave half of its work.

A request that reached the process while its event loop stood still (the process
stopped, or a long stall) is read only once the loop runs again, and would look just
arrived: its arrival counts from when the loop stood still (`_Stalls`), so a write whose
asker gave up meanwhile (a forget answered 504) is not run late, after what the caller
did next (a memory sent once the forget had failed).
"""

import asyncio
import contextlib
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import msgspec
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import Service
from opentelemetry import trace

from mnemo.bus.failures import is_dependency_failure
from mnemo.contracts import Headers, QueryError, Topology
from mnemo.contracts.deadlines import ANSWER_BY, AnswerTooLate
from mnemo.telemetry import (
    MessageContext,
    extract_trace,
    get_logger,
    inject_trace,
    message_context,
    tracer,
)
from mnemo.telemetry.metrics import QUERIES, QUERY_DURATION

log = get_logger(__name__)

REPLY_KIND = Headers.REPLY
REQUEST_ID = Headers.REQUEST_ID
# A reply compressed (zlib) because it was long: one message holds a page of memories that
# would not fit as it is (100 KB each, longer once redacted).
REPLY_ENCODING = "Mnemo-Reply-Encoding"
# Replies longer than this are compressed; room is left under max_payload for the headers.
_COMPRESS_OVER = 64 * 1024
_HEADER_ROOM = 4 * 1024
TOO_LARGE = "too_large"
_encoder = msgspec.json.Encoder()

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Endpoint = Callable[[Any], Awaitable[Any]]


class QueryFailed(Exception):
    """A query service answered with an error, or nobody answered."""

    def __init__(self, error: QueryError) -> None:
        super().__init__(error.message)
        self.error = error


# Endpoints whose requests make no span: health probes come every few seconds and would
# bury the requests' traces.
UNTRACED = frozenset({"health"})

OVERLOADED = "overloaded"
# A request that waited this share of its asker's budget in the queue is refused: the asker
# still hears "overloaded" (a 503 with Retry-After) before it gives up, instead of a late
# timeout, and the queue is spared work whose answer would likely come too late.
SHED_AFTER = 0.5
# A reading request not answered at this share of its asker's budget (from its arrival) is
# stopped and refused, leaving the answer time to travel back before the asker gives up.
ANSWER_WITHIN = 0.8
_BUSY = "the service was too busy to answer in time"


async def serve(
    nc: Client,
    topology: Topology,
    service: str,
    endpoints: Mapping[
        str, tuple[type, Endpoint] | tuple[type, Endpoint, int] | tuple[type, Endpoint, int, bool]
    ],
) -> Service:
    """Start `service`'s query endpoints: name -> (request type, async handler[, how many
    requests it may run at once, 1 when not said[, whether it may be stopped half-way: it
    reads, or writes only what asking again redoes; by default when it runs more than one
    at once]])."""
    _stalls.start()  # beating before any request comes, so a stall is seen
    svc = await add_service(
        nc,
        name=f"{topology.root}-{service}",
        version="0.1.0",
        queue_group=f"{topology.root}-{service}",
    )
    for name, spec in endpoints.items():
        request_type, handler = spec[0], spec[1]
        concurrency = spec[2] if len(spec) > 2 else 1  # type: ignore[misc]
        stoppable = spec[3] if len(spec) > 3 else concurrency > 1  # type: ignore[misc]
        await svc.add_endpoint(
            name=name,
            subject=topology.svc_subject(service, name),
            handler=_bounded(name, _wrap(name, request_type, handler), concurrency, cut=stoppable),
        )
    return svc


Answer = Callable[[Request, float | None], Awaitable[None]]

# The loop's heartbeat, and how long it may miss a beat before it counts as standing still.
_TICK_SECONDS = 0.1
_STALL_SECONDS = 0.5
# Requests read this soon after the beat saw a stall were read from what piled up during
# it; later ones came after it (refusing them refused fresh traffic for a while).
_PILED_SECONDS = 0.05


class _Stalls:
    """When this process's event loop last stood still: a request read right after a stall
    may have come at any time during it, so it is taken to have come at its start."""

    def __init__(self) -> None:
        self.last_tick = time.monotonic()
        self.stall: tuple[float, float] | None = None  # (stood still from, ran again at)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self.last_tick, self.stall = time.monotonic(), None
            self._task = loop.create_task(self._beat())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(_TICK_SECONDS)
            now = time.monotonic()
            if now - self.last_tick > _STALL_SECONDS:
                self.stall = (self.last_tick, now)
            self.last_tick = now

    def arrival(self, now: float) -> float:
        """When a request read `now` may have come."""
        if now - self.last_tick > _STALL_SECONDS:
            return self.last_tick  # standing still until now: the beat has not run yet
        if self.stall is not None and now - self.stall[1] < _PILED_SECONDS:
            return self.stall[0]  # the beat ran first after the stall
        return now


_stalls = _Stalls()


def _bounded(
    name: str, answer: Answer, concurrency: int, *, cut: bool = False
) -> Callable[[Request], Awaitable[None]]:
    """Queue each request as it arrives (with when it did) for `concurrency` workers; one
    that waited in the queue half as long as its asker waits is answered "overloaded".
    `cut`: one still running at `ANSWER_WITHIN` of that wait is stopped and answered so.

    The wait is measured on this host's clock from the request's arrival, and the budget
    is relative, so hosts' clocks need not agree."""
    queue: asyncio.Queue[tuple[float, Request]] = asyncio.Queue()
    workers: list[asyncio.Task[None]] = []

    async def work() -> None:
        while True:
            arrived, request = await queue.get()
            try:
                budget = (request.headers or {}).get(Headers.BUDGET, "")
                waited_ms = (time.monotonic() - arrived) * 1000
                if budget.isdigit() and waited_ms >= int(budget) * SHED_AFTER:
                    QUERIES.labels(name, OVERLOADED).inc()
                    busy = QueryError(code=OVERLOADED, message=_BUSY)
                    await _reply(request, busy)
                else:
                    answer_by = (
                        arrived + int(budget) / 1000 * ANSWER_WITHIN if budget.isdigit() else None
                    )
                    # A write that would commit after this is rolled back instead (the
                    # asker hears 503 or has given up): see mnemo.contracts.deadlines.
                    token = ANSWER_BY.set(answer_by)
                    try:
                        await answer(request, answer_by if cut else None)
                    finally:
                        ANSWER_BY.reset(token)
            except Exception as exc:  # a reply that cannot be sent (the bus is away)
                log.warning("query_reply_failed", error=exc)

    async def endpoint(request: Request) -> None:
        if not workers:
            _stalls.start()
            workers.extend(asyncio.create_task(work()) for _ in range(max(1, concurrency)))
        queue.put_nowait((_stalls.arrival(time.monotonic()), request))

    return endpoint


def _wrap(name: str, request_type: type, handler: Endpoint) -> Answer:
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(request_type)

    async def endpoint(request: Request, deadline: float | None = None) -> None:
        """Answer `request`; a handler still running at `deadline` (monotonic) is
        stopped and the answer is "overloaded"."""
        headers = dict(request.headers or {})
        correlation = headers.get(Headers.CORRELATION, "")
        ctx = MessageContext(
            correlation_id=correlation,
            message_id=headers.get(REQUEST_ID, correlation),
            tenant_id=headers.get(Headers.TENANT),
            request_id=headers.get(REQUEST_ID),
            # A query is asked while answering the request it belongs to.
            causation_id=headers.get(Headers.CAUSATION) or headers.get(REQUEST_ID),
        )
        span = (
            tracer().start_as_current_span(
                f"query {request.subject}",
                context=extract_trace(headers),
                kind=trace.SpanKind.SERVER,
                attributes={"mnemo.correlation_id": correlation},
            )
            if name not in UNTRACED
            else contextlib.nullcontext()
        )
        with message_context(ctx), span, QUERY_DURATION.labels(name).time():
            counted = None
            try:
                payload = decoder.decode(request.data)
                result = await _within(handler(payload), deadline)
                kind = "error" if isinstance(result, QueryError) else "ok"
            except (_Late, AnswerTooLate):
                result, kind, counted = (
                    QueryError(code=OVERLOADED, message=_BUSY),
                    "error",
                    OVERLOADED,
                )
            except msgspec.ValidationError as exc:
                result, kind = QueryError(code="bad_request", message=str(exc)), "error"
            except Exception as exc:
                # The caller learns what kind of failure it was, never the exception itself
                # (its class and text are internals, and may quote stored data).
                log.exception("query_failed", subject=request.subject)
                if is_dependency_failure(exc):
                    message = "a dependency of this service is unavailable; retry shortly"
                    result = QueryError(code="unavailable", message=message)
                else:
                    message = "the query failed unexpectedly; the service logged it"
                    result = QueryError(code="internal", message=message)
                kind = "error"
            if not await _reply(request, result):
                counted = TOO_LARGE
            QUERIES.labels(name, counted or kind).inc()

    return endpoint


async def _reply(request: Request, result: Any) -> bool:
    """Send `result` (a response or a `QueryError`) as the reply: compressed when long,
    and when even so it is more than one message may hold (the server's max_payload), a
    `too_large` error naming the limit at once (the asker waited into its timeout, a
    504, while the page it asked for could never be read). False: it was too large."""
    kind = "error" if isinstance(result, QueryError) else "ok"
    body = _encoder.encode(result)
    headers = {REPLY_KIND: kind}
    if len(body) > _COMPRESS_OVER:
        body = zlib.compress(body, 1)
        headers[REPLY_ENCODING] = "deflate"
    room = request._msg._client.max_payload - _HEADER_ROOM
    if len(body) <= room:
        await request.respond(body, headers=headers)
        return True
    log.warning("query_reply_too_large", subject=request.subject, size=len(body))
    large = QueryError(
        code=TOO_LARGE,
        message="the answer is larger than one message may hold; ask for fewer (a smaller"
        " limit or page)",
        field="limit",
    )
    await request.respond(_encoder.encode(large), headers={REPLY_KIND: "error"})
    return False


class _Late(Exception):
    """A handler stopped at its deadline."""


async def _within(call: Awaitable[Any], deadline: float | None) -> Any:
    """`call`'s result; stopped at `deadline` (monotonic clock), then `_Late`."""
    if deadline is None:
        return await call
    loop = asyncio.get_running_loop()
    try:
        # On the loop's clock, which need not be time.monotonic's (uvloop's is not).
        async with asyncio.timeout_at(loop.time() + deadline - time.monotonic()) as cutoff:
            return await call
    except TimeoutError:
        if cutoff.expired():
            raise _Late from None
        raise  # the handler's own timeout: a failure like any other


async def ask(
    nc: Client,
    subject: str,
    request: msgspec.Struct,
    response_type: type[Resp],
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> Resp:
    """Send a query and decode its answer; raise `QueryFailed` on an error or no answer."""
    hdrs = dict(headers or {})
    hdrs[Headers.BUDGET] = str(int(timeout * 1000))
    inject_trace(hdrs)
    try:
        msg = await nc.request(subject, _encoder.encode(request), timeout=timeout, headers=hdrs)
    except NoRespondersError:
        raise QueryFailed(
            QueryError(code="unavailable", message=f"no service answers {subject}")
        ) from None
    except (NatsTimeoutError, TimeoutError):
        raise QueryFailed(
            QueryError(code="timeout", message=f"{subject} did not answer in {timeout}s")
        ) from None
    except Exception as exc:
        if not is_dependency_failure(exc):
            raise
        # Disconnected from NATS: nothing was sent.
        raise QueryFailed(
            QueryError(code="unavailable", message="the message bus is unreachable; retry shortly")
        ) from None
    replied = msg.headers or {}
    data = zlib.decompress(msg.data) if replied.get(REPLY_ENCODING) == "deflate" else msg.data
    if replied.get(REPLY_KIND) == "error":
        raise QueryFailed(msgspec.json.decode(data, type=QueryError))
    return msgspec.json.decode(data, type=response_type)
