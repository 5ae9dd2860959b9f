"""OpenTelemetry: spans that continue across NATS hops through W3C trace headers.

No exporter unless an OTLP endpoint is configured: spans are still created and their
context still propagates, so traceparent headers are always meaningful.
"""

from collections.abc import Mapping, MutableMapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False


def configure_tracing(service: str, otlp_endpoint: str | None = None) -> TracerProvider:
    """Install a tracer provider for `service`; export over OTLP/HTTP when an endpoint is set."""
    global _configured
    provider = TracerProvider(resource=Resource.create({"service.name": f"mnemo-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
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
