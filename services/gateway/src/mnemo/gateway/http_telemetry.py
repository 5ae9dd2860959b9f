"""The root span and the metrics of every HTTP request, outermost around the app.

OpenTelemetry's ASGI middleware opens the request's server span (continuing a caller's
`traceparent` when it sends one); everything the request does (commands, queries, the
audit signal) runs inside it, so their headers carry its trace. Health probes, the docs
and the metrics endpoint are not traced. Once Litestar has routed a request, the span is
renamed after the route template (`GET /v1/memories/{memory_id}`), never the raw path,
and the correlation and request ids go on it, so a correlation id finds its trace.

`mnemo_http_requests_total` and `mnemo_http_request_duration_seconds` are labelled the
same way: a path no route matched is `unmatched`, so label values stay bounded.
"""

import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

from mnemo.bus import Publisher
from mnemo.gateway.paths import shown_path
from mnemo.gateway.settings import GatewaySettings
from mnemo.telemetry.live import Reading, serve_metrics
from mnemo.telemetry.metrics import HTTP_DURATION, HTTP_REQUESTS

# Paths that make no span: probes come every few seconds and would bury the requests.
UNTRACED = ("/v1/health", "/api/health", "/docs")
UNMATCHED = "unmatched"


def observed(app: ASGIApp) -> Any:
    """`app` inside the request's root span and its metrics."""
    return OpenTelemetryMiddleware(
        RouteTelemetry(app),
        excluded_urls=",".join(UNTRACED),
        # One span per request: the per-message send/receive spans add nothing here.
        exclude_spans=["receive", "send"],
    )


class RouteTelemetry:
    """Names the span after the route template and counts the request by it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", ""))
        started = time.perf_counter()
        status = [500]
        span = trace.get_current_span()

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                _name_span(span, scope, method)
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route = route_of(scope)
            labels = (method, route, str(status[0]))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_DURATION.labels(*labels).observe(time.perf_counter() - started)


def route_of(scope: Scope) -> str:
    """The template of the route Litestar matched (set on the scope as it routes)."""
    template = scope.get("path_template")  # type: ignore[typeddict-item]
    return template if isinstance(template, str) and template else UNMATCHED


def _name_span(span: trace.Span, scope: Scope, method: str) -> None:
    if not span.is_recording():
        return
    route = route_of(scope)
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    state = scope.get("state") or {}
    for key in ("correlation_id", "request_id"):
        if state.get(key):
            span.set_attribute(f"mnemo.{key}", state[key])
    _path_as_shown(span, scope)


def _path_as_shown(span: trace.Span, scope: Scope) -> None:
    """The instrumentation put the raw path in the span's URL and target; a segment that
    names what a user said (`mnemo.gateway.paths`) is shown there as in the log line and
    the audit."""
    raw, shown = str(scope.get("path", "")), shown_path(scope)
    if shown == raw:
        return
    attributes = getattr(span, "attributes", None) or {}
    for key in ("http.target", "url.path"):
        if isinstance(attributes.get(key), str):
            span.set_attribute(key, shown)
    for key in ("http.url", "url.full"):
        value = attributes.get(key)
        if isinstance(value, str):
            # scheme://host, then the path (raw, maybe percent-encoded) and the query.
            scheme, _, rest = value.partition("://")
            host = rest.split("/", 1)[0]
            span.set_attribute(key, f"{scheme}://{host}{shown}")


def serve_gateway_metrics(settings: GatewaySettings, publisher: Publisher) -> None:
    """The gateway's metrics endpoint (MNEMO_METRICS_PORT), with whether NATS answers."""
    assert settings.metrics_port is not None

    async def nats_up() -> list[Reading]:
        try:
            await publisher.js.account_info()
            up = 1.0
        except Exception:
            up = 0.0
        return [("mnemo_dependency_up", {"dependency": "nats"}, up)]

    serve_metrics(settings.metrics_host, settings.metrics_port).add(nats_up)
