"""A span leaves the process without a key, a secret or content: no query string, no
exception text, secret-named attributes hidden (mnemo.telemetry.span_scrub)."""

import asyncio
import uuid

import pytest
from opentelemetry import context, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mnemo.telemetry import configure_tracing, extract_trace, inject_trace
from mnemo.telemetry.span_scrub import ScrubbingExporter


def _exported(run) -> str:  # type: ignore[no-untyped-def]
    """Everything the exporter was handed, as text."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ScrubbingExporter(memory)))
    run(provider)
    spans = memory.get_finished_spans()
    assert spans
    return "\n".join(
        f"{s.name} {dict(s.attributes or {})} {s.status.description} "
        f"{[(e.name, dict(e.attributes or {})) for e in s.events]} "
        f"{[dict(link.attributes or {}) for link in s.links]}"
        for s in spans
    )


def test_a_request_span_keeps_no_query_string_nor_exception_text() -> None:
    key = "mk_" + uuid.uuid4().hex
    word = "quokka" + uuid.uuid4().hex[:8]

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        raise ValueError(f"invalid input for query argument $1: {word!r}")

    def run(provider: TracerProvider) -> None:
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/v1/search",
            "raw_path": b"/v1/search",
            "query_string": f"q={word}&api_key={key}".encode(),
            "headers": [(b"host", b"127.0.0.1:8000")],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }

        async def receive():  # type: ignore[no-untyped-def]
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):  # type: ignore[no-untyped-def]
            pass

        middleware = OpenTelemetryMiddleware(app, tracer_provider=provider)
        with pytest.raises(ValueError):
            asyncio.run(middleware(scope, receive, send))

    text = _exported(run)
    assert "/v1/search" in text and "ValueError" in text  # the span is there, described
    assert word not in text
    assert key not in text


def test_a_span_named_from_what_the_caller_sent_is_redacted_like_a_log_line() -> None:
    """The MCP SDK names its span `tools/call <the tool name sent>`: a key sent as a tool's
    name reached the OTLP endpoint in the span's name (its attributes were scrubbed)."""
    key = "ghp_" + uuid.uuid4().hex + "ABCD"

    def run(provider: TracerProvider) -> None:
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span(f"tools/call {key}") as span:
            span.add_event(f"event {key}")
            linked = span.get_span_context()
        with tracer.start_as_current_span("linked", links=[trace.Link(linked, {"k": key})]):
            pass

    text = _exported(run)
    assert "tools/call" in text and "[REDACTED" in text
    assert key not in text


def test_secret_named_and_secret_shaped_attributes_are_hidden() -> None:
    key = "mk_" + uuid.uuid4().hex
    password = "Tr0ub4dor-" + uuid.uuid4().hex[:8]

    def run(provider: TracerProvider) -> None:
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span(
            "call",
            attributes={"app.password": password, "app.note": f"Bearer {key}", "app.n": 3},
        ):
            pass

    text = _exported(run)
    assert password not in text and key not in text
    assert "'app.n': 3" in text


def test_a_callers_baggage_and_tracestate_are_not_carried_into_messages() -> None:
    configure_tracing("unit-baggage")
    key = "mk_" + uuid.uuid4().hex
    carried = extract_trace(
        {
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "baggage": f"note={key}",
            "tracestate": f"vendor={key}",
        }
    )
    headers: dict[str, str] = {}
    token = context.attach(carried)
    try:
        inject_trace(headers)
    finally:
        context.detach(token)
    assert headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert key not in str(headers)
    assert set(headers) == {"traceparent"}
