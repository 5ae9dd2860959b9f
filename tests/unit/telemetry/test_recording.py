"""Spans are recorded only when they have somewhere to go; their ids propagate always."""

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mnemo.telemetry import configure_tracing, tracer
from mnemo.telemetry.messaging import trace_id_of, traceparent_of


def test_without_an_exporter_spans_are_not_recorded_but_carry_valid_ids() -> None:
    provider = configure_tracing("unit-recording")
    with provider.get_tracer("t").start_as_current_span("quiet") as span:
        assert not span.is_recording()
        traceparent = traceparent_of(span.get_span_context())
    assert trace_id_of(traceparent) is not None


def test_once_a_processor_is_added_spans_are_recorded_and_exported() -> None:
    provider = configure_tracing("unit-recording")
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("loud", attributes={"a": 1}) as span:
        assert span.is_recording()
    [finished] = exporter.get_finished_spans()
    assert finished.name == "loud" and finished.attributes == {"a": 1}


def test_the_tracer_is_made_once() -> None:
    assert tracer() is tracer()
