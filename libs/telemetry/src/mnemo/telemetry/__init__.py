"""Structured logs and traces that carry correlation and causation ids everywhere.

Exports: `configure` (logs + tracing for a service), `get_logger`, the message context
(`MessageContext`, `current_context`, `message_context`) and trace propagation
(`inject_trace`, `extract_trace`, `tracer`).
"""

from mnemo.telemetry.context import MessageContext, current_context, message_context
from mnemo.telemetry.logging import configure_logging, get_logger
from mnemo.telemetry.tracing import configure_tracing, extract_trace, inject_trace, tracer


def configure(service: str, *, level: str = "info", otlp_endpoint: str | None = None) -> None:
    """Set up JSON logs and tracing for one service process."""
    configure_logging(service, level)
    configure_tracing(service, otlp_endpoint)


__all__ = [
    "MessageContext",
    "configure",
    "configure_logging",
    "configure_tracing",
    "current_context",
    "extract_trace",
    "get_logger",
    "inject_trace",
    "message_context",
    "tracer",
]
