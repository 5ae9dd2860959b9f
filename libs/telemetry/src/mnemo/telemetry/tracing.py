"""OpenTelemetry: spans that continue across NATS hops through W3C trace headers.

No exporter unless an OTLP endpoint is configured: spans are still created and their
context still propagates, so traceparent headers are always meaningful; but with nowhere
to send them they are not recorded (no attributes, links or events kept: a quarter of the
CPU of a recorded span, and a few spans are made per message; the traceparent then says
"not sampled"). A span processor added later (a test's) makes them recorded again.
Spans are exported in batches from a thread of their own (BatchSpanProcessor: a bounded
queue that drops when full), so an endpoint that is slow or away never slows or fails a
request; the `OTEL_BSP_*` variables tune the batching. What is exported is scrubbed first
(`mnemo.telemetry.span_scrub`): no query string, exception text, key or secret.
"""

from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import default_setter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mnemo.telemetry.span_scrub import ScrubbingExporter

_configured = False
# Seconds one export may take; it also bounds how long a stopping service waits to flush
# its last spans to an endpoint that does not answer.
EXPORT_TIMEOUT_S = 3.0


class WhenExported(Sampler):
    """Records every span once its provider has a span processor, none before."""

    def __init__(self) -> None:
        self.exporting = False

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return (ALWAYS_ON if self.exporting else ALWAYS_OFF).should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "WhenExported"


class _Provider(TracerProvider):
    def __init__(self, resource: Resource) -> None:
        self._when_exported = WhenExported()
        super().__init__(resource=resource, sampler=self._when_exported)

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self._when_exported.exporting = True


def configure_tracing(service: str, otlp_endpoint: str | None = None) -> TracerProvider:
    """Install a tracer provider for `service`; export over OTLP/HTTP when an endpoint is set."""
    global _configured
    provider = _Provider(resource=Resource.create({"service.name": f"mnemo-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_endpoint, timeout=EXPORT_TIMEOUT_S)
        provider.add_span_processor(BatchSpanProcessor(ScrubbingExporter(exporter)))
    if not _configured:
        trace.set_tracer_provider(provider)
        # The trace context only, never W3C baggage: a caller's `baggage` header would
        # otherwise ride along in every message the request causes (and so in the streams
        # and dead letters), past the redaction that bodies go through.
        propagate.set_global_textmap(_TraceparentOnly())
        _configured = True
    return provider


class _TraceparentOnly(TraceContextTextMapPropagator):
    """W3C trace context without `tracestate`: its vendors' entries are the caller's to
    write (up to 512 characters of anything), and would be carried like baggage."""

    def inject(self, carrier: Any, context: Any = None, setter: Any = default_setter) -> None:
        carried: dict[str, str] = {}
        super().inject(carried, context)
        if "traceparent" in carried:
            setter.set(carrier, "traceparent", carried["traceparent"])

    @property
    def fields(self) -> set[str]:
        return {"traceparent"}


_tracer: trace.Tracer | None = None


def tracer() -> trace.Tracer:
    """Mnemo's tracer, made once: `trace.get_tracer` builds a new one at each call (23 us,
    as much as half a span; several spans per message). One got before the provider is
    installed is OpenTelemetry's proxy, which follows the provider once it is."""
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer("mnemo")
    return _tracer


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
