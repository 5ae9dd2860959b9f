"""OpenTelemetry: spans that continue across NATS hops through W3C trace headers.

No exporter unless an OTLP endpoint is configured: spans are still created and their
context still propagates, so traceparent headers are always meaningful. Spans are exported
in batches from a thread of their own (BatchSpanProcessor: a bounded queue that drops
when full), so an endpoint that is slow or away never slows or fails a request; the
`OTEL_BSP_*` variables tune the batching.
"""

from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False
# Seconds one export may take; it also bounds how long a stopping service waits to flush
# its last spans to an endpoint that does not answer.
EXPORT_TIMEOUT_S = 3.0


def configure_tracing(service: str, otlp_endpoint: str | None = None) -> TracerProvider:
    """Install a tracer provider for `service`; export over OTLP/HTTP when an endpoint is set."""
    global _configured
    provider = TracerProvider(resource=Resource.create({"service.name": f"mnemo-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_endpoint, timeout=EXPORT_TIMEOUT_S)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if not _configured:
        trace.set_tracer_provider(provider)
        _configured = True
    return provider


def tracer() -> trace.Tracer:
    return trace.get_tracer("mnemo")


def inject_trace(headers: MutableMapping[str, str]) -> None:
    """Write the current span's traceparent (and tracestate) into outgoing headers."""
    propagate.inject(headers)


def extract_trace(headers: Mapping[str, str] | None) -> otel_context.Context:
    """The trace context that an incoming message's headers carry."""
    return propagate.extract(dict(headers or {}))


def add_trace_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current span's trace and span ids in the log line, so a
    line leads to its trace (and a trace, by correlation_id, to its lines)."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event.setdefault("trace_id", f"{span_context.trace_id:032x}")
        event.setdefault("span_id", f"{span_context.span_id:016x}")
    return event
