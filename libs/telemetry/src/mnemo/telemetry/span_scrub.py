"""What leaves a service as a span holds no key, secret or content, as its log lines.

Spans carry what instrumentation took from the request: OpenTelemetry's ASGI middleware
puts the whole URL, query string included, in `http.url` (a search's words, an `api_key=`
a client put there), and a span an exception escaped records the exception's message and
traceback text (asyncpg and msgspec quote the values that failed) as an event and in its
status. So every span goes through `ScrubbingExporter` on its way out:

- a URL or target attribute loses its query string (`url.query` is dropped whole);
- an exception event keeps `exception.type` only, never `exception.message` nor
  `exception.stacktrace`; the status keeps its code, never its description;
- every other attribute goes through the same rules as a log line (`mnemo.telemetry.scrub`):
  a value under a secret-named key is `[REDACTED]`, other strings are redacted by pattern;
- so do the span's name, its events' names and its links' attributes: instrumentation may
  build a name from what the caller sent (the MCP SDK's `tools/call <tool name>`).
"""

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status

from mnemo.telemetry.scrub import REDACTED, scrub_field

# Attributes (old and new semantic conventions) whose value is a URL or a request target.
_URLS = frozenset(["http.url", "url.full", "http.target"])
_DROPPED = frozenset(["url.query", "exception.message", "exception.stacktrace"])


def scrubbed_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """`attributes` as they may leave the process."""
    clean: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if key in _DROPPED:
            continue
        if key in _URLS and isinstance(value, str):
            value = value.split("?", 1)[0].split("#", 1)[0]
        clean[key] = _attribute(key, value)
    return clean


@functools.lru_cache(maxsize=4096, typed=True)
def _scrubbed_scalar(key: str, value: str | bool | int | float) -> str | bool | int | float:
    # Most values recur from span to span (hosts, routes, subjects, consumers): the rules
    # run once for each (their cost is about 0.1 ms a string).
    scrubbed = scrub_field(key, value)
    return scrubbed if isinstance(scrubbed, str | bool | int | float) else REDACTED


def _attribute(key: str, value: Any) -> Any:
    if isinstance(value, str | bool | int | float):
        return _scrubbed_scalar(key, value)
    if isinstance(value, Sequence):
        # OpenTelemetry attribute values are scalars or homogeneous sequences of them.
        return tuple(_attribute(key, item) for item in value)
    return REDACTED


def _name(name: str) -> str:
    scrubbed = _scrubbed_scalar("name", name)
    return scrubbed if isinstance(scrubbed, str) else REDACTED


def scrubbed_span(span: ReadableSpan) -> ReadableSpan:
    """A copy of `span` with its attributes, events and status scrubbed."""
    return ReadableSpan(
        name=_name(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=scrubbed_attributes(span.attributes),
        events=[
            Event(_name(event.name), scrubbed_attributes(event.attributes), event.timestamp)
            for event in span.events
        ],
        links=[Link(link.context, scrubbed_attributes(link.attributes)) for link in span.links],
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class ScrubbingExporter(SpanExporter):
    """Exports through `inner` every span scrubbed (see the module's docstring)."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([scrubbed_span(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)
