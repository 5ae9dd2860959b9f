"""The spans of handling messages and the traceparent of what handling produces, with the
real OpenTelemetry SDK (spans kept in memory): a message's span continues its trace, also
inside a batch; what a handler publishes or appends continues the span of its cause; a
background phase is a trace of its own, linked."""

from collections.abc import Iterator

import msgspec
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mnemo.bus.publisher import message_headers
from mnemo.contracts import MemoryRecorded, NewEvent, utcnow
from mnemo.eventlog.codec import encode_metadata
from mnemo.telemetry import (
    background_phase,
    configure_tracing,
    consuming,
    consuming_batch,
    trace_id_of,
    traceparent_for,
    traceparent_of,
    tracer,
)

_exporter = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def _provider() -> None:
    # The process has one global provider; whichever test set it up, spans reach ours too.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        configure_tracing("unit")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.add_span_processor(SimpleSpanProcessor(_exporter))


@pytest.fixture
def finished() -> Iterator[InMemorySpanExporter]:
    _exporter.clear()
    yield _exporter


def _carrier(name: str) -> tuple[dict[str, str], trace.SpanContext]:
    """Headers of a message sent inside a span named `name`, and that span's context."""
    with tracer().start_as_current_span(name) as span:
        traceparent = traceparent_of(span.get_span_context())
    assert traceparent is not None
    return {"traceparent": traceparent}, span.get_span_context()


def test_a_traceparent_names_its_trace() -> None:
    headers, origin = _carrier("origin")
    assert trace_id_of(headers["traceparent"]) == f"{origin.trace_id:032x}"
    assert trace_id_of(None) is None
    assert trace_id_of("garbage") is None
    assert traceparent_of(trace.INVALID_SPAN_CONTEXT) is None


def test_a_message_span_continues_the_trace_its_headers_carry(finished) -> None:
    headers, origin = _carrier("publish")
    with consuming("consume c", headers) as span:
        assert traceparent_for() == traceparent_of(span.get_span_context())
    [done] = [s for s in finished.get_finished_spans() if s.name == "consume c"]
    assert done.context.trace_id == origin.trace_id
    assert done.parent is not None and done.parent.span_id == origin.span_id


def test_a_background_consumer_starts_a_linked_trace(finished) -> None:
    headers, origin = _carrier("publish")
    with consuming("consume llm", headers, linked=True) as span:
        context = span.get_span_context()
    assert context.trace_id != origin.trace_id
    [done] = [s for s in finished.get_finished_spans() if s.name == "consume llm"]
    assert done.parent is None
    assert [link.context.span_id for link in done.links] == [origin.span_id]


def test_in_a_batch_each_message_keeps_its_trace_and_its_effects_follow_it(finished) -> None:
    first, first_origin = _carrier("request 1")
    second, second_origin = _carrier("request 2")
    with consuming_batch("consume c", [("m1", first), ("m2", second)]):
        # What the handler publishes or appends because of m2 continues m2's span.
        headers = message_headers(
            msg_id="s1",
            tenant="t",
            correlation_id="c",
            causation_id="m2",
            msg_type="memory.indexed",
            service="retrieval",
        )
        event = NewEvent(
            event_id="e1",
            tenant_id="t",
            data=MemoryRecorded(memory_id="m", user_id="u", content="x"),
            occurred_at=utcnow(),
            correlation_id="c",
            causation_id="m1",
            actor="a",
            service="ingest",
        )
        stored = msgspec.json.decode(encode_metadata(event))
        batch_span = trace.get_current_span().get_span_context()
    assert trace_id_of(headers["traceparent"]) == f"{second_origin.trace_id:032x}"
    assert trace_id_of(stored["traceparent"]) == f"{first_origin.trace_id:032x}"
    spans = {s.attributes.get("messaging.message.id"): s for s in finished.get_finished_spans()}
    assert spans["m1"].parent.span_id == first_origin.span_id
    assert spans["m2"].parent.span_id == second_origin.span_id
    assert headers["traceparent"] == traceparent_of(spans["m2"].context)
    # The batch's own span links every message's span.
    [batch] = [s for s in finished.get_finished_spans() if s.context.span_id == batch_span.span_id]
    assert {link.context.span_id for link in batch.links} == {
        spans["m1"].context.span_id,
        spans["m2"].context.span_id,
    }
    # Outside the batch, a cause of it is no longer looked up.
    assert traceparent_for("m1") is None


def test_a_background_phase_links_each_request_once(finished) -> None:
    first, first_origin = _carrier("request 1")
    with background_phase("index dense", [first["traceparent"], first["traceparent"], None]):
        pass
    [phase] = [s for s in finished.get_finished_spans() if s.name == "index dense"]
    assert phase.parent is None and phase.context.trace_id != first_origin.trace_id
    assert [link.context.span_id for link in phase.links] == [first_origin.span_id]
