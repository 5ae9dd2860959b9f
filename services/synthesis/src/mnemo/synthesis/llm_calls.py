"""Each call to the model server, measured: its time by purpose and outcome
(mnemo_llm_request_duration_seconds) and a client span in the trace it is made in."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

from mnemo.telemetry import tracer
from mnemo.telemetry.metrics import LLM_DURATION


@contextmanager
def measured_call(purpose: str) -> Iterator[None]:
    """Wrap one HTTP call; `purpose` is bounded (extraction, answer)."""
    outcome = "error"
    started = time.perf_counter()
    try:
        with tracer().start_as_current_span(f"llm {purpose}", kind=trace.SpanKind.CLIENT):
            yield
        outcome = "ok"
    finally:
        LLM_DURATION.labels(purpose, outcome).observe(time.perf_counter() - started)
