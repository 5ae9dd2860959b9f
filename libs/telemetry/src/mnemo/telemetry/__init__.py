"""Structured logs and traces that carry correlation and causation ids everywhere.

Exports: `configure` (logs + tracing for a service), `get_logger`, the message context
(`MessageContext`, `current_context`, `message_context`, `batch_context`) and trace propagation
(`inject_trace`, `extract_trace`, `tracer`), the spans of handling messages (`consuming`,
`consuming_batch`), the traceparent of what a handler produces (`traceparent_for`) and the
logging of a retried call (`log_retry`).
"""

from mnemo.telemetry.context import (
    MessageContext,
    batch_context,
    current_context,
    message_context,
)
from mnemo.telemetry.logging import configure_logging, get_logger
from mnemo.telemetry.messaging import (
    background_phase,
    consuming,
    consuming_batch,
    trace_id_of,
    traceparent_for,
    traceparent_of,
)
from mnemo.telemetry.retries import log_retry
from mnemo.telemetry.tracing import configure_tracing, extract_trace, inject_trace, tracer


def configure(service: str, *, level: str = "info", otlp_endpoint: str | None = None) -> None:
    """Set up JSON logs and tracing for one service process."""
    configure_logging(service, level)
    configure_tracing(service, otlp_endpoint)


__all__ = [
    "MessageContext",
    "background_phase",
    "batch_context",
    "configure",
    "configure_logging",
    "configure_tracing",
    "consuming",
    "consuming_batch",
    "current_context",
    "extract_trace",
    "get_logger",
    "inject_trace",
    "log_retry",
    "message_context",
    "trace_id_of",
    "traceparent_for",
    "traceparent_of",
    "tracer",
]
