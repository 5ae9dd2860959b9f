"""Spans of handling messages, and the trace context of what that handling produces.

A consumer handles one message in a span that continues the message's trace (its
`traceparent` header), or, for a background phase, in a span of a trace of its own with a
link to the message's (a model call that reads a memory a minute later is not part of the
request's latency). A batch is handled in one span linked to every message of it, and each
message still gets its own span, a child of its own trace, so one request stays one trace
when its messages are handled together with others'.

Whatever a handler appends to the log or publishes takes its `traceparent` from
`traceparent_for(cause)`: the span of the message that caused it (found by the message id,
also inside a batch), else the current span. That is done where messages are written
(mnemo.bus.publisher, mnemo.eventlog.codec), never by a handler.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import context as otel_context
from opentelemetry import trace

from mnemo.telemetry.tracing import extract_trace, tracer

# The span of each message of the batch being handled, by message id.
_message_spans: ContextVar[Mapping[str, trace.Span] | None] = ContextVar(
    "mnemo_message_spans", default=None
)


def traceparent_of(span_context: trace.SpanContext) -> str | None:
    """The W3C traceparent header naming `span_context`, or None when it is not valid."""
    if not span_context.is_valid:
        return None
    flags = int(span_context.trace_flags)
    return f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{flags:02x}"


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id a traceparent header names (32 hex digits), or None."""
    parts = (traceparent or "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32 and parts[1] != "0" * 32:
        return parts[1]
    return None


def traceparent_for(cause: str | None = None) -> str | None:
    """The traceparent for what the handling of message `cause` produces: the span of that
    message when it is handled in the current batch, else the current span."""
    spans = _message_spans.get()
    if spans is not None and cause is not None and cause in spans:
        return traceparent_of(spans[cause].get_span_context())
    return traceparent_of(trace.get_current_span().get_span_context())


def _parent_and_links(
    headers: Mapping[str, str] | None, linked: bool
) -> tuple[otel_context.Context, list[trace.Link]]:
    carried = extract_trace(headers)
    if not linked:
        return carried, []
    origin = trace.get_current_span(carried).get_span_context()
    # An empty context: the span starts a trace of its own.
    return otel_context.Context(), [trace.Link(origin)] if origin.is_valid else []


@contextmanager
def consuming(
    name: str,
    headers: Mapping[str, str] | None,
    *,
    linked: bool = False,
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[trace.Span]:
    """The current span while one message is handled (see the module's docstring)."""
    parent, links = _parent_and_links(headers, linked)
    with tracer().start_as_current_span(
        name,
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        links=links,
        attributes=dict(attributes or {}),
    ) as span:
        yield span


@contextmanager
def consuming_batch(
    name: str,
    messages: Sequence[tuple[str, Mapping[str, str] | None]],
    *,
    linked: bool = False,
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[trace.Span]:
    """The current span while a batch of (message id, headers) is handled, linked to each
    message; each message also gets a span of its own in its own trace."""
    spans: dict[str, trace.Span] = {}
    links: list[trace.Link] = []
    for message_id, headers in messages:
        parent, origin = _parent_and_links(headers, linked)
        span = tracer().start_span(
            name,
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            links=origin,
            attributes={**(attributes or {}), "messaging.message.id": message_id},
        )
        spans[message_id] = span
        links.append(trace.Link(span.get_span_context()))
    token = _message_spans.set(spans)
    try:
        with tracer().start_as_current_span(
            f"{name} batch",
            kind=trace.SpanKind.CONSUMER,
            links=links,
            attributes={**(attributes or {}), "messaging.batch.message_count": len(messages)},
        ) as batch:
            try:
                yield batch
            except BaseException as exc:
                for span in spans.values():
                    span.record_exception(exc)
                    span.set_status(trace.StatusCode.ERROR)
                raise
    finally:
        _message_spans.reset(token)
        for span in spans.values():
            span.end()


@contextmanager
def background_phase(name: str, traceparents: Iterable[str | None]) -> Iterator[trace.Span]:
    """The span of background work done for many requests at once (phase 2 of indexing):
    a trace of its own, linked to the trace of each request it works for."""
    seen: set[str] = set()
    links = []
    for traceparent in traceparents:
        if traceparent and traceparent not in seen:
            seen.add(traceparent)
            origin = trace.get_current_span(extract_trace({"traceparent": traceparent}))
            if origin.get_span_context().is_valid:
                links.append(trace.Link(origin.get_span_context()))
    with tracer().start_as_current_span(name, context=otel_context.Context(), links=links) as span:
        yield span
